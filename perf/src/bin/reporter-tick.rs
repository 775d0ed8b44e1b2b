//! The latency reporter's tick on a real run's histograms, for
//! instruction-level profiling: callgrind's counts do not move with the
//! machine's load, so a cut in what one tick costs can be proved on a busy
//! machine (see `docs/performance.md`, "Ninth round: the reporter's tick").
//!
//! ```text
//! cargo build --release -p genesis-perf --bin reporter-tick
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_tick*' \
//!     target/release/reporter-tick --log genesis-data/latency/run-….hlog --ticks 20
//! ```
//!
//! It attaches the engine's five stages and a tick-to-trade recorder to a
//! [`Reporter`] writing its own interval log, as a run does; then, per tick,
//! it fills each stage's interval with the next histogram of that tag from
//! `--log` (a log a run wrote: `pipeline --latency-rate …` leaves one in
//! `genesis-data/latency/`), lets the stage rotate, and calls
//! `Reporter::tick` in `measured_tick`, the only part profiled. The tick
//! writes each histogram's line, takes its percentiles, adds it to the run
//! totals and clears it, and yields between steps (counted).

use anyhow::{bail, Context, Result};
use clap::Parser;
use genesis_engine::telemetry::metrics::StageMetrics;
use genesis_engine::telemetry::reporter::Reporter;
use genesis_engine::telemetry::tick_to_trade::{TickToTrade, TAGS};
use genesis_histlog::{read_interval_log_file, IntervalLogWriter};
use hdrhistogram::Histogram;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The stages of every plan, in pipeline order, as their log tags name them.
const STAGES: [&str; 5] = ["ingest", "risk", "strategy", "execution", "journal"];

#[derive(Parser)]
#[command(
    about = "Replay a run's interval log through the latency reporter, one tick per interval"
)]
struct Args {
    /// An interval log a run wrote (its histograms are replayed in turn).
    #[arg(long)]
    log: PathBuf,
    /// Ticks to run (the log's intervals repeat when there are fewer).
    #[arg(long, default_value_t = 20)]
    ticks: u64,
    /// Folder for the reporter's own log (default: a temporary folder).
    #[arg(long)]
    scratch: Option<PathBuf>,
}

/// The histograms of `tag` in `--log`, in order.
fn of_tag(log: &genesis_histlog::IntervalLog, tag: &str) -> Vec<Histogram<u64>> {
    log.intervals
        .iter()
        .filter(|i| i.tag.as_deref() == Some(tag))
        .map(|i| i.histogram.clone())
        .collect()
}

/// The `tick`-th of `histograms`, cycling; an empty one when there are none.
fn nth(histograms: &[Histogram<u64>], tick: u64) -> Option<&Histogram<u64>> {
    let len = histograms.len() as u64;
    (len > 0).then(|| &histograms[(tick % len) as usize])
}

#[inline(never)]
fn measured_tick(reporter: &mut Reporter) {
    reporter.tick();
}

fn main() -> Result<()> {
    let args = Args::parse();
    let log = read_interval_log_file(&args.log)
        .with_context(|| format!("reading {}", args.log.display()))?;
    let stage_logs: Vec<[Vec<Histogram<u64>>; 2]> = STAGES
        .iter()
        .map(|s| [of_tag(&log, s), of_tag(&log, &format!("{s}.processing"))])
        .collect();
    let t2t_logs: Vec<Vec<Histogram<u64>>> = TAGS.iter().map(|t| of_tag(&log, t)).collect();
    if stage_logs.iter().all(|[a, b]| a.is_empty() && b.is_empty()) {
        bail!(
            "{}: no stage histograms (tags {STAGES:?})",
            args.log.display()
        );
    }
    let scratch = match &args.scratch {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let writer = IntervalLogWriter::create(&scratch.path().join("replay.hlog"), 0, None)?;
    let mut reporter = Reporter::new(Duration::from_secs(1), Some(Box::new(writer)));
    let mut stages: Vec<StageMetrics> = STAGES.iter().map(|s| StageMetrics::new(s)).collect();
    for stage in &mut stages {
        reporter.attach(stage, 0);
    }
    let mut t2t = TickToTrade::new();
    reporter.attach_tick_to_trade(&mut t2t, 0);
    let wakes = reporter.wakes();
    // The first tick only offers the empty sets.
    reporter.tick();
    for tick in 0..args.ticks {
        let now_ns = (tick + 1) * 1_000_000_000;
        for (stage, [since_recv, processing]) in stages.iter_mut().zip(&stage_logs) {
            if let Some(h) = nth(since_recv, tick) {
                stage.since_recv_ns.add(h)?;
            }
            if let Some(h) = nth(processing, tick) {
                stage.processing_ns.add(h)?;
            }
            stage.rotate_if_offered(now_ns);
        }
        for (histogram, logged) in t2t.histograms.iter_mut().zip(&t2t_logs) {
            if let Some(h) = nth(logged, tick) {
                histogram.add(h)?;
            }
        }
        t2t.rotate_if_offered(now_ns);
        measured_tick(&mut reporter);
    }
    if let Some(error) = &reporter.sink_error {
        bail!("{error}");
    }
    let bytes = std::fs::metadata(scratch.path().join("replay.hlog"))?.len();
    println!(
        "{} ticks: {} intervals written ({bytes} bytes of log), {} yields between steps",
        args.ticks,
        reporter.intervals_written,
        wakes.yields.load(Ordering::Relaxed)
    );
    Ok(())
}
