//! The classic `.hgrm` percentile distribution, line for line the layout of
//! Java's `AbstractHistogram.outputPercentileDistribution` (5 ticks per half
//! distance), which the standard HdrHistogram plotters read.
//!
//! The rows are Java's `PercentileIterator`, step for step: the percentile
//! levels advance in percent (`level += 100 / ticks`), as Java computes
//! them, not in quantiles. The Rust crate's `iter_quantiles` advances in
//! quantiles (`+= 1 / ticks`), and 0.025 is not exact in binary where 2.5 is:
//! after 0.75 its level is 0.8750000000000001, not 0.875, so where exactly
//! 87.5% of the values lie at or below a value (7,651 of 8,744) it stepped
//! one recorded value too far. Stepping in percent gives Java's table exactly
//! (`tools/tests/java_interop.rs` compares with `HistogramLogProcessor`).

use std::io::{self, Write};

use hdrhistogram::Histogram;

use super::args::Unit;

/// Percentile steps per halving of the distance to 100%, as Java's default.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Writes `histogram`'s distribution with values divided into `unit`.
pub fn write_hgrm(out: &mut dyn Write, histogram: &Histogram<u64>, unit: Unit) -> io::Result<()> {
    let ratio = unit.ns_per_unit();
    let digits = usize::from(histogram.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    for step in percentile_steps(histogram, TICKS_PER_HALF_DISTANCE) {
        let value = step.value as f64 / ratio;
        let quantile = step.percentile / 100.0;
        let total_count = step.count_to_value;
        if step.percentile != 100.0 {
            writeln!(
                out,
                "{value:12.digits$} {quantile:2.12} {total_count:10} {:14.2}",
                1.0 / (1.0 - quantile)
            )?;
        } else {
            writeln!(out, "{value:12.digits$} {quantile:2.12} {total_count:10}")?;
        }
    }
    let (mean, stdev) = if histogram.is_empty() {
        (0.0, 0.0)
    } else {
        (histogram.mean() / ratio, histogram.stdev() / ratio)
    };
    writeln!(
        out,
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {stdev:12.digits$}]"
    )?;
    writeln!(
        out,
        "#[Max     = {:12.digits$}, Total count    = {:12}]",
        histogram.max() as f64 / ratio,
        histogram.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_bucket_count(histogram.sigfig())
    )
}

/// One row of the distribution: the highest value equivalent to the
/// recorded value reached, the percentile level it reached, and the count
/// of values at or below it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PercentileStep {
    pub value: u64,
    pub percentile: f64,
    pub count_to_value: u64,
}

/// Java's `PercentileIterator` over `histogram`: a step each time the share
/// of values at or below a recorded value reaches the next level (several
/// steps at one value if it crosses several), and a last step at 100%.
pub fn percentile_steps(
    histogram: &Histogram<u64>,
    ticks_per_half_distance: u32,
) -> Vec<PercentileStep> {
    let total = histogram.len();
    let mut steps = Vec::new();
    if total == 0 {
        return steps;
    }
    let mut level = 0.0f64;
    let mut count_to_value = 0u64;
    for recorded in histogram.iter_recorded() {
        count_to_value += recorded.count_at_value();
        let value = histogram.highest_equivalent(recorded.value_iterated_to());
        while (100.0 * count_to_value as f64) / total as f64 >= level {
            steps.push(PercentileStep {
                value,
                percentile: level,
                count_to_value,
            });
            level = next_level(level, ticks_per_half_distance);
            if count_to_value >= total {
                break;
            }
        }
        if count_to_value >= total {
            steps.push(PercentileStep {
                value,
                percentile: 100.0,
                count_to_value,
            });
            break;
        }
    }
    steps
}

/// Java's `PercentileIterator.incrementIterationLevel`, operation for operation.
fn next_level(level: f64, ticks_per_half_distance: u32) -> f64 {
    let halvings = ((100.0 / (100.0 - level)).ln() / 2f64.ln()) as i64;
    let ticks = i64::from(ticks_per_half_distance)
        .saturating_mul(2f64.powf((halvings.saturating_add(1)) as f64) as i64);
    level + 100.0 / ticks as f64
}

/// Java's sub-bucket count: the power of two at or above 2 × 10^digits.
fn sub_bucket_count(significant_digits: u8) -> u64 {
    let single_unit_resolution_max = 2 * 10u64.pow(u32::from(significant_digits));
    single_unit_resolution_max.next_power_of_two()
}
