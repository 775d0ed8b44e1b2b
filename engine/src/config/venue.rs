//! `[venue]`: where orders go (the venue kind), the FIX session
//! (`[venue.fix]`), and the order queue and book sizes.

use super::kind::config_kind;
use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

config_kind! {
    /// Where orders go.
    pub enum VenueKind (key "venue.kind", unknown "venue") {
        /// The default: the simulated venue on a loopback FIX port.
        FixSim = "fix-sim",
        /// A FIX 4.4 venue at `fix.host:fix.port`.
        Fix = "fix",
        /// The paper venue in-process, no sockets, filling at the touch
        /// (tests, benchmarks); "sim" is its older name.
        Paper = "paper" | "sim",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VenueConfig {
    /// Where orders go (see [`VenueKind`]).
    pub kind: VenueKind,
    pub fix: FixVenueConfig,
    /// Capacity of the order queue from execution to the venue.
    pub queue_capacity: usize,
    /// Most orders resting at the simulated venue.
    pub resting_orders_max: usize,
}

impl Default for VenueConfig {
    fn default() -> VenueConfig {
        VenueConfig {
            kind: VenueKind::FixSim,
            fix: FixVenueConfig::default(),
            queue_capacity: 1 << 14,
            resting_orders_max: 4_096,
        }
    }
}

/// The FIX 4.4 session to the venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixVenueConfig {
    pub host: String,
    /// The venue's port; with `kind = "fix-sim"`, 0 picks a free loopback port.
    pub port: u16,
    pub sender_comp_id: String,
    pub target_comp_id: String,
    /// HeartBtInt(108) proposed at logon, in seconds.
    pub heartbeat_s: u64,
    /// Where outgoing and incoming sequence numbers persist across restarts ("" keeps them in memory).
    pub seq_file: PathBuf,
    /// Reconnect backoff, doubling from the first to the second, with jitter.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// A new order or replace that waited longer than this for the session
    /// (connecting, logging on) is rejected locally instead of sent: it was
    /// priced on market data that old. Cancels are always sent.
    pub pending_age_max_ms: u64,
}

impl Default for FixVenueConfig {
    fn default() -> FixVenueConfig {
        FixVenueConfig {
            host: "127.0.0.1".into(),
            port: 0,
            sender_comp_id: "GENESIS".into(),
            target_comp_id: "VENUE".into(),
            heartbeat_s: 30,
            seq_file: PathBuf::from("genesis-data/fix/GENESIS-VENUE.seq"),
            reconnect_min_ms: 100,
            reconnect_max_ms: 5_000,
            pending_age_max_ms: 10,
        }
    }
}

impl VenueConfig {
    /// A FIX venue's port, the session's timers, and the queue and book sizes.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        if self.kind == VenueKind::Fix && self.fix.port == 0 {
            return Err(invalid(
                "venue.fix.port",
                "a FIX venue needs its port".into(),
            ));
        }
        if self.fix.pending_age_max_ms == 0 {
            return Err(invalid(
                "venue.fix.pending_age_max_ms",
                "must be positive: 0 would refuse every order".into(),
            ));
        }
        if self.fix.heartbeat_s == 0 || self.fix.reconnect_min_ms == 0 {
            return Err(invalid(
                "venue.fix",
                "heartbeat_s and reconnect_min_ms must be positive".into(),
            ));
        }
        if self.queue_capacity == 0 || self.resting_orders_max == 0 {
            return Err(invalid(
                "venue",
                "queue_capacity and resting_orders_max must be positive".into(),
            ));
        }
        Ok(())
    }
}
