//! Per-stage latency histograms and counters.
//!
//! Each stage's thread owns its `StageMetrics` outright: recording touches no
//! shared memory and never allocates (the histograms have fixed bounds).
//! At shutdown the threads hand their metrics back for the report.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks: 100 s; anything above saturates.
const LATENCY_NS_MAX: u64 = 100_000_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3).expect("static histogram bounds are valid")
}

/// What one stage measured.
#[derive(Clone)]
pub struct StageMetrics {
    pub name: &'static str,
    /// From `ts_recv_ns` to the stage's exit.
    pub since_recv_ns: Histogram<u64>,
    /// The stage's own processing time per event.
    pub processing_ns: Histogram<u64>,
}

impl StageMetrics {
    pub fn new(name: &'static str) -> StageMetrics {
        StageMetrics {
            name,
            since_recv_ns: new_histogram(),
            processing_ns: new_histogram(),
        }
    }

    #[inline]
    pub fn record(&mut self, since_recv_ns: u64, processing_ns: u64) {
        self.since_recv_ns.saturating_record(since_recv_ns.max(1));
        self.processing_ns.saturating_record(processing_ns.max(1));
    }
}

/// The percentiles every report shows.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub p99_99: u64,
    pub max: u64,
}

impl Percentiles {
    /// Uses `value_at_quantile`, which matches the Java and Python HdrHistogram readers.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            p99_99: histogram.value_at_quantile(0.9999),
            max: histogram.max(),
        }
    }
}
