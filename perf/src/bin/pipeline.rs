//! Pipeline throughput: Genesis fused on one core against the same stages run
//! thread-per-stage over `crossbeam-channel`, and against the raw speed of
//! appending journal records to the same disk, all in one run.
//!
//! Every run uses the built-in instruments and market maker, the synthetic
//! feed as fast as the engine takes it (`rate_per_sec = 0`, no conflation)
//! and the simulated venue, with the journal in the page cache.

use anyhow::Result;
use clap::Parser;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{Config, MarketDataSource, WaitKind};
use genesis_engine::event::{Event, EVENT_BYTES};
use genesis_engine::ingest::Sink;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::topology::chain::Chain;
use genesis_journal::FileWriter;
use genesis_perf::setup::chains_of;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Genesis pipeline throughput beside its baselines, in one run")]
struct Args {
    /// Seconds each variant runs.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Folder for the journals (default: a temporary folder under the current one).
    #[arg(long)]
    journal_dir: Option<PathBuf>,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

struct Outcome {
    name: &'static str,
    plan: String,
    events: u64,
    seconds: f64,
    p99_journal_since_recv_ns: u64,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

fn bench_config(dir: &Path) -> Config {
    let mut config = Config::builtin();
    config.market_data.source = MarketDataSource::Synthetic;
    config.market_data.rate_per_sec = 0;
    config.market_data.timer_interval_ms = 100;
    config.topology.conflate_when_full = false;
    config.topology.wait = WaitKind::SpinHint;
    config.journal.dir = dir.to_path_buf();
    config.journal.sync_on_exit = false;
    config
}

fn genesis_fused(dir: &Path, seconds: f64) -> Result<Outcome> {
    let config = bench_config(dir);
    let assembly = genesis_cli::assemble(&config)?;
    let report = genesis_cli::run(
        &config,
        assembly,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_secs_f64(seconds)),
    )?;
    let journal = report.stages.last().expect("journal stage");
    Ok(Outcome {
        name: "genesis fused",
        plan: report.plan.describe(),
        events: report.journal_records,
        seconds: report.elapsed.as_secs_f64(),
        p99_journal_since_recv_ns: Percentiles::of(&journal.since_recv_ns).p99,
    })
}

/// The same stages, one thread each, connected by bounded crossbeam channels.
fn crossbeam_per_stage(dir: &Path, seconds: f64) -> Result<Outcome> {
    let config = bench_config(dir);
    let clock = EpochClock::new();
    let assembly = genesis_cli::assemble(&config)?;
    // As a run does when it starts reading; the simulator stays up while
    // `_beside` lives.
    assembly.release_market();
    let genesis_cli::Assembly {
        parts,
        beside: _beside,
        ..
    } = assembly;
    let (mut ingest, stages) = chains_of(&config, parts, &clock)?;
    let (head_tx, handles) = spawn_channel_stages(stages, config.topology.ring_capacity);
    let mut sink = ChannelSink(head_tx);
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < seconds {
        if ingest.poll(&mut sink) == 0 {
            std::hint::spin_loop();
        }
    }
    drop(sink);
    let mut journal_chain = None;
    for handle in handles {
        journal_chain = Some(handle.join().expect("stage thread"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let journal = journal_chain
        .and_then(|c| c.journal)
        .expect("journal stage");
    Ok(Outcome {
        name: "crossbeam thread-per-stage",
        plan: "5 threads: ingest | risk | strategy | execution | journal, bounded crossbeam channels, blocking receive".into(),
        events: journal.stage.records,
        seconds: elapsed,
        p99_journal_since_recv_ns: Percentiles::of(&journal.metrics.since_recv_ns).p99,
    })
}

/// Ingest's end of the first channel.
struct ChannelSink(crossbeam_channel::Sender<Event>);

impl Sink for ChannelSink {
    fn offer(&mut self, event: &Event) -> bool {
        self.0.try_send(*event).is_ok()
    }
}

/// One thread per stage, each receiving from the channel before it and
/// sending to the next (the last sends nothing); the head's sender, and the
/// threads, which hand their stage back when their input closes.
fn spawn_channel_stages(
    stages: Vec<Chain>,
    capacity: usize,
) -> (
    crossbeam_channel::Sender<Event>,
    Vec<std::thread::JoinHandle<Chain>>,
) {
    let (head_tx, mut rx) = crossbeam_channel::bounded::<Event>(capacity);
    let last = stages.len() - 1;
    let mut handles = Vec::new();
    for (index, mut stage) in stages.into_iter().enumerate() {
        let (tx, next_rx) = crossbeam_channel::bounded::<Event>(capacity);
        let input = std::mem::replace(&mut rx, next_rx);
        let is_last = index == last;
        handles.push(std::thread::spawn(move || {
            for mut event in input.iter() {
                stage.process(&mut event);
                if !is_last && tx.send(event).is_err() {
                    break;
                }
            }
            stage.finish();
            stage
        }));
    }
    (head_tx, handles)
}

/// The floor: framed 128-byte records appended to the same disk, nothing else.
fn raw_journal_append(dir: &Path, seconds: f64) -> Result<Outcome> {
    let mut writer = FileWriter::create(&dir.join("raw.gjnl"), EVENT_BYTES, 1, 1 << 20)?;
    let payload = [7u8; EVENT_BYTES];
    let started = Instant::now();
    let mut records = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        for _ in 0..4_096 {
            writer.append(&payload)?;
        }
        records += 4_096;
    }
    writer.flush()?;
    Ok(Outcome {
        name: "raw journal append",
        plan: "1 thread: FileWriter::append of 128-byte records, page cache".into(),
        events: records,
        seconds: started.elapsed().as_secs_f64(),
        p99_journal_since_recv_ns: 0,
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let scratch = tempfile::tempdir_in(".")?;
    let root = args
        .journal_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let run_dir = |name: &str| -> Result<PathBuf> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    };
    // Each variant's journal is deleted before the next runs, so none pays for another's pages.
    let fused = genesis_fused(&run_dir("fused")?, args.seconds)?;
    let _ = std::fs::remove_dir_all(root.join("fused"));
    let channels = crossbeam_per_stage(&run_dir("crossbeam")?, args.seconds)?;
    let _ = std::fs::remove_dir_all(root.join("crossbeam"));
    let raw = raw_journal_append(&run_dir("raw")?, args.seconds)?;
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "journal folder: {} (the journal's speed is the disk's: see the raw row)\n",
        root.display()
    );

    println!("| variant | plan | events/s | journal p99 since receive (ns) |");
    println!("|---|---|---:|---:|");
    for outcome in [&fused, &channels, &raw] {
        println!(
            "| {} | {} | {:.0} | {} |",
            outcome.name,
            outcome.plan,
            outcome.rate(),
            outcome.p99_journal_since_recv_ns
        );
    }
    let vs_channels = fused.rate() / channels.rate();
    let vs_raw = fused.rate() / raw.rate();
    println!("\ngenesis fused / crossbeam thread-per-stage: {vs_channels:.2}x");
    println!(
        "genesis fused / raw journal append (the disk's ceiling for this record size): {vs_raw:.2}"
    );
    if let Some(path) = args.json {
        let variant = |o: &Outcome| json!({"name": o.name, "plan": o.plan, "events": o.events, "seconds": o.seconds, "events_per_sec": o.rate(), "journal_p99_since_recv_ns": o.p99_journal_since_recv_ns});
        let report = json!({
            "variants": [variant(&fused), variant(&channels), variant(&raw)],
            "ratio_fused_to_crossbeam": vs_channels,
            "ratio_fused_to_raw_append": vs_raw,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}
