//! `[venue]`: where orders go (the venue kind), the FIX session
//! (`[venue.fix]`: CompIDs, sequence file, reconnects, the FIX rules a
//! strict venue enforces, reconciliation at logon), and the order queue and
//! the simulated venue's book size and disconnect policy.

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

config_kind! {
    /// How the engine asks the venue for its orders after each logon.
    pub enum ReconcileMode (key "venue.fix.reconcile", unknown "reconcile mode") {
        /// One OrderMassStatusRequest (35=AF) for every order the venue
        /// holds, then an OrderStatusRequest (35=H) for each order the engine
        /// believes open that the answer did not mention; H for all when the
        /// venue refuses AF.
        MassStatus = "mass-status",
        /// One OrderStatusRequest (35=H) per order the engine believes open.
        OrderStatus = "order-status",
        /// No reconciliation: trade at once after logon.
        Off = "off",
    }
}

config_kind! {
    /// What reconciliation does with an order the venue holds and the engine does not know.
    pub enum ReconcileUnknown (key "venue.fix.reconcile_unknown", unknown "policy") {
        /// Enter it in the order table with the venue's ids and state (it
        /// counts against limits; the strategy may cancel it).
        Adopt = "adopt",
        /// Enter it, then cancel it at the venue.
        Cancel = "cancel",
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
    /// The simulated venue cancels a participant's resting orders when its
    /// session goes away (true), or keeps them for its return (false; the
    /// participant is its SenderCompID).
    pub cancel_on_disconnect: bool,
}

impl Default for VenueConfig {
    fn default() -> VenueConfig {
        VenueConfig {
            kind: VenueKind::FixSim,
            fix: FixVenueConfig::default(),
            queue_capacity: 1 << 14,
            resting_orders_max: 4_096,
            cancel_on_disconnect: true,
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
    /// A connection not made within this long (no SYN-ACK, as from a host
    /// that drops SYNs) is a failed attempt; ingest never waits for it, it
    /// looks at the socket on each poll.
    pub connect_timeout_ms: u64,
    /// A new order or replace that waited longer than this for the session
    /// (connecting, logging on) is rejected locally instead of sent: it was
    /// priced on market data that old. Cancels are always sent. The age
    /// counts from the moment execution made the request.
    pub pending_age_max_ms: u64,
    /// Send the user-defined tag 5051 (trigger time) on orders. Unset: on
    /// for `kind = "fix-sim"` (the simulator measures tick-to-trade with
    /// it), off for `kind = "fix"` (a venue validating user-defined fields
    /// rejects every order carrying it).
    pub send_trigger_time: Option<bool>,
    /// Every Logon carries ResetSeqNumFlag(141)=Y and both sides start at 1
    /// (for venues that reset their numbers each session).
    pub reset_on_logon: bool,
    /// How to ask the venue for its orders after each logon (see [`ReconcileMode`]).
    pub reconcile: ReconcileMode,
    /// What to do with an order the venue holds and the engine does not know.
    pub reconcile_unknown: ReconcileUnknown,
    /// Reconciliation not complete by then: new orders and replaces stay
    /// gated, an alert is raised, and the operator releases the gate (SIGHUP).
    pub reconcile_timeout_ms: u64,
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
            connect_timeout_ms: 3_000,
            pending_age_max_ms: 10,
            send_trigger_time: None,
            reset_on_logon: false,
            reconcile: ReconcileMode::MassStatus,
            reconcile_unknown: ReconcileUnknown::Adopt,
            reconcile_timeout_ms: 5_000,
        }
    }
}

impl VenueConfig {
    /// Whether orders carry tag 5051: `venue.fix.send_trigger_time`, else
    /// on for the simulated venue only.
    pub fn sends_trigger_time(&self) -> bool {
        self.fix
            .send_trigger_time
            .unwrap_or(self.kind == VenueKind::FixSim)
    }

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
        if self.fix.reconcile != ReconcileMode::Off && self.fix.reconcile_timeout_ms == 0 {
            return Err(invalid(
                "venue.fix.reconcile_timeout_ms",
                "must be positive: 0 would time out every reconciliation".into(),
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
