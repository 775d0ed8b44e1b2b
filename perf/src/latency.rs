//! The latency figures every table shows, taken from an HDR histogram with
//! `value_at_quantile` (which matches the Java and Python readers).

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Count and percentiles of one latency histogram, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p99_9_ns: u64,
    pub max_ns: u64,
}

impl Summary {
    pub fn of(histogram: &Histogram<u64>) -> Summary {
        if histogram.is_empty() {
            return Summary::default();
        }
        Summary {
            count: histogram.len(),
            p50_ns: histogram.value_at_quantile(0.50),
            p99_ns: histogram.value_at_quantile(0.99),
            p99_9_ns: histogram.value_at_quantile(0.999),
            max_ns: histogram.max(),
        }
    }

    pub fn to_json(self) -> Value {
        json!({
            "count": self.count,
            "p50_ns": self.p50_ns,
            "p99_ns": self.p99_ns,
            "p99_9_ns": self.p99_9_ns,
            "max_ns": self.max_ns,
        })
    }
}

/// A histogram for one benchmark's own measurements: 1 ns to 100 s, 3 digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("static histogram bounds are valid")
}

/// Nanoseconds in a readable unit: "850 ns", "12.3 µs", "4.56 ms".
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=9_999_999 => format!("{:.1} µs", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}
