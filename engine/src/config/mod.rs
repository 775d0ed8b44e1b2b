//! Configuration: TOML with every key documented in `engine/config/dev.toml`,
//! one file here per TOML section.
//!
//! Unknown keys and bad values are refused by serde with the key's name and
//! position; kinds (`market_data.source`, `venue.kind`, `strategy.name`, wait
//! strategies, durability) are enums decoded once, and an unknown one is
//! refused with the kinds this build has. `validate` then checks what serde
//! cannot (an impossible core plan, limits that contradict each other) and
//! names the offending key. Config is data: it imports no stage, no topology
//! and nothing that runs beside the engine.

mod alerts;
mod backtest;
mod binance;
mod host;
mod instruments;
mod itch;
mod journal;
mod kind;
mod market_data;
mod metrics;
mod postgres;
mod ranges;
mod risk;
mod snapshot;
mod strategy;
mod topology;
mod venue;

pub use alerts::AlertConfig;
pub use backtest::{BacktestConfig, QueueModelKind, VenueTime};
pub use binance::{rest_url_for, BinanceConfig, BinanceSnapshotSource, TlsRootsKind};
pub use host::HostConfig;
pub use instruments::{instrument_grid, InstrumentConfig, InstrumentLimits};
pub use itch::ItchConfig;
pub use journal::{JournalClosedCheck, JournalConfig, JournalDurability, JournalWriteMode};
pub use market_data::{MarketDataConfig, MarketDataSocketConfig, MarketDataSource};
pub use metrics::MetricsConfig;
pub use postgres::{redact_url, PostgresConfig};
pub use ranges::{CAPACITY_MAX, DURATION_MS_MAX, PRICE_TICKS_MAX, QTY_LOTS_MAX};
pub use risk::RiskConfig;
pub use snapshot::SnapshotConfig;
pub use strategy::{MarketMakerConfig, StrategyConfig, StrategyName, TouchQuoterConfig};
pub use topology::{plan_groups, CorePlan, Group, TopologyConfig, WaitKind, STAGE_NAMES};
pub use venue::{FixVenueConfig, ReconcileMode, ReconcileUnknown, VenueConfig, VenueKind};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("config {origin}: `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

/// Builds the error for a key (the config's origin folded in).
pub(crate) type Invalid<'a> = dyn Fn(&str, String) -> ConfigError + 'a;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Development: sleeping waits are fine, nothing is locked in memory.
    #[default]
    Dev,
    /// Production: pinned, spinning threads.
    Prod,
}

/// A key left out takes its built-in default; `instruments` left out gives the four synthetic ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub mode: Mode,
    pub topology: TopologyConfig,
    pub instruments: Vec<InstrumentConfig>,
    pub risk: RiskConfig,
    pub strategy: StrategyConfig,
    pub market_data: MarketDataConfig,
    pub venue: VenueConfig,
    pub journal: JournalConfig,
    pub snapshot: SnapshotConfig,
    pub metrics: MetricsConfig,
    pub alerts: AlertConfig,
    pub host: HostConfig,
    pub postgres: PostgresConfig,
    /// How `genesis backtest` replays tapes (nothing else reads it).
    pub backtest: BacktestConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config::builtin()
    }
}

