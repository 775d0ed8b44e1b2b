//! `[postgres]`: the database the binary's drain loads the journal into
//! (the engine itself never connects), and where its password comes from.
//!
//! The password never has to be in the config: it may come from a
//! `password_file`, `$PGPASSWORD` or a `.pgpass` file (resolved by the
//! drain). When the URL does carry one, [`redact_url`] removes it from
//! everything Genesis writes or prints (the recorded `config-<seq>.toml`,
//! `genesis config`).

use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The PostgreSQL drain: a thread that follows the journal into a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// `postgres://user@host:port/db` (or libpq `key=value` form); "" falls
    /// back to $DATABASE_URL, and with neither the engine runs without a
    /// drain. A password written here is accepted but never recorded or
    /// printed; prefer `password_file`, `$PGPASSWORD` or `~/.pgpass`.
    pub url: String,
    /// A file whose first line is the password, for a URL without one
    /// ("" : none; then `$PGPASSWORD`, then `$PGPASSFILE` or `~/.pgpass`).
    pub password_file: PathBuf,
    /// Events per COPY chunk (one transaction each, with the watermark).
    pub chunk_events: usize,
}

impl Default for PostgresConfig {
    fn default() -> PostgresConfig {
        PostgresConfig {
            url: String::new(),
            password_file: PathBuf::new(),
            chunk_events: 10_000,
        }
    }
}

impl PostgresConfig {
    /// The configured URL, else $DATABASE_URL.
    pub fn effective_url(&self) -> Option<String> {
        if !self.url.is_empty() {
            return Some(self.url.clone());
        }
        std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
    }

    /// The key that names the URL in use, for errors: `postgres.url` or `DATABASE_URL`.
    pub fn url_key(&self) -> &'static str {
        if self.url.is_empty() {
            "DATABASE_URL"
        } else {
            "postgres.url"
        }
    }

    /// A URL of a shape a database URL can have (the drain parses it fully
    /// when it connects); no control characters, which no URL holds.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        if self.url.is_empty() {
            return Ok(());
        }
        let shaped = self.url.starts_with("postgres://")
            || self.url.starts_with("postgresql://")
            || self.url.contains('=');
        if !shaped || self.url.chars().any(char::is_control) {
            return Err(invalid(
                "postgres.url",
                format!(
                    "{:?} is not a database URL such as \"postgres://user@host:5432/genesis\" or \"host=… dbname=…\"",
                    redact_url(&self.url)
                ),
            ));
        }
        Ok(())
    }

    /// This section with the URL's password removed.
    pub fn redacted(&self) -> PostgresConfig {
        PostgresConfig {
            url: redact_url(&self.url),
            ..self.clone()
        }
    }
}

/// `url` without its password: `scheme://user:password@host` loses
/// `:password`, a `password=` parameter (in a query or in libpq
/// `key=value` form, quoted or not) is dropped. Works on text that does
/// not parse, so nothing is left behind on a malformed URL either.
pub fn redact_url(url: &str) -> String {
    let without_userinfo_password = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                    format!("{scheme}://{user}@{host}{tail}")
                }
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    drop_password_parameters(&without_userinfo_password)
}

/// Removes every `password=value` parameter: `&`- or `?`-separated in a
/// URL, whitespace-separated (value possibly single-quoted) in key=value form.
fn drop_password_parameters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, key_length)) = find_password_key(rest) {
        out.push_str(&rest[..at]);
        let value = &rest[at + key_length..];
        let value_end = if let Some(quoted) = value.strip_prefix('\'') {
            quoted_end(quoted).map_or(value.len(), |end| end + 2)
        } else {
            value.find(['&', ' ', '\t', '\n']).unwrap_or(value.len())
        };
        rest = &value[value_end..];
        // Drop the separator the parameter leaves behind.
        if out.ends_with('&') || out.ends_with('?') {
            rest = rest.strip_prefix('&').unwrap_or(rest);
        } else {
            rest = rest.trim_start_matches([' ', '\t']);
        }
    }
    out.push_str(rest);
    let trimmed = out.trim_end_matches(['&', '?', ' ']);
    trimmed.to_string()
}

/// The byte offset of a `password=` or `sslpassword=` parameter (the
/// client key's passphrase is a secret too), and the length of its key.
fn find_password_key(text: &str) -> Option<(usize, usize)> {
    let is_separator = |byte: u8| matches!(byte, b'&' | b'?' | b' ' | b'\t' | b'\n');
    let mut from = 0;
    while let Some(found) = text[from..].find("password=") {
        let at = from + found;
        let key_start = text[..at]
            .bytes()
            .rposition(is_separator)
            .map_or(0, |separator| separator + 1);
        let key = &text[key_start..at + "password".len()];
        if key == "password" || key == "sslpassword" {
            return Some((key_start, key.len() + 1));
        }
        from = at + 1;
    }
    None
}

/// In a single-quoted libpq value (after the opening quote), the offset of
/// the closing quote, skipping `\'` escapes.
fn quoted_end(quoted: &str) -> Option<usize> {
    let bytes = quoted.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'\'' => return Some(index),
            _ => index += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    // Every spelling of a password is removed, and the rest of the URL kept.
    #[test]
    fn passwords_are_removed_in_every_form() {
        let cases = [
            (
                "postgres://trader:s3cret@db.example:5432/genesis",
                "postgres://trader@db.example:5432/genesis",
            ),
            (
                "postgresql://trader:p%40ss@host/db?sslmode=disable",
                "postgresql://trader@host/db?sslmode=disable",
            ),
            (
                "postgres://trader@host/db?password=s3cret&sslmode=disable",
                "postgres://trader@host/db?sslmode=disable",
            ),
            (
                "postgres://trader@host/db?sslmode=disable&password=s3cret",
                "postgres://trader@host/db?sslmode=disable",
            ),
            (
                "host=localhost password=s3cret user=trader dbname=genesis",
                "host=localhost user=trader dbname=genesis",
            ),
            (
                "host=localhost password='a b\\' c' user=trader",
                "host=localhost user=trader",
            ),
            ("postgres://trader@host/db", "postgres://trader@host/db"),
            (
                "postgres://u:x:y@h:notaport/db",
                "postgres://u@h:notaport/db",
            ),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    // The client key's passphrase goes too; a key merely containing "password" stays.
    #[test]
    fn only_password_keys_are_dropped() {
        assert_eq!(redact_url("host=h sslpassword=k3y user=u"), "host=h user=u");
        assert_eq!(
            redact_url("host=h application_name=nopassword=x user=u"),
            "host=h application_name=nopassword=x user=u"
        );
    }
}
