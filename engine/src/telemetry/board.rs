//! Counters the pipeline threads publish for the metrics endpoint and the
//! alerts, and the latency snapshot the reporter keeps for them.
//!
//! Each pipeline thread owns its counters as plain integers and copies them
//! into this board with relaxed atomic stores every 1,024 polls, after every
//! batch, and when it runs dry: no locks and no allocation on the hot path,
//! and readers see values at most one batch old. Each slot has exactly one
//! writer, and sits on a cache line of its own (`CachePadded`), so threads
//! that publish side by side never share a line.
//!
//! Whatever runs beside the engine (a journal follower) shows its figures
//! through [`Gauges`]: the board holds the trait object, never its type.

use crate::decision::RejectReason;
use crate::telemetry::feed_health::FeedHealth;
use crate::telemetry::metrics::Percentiles;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Figures something beside the engine shows on the metrics endpoint.
pub trait Gauges: Send + Sync {
    /// Calls `gauge(name, help, value)` for each gauge: its Prometheus name
    /// without the `genesis_` prefix, its help text, and its value now.
    fn visit(&self, gauge: &mut dyn FnMut(&'static str, &'static str, f64));
}

/// Declares the counter slots with their Prometheus names and help texts.
macro_rules! counters {
    ($($variant:ident => $name:literal, $help:literal;)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter { $($variant,)+ }

        impl Counter {
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)+];

            pub fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)+ }
            }

            pub fn help(self) -> &'static str {
                match self { $(Counter::$variant => $help,)+ }
            }
        }
    };
}

counters! {
    Events => "events", "Events ingest published downstream.";
    MarketData => "market_data", "Market-data inputs read (before conflation).";
    VenueEvents => "venue_events", "Acks, fills, rejects and cancel acks read from the venue.";
    ControlEvents => "control_events", "Operator commands (kill switch) read.";
    Timers => "timers", "Timer events emitted.";
    Conflated => "conflated", "Market-data updates replaced by a newer one while the ring was full.";
    Dropped => "dropped", "Events lost by ingest (always zero by design).";
    DuplicateFills => "duplicate_fills", "Fills whose exec id was seen before.";
    RingFull => "ring_full", "Times ingest found the first ring full.";
    Intents => "intents", "Order intents made by the strategy.";
    IntentsAccepted => "intents_accepted", "Intents accepted by pre-trade risk.";
    OrdersSent => "orders_sent", "New orders sent to the venue.";
    ReplacesSent => "replaces_sent", "Replaces sent to the venue.";
    CancelsSent => "cancels_sent", "Cancels sent to the venue.";
    Acks => "acks", "Order acks from the venue.";
    Fills => "fills", "Fills applied (duplicates excluded).";
    VenueRejects => "venue_rejects", "Rejects from the venue.";
    SendFailed => "send_failed", "Requests the gateway could not take.";
    FillsUnknownOrder => "fills_unknown_order", "Fills for orders the engine does not know.";
    Overfills => "overfills", "Fills beyond an order's quantity.";
    LateMessages => "late_messages", "Venue messages for closed or unknown orders.";
    InvalidTransitions => "invalid_transitions", "Venue messages that fit no order-state transition.";
    MassCancels => "mass_cancels", "Mass cancels triggered by risk gates.";
    StopLossTrips => "stop_loss_trips", "Stop-loss trips.";
    BreakerTrips => "breaker_trips", "Circuit-breaker trips.";
    DailyLossTrips => "daily_loss_trips", "Daily-loss-limit trips.";
    JournalRecords => "journal_records", "Events appended to the journal.";
    SnapshotsWritten => "snapshots_written", "Snapshots of stage state the snapshot thread wrote.";
    SnapshotSeqLast => "snapshot_seq_last", "Journal sequence of the last snapshot written.";
    SnapshotDivergences => "snapshot_divergences", "Decisions the snapshot replica derived differently from the journal (should be 0).";
    ReconcileRounds => "reconcile_rounds", "Reconciliations with the venue started (one per logon).";
    ReconcileRequests => "reconcile_requests", "Status requests sent to the venue (OrderMassStatusRequest, OrderStatusRequest).";
    ReconcileReports => "reconcile_reports", "Status reports that answered them.";
    ReconcileAdopted => "reconcile_adopted", "Orders the venue held and the engine did not: adopted.";
    ReconcileCancelled => "reconcile_cancelled", "Orders reconciliation cancelled at the venue.";
    ReconcileClosed => "reconcile_closed", "Orders closed because the venue works them no more.";
    ReconcileFills => "reconcile_fills", "Missed fills reconciliation applied.";
    ReconcileTimeouts => "reconcile_timeouts", "Reconciliations that timed out (new orders stay gated).";
    ReconcileReleases => "reconcile_releases", "Operator releases of the reconciliation gate.";
}

/// Ring slots the board tracks (rings between up to nine threads).
pub const RINGS_MAX: usize = 8;
const REJECT_SLOTS: usize = 32;
const _: () = assert!(
    RejectReason::ALL.len() <= REJECT_SLOTS,
    "a slot for every reject reason"
);