impl Config {
    /// The built-in default: four synthetic instruments, all stages fused on core 0.
    pub fn builtin() -> Config {
        let instrument = |symbol: &str, start_price_ticks: i64| InstrumentConfig {
            symbol: symbol.into(),
            tick_size: "0.01".into(),
            lot_size: "1".into(),
            tick_value: 1,
            start_price_ticks,
            limits: InstrumentLimits::default(),
        };
        Config {
            mode: Mode::default(),
            topology: TopologyConfig::default(),
            instruments: vec![
                instrument("ALPHA", 100_000),
                instrument("BRAVO", 25_000),
                instrument("CHARLIE", 250_000),
                instrument("DELTA", 5_000),
            ],
            risk: RiskConfig::default(),
            strategy: StrategyConfig::default(),
            market_data: MarketDataConfig::default(),
            venue: VenueConfig::default(),
            journal: JournalConfig::default(),
            snapshot: SnapshotConfig::default(),
            metrics: MetricsConfig::default(),
            alerts: AlertConfig::default(),
            host: HostConfig::default(),
            postgres: PostgresConfig::default(),
            backtest: BacktestConfig::default(),
        }
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Reads and parses a config file without the checks of `validate`
    /// (for `genesis doctor`, which reports them as checks of its own).
    pub fn load_unvalidated(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            origin: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Parses and validates TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks what the types cannot, section by section: the core plan,
    /// the instruments, sizes and limits.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.into(),
            key: key.into(),
            message,
        };
        self.topology.validate(&invalid)?;
        instruments::validate(&self.instruments, &invalid)?;
        self.risk.validate(&invalid)?;
        self.strategy.validate(&invalid)?;
        self.market_data.validate(&self.instruments, &invalid)?;
        self.venue.validate(&invalid)?;
        self.metrics.validate(&invalid)?;
        self.snapshot.validate(&invalid)?;
        self.backtest.validate(&invalid)?;
        self.journal.validate(&invalid)?;
        self.postgres.validate(&invalid)?;
        ranges::validate(self, &invalid)
    }

    /// The config as Genesis writes or prints it: TOML with every secret
    /// removed (the database URL's password), under a comment saying so.
    pub fn to_redacted_toml(&self) -> String {
        let redacted = Config {
            postgres: self.postgres.redacted(),
            ..self.clone()
        };
        let text = toml::to_string_pretty(&redacted).unwrap_or_default();
        format!("# Genesis config; a password in [postgres] url is never written here.\n{text}")
    }

    /// Records the config (redacted) at `path`, readable by its owner only
    /// (mode 0600, also when the file was already there).
    pub fn record_to(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(self.to_redacted_toml().as_bytes())
    }

    /// Wait strategy of the thread on `core`.
    pub fn wait_for_core(&self, core: usize) -> WaitKind {
        self.topology
            .waits
            .get(&core.to_string())
            .copied()
            .unwrap_or(self.topology.wait)
    }
}

/// `"a", "b" and "c"`.
pub(crate) fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every kind round-trips through its TOML spelling; "sim" is still the paper venue.
    #[test]
    fn kinds_round_trip_and_accept_the_old_spelling() {
        for source in MarketDataSource::ALL {
            assert_eq!(source.name().parse::<MarketDataSource>(), Ok(*source));
        }
        for kind in VenueKind::ALL {
            assert_eq!(kind.name().parse::<VenueKind>(), Ok(*kind));
        }
        for name in StrategyName::ALL {
            assert_eq!(name.name().parse::<StrategyName>(), Ok(*name));
        }
        let config = Config::parse("[venue]\nkind = \"sim\"\n", "test").unwrap();
        assert_eq!(config.venue.kind, VenueKind::Paper);
        let written = toml::to_string_pretty(&config).unwrap();
        assert!(written.contains("kind = \"paper\""), "{written}");
        assert_eq!(Config::parse(&written, "written").unwrap(), config);
    }

    // An unknown kind is refused while parsing, naming the key and the kinds there are.
    #[test]
    fn unknown_kinds_name_the_key_and_the_choices() {
        let err = Config::parse("[venue]\nkind = \"carrier\"\n", "test.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test.toml") && err.contains("`venue.kind`"),
            "{err}"
        );
        assert!(err.contains("\"fix-sim\", \"fix\" and \"paper\""), "{err}");
        let err = "moonshot".parse::<StrategyName>().unwrap_err();
        assert_eq!(
            err,
            "unknown strategy \"moonshot\"; this build has \"market-maker\", \"touch-quoter\" and \"none\""
        );
    }
}
