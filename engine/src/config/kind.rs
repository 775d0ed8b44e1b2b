//! Kinds a config names by a word (`market_data.source = "itch-sim"`):
//! enums decoded once, spelled in TOML as before. An unknown word is
//! refused while parsing, naming the key and every kind this build has.

/// Declares a kind: the enum, its TOML spellings (with an optional older
/// spelling still accepted), `name`, `ALL`, `FromStr`, `Display` and serde.
macro_rules! config_kind {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (key $key:literal, unknown $what:literal) {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $text:literal $(| $alias:literal)?,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every kind, in the order errors list them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The TOML spelling.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<$name, String> {
                $(
                    if text == $text $(|| text == $alias)? {
                        return Ok($name::$variant);
                    }
                )+
                let names: Vec<&str> = $name::ALL.iter().map(|kind| kind.name()).collect();
                Err(format!(
                    "unknown {} {text:?}; this build has {}",
                    $what,
                    crate::config::quoted_list(&names)
                ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(|message: String| {
                    <D::Error as serde::de::Error>::custom(format!("`{}`: {message}", $key))
                })
            }
        }
    };
}

pub(crate) use config_kind;
