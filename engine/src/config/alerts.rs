//! `[alerts]`: thresholds the reporter checks once per interval (see
//! `telemetry::alerts`). Defaults are the original guide's (loose for
//! Genesis); the prod example tightens latency.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Events per second below which to warn, and to go critical (while the feed is connected).
    pub event_rate_warn_below: f64,
    pub event_rate_critical_below: f64,
    /// End-to-end p99 (receive → journal exit) over an interval, in ns.
    pub latency_p99_warn_ns: u64,
    pub latency_p99_critical_ns: u64,
    /// Resident memory, in bytes.
    pub memory_warn_bytes: u64,
    pub memory_critical_bytes: u64,
    /// Errors per event over an interval (0.01 = 1 %).
    pub error_rate_warn: f64,
    pub error_rate_critical: f64,
    /// A market-data book stale (after a gap, a disconnect, before its
    /// snapshot) longer than this warns; ten times as long is critical.
    pub book_stale_max_ms: u64,
    /// Snapshot attempts failed in a row (since the last one applied) at
    /// which to warn, and to go critical.
    pub snapshot_failures_warn: u64,
    pub snapshot_failures_critical: u64,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            event_rate_warn_below: 500.0,
            event_rate_critical_below: 100.0,
            latency_p99_warn_ns: 100_000_000,
            latency_p99_critical_ns: 500_000_000,
            memory_warn_bytes: 1 << 30,
            memory_critical_bytes: 2 << 30,
            error_rate_warn: 0.01,
            error_rate_critical: 0.05,
            book_stale_max_ms: 5_000,
            snapshot_failures_warn: 1,
            snapshot_failures_critical: 5,
        }
    }
}
