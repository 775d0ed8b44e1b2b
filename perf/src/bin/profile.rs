//! A fixed number of events through the engine's fused path on this one
//! thread, for instruction-level profiling: callgrind's instruction counts
//! do not move with the machine's load, so a cut in the per-event cost can
//! be proved on a busy machine (see `docs/performance.md`).
//!
//! ```text
//! cargo build --release -p genesis-perf --bin profile
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_events*' \
//!     target/release/profile --events 200000 --venue paper --board
//! ```
//!
//! It mirrors the head thread of a fused run (`topology::runner::run_head`):
//! ingest polls its sources (control, venue, timer, then the harness's
//! unpaced load generator) into a sink that runs the
//! one `Chain` of risk, strategy, execution and journal; after a poll that
//! published, the chain's end of batch; after one that did not, the idle
//! work; after a full one, the chain is told ingest is behind. Only `measured_events` is profiled: warm-up and set-up are not.

use anyhow::{bail, Result};
use clap::{Parser, ValueEnum};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::VenueKind;
use genesis_engine::event::Event;
use genesis_engine::execution::ExecutionCounters;
use genesis_engine::ingest::{Ingest, NoSource, Sink, POLL_BUDGET_MAX};
use genesis_engine::topology::chain::Chain;
use genesis_perf::setup::{assembly, bench_config, fused_chain, PLAN_FUSED};
use genesis_sim::TopBoard;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
enum Venue {
    /// The in-process paper venue: no sockets, no other thread; every run
    /// of the same arguments executes the same instructions but for the
    /// clock's values. The load generator replaces the market source the
    /// paper venue taps (`Assembly::replace_market`), so the venue never
    /// sees a touch and fills nothing (see "Measuring on a busy machine"
    /// in docs/performance.md for what this run does and does not walk).
    Paper,
    /// The simulated venue over FIX on loopback, as `bench` runs it (its
    /// matching thread runs beside this one; fills arrive when it answers).
    FixSim,
}

#[derive(Parser)]
#[command(about = "Run a fixed number of events through the fused engine path on this thread")]
struct Args {
    /// Events to run before the measured part.
    #[arg(long, default_value_t = 50_000)]
    warm_up: u64,
    /// Events in the measured part (`measured_events`).
    #[arg(long, default_value_t = 200_000)]
    events: u64,
    #[arg(long, value_enum, default_value = "paper")]
    venue: Venue,
    /// Folder for the journal (default: a temporary folder).
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Taps the market source with the simulated venue's price board, as
    /// `bench`'s rows run it (`sim_glue::board_tap`; nobody reads the board
    /// here), so that `--venue paper` walks the bench's whole source path.
    #[arg(long)]
    board: bool,
}

/// The fused head thread's sink: the chain, on ingest's copy of the event
/// as `runner::HeadSink` runs it (a copy of its own through `offer`).
struct Fused(Chain);

impl Sink for Fused {
    #[inline]
    fn offer(&mut self, event: &Event) -> bool {
        let mut copy = *event;
        self.0.process(&mut copy);
        true
    }

    #[inline]
    fn offer_mut(&mut self, event: &mut Event) -> bool {
        self.0.process(event);
        true
    }
}

/// Polls until `events` more events have gone through the chain.
#[inline(never)]
fn measured_events(ingest: &mut Ingest, sink: &mut Fused, events: u64) {
    pump(ingest, sink, events);
}

fn pump(ingest: &mut Ingest, sink: &mut Fused, events: u64) {
    let target = ingest.counters().published + events;
    while ingest.counters().published < target {
        let published = ingest.poll(sink);
        sink.0.set_behind(published >= POLL_BUDGET_MAX);
        if published > 0 {
            sink.0.end_of_batch();
        } else {
            ingest.on_idle();
            sink.0.on_idle();
        }
    }
}

fn execution_counters(chain: &Chain) -> ExecutionCounters {
    chain
        .execution
        .as_ref()
        .map_or_else(ExecutionCounters::default, |e| e.stage.counters)
}

#[allow(clippy::disallowed_methods)] // wall time of the measured part, printed beside the counts
fn main() -> Result<()> {
    let args = Args::parse();
    if args.board && matches!(args.venue, Venue::FixSim) {
        bail!("--board is for --venue paper: with fix-sim the simulator's board already taps the source");
    }
    let scratch = match &args.scratch {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let mut config = bench_config(&scratch.path().join("journal"), PLAN_FUSED, false);
    config.venue.kind = match args.venue {
        Venue::Paper => VenueKind::Paper,
        Venue::FixSim => VenueKind::FixSim,
    };
    config.venue.fix.seq_file = PathBuf::new();
    let clock = EpochClock::new();
    let assembly = assembly(&config, 0)?;
    assembly.release_market();
    let genesis_cli::assembly::Assembly {
        mut parts, beside, ..
    } = assembly;
    if args.board {
        let board = Arc::new(TopBoard::new(config.instruments.len()));
        let market = std::mem::replace(&mut parts.sources.market, Box::new(NoSource));
        parts.sources.market = genesis_cli::sim_glue::tapped(market, Some(&board));
    }
    let (mut ingest, chain) = fused_chain(&config, parts, &clock)?;
    let mut sink = Fused(chain);
    pump(&mut ingest, &mut sink, args.warm_up);
    let before = (ingest.counters(), execution_counters(&sink.0));
    let started = Instant::now();
    measured_events(&mut ingest, &mut sink, args.events);
    let elapsed = started.elapsed();
    let after = (ingest.counters(), execution_counters(&sink.0));
    sink.0.finish();
    drop(beside);
    if let Some(error) = sink.0.fatal.take() {
        bail!("the chain stopped: {error}");
    }
    let ((ingest_before, exec_before), (ingest_after, exec_after)) = (before, after);
    let events = ingest_after.published - ingest_before.published;
    println!(
        "events {events} (market data {}, venue {}, timers {}); orders sent {}, replaces {}, cancels {}, fills {}; {:.1} ns/event wall",
        ingest_after.market_data - ingest_before.market_data,
        ingest_after.venue - ingest_before.venue,
        ingest_after.timers - ingest_before.timers,
        exec_after.orders_sent - exec_before.orders_sent,
        exec_after.replaces_sent - exec_before.replaces_sent,
        exec_after.cancels_sent - exec_before.cancels_sent,
        exec_after.fills - exec_before.fills,
        elapsed.as_nanos() as f64 / events.max(1) as f64
    );
    Ok(())
}