pub struct Board {
    counters: Vec<CachePadded<AtomicU64>>,
    /// One writer (the strategy stage) stores all of them at once: one padded block.
    rejects: CachePadded<[AtomicU64; REJECT_SLOTS]>,
    ring_in: Vec<CachePadded<AtomicU64>>,
    ring_out: Vec<CachePadded<AtomicU64>>,
    /// Written by the reporter each interval, read by the endpoint: never on the hot path.
    pub snapshot: Mutex<Snapshot>,
    /// Figures of what runs beside the engine (a journal follower), when something does.
    pub gauges: OnceLock<Arc<dyn Gauges>>,
    /// The journal writer's durable sequence, and this run's first sequence.
    pub journal_durable: OnceLock<(Arc<AtomicU64>, u64)>,
    /// 1 while a reconciliation that timed out holds new orders back (a gauge).
    reconcile_gate_held: CachePadded<AtomicU64>,
    /// The market-data source's health, when it reports one.
    pub feed_health: OnceLock<Arc<FeedHealth>>,
}

/// What the reporter last computed.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Per stage: name, last interval's since-receive and processing percentiles.
    pub stages: Vec<(&'static str, Percentiles, Percentiles)>,
    pub events_per_sec: f64,
    pub rss_bytes: u64,
    pub errors_per_event: f64,
    /// Alerts currently raised: (name, level).
    pub alerts: Vec<(&'static str, &'static str)>,
    /// The engine's tick-to-trade over the last interval, when a venue session measures it.
    pub tick_to_trade: Option<crate::telemetry::tick_to_trade::T2tSplit>,
}

fn slots(count: usize) -> Vec<CachePadded<AtomicU64>> {
    (0..count)
        .map(|_| CachePadded::new(AtomicU64::new(0)))
        .collect()
}

impl Board {
    pub fn new() -> Board {
        Board {
            counters: slots(Counter::ALL.len()),
            rejects: CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))),
            ring_in: slots(RINGS_MAX),
            ring_out: slots(RINGS_MAX),
            snapshot: Mutex::new(Snapshot::default()),
            journal_durable: OnceLock::new(),
            gauges: OnceLock::new(),
            reconcile_gate_held: CachePadded::new(AtomicU64::new(0)),
            feed_health: OnceLock::new(),
        }
    }

    /// Whether a timed-out reconciliation holds new orders back (one writer: execution's thread).
    #[inline]
    pub fn set_reconcile_gate_held(&self, held: bool) {
        self.reconcile_gate_held
            .store(u64::from(held), Ordering::Relaxed);
    }

    pub fn reconcile_gate_held(&self) -> bool {
        self.reconcile_gate_held.load(Ordering::Relaxed) != 0
    }

    #[inline]
    pub fn set(&self, counter: Counter, value: u64) {
        self.counters[counter as usize].store(value, Ordering::Relaxed);
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].load(Ordering::Relaxed)
    }

    #[inline]
    pub fn set_rejects(&self, by_reason: &[u64; REJECT_SLOTS]) {
        for (slot, value) in self.rejects.iter().zip(by_reason) {
            slot.store(*value, Ordering::Relaxed);
        }
    }

    pub fn rejects(&self, reason: RejectReason) -> u64 {
        self.rejects[reason as usize].load(Ordering::Relaxed)
    }

    /// Events published into ring `ring` so far (by its producer's thread).
    #[inline]
    pub fn set_ring_in(&self, ring: usize, value: u64) {
        if let Some(slot) = self.ring_in.get(ring) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    /// Events taken out of ring `ring` so far (by its consumer's thread).
    #[inline]
    pub fn set_ring_out(&self, ring: usize, value: u64) {
        if let Some(slot) = self.ring_out.get(ring) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    /// Events waiting in ring `ring`, as of the last publications.
    pub fn ring_depth(&self, ring: usize) -> u64 {
        let published = self
            .ring_in
            .get(ring)
            .map_or(0, |s| s.load(Ordering::Relaxed));
        let taken = self
            .ring_out
            .get(ring)
            .map_or(0, |s| s.load(Ordering::Relaxed));
        published.saturating_sub(taken)
    }

    /// Last sequence journaled, last known durable, and the lag between them (events).
    pub fn journal_durability(&self) -> Option<(u64, u64, u64)> {
        let (durable, seq_first) = self.journal_durable.get()?;
        let records = self.get(Counter::JournalRecords);
        let seq_last = (seq_first + records).saturating_sub(1);
        let seq_durable = durable.load(Ordering::Acquire);
        Some((seq_last, seq_durable, seq_last.saturating_sub(seq_durable)))
    }

    /// Errors as the alerts count them: losses, failures and venue messages that make no sense.
    pub fn errors(&self) -> u64 {
        [
            Counter::Dropped,
            Counter::SendFailed,
            Counter::Overfills,
            Counter::InvalidTransitions,
            Counter::FillsUnknownOrder,
        ]
        .iter()
        .map(|c| self.get(*c))
        .sum()
    }
}

impl Default for Board {
    fn default() -> Board {
        Board::new()
    }
}
