//! The classic `.hgrm` percentile distribution, line for line the layout of
//! Java's `AbstractHistogram.outputPercentileDistribution` (5 ticks per half
//! distance), which the standard HdrHistogram plotters read.

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
    if !histogram.is_empty() {
        let mut total_count: u64 = 0;
        for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total_count += step.count_since_last_iteration();
            let value = step.value_iterated_to() as f64 / ratio;
            let quantile = step.quantile_iterated_to();
            if quantile < 1.0 {
                writeln!(
                    out,
                    "{value:12.digits$} {quantile:2.12} {total_count:10} {:14.2}",
                    1.0 / (1.0 - quantile)
                )?;
            } else {
                writeln!(out, "{value:12.digits$} {quantile:2.12} {total_count:10}")?;
            }
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

/// Java's sub-bucket count: the power of two at or above 2 × 10^digits.
fn sub_bucket_count(significant_digits: u8) -> u64 {
    let single_unit_resolution_max = 2 * 10u64.pow(u32::from(significant_digits));
    single_unit_resolution_max.next_power_of_two()
}
