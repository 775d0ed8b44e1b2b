//! Telemetry: what the pipeline threads measure and how it leaves them,
//! off the hot path.
//!
//! - [`metrics`]: per-stage latency histograms, owned by each stage's
//!   thread, handed to the reporter by swapping sets (no lock, no allocation).
//! - [`reporter`]: the reporter thread: interval log, run totals, alerts.
//! - [`board`]: counters each pipeline thread copies out with relaxed stores,
//!   and the [`Gauges`] of whatever runs beside the engine.
//! - [`alerts`]: the guide's thresholds, evaluated once per interval.
//! - [`feed_health`]: gaps, snapshots, stale books per market-data source
//!   and instrument, written by the source's thread.
//! - [`metrics_http`]: the Prometheus endpoint's thread, rendering the board.

pub mod alerts;
pub mod board;
pub mod feed_health;
pub mod metrics;
pub mod metrics_http;
pub mod reporter;

pub use board::{Board, Counter, Gauges, Snapshot, RINGS_MAX};
