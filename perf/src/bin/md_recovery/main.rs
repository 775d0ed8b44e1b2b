//! Market-data recovery: the time from a MoldUDP64 gap's detection to
//! fresh books again, through the engine's own ITCH source, beside a
//! loopback TCP round trip measured in the same run (the least any
//! retransmission or snapshot round trip can cost):
//!
//! ```text
//! cargo run --release -p genesis-perf --bin md_recovery            # ~1.5 minutes
//! cargo run --release -p genesis-perf --bin md_recovery -- --rates 100000 --seconds 5 --joins 3
//! ```
//!
//! For each rate and each way of healing, the simulated venue `genesis run`
//! starts (in process, publishing ITCH 5.0 over MoldUDP64 on loopback, with
//! its request port and GLIMPSE server; `venue.rs`) and the engine's
//! `ItchSource` run with the venue losing one packet in `--drop-every` on
//! purpose. Retransmission: every gap goes to the request
//! port (snapshot threshold and retransmit timeout out of reach). Snapshot:
//! every gap goes to a GLIMPSE snapshot (threshold 0), live datagrams
//! buffered meanwhile.
//!
//! A sample is the time from the poll after which a book turned stale to the
//! poll after which every book is fresh again, read from the source's feed
//! health (stale turns are published at once). Overlapping gaps make one
//! longer sample. Threads: the simulator's, and the bench thread polling the
//! source, which sleeps 20 µs when a poll brings nothing (the dev wait; a
//! spinning prod loop recovers sooner). Rates are the config's
//! `rate_per_sec` (walk updates per second; each update is one or more
//! ITCH messages), the rate offered; the tables show beside it the rate the
//! venue achieved (the walk's moves it published per second, counted; a
//! loaded host reaches less) and the market-data events the source
//! published per second.
//!
//! Then the late join (`late_join.rs`): per rate, a venue moving from the
//! start, and `--joins` times a new source binding its feed after
//! `--join-warm-up-ms`; a sample is the time from the bind to every book
//! fresh after a GLIMPSE snapshot.

mod late_join;
mod venue;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use genesis_engine::adapters::itch_source::ItchSource;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::ingest::Source;
use genesis_engine::telemetry::feed_health::{FeedCounter, FeedHealth};
use genesis_perf::floor::loopback_tcp;
use genesis_perf::latency::{histogram, human_ns, Summary};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "ITCH recovery: gap detection to fresh books, by retransmission and by snapshot")]
struct Cli {
    /// Walk updates per second of the simulated market, one case each.
    #[arg(long, value_delimiter = ',', default_value = "100000,400000")]
    rates: Vec<u64>,
    /// Seconds measured per case (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The venue loses one packet in this many; 0: rate / 250 (about
    /// twenty gaps per second at any rate).
    #[arg(long, default_value_t = 0)]
    drop_every: u64,
    /// Late joins timed per rate (0: none).
    #[arg(long, default_value_t = 5)]
    joins: usize,
    /// How long the venue moves before each late join (ms).
    #[arg(long, default_value_t = 1_000)]
    join_warm_up_ms: u64,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Retransmission,
    Snapshot,
}

