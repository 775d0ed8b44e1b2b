//! Restart benchmark: how long start-up takes to rebuild the stages' state
//! (`run::rebuild`) over a journal of `--events` events, from the newest
//! snapshot and the journal after it, beside the baseline measured in the
//! same run on the same journal: a full replay from the first record.
//!
//! The journal is made by the engine itself: the market maker trading on
//! the synthetic walk against the in-process paper venue, risk, strategy,
//! execution and journal fused on this thread (as `no_alloc` runs them),
//! while the snapshot thread follows it on a second thread and writes a
//! snapshot every `--snapshot-every` events (the config's default,
//! `snapshot.events_between`, is 250,000). Three restarts are then timed, each `--repeat` times on the
//! caller's thread (start-up runs there, before any pipeline thread):
//!
//! - full replay: snapshots off, every event replayed (the baseline);
//! - clean stop: the run's final snapshot, nothing to replay;
//! - crash: the final snapshot and any within `--tail` events of the end
//!   removed, as if the process died just before the next periodic one:
//!   the newest periodic snapshot plus the journal after it (the worst case
//!   with the default policy is a tail just under one interval).
//!
//! Opening the journal (its recovery scan) is timed too, since a restart
//! does both. Data goes to a temporary folder under `--dir`, removed at the
//! end; figures are for a warm page cache (nothing here drops caches on a
//! shared machine). Two threads at most are busy, both only while the
//! journal is made.

