//! Telemetry: what the pipeline threads measure and how it leaves them,
//! off the hot path.
//!
//! - [`metrics`]: per-stage latency histograms, owned by each stage's
//!   thread, handed to the reporter by swapping sets (no lock, no allocation).
//! - [`tally`]: the cheap per-event front of those histograms, settled in bulk.
//! - [`reporter`]: the reporter thread: interval log, run totals, alerts.
//! - [`tick_to_trade`]: the engine's own tick-to-trade and its split,
//!   recorded by the venue session from stamps ingest and execution leave.
//! - [`board`]: counters each pipeline thread copies out with relaxed stores,
//!   and the [`Gauges`] of whatever runs beside the engine.
//! - [`alerts`]: the guide's thresholds, evaluated once per interval.
//! - [`feed_health`]: gaps, snapshots, stale books per market-data source
//!   and instrument, written by the source's thread.
//! - [`metrics_http`]: the Prometheus exposition, rendered from the board.
//! - [`metrics_server`]: the endpoint's thread, serving every connection at
//!   once (mio) with an idle timeout and a bound on connections.

pub mod alerts;
pub mod board;
pub mod feed_health;
pub mod metrics;
pub mod metrics_http;
pub mod metrics_server;
pub mod reporter;
pub mod tally;
pub mod tick_to_trade;

pub use board::{Board, Counter, Gauges, Snapshot, RINGS_MAX};

/// Moves a helper thread off the pipeline's pinned cores, saying where it
/// runs; a failure is logged (the helper still works, only less out of the way).
pub(crate) fn leave_cores(cores: &[usize], who: &str) {
    if cores.is_empty() {
        return;
    }
    match crate::sys::keep_thread_off(cores) {
        Ok(Some(left)) => {
            tracing::debug!(thread = who, cpus = ?left, "kept off the pipeline's cores")
        }
        Ok(None) => tracing::debug!(thread = who, "the plan pins every CPU: sharing them"),
        Err(err) => tracing::warn!(thread = who, %err, "could not keep off the pipeline's cores"),
    }
}
