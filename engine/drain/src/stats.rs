//! `DrainStats`: what the drain thread tells the rest of the process, as
//! atomics any thread may read (the run report, the metrics endpoint).
//!
//! Written only by the drain thread, with relaxed stores: each field is a
//! gauge or a counter read on its own; no reader needs two fields to agree.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct DrainStats {
    /// Events committed to the database by this drain.
    pub events_loaded: AtomicU64,
    pub chunks_committed: AtomicU64,
    /// Events on disk not yet committed (read but uncommitted ones included).
    pub lag_events: AtomicU64,
    /// Age of the oldest event not yet committed, in nanoseconds (0 when caught up).
    pub lag_ns: AtomicU64,
    /// `Event::seq` of the last event committed (of whichever stream).
    pub seq_last: AtomicU64,
    pub connected: AtomicBool,
    /// Connections lost or refused since the drain started.
    pub connection_failures: AtomicU64,
    /// The last error, scrubbed of credentials.
    last_error: Mutex<Option<String>>,
}

/// A copy of `DrainStats` at one moment, for reports and JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DrainSnapshot {
    pub events_loaded: u64,
    pub chunks_committed: u64,
    pub lag_events: u64,
    pub lag_seconds: f64,
    pub seq_last: u64,
    pub connected: bool,
    pub connection_failures: u64,
    pub last_error: Option<String>,
}

impl genesis_engine::telemetry::Gauges for DrainStats {
    /// The drain's lag and health on the metrics endpoint.
    fn visit(&self, gauge: &mut dyn FnMut(&'static str, &'static str, f64)) {
        let snapshot = self.snapshot();
        gauge(
            "drain_lag_events",
            "Events journaled but not yet in PostgreSQL.",
            snapshot.lag_events as f64,
        );
        gauge(
            "drain_lag_seconds",
            "Age of the oldest event not yet in PostgreSQL.",
            snapshot.lag_seconds,
        );
        gauge(
            "drain_events_loaded",
            "Events the drain loaded this run.",
            snapshot.events_loaded as f64,
        );
        gauge(
            "drain_connected",
            "1 while the drain holds a database connection.",
            f64::from(u8::from(snapshot.connected)),
        );
        gauge(
            "drain_connection_failures",
            "Failed connection attempts.",
            snapshot.connection_failures as f64,
        );
    }
}

impl DrainStats {
    pub fn new() -> DrainStats {
        DrainStats::default()
    }

    pub fn snapshot(&self) -> DrainSnapshot {
        DrainSnapshot {
            events_loaded: self.events_loaded.load(Relaxed),
            chunks_committed: self.chunks_committed.load(Relaxed),
            lag_events: self.lag_events.load(Relaxed),
            lag_seconds: self.lag_ns.load(Relaxed) as f64 / 1e9,
            seq_last: self.seq_last.load(Relaxed),
            connected: self.connected.load(Relaxed),
            connection_failures: self.connection_failures.load(Relaxed),
            last_error: self.last_error(),
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    pub(crate) fn set_error(&self, message: String) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(message);
        }
    }

    pub(crate) fn set_lag(&self, events: u64, ns: u64) {
        self.lag_events.store(events, Relaxed);
        self.lag_ns.store(ns, Relaxed);
    }

    pub(crate) fn record_chunk(&self, events: u64, seq_last: u64) {
        self.events_loaded.fetch_add(events, Relaxed);
        self.chunks_committed.fetch_add(1, Relaxed);
        self.seq_last.store(seq_last, Relaxed);
    }
}
