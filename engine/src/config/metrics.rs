//! `[metrics]`: the latency interval, the Prometheus endpoint's address,
//! and where each run's latency log goes.

use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Length of one latency interval, in milliseconds.
    pub interval_ms: u64,
    /// Address of the Prometheus endpoint (`GET /metrics`); "" turns it off.
    pub listen: String,
    /// Folder for the HdrHistogram interval log of each run (`run-<secs>-<pid>.hlog`,
    /// read with `histo-dump`); "" turns the log off.
    pub latency_log_dir: PathBuf,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            interval_ms: 1_000,
            listen: "127.0.0.1:9464".into(),
            latency_log_dir: PathBuf::from("genesis-data/latency"),
        }
    }
}

impl MetricsConfig {
    /// An endpoint address that parses (or none), and an interval of at least 1 ms.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "metrics.listen",
                format!("{:?} is not an address such as \"127.0.0.1:9464\" (\"\" turns the endpoint off)", self.listen),
            ));
        }
        if self.interval_ms == 0 {
            return Err(invalid("metrics.interval_ms", "must be at least 1".into()));
        }
        Ok(())
    }
}
