//! The default report: one row per tag with count, p50, p90, p99, p99.9,
//! p99.99 and max, as text or JSON.

use std::io::{self, Write};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::args::Unit;
use super::load::TagHistogram;

/// The percentile columns: header label and quantile.
pub const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

/// One tag's figures, in nanoseconds. Percentiles come from
/// `value_at_quantile`, which matches the Java and Python readers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    pub tag: Option<String>,
    pub intervals: usize,
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p99_9_ns: u64,
    pub p99_99_ns: u64,
    pub max_ns: u64,
}

impl SummaryRow {
    pub fn of(tag: &TagHistogram) -> SummaryRow {
        let [p50_ns, p90_ns, p99_ns, p99_9_ns, p99_99_ns] = quantile_values(&tag.histogram);
        SummaryRow {
            tag: tag.tag.clone(),
            intervals: tag.interval_count,
            count: tag.histogram.len(),
            p50_ns,
            p90_ns,
            p99_ns,
            p99_9_ns,
            p99_99_ns,
            max_ns: tag.histogram.max(),
        }
    }

    /// The percentile columns then max, in table order.
    pub fn values_ns(&self) -> [u64; 6] {
        [
            self.p50_ns,
            self.p90_ns,
            self.p99_ns,
            self.p99_9_ns,
            self.p99_99_ns,
            self.max_ns,
        ]
    }
}

/// [`QUANTILES`] of `histogram` (zeros when it is empty).
pub fn quantile_values(histogram: &Histogram<u64>) -> [u64; 5] {
    if histogram.is_empty() {
        return [0; 5];
    }
    QUANTILES.map(|(_, quantile)| histogram.value_at_quantile(quantile))
}

/// Labels of [`SummaryRow::values_ns`].
pub const VALUE_LABELS: [&str; 6] = ["p50", "p90", "p99", "p99.9", "p99.99", "max"];

/// Writes the table, latencies in `unit`.
pub fn write_table(out: &mut dyn Write, tags: &[TagHistogram], unit: Unit) -> io::Result<()> {
    let tag_width = tags
        .iter()
        .map(|t| t.name().len())
        .max()
        .unwrap_or(0)
        .max(3);
    write!(out, "{:<tag_width$} {:>12}", "tag", "count")?;
    for label in VALUE_LABELS {
        write!(out, " {label:>12}")?;
    }
    writeln!(out, "  ({})", unit.label())?;
    for tag in tags {
        let row = SummaryRow::of(tag);
        write!(out, "{:<tag_width$} {:>12}", tag.name(), row.count)?;
        for value_ns in row.values_ns() {
            write!(out, " {:>12}", unit.format(value_ns))?;
        }
        writeln!(out)?;
    }
    Ok(())
}