use anyhow::{ensure, Context, Result};
use clap::Parser;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{Config, JournalDurability, MarketDataSource, VenueKind, WaitKind};
use genesis_engine::event::Event;
use genesis_engine::execution::NullGateway;
use genesis_engine::ingest::{Ingest, Sink};
use genesis_engine::journal_stage::{run_config_path, JournalStage};
use genesis_engine::replay::Replayer;
use genesis_engine::run::rebuild::{rebuild, RebuildOptions, Rebuilt};
use genesis_engine::run::Parts;
use genesis_engine::snapshot::{fingerprint, Follower, FollowerReport, SnapshotPolicy};
use genesis_engine::topology::chain::{Chain, Timed};
use genesis_perf::machine::Machine;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    about = "Genesis restart: state rebuilt from snapshot + journal tail, beside a full replay"
)]
struct Args {
    /// Events in the journal.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// The snapshot thread writes every this many events (`snapshot.events_between`).
    #[arg(long, default_value_t = 250_000)]
    snapshot_every: u64,
    /// Crash case: snapshots within this many events of the journal's end are removed.
    #[arg(long, default_value_t = 249_999)]
    tail: u64,
    /// Timed rebuilds per case (the median and the fastest are reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Folder under which a temporary folder is made.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.events > args.snapshot_every && args.repeat > 0,
        "--events must exceed --snapshot-every"
    );
    let machine = Machine::detect();
    let tmp = tempfile::Builder::new()
        .prefix("restart-bench-")
        .tempdir_in(&args.dir)
        .context("make a temporary folder")?;
    let config = bench_config(&tmp.path().join("journal"), args.snapshot_every);
    println!(
        "restart benchmark in {}: {} events, a snapshot every {}; CPU {} ({} cores online, {} usable, load {:.1})",
        tmp.path().display(),
        args.events,
        args.snapshot_every,
        machine.cpu_model,
        machine.cores_online,
        machine.cores_usable,
        machine.load_average_1m
    );
    let made = make_journal(&config, args.events)?;
    println!(
        "journal made in {:.1} s ({:.2} M events/s, fused on one thread; snapshot thread beside it): {} snapshots written, last at {}",
        made.seconds,
        args.events as f64 / made.seconds / 1e6,
        made.snapshots.snapshots_written,
        made.snapshots.last_seq.unwrap_or(0)
    );
    let seq_first = made.seq_last + 1;
    let open = time_journal_open(&config, args.repeat)?;
    println!(
        "journal open (recovery scan): median {:.1} ms",
        open.median_ms
    );
    let full = time_case(&config, seq_first, false, args.repeat)?;
    print_case("full replay (baseline)", &full);
    let clean = time_case(&config, seq_first, true, args.repeat)?;
    print_case("clean stop: final snapshot", &clean);
    let removed = remove_newest(&config.journal.dir, made.seq_last.saturating_sub(args.tail))?;
    let crash = time_case(&config, seq_first, true, args.repeat)?;
    print_case("crash: periodic snapshot + tail", &crash);
    println!(
        "restart (crash case) takes {:.3} of a full replay's time; goal under 1 s: {}",
        crash.median_ms / full.median_ms,
        if crash.median_ms < 1_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    ensure!(
        full.state == clean.state && clean.state == crash.state,
        "every way of rebuilding must give the same state"
    );
    if let Some(path) = &args.json {
        let report = json!({
            "events": args.events,
            "snapshot_every": args.snapshot_every,
            "machine": machine.to_json(),
            "plan": "journal made fused on one thread with the snapshot thread beside it; each rebuild on one thread (the caller's), as at start-up",
            "journal_made_s": made.seconds,
            "journal_open_ms": open.median_ms,
            "snapshots_removed_for_crash_case": removed,
            "cases": {
                "full_replay": full.to_json(),
                "clean_stop": clean.to_json(),
                "crash": crash.to_json(),
            },
            "crash_over_full_replay": crash.median_ms / full.median_ms,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

/// The built-in config, one fused unpinned thread, the synthetic walk as
/// fast as the pipeline takes it, the paper venue, no fsync.
fn bench_config(journal_dir: &Path, snapshot_every: u64) -> Config {
    let mut config = Config::builtin();
    config.topology.pin_threads = false;
    config.topology.wait = WaitKind::Sleep;
    config.market_data.source = MarketDataSource::Synthetic;
    config.market_data.rate_per_sec = 0;
    config.market_data.timer_interval_ms = 1;
    config.venue.kind = VenueKind::Paper;
    config.risk.orders_per_window = 1_000_000;
    config.journal.dir = journal_dir.to_path_buf();
    config.journal.durability = JournalDurability::None;
    config.journal.sync_on_exit = false;
    config.snapshot.events_between = snapshot_every;
    config.snapshot.interval_ms = 3_600_000;
    config.metrics.listen = String::new();
    config
}

struct Made {
    seconds: f64,
    seq_last: u64,
    snapshots: FollowerReport,
}

struct Fused(Chain);

impl Sink for Fused {
    fn offer(&mut self, event: &Event) -> bool {
        let mut copy = *event;
        self.0.process(&mut copy);
        true
    }
}

/// Journals `events` events as a run does, with the snapshot thread beside it.
#[allow(clippy::disallowed_methods)] // a benchmark times by wall clock
fn make_journal(config: &Config, events: u64) -> Result<Made> {
    let (parts, _control) = Parts::from_config(config)?;
    let (journal, recovery) = JournalStage::open(&config.journal)?;
    let seq_first = recovery.seq_next;
    std::fs::write(
        run_config_path(&config.journal.dir, seq_first),
        toml::to_string_pretty(config)?,
    )?;
    // Begun as `run::run` begins a run on an empty journal.
    let rebuilt = rebuild(
        config,
        &config.journal.dir,
        seq_first,
        parts.strategy,
        parts.gateway,
        RebuildOptions::default(),
    )?;
    let live = &rebuilt.strategy;
    let mut replica = Replayer::fresh(
        config,
        live.strategy_replica()
            .context("the market maker offers a replica")?,
        true,
    );
    replica.restore_state(&rebuilt.state)?;
    let policy = SnapshotPolicy {
        events_between: config.snapshot.events_between,
        interval: Duration::from_millis(config.snapshot.interval_ms),
        keep: config.snapshot.keep,
    };
    let follower = Follower::new(
        &config.journal.dir,
        replica,
        seq_first,
        fingerprint(config, live.strategy_name()),
        policy,
        None,
        None,
    )?;
    let thread = genesis_engine::snapshot::follower::spawn(follower);
    let clock = EpochClock::new();
    let mut ingest = Ingest::new(
        parts.sources,
        clock.clone(),
        config.instruments.len(),
        true,
        config.risk.exec_id_memory,
        1_000_000,
    );
    ingest.set_seq_next(seq_first);
    let mut sink = Fused(Chain {
        clock,
        risk: Some(Timed::new(rebuilt.risk, "risk")),
        strategy: Some(Timed::new(rebuilt.strategy, "strategy")),
        execution: Some(Timed::new(rebuilt.execution, "execution")),
        journal: Some(Timed::new(journal, "journal")),
        fatal: None,
    });
    let started = Instant::now();
    while ingest.counters().published < events {
        if ingest.poll(&mut sink) == 0 {
            ingest.on_idle();
            sink.0.on_idle();
        }
    }
    sink.0.finish();
    ensure!(sink.0.fatal.is_none(), "journal: {:?}", sink.0.fatal);
    let seq_last = ingest.seq_next() - 1;
    let snapshots = thread.finish(seq_last);
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        snapshots.stopped.is_none(),
        "snapshot thread: {:?}",
        snapshots.stopped
    );
    Ok(Made {
        seconds,
        seq_last,
        snapshots,
    })
}

/// Timings of one case, and what the rebuild did.
struct Case {
    times_ms: Vec<f64>,
    median_ms: f64,
    origin: &'static str,
    snapshot_seq: Option<u64>,
    events_replayed: u64,
    snapshot_load_ms: f64,
    replay_ms: f64,
    state: Vec<u8>,
}

impl Case {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "times_ms": self.times_ms,
            "median_ms": self.median_ms,
            "fastest_ms": self.times_ms.iter().copied().fold(f64::INFINITY, f64::min),
            "origin": self.origin,
            "snapshot_seq": self.snapshot_seq,
            "events_replayed": self.events_replayed,
            "snapshot_load_ms": self.snapshot_load_ms,
            "replay_ms": self.replay_ms,
            "state_bytes": self.state.len(),
        })
    }
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// `repeat` rebuilds of the run starting at `seq_first`, timed whole.
#[allow(clippy::disallowed_methods)] // a benchmark times by wall clock
fn time_case(config: &Config, seq_first: u64, use_snapshots: bool, repeat: usize) -> Result<Case> {
    let mut times_ms = Vec::with_capacity(repeat);
    let mut last: Option<Rebuilt> = None;
    for _ in 0..repeat {
        let started = Instant::now();
        let rebuilt = rebuild(
            config,
            &config.journal.dir,
            seq_first,
            genesis_engine::strategy::from_config(config),
            Box::new(NullGateway),
            RebuildOptions { use_snapshots },
        )?;
        times_ms.push(started.elapsed().as_secs_f64() * 1e3);
        last = Some(rebuilt);
    }
    let rebuilt = last.expect("at least one repeat");
    let report = &rebuilt.report;
    Ok(Case {
        median_ms: median(&mut times_ms.clone()),
        times_ms,
        origin: report.origin,
        snapshot_seq: report.snapshot_seq,
        events_replayed: report.events_replayed,
        snapshot_load_ms: report.snapshot_load_ms,
        replay_ms: report.replay_ms,
        state: rebuilt.journal_state.context("the journal holds state")?,
    })
}

fn print_case(name: &str, case: &Case) {
    println!(
        "{name:<34} median {:>9.1} ms (runs {}): from {}{}, {} events replayed (snapshot load {:.1} ms, replay {:.1} ms)",
        case.median_ms,
        case.times_ms
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        case.origin,
        case.snapshot_seq.map_or_else(String::new, |s| format!(" at {s}")),
        case.events_replayed,
        case.snapshot_load_ms,
        case.replay_ms
    );
}

struct JournalOpen {
    median_ms: f64,
}

/// Opening the journal as start-up does (recovery of its tail, seal checks).
#[allow(clippy::disallowed_methods)] // a benchmark times by wall clock
fn time_journal_open(config: &Config, repeat: usize) -> Result<JournalOpen> {
    let mut times_ms = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        let (journal, _) = JournalStage::open(&config.journal)?;
        times_ms.push(started.elapsed().as_secs_f64() * 1e3);
        drop(journal);
    }
    Ok(JournalOpen {
        median_ms: median(&mut times_ms),
    })
}

/// Removes the snapshots past `seq_keep_max`; returns their names.
fn remove_newest(journal_dir: &Path, seq_keep_max: u64) -> Result<Vec<String>> {
    let store = genesis_engine::snapshot::SnapshotStore::of_journal(journal_dir);
    let mut removed = Vec::new();
    for file in store.list()? {
        if file.seq > seq_keep_max {
            std::fs::remove_file(&file.path)?;
            removed.push(file.path.display().to_string());
        }
    }
    ensure!(
        store.list()?.iter().any(|f| f.seq <= seq_keep_max),
        "a periodic snapshot is left for the crash case (raise the events or lower --tail)"
    );
    Ok(removed)
}