/// One case's figures.
struct Case {
    rate: u64,
    mode: Mode,
    recovery: Summary,
    /// Walk updates per second the venue achieved while measured.
    achieved_per_second: f64,
    events_per_second: f64,
    gaps: u64,
    snapshots_applied: u64,
    messages_recovered: u64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let floor = loopback_tcp(2_000)?;
    let mut cases = Vec::new();
    for &rate in &cli.rates {
        for mode in [Mode::Retransmission, Mode::Snapshot] {
            let drop_every = match cli.drop_every {
                0 => (rate / 250).max(50),
                every => every,
            };
            let case = run_case(rate, mode, drop_every, cli.seconds)?;
            eprintln!(
                "{rate}/s {mode:?}: {} samples, p50 {}",
                case.recovery.count,
                human_ns(case.recovery.p50_ns)
            );
            cases.push(case);
        }
    }
    let mut joins = Vec::new();
    for &rate in cli.rates.iter().filter(|_| cli.joins > 0) {
        let warm_up = Duration::from_millis(cli.join_warm_up_ms);
        let case = late_join::run(rate, cli.joins, warm_up)?;
        eprintln!(
            "{rate}/s late join: {} joins, p50 {}",
            case.join.count,
            human_ns(case.join.p50_ns)
        );
        joins.push(case);
    }
    print_table(&cases, floor.timed);
    print_joins(&joins);
    if let Some(path) = &cli.json {
        let rows: Vec<_> = cases.iter().map(case_json).collect();
        let join_rows: Vec<_> = joins.iter().map(join_json).collect();
        let report = json!({
            "floor_loopback_tcp": floor.to_json(),
            "cases": rows,
            "late_joins": join_rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The run's config for one case: the in-process venue at `rate`, losing
/// one packet in `drop_every`, every gap healed the `mode` way.
fn case_config(rate: u64, mode: Mode, drop_every: u64) -> Result<Config> {
    let (threshold, retransmit_timeout_ms) = match mode {
        Mode::Retransmission => (1u64 << 40, 600_000),
        Mode::Snapshot => (0, 50),
    };
    let text = format!(
        "[market_data]\nsource = \"itch-sim\"\nrate_per_sec = {rate}\nsim_drop_every = {drop_every}\n\
         [market_data.itch]\nsnapshot_gap_messages_min = {threshold}\nretransmit_timeout_ms = {retransmit_timeout_ms}\n\
         [metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n"
    );
    Ok(Config::parse(&text, "md_recovery")?)
}

/// Runs one case: the venue and the source, release the market, poll,
/// time each recovery.
fn run_case(rate: u64, mode: Mode, drop_every: u64, seconds: u64) -> Result<Case> {
    let config = case_config(rate, mode, drop_every)?;
    let ports = genesis_sim::ItchPorts::bind(
        &genesis_cli::sim_glue::sim_config(&config),
        venue::loopback(0),
        venue::loopback(0),
    )
    .map_err(|e| anyhow::anyhow!("ITCH request port and snapshot server: {e}"))?;
    let mut market = ItchSource::bind(&config, ports.request_addr, Some(ports.snapshot_addr))
        .map_err(anyhow::Error::msg)?;
    let feed_addr = market.feed_addr().map_err(anyhow::Error::msg)?;
    let venue = venue::Venue::start(&config, ports, feed_addr, true)?;
    venue.release();
    let health = market
        .feed_health()
        .context("the ITCH source keeps feed health")?;
    let clock = EpochClock::new();
    poll_for(&mut market, &health, &clock, 1_000_000_000, None);
    let before = health.load(0);
    let moves_before = venue.moves();
    let mut recovery = histogram();
    let duration_ns = seconds * 1_000_000_000;
    let events = poll_for(
        &mut market,
        &health,
        &clock,
        duration_ns,
        Some(&mut recovery),
    );
    let achieved_per_second = venue.moves().rate_since(moves_before);
    let after = health.load(0);
    ensure!(!recovery.is_empty(), "{rate}/s {mode:?}: no gap was healed");
    let delta = |counter| after.get(counter) - before.get(counter);
    Ok(Case {
        rate,
        mode,
        recovery: Summary::of(&recovery),
        achieved_per_second,
        events_per_second: events as f64 / seconds as f64,
        gaps: delta(FeedCounter::Gaps),
        snapshots_applied: delta(FeedCounter::SnapshotsApplied),
        messages_recovered: delta(FeedCounter::RecoveredRetransmit),
    })
}

/// Polls the source for `duration_ns`, timing each stretch with a stale
/// book into `recovery` (when given); returns the events published.
fn poll_for(
    market: &mut ItchSource,
    health: &FeedHealth,
    clock: &EpochClock,
    duration_ns: u64,
    mut recovery: Option<&mut hdrhistogram::Histogram<u64>>,
) -> u64 {
    let books: Vec<usize> = (0..health.rows().len())
        .filter(|row| health.rows()[*row].is_book)
        .collect();
    let deadline_ns = clock.now_ns() + duration_ns;
    let (mut events, mut stale_since_ns) = (0u64, None);
    loop {
        let emitted = market.poll(clock, 256, &mut |_| {});
        events += emitted as u64;
        let now_ns = clock.now_ns();
        let stale = books.iter().any(|row| health.load(*row).stale);
        match (stale_since_ns, stale) {
            (None, true) => stale_since_ns = Some(now_ns),
            (Some(since_ns), false) => {
                if let Some(histogram) = recovery.as_deref_mut() {
                    histogram.saturating_record((now_ns - since_ns).max(1));
                }
                stale_since_ns = None;
            }
            _ => {}
        }
        if now_ns >= deadline_ns && stale_since_ns.is_none() {
            return events;
        }
        if emitted == 0 {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}

fn print_table(cases: &[Case], floor: Summary) {
    println!(
        "Gap detected to every book fresh, ITCH over loopback; floor: loopback TCP round trip p50 {} p99 {}\n",
        human_ns(floor.p50_ns),
        human_ns(floor.p99_ns)
    );
    println!("| offered (updates/s) | achieved (updates/s) | healed by | events/s published | gaps | samples | p50 | p99 | max | p50 / floor p50 | snapshots applied | messages retransmitted |");
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for case in cases {
        let ratio = case.recovery.p50_ns as f64 / floor.p50_ns.max(1) as f64;
        println!(
            "| {} | {:.0} | {:?} | {:.0} | {} | {} | {} | {} | {} | {ratio:.0}x | {} | {} |",
            case.rate,
            case.achieved_per_second,
            case.mode,
            case.events_per_second,
            case.gaps,
            case.recovery.count,
            human_ns(case.recovery.p50_ns),
            human_ns(case.recovery.p99_ns),
            human_ns(case.recovery.max_ns),
            case.snapshots_applied,
            case.messages_recovered,
        );
    }
}

fn print_joins(joins: &[late_join::JoinCase]) {
    if joins.is_empty() {
        return;
    }
    println!("\nLate join: a new ITCH source binding a moving feed, to every book fresh after a GLIMPSE snapshot\n");
    println!("| offered (updates/s) | achieved (updates/s) | joins | p50 | p99 | max | messages retransmitted |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for case in joins {
        println!(
            "| {} | {:.0} | {} | {} | {} | {} | {} |",
            case.rate,
            case.achieved_per_second,
            case.join.count,
            human_ns(case.join.p50_ns),
            human_ns(case.join.p99_ns),
            human_ns(case.join.max_ns),
            case.messages_retransmitted,
        );
    }
}

fn join_json(case: &late_join::JoinCase) -> serde_json::Value {
    json!({
        "rate_per_sec": case.rate,
        "achieved_per_second": case.achieved_per_second,
        "join": case.join.to_json(),
        "messages_retransmitted": case.messages_retransmitted,
    })
}

fn case_json(case: &Case) -> serde_json::Value {
    json!({
        "rate_per_sec": case.rate,
        "achieved_per_second": case.achieved_per_second,
        "mode": format!("{:?}", case.mode),
        "recovery": case.recovery.to_json(),
        "events_per_second": case.events_per_second,
        "gaps": case.gaps,
        "snapshots_applied": case.snapshots_applied,
        "messages_recovered": case.messages_recovered,
    })
}
