//! Command line of `histo-dump`; `--help` is the user documentation.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

const AFTER_HELP: &str = "\
Values in the log are nanoseconds. Each tag's intervals (after --tag,
--from and --to) are added into one histogram per tag, and percentiles are
taken with value_at_quantile (see Percentiles below).

Damage: a line that is garbled, or cut off at the end of the file, is
skipped; every other line is still read. Each damaged line is reported on
stderr as `histo-dump: LOG: line N: what`, and the report is printed from
what was read.

Percentiles: the table and --json take value_at_quantile, Java's
convention (the count at a percentile is rounded up: the smallest value with
at least ceil(p/100 * count) values at or below it); --hgrm is Java's
outputPercentileDistribution step for step. Both equal Java's HdrHistogram
exactly. Python's hdrh rounds that count to the nearest integer instead, so
it can differ by one recorded value at some percentiles.

Exit codes:
  0  every log read whole, report printed
  1  fatal: a log cannot be read or holds no interval (an empty file),
     --tag names no tag in it, or an output (the SVG) cannot be written;
     nothing trustworthy was printed
  2  bad command line
  3  damage found in LOG or OTHER_LOG; the report covers the lines read

Examples:
  histo-dump latency.hlog
  histo-dump latency.hlog --tag risk --from 10 --to 70 --unit ns
  histo-dump latency.hlog --tag risk --hgrm > risk.hgrm
  histo-dump latency.hlog --plot latency.svg
  histo-dump new.hlog --compare baseline.hlog --json";

/// Latency report from an HdrHistogram interval log: one row per tag with
/// count, p50, p90, p99, p99.9, p99.99 and max.
#[derive(Clone, Debug, Parser)]
#[command(name = "histo-dump", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Interval log to read (HdrHistogram log format 1.x, as the engine, Java
    /// or Python writes it).
    pub log: PathBuf,

    /// Unit of the printed latencies (text, --hgrm and --plot; --json always
    /// gives integer nanoseconds).
    #[arg(long, value_enum, default_value_t = Unit::Us)]
    pub unit: Unit,

    /// Only this tag (as in `Tag=risk`). Fails if the log has no such tag.
    #[arg(long, value_name = "T")]
    pub tag: Option<String>,

    /// Only intervals starting at or after N seconds from the log's start
    /// (StartTime, or the first interval). Seconds, not an interval index;
    /// fractions allowed.
    #[arg(long, value_name = "N")]
    pub from: Option<f64>,

    /// Only intervals starting at or before N seconds from the log's start.
    #[arg(long, value_name = "N")]
    pub to: Option<f64>,

    /// Print each tag's percentile distribution in the classic .hgrm text
    /// format (Java's outputPercentileDistribution) instead of the table. With
    /// several tags, each section starts with a `#[Tag: T]` line; use --tag
    /// to get one file per tag for the standard plotters.
    #[arg(long, conflicts_with = "compare")]
    pub hgrm: bool,

    /// Also write a percentile-distribution chart to FILE.svg: latency (log
    /// axis) against percentile (log 1/(1-p) axis), one line per series, each
    /// with its own colour and pattern. Without --tag it plots each stage's
    /// total (receive to stage exit) and tick-to-trade, not the
    /// `<stage>.processing` tags; --tag plots that tag.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Draw the --plot latency axis linear instead of logarithmic.
    #[arg(long, requires = "plot")]
    pub linear_y: bool,

    /// Compare LOG (the new run) against OTHER_LOG (the baseline): for each
    /// tag present in both, each percentile side by side with the ratio
    /// LOG / OTHER_LOG (above 1 means LOG is slower). The same --tag,
    /// --from and --to apply to both.
    #[arg(long, value_name = "OTHER_LOG")]
    pub compare: Option<PathBuf>,

    /// Print JSON instead of text: the table, or the comparison, plus the
    /// damage found. Latencies are integer nanoseconds (`p99_ns`).
    #[arg(long, conflicts_with = "hgrm")]
    pub json: bool,
}

/// Unit for printed latencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    /// Microseconds, three decimals.
    Us,
    /// Nanoseconds, whole numbers.
    Ns,
}

impl Unit {
    /// Nanoseconds per printed unit.
    pub fn ns_per_unit(self) -> f64 {
        match self {
            Unit::Us => 1_000.0,
            Unit::Ns => 1.0,
        }
    }

    /// Decimals printed in tables.
    pub fn decimals(self) -> usize {
        match self {
            Unit::Us => 3,
            Unit::Ns => 0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Unit::Us => "µs",
            Unit::Ns => "ns",
        }
    }

    /// `value_ns` in this unit, as table text.
    pub fn format(self, value_ns: u64) -> String {
        format!(
            "{:.*}",
            self.decimals(),
            value_ns as f64 / self.ns_per_unit()
        )
    }
}
