//! The benchmark harness, in one command:
//!
//! ```text
//! cargo run --release -p genesis-perf --bin bench -- --quick   # ~1 minute
//! cargo run --release -p genesis-perf --bin bench              # ~12 minutes (10-minute soak)
//! cargo run --release -p genesis-perf --bin bench -- soak      # the 10-minute soak alone, with rss.svg
//! cargo run --release -p genesis-perf --bin bench -- throughput --rows fused,crossbeam --no-pin
//!                                                              # unpaced rows only, in turns, with per-thread CPU
//! ```
//!
//! Runs, in this order, so nothing else of the harness competes with a
//! measurement: the hardware floor; every pipeline variant unpaced
//! (throughput, with the fused plan plus the journal's write thread and the
//! 2-thread plan beside them); every variant at one offered rate (latency); the engine
//! over loopback sockets at that rate (ITCH and WebSocket in, FIX out);
//! Genesis fused at the load generator's fixed rates; the allocation count;
//! the soak (in a child process). Never more than two spinning threads at once.
//! At the offered rate the pipelined row (the goal row: pinned, as the
//! engine's plans are by default, whatever `--no-pin` says) sits between two sets of
//! cache-line round trips (five repeats each; the hop is compared with
//! their median), the same plan unpinned follows it, and a `genesis pipelined SCHED_FIFO` row follows the
//! five variants when the process may use `SCHED_FIFO` (`--realtime-priority`). Writes
//! `report.md` and `report.json` to `--out` and prints the markdown.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use genesis_engine::config::WaitKind;
use genesis_perf::counting_alloc::CountingAlloc;
use genesis_perf::genesis::Plan;
use genesis_perf::machine::Machine;
use genesis_perf::outcome::Outcome;
use genesis_perf::report::{
    Report, CROSSBEAM, FUSED, FUSED_WRITE_THREAD, MPSC, PIPELINED, PIPELINED_UNPINNED, TOKIO,
    TWO_THREAD,
};
use genesis_perf::setup::{PLAN_FUSED, PLAN_TWO_CORES};
use genesis_perf::threaded::{Crossbeam, StdMpsc};
use genesis_perf::{floor, genesis, loopback, markdown, memory, threaded, tokio_pipeline};
use std::path::{Path, PathBuf};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[derive(Parser)]
#[command(
    about = "Genesis benchmark harness: pipelines beside their baselines, the hardware floor, load, memory",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    child: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The memory soak alone, on the engine's defaults in a child process:
    /// writes soak.md, soak.json and rss.svg (RSS over time) to --out.
    Soak {
        /// Seconds of the soak (the goal is for ten minutes).
        #[arg(long, default_value_t = 600.0)]
        seconds: f64,
        /// Market-data events/s during the soak.
        #[arg(long, default_value_t = 100_000)]
        rate: u64,
        #[arg(long, default_value = "target/perf-report/soak")]
        out: PathBuf,
    },
    /// Only the unpaced rows named, in turns (`--repeats`), each with its
    /// threads' CPU: writes throughput.md and throughput.json to --out.
    Throughput {
        /// Rows, by short name: fused, fused-write-thread, fused-no-snapshot,
        /// two-thread, pipelined, crossbeam, crossbeam-yield, mpsc, tokio.
        #[arg(long, value_delimiter = ',', default_value = "fused,crossbeam,tokio")]
        rows: Vec<String>,
        /// Turns: every row runs once per turn, in the order given.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Seconds each run lasts.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Leave Genesis's threads unpinned.
        #[arg(long)]
        no_pin: bool,
        #[arg(long, default_value = "target/perf-report/throughput")]
        out: PathBuf,
    },
    /// Internal: the soak, run by the harness in a child process.
    #[command(hide = true)]
    SoakChild {
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        rate: u64,
        #[arg(long)]
        sample_ms: u64,
        #[arg(long)]
        scratch: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Short run (~1 minute): 2 s per variant, 15 s soak.
    #[arg(long)]
    quick: bool,
    /// Seconds each pipeline variant runs (default 5, quick 2).
    #[arg(long)]
    seconds: Option<f64>,
    /// Market-data events/s offered to every variant for the latency comparison.
    #[arg(long, default_value_t = 100_000)]
    offered_rate: u64,
    /// Loopback feeds run at the offered rate (itch-sim, binance-sim; empty: none).
    #[arg(long, value_delimiter = ',', default_value = "itch-sim,binance-sim")]
    loopback_feeds: Vec<String>,
    /// Seconds of the memory soak (default 600, the goal's ten minutes; quick 15).
    #[arg(long)]
    soak_seconds: Option<f64>,
    /// Market-data events/s during the soak.
    #[arg(long, default_value_t = 100_000)]
    soak_rate: u64,
    /// Leave Genesis's threads unpinned (the baselines always are): on a
    /// shared machine a pinned thread cannot leave a core others keep busy.
    /// The pipelined goal row at the offered rate runs pinned regardless,
    /// with an unpinned row beside it.
    #[arg(long)]
    no_pin: bool,
    /// At the offered rate, also run Genesis pipelined pinned with its stage
    /// threads `SCHED_FIFO` at this priority (row "genesis pipelined
    /// SCHED_FIFO"; needs root or CAP_SYS_NICE, else a note says why the
    /// row is missing; 0: no such row).
    #[arg(long, default_value_t = 10)]
    realtime_priority: u8,
    /// Folder for report.md and report.json.
    #[arg(long, default_value = "target/perf-report")]
    out: PathBuf,
    /// Folder for the runs' journals (default: the system's temporary folder).
    #[arg(long)]
    scratch: Option<PathBuf>,
}

/// The load generator's fixed rates (market data/s); the maximum comes from the throughput run.
const LADDER_RATES: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Command::SoakChild {
        seconds,
        rate,
        sample_ms,
        scratch,
    }) = cli.child
    {
        let dir = tempfile::tempdir_in(&scratch)?;
        let soak = memory::soak_child(dir.path(), seconds, rate, sample_ms)?;
        return memory::print_soak(&soak);
    }
    if let Some(Command::Soak { seconds, rate, out }) = cli.child {
        return soak_alone(seconds, rate, &out);
    }
    if let Some(Command::Throughput {
        rows,
        repeats,
        seconds,
        no_pin,
        out,
    }) = cli.child
    {
        return genesis_perf::throughput::main(&rows, repeats, seconds, !no_pin, &out);
    }
    run(cli.run)
}

fn progress(what: &str) {
    eprintln!("[bench] {what}");
}

/// A fresh journal folder per run, removed when the run is done.
fn in_dir<T>(root: &Path, name: &str, run: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dir = root.join(name.replace(' ', "-"));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result.with_context(|| format!("benchmark `{name}`"))
}

/// The Genesis variant whose stage threads run `SCHED_FIFO` (`--realtime-priority`).
const PIPELINED_FIFO: &str = "genesis pipelined SCHED_FIFO";

/// Repeats of the cache-line round trip beside the pipelined row, and
/// round trips per repeat.
const RTT_REPEATS: usize = 5;
const RTT_ROUND_TRIPS: u64 = 40_000;

/// The cache-line round trip measured just before and just after the
/// pipelined row at the offered rate ([`RTT_REPEATS`] repeats each): the
/// repeat with the median p50 of all ten, and every repeat's p50 in order.
type RoundTripBeside = (floor::RoundTrip, Vec<u64>);

/// All five variants at `rate_per_sec` (0: unpaced), `seconds` each; at an
/// offered rate, with the round trip measured beside the pipelined row
/// (pinned: the goal row) and the pipelined plan unpinned after it.
fn all_variants(
    root: &Path,
    rate_per_sec: u64,
    seconds: f64,
    pin: bool,
) -> Result<(Vec<Outcome>, Option<RoundTripBeside>)> {
    let fused = Plan {
        cores: PLAN_FUSED,
        pin,
    };
    // The goal row at the offered rate runs as deployed: pinned.
    let pipelined = Plan {
        cores: PLAN_TWO_CORES,
        pin: pin || rate_per_sec > 0,
    };
    let label = |name: &str| format!("{name} @ {rate_per_sec}");
    let mut outcomes = Vec::new();
    progress(&label(FUSED));
    outcomes.push(in_dir(root, &label(FUSED), |d| {
        genesis::run(FUSED, d, fused, rate_per_sec, seconds)
    })?);
    if rate_per_sec == 0 {
        // Throughput only: the fused plan with the journal's write thread,
        // and the 2-thread plan, beside the baselines.
        for name in [FUSED_WRITE_THREAD, TWO_THREAD] {
            progress(&label(name));
            outcomes.push(in_dir(root, &label(name), |d| {
                genesis_perf::throughput::run_row(name, d, seconds, pin)
            })?);
        }
    }
    let beside = rate_per_sec > 0;
    let before = if beside {
        floor::cache_line_ping_pong_repeats(RTT_REPEATS, RTT_ROUND_TRIPS)?
    } else {
        Vec::new()
    };
    progress(&label(PIPELINED));
    outcomes.push(in_dir(root, &label(PIPELINED), |d| {
        genesis::run(PIPELINED, d, pipelined, rate_per_sec, seconds)
    })?);
    let round_trip = if beside {
        let mut repeats = before;
        repeats.extend(floor::cache_line_ping_pong_repeats(
            RTT_REPEATS,
            RTT_ROUND_TRIPS,
        )?);
        let p50s = repeats.iter().map(|r| r.timed.p50_ns).collect();
        Some((floor::median_by_p50(repeats), p50s))
    } else {
        None
    };
    if rate_per_sec > 0 {
        progress(&label(PIPELINED_UNPINNED));
        let unpinned = Plan {
            cores: PLAN_TWO_CORES,
            pin: false,
        };
        outcomes.push(in_dir(root, &label(PIPELINED_UNPINNED), |d| {
            genesis::run(PIPELINED_UNPINNED, d, unpinned, rate_per_sec, seconds)
        })?);
    }
    progress(&label(CROSSBEAM));
    outcomes.push(in_dir(root, &label(CROSSBEAM), |d| {
        threaded::run::<Crossbeam>(CROSSBEAM, d, rate_per_sec, seconds)
    })?);
    progress(&label(MPSC));
    outcomes.push(in_dir(root, &label(MPSC), |d| {
        threaded::run::<StdMpsc>(MPSC, d, rate_per_sec, seconds)
    })?);
    progress(&label(TOKIO));
    outcomes.push(in_dir(root, &label(TOKIO), |d| {
        tokio_pipeline::run(TOKIO, d, rate_per_sec, seconds)
    })?);
    Ok((outcomes, round_trip))
}

/// Genesis pipelined pinned, its stage threads `SCHED_FIFO` at `priority`,
/// at the offered rate; or a note saying why there is no such row.
/// The engine's ring hop against the round trip like for like: same
/// pinned pair, same spin, one event in flight, each of 10 repeats right
/// after a round trip (`floor::paired_ring_hops`).
fn paired_hop_note() -> Result<String> {
    progress("paired ring hop and round trip, pinned to cores 0 and 1");
    let paired = floor::paired_ring_hops(10, RTT_ROUND_TRIPS, 20_000)?;
    let (low, median, high) = floor::ratio_spread(&paired.pairs);
    let list = |f: fn(&floor::PairedHop) -> u64| paired.pairs.iter().map(f).collect::<Vec<_>>();
    Ok(format!(
        "Ring hop paired with the round trip (the engine's ring slot, producer on core 0, consumer on core 1 spinning with the pause hint, one event in flight, each of 10 repeats right after a round trip on the same pair): hop ÷ round trip median {median:.2}× (range {low:.2}–{high:.2}×); round trip p50s {:?} ns, hop p50s {:?} ns, hop p99s {:?} ns. The stage hop above is the engine's own, unpinned and open loop (events at the offered rate whatever the consumer does), a difference of medians: a different measurement from the round trip it is divided by.",
        list(|p| p.round_trip_p50_ns),
        list(|p| p.hop_p50_ns),
        list(|p| p.hop_p99_ns),
    ))
}

fn pipelined_fifo(root: &Path, args: &RunArgs, seconds: f64) -> Result<Result<Outcome, String>> {
    let priority = args.realtime_priority;
    if let Err(err) = genesis_engine::sys::check_fifo_allowed(i32::from(priority)) {
        return Ok(Err(format!(
            "No `{PIPELINED_FIFO}` row: SCHED_FIFO {priority} was refused ({err}); run the bench as root."
        )));
    }
    let label = format!("{PIPELINED_FIFO} @ {}", args.offered_rate);
    progress(&label);
    in_dir(root, &label, |d| {
        let mut config = genesis_perf::setup::bench_config(d, PLAN_TWO_CORES, true);
        config.topology.realtime_priority = priority;
        genesis::run_config(PIPELINED_FIFO, &config, args.offered_rate, seconds)
    })
    .map(Ok)
}

fn run(args: RunArgs) -> Result<()> {
    let seconds = args.seconds.unwrap_or(if args.quick { 2.0 } else { 5.0 });
    let soak_seconds = args
        .soak_seconds
        .unwrap_or(if args.quick { 15.0 } else { 600.0 });
    let scratch = match &args.scratch {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let root = scratch.path();
    let machine = Machine::detect();
    let mut notes = Vec::new();

    progress("hardware floor: cache-line ping-pong, loopback TCP");
    let round_trips = if args.quick { 200_000 } else { 1_000_000 };
    let ping_pong = floor::cache_line_ping_pong(round_trips)?;
    let tcp = floor::loopback_tcp(round_trips / 10)?;

    let (max, _) = all_variants(root, 0, seconds, !args.no_pin)?;
    let slowest = max
        .iter()
        .map(Outcome::events_per_sec)
        .fold(f64::INFINITY, f64::min);
    if args.offered_rate as f64 > 0.8 * slowest {
        notes.push(format!(
            "The offered rate ({} events/s) is above 80 % of the slowest variant's unpaced throughput ({slowest:.0} events/s): that variant's latency at the offered rate is mostly queueing. Lower `--offered-rate`.",
            args.offered_rate
        ));
    }
    let (mut at_rate, beside) = all_variants(root, args.offered_rate, seconds, !args.no_pin)?;
    let ping_pong = match beside {
        Some((median, p50s)) => {
            notes.push(format!(
                "Cache-line round trip: p50 {} ns at the start of the run; beside the pipelined row at the offered rate (5 repeats just before, 5 just after) {:?} ns; the hop and every ratio to the round trip use their median, {} ns.",
                ping_pong.timed.p50_ns, p50s, median.timed.p50_ns
            ));
            median
        }
        None => ping_pong,
    };
    notes.push(paired_hop_note()?);
    if args.realtime_priority > 0 {
        match pipelined_fifo(root, &args, seconds)? {
            Ok(outcome) => {
                notes.push(format!(
                    "Row `{PIPELINED_FIFO}`: pipelined, threads pinned to cores 0 and 1, both stage threads SCHED_FIFO at priority {} (`--realtime-priority`); every other row runs normal (CFS) threads.",
                    args.realtime_priority
                ));
                at_rate.push(outcome);
            }
            Err(note) => notes.push(note),
        }
    }

    let loopback = loopback_rows(root, &args, seconds)?;

    let ladder = load_ladder(root, &args, seconds, &max)?;

    let (alloc, soak) = memory_figures(root, &args, soak_seconds)?;

    notes.push("Spikes of 1–5 ms from the hypervisor/OS appear in every variant on this kind of VM (DESIGN.md): read max with that in mind.".into());
    notes.push(format!(
        "Genesis variants run through `genesis_cli::run` (the engine's run with the simulated venue beside it) with the reporter thread attached (1 s intervals, writing the HdrHistogram interval log to `genesis-data/latency/`), threads {}, except at the offered rate `{PIPELINED}`, the goal row, which always runs pinned to cores 0 and 1 as the engine's plans do by default, and `{PIPELINED_UNPINNED}`, the same plan unpinned; the baselines are unpinned, as a user would write them.",
        if args.no_pin { "unpinned (`--no-pin`)" } else { "pinned to their cores" }
    ));
    let report = Report {
        machine,
        mode: if args.quick { "quick" } else { "full" },
        command: std::env::args().collect::<Vec<_>>().join(" "),
        unix_time_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        seconds_per_variant: seconds,
        genesis_pinned: !args.no_pin,
        max,
        offered_per_sec: args.offered_rate,
        at_rate,
        ping_pong,
        tcp,
        ladder,
        loopback,
        alloc: Some(alloc),
        soak: Some(soak),
        notes,
        cpu_pressure_pct_end: genesis_perf::machine::cpu_pressure_pct(),
    };
    write_report(&report, &args.out)
}

/// Allocations per event on the fused hot path, and a soak of the defaults
/// in a child process.
fn memory_figures(
    root: &Path,
    args: &RunArgs,
    soak_seconds: f64,
) -> Result<(memory::AllocFigure, memory::Soak)> {
    progress("allocations per event");
    let alloc = in_dir(root, "alloc", |d| {
        memory::allocations_per_event(d, 200_000, 500_000)
    })?;
    progress(&format!(
        "soak: defaults at {}/s for {soak_seconds} s (child process)",
        args.soak_rate
    ));
    let sample_ms = if soak_seconds <= 30.0 { 250 } else { 1_000 };
    let soak = memory::soak_in_child(root, soak_seconds, args.soak_rate, sample_ms)?;
    Ok((alloc, soak))
}

/// `bench soak`: the soak without the rest of the harness.
fn soak_alone(seconds: f64, rate: u64, out: &Path) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    progress(&format!(
        "soak: defaults at {rate}/s for {seconds} s (child process)"
    ));
    let sample_ms = if seconds <= 30.0 { 250 } else { 1_000 };
    let soak = memory::soak_in_child(scratch.path(), seconds, rate, sample_ms)?;
    let machine = Machine::detect();
    let mut text = format!(
        "# Soak\n\nCPU: {}, {} of {} cores usable, load average {:.2} at the start.\n\n",
        machine.cpu_model, machine.cores_usable, machine.cores_online, machine.load_average_1m
    );
    markdown::soak_section(&mut text, &soak);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("soak.md"), &text)?;
    std::fs::write(
        out.join("soak.json"),
        serde_json::to_string_pretty(&soak.to_json())? + "\n",
    )?;
    std::fs::write(out.join("rss.svg"), genesis_perf::svg::rss_plot(&soak))?;
    println!("{text}");
    progress(&format!(
        "wrote {}/soak.md, soak.json and rss.svg",
        out.display()
    ));
    Ok(())
}

/// The engine over loopback sockets at the offered rate, one row per feed.
fn loopback_rows(root: &Path, args: &RunArgs, seconds: f64) -> Result<Vec<loopback::Row>> {
    let mut rows = Vec::new();
    for feed in args.loopback_feeds.iter().filter(|f| !f.is_empty()) {
        progress(&format!("loopback: {feed} @ {}/s", args.offered_rate));
        rows.push(in_dir(root, &format!("loopback {feed}"), |d| {
            loopback::run_row(feed, args.offered_rate, WaitKind::SpinHint, seconds, d)
        })?);
    }
    Ok(rows)
}

/// Genesis fused at each rate of the ladder, then unpaced (from `max`).
fn load_ladder(root: &Path, args: &RunArgs, seconds: f64, max: &[Outcome]) -> Result<Vec<Outcome>> {
    let mut ladder = Vec::new();
    for rate in LADDER_RATES {
        progress(&format!("load ladder: genesis fused @ {rate}/s"));
        ladder.push(in_dir(root, &format!("ladder {rate}"), |d| {
            genesis::run(
                FUSED,
                d,
                Plan {
                    cores: PLAN_FUSED,
                    pin: !args.no_pin,
                },
                rate,
                seconds,
            )
        })?);
    }
    if let Some(fused_max) = max.iter().find(|o| o.name == FUSED) {
        ladder.push(fused_max.clone());
    }
    Ok(ladder)
}

/// The report as Markdown (printed too) and JSON in `out`.
fn write_report(report: &Report, out: &Path) -> Result<()> {
    let text = markdown::render(report);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.md"), &text)?;
    if let Some(soak) = &report.soak {
        std::fs::write(out.join("rss.svg"), genesis_perf::svg::rss_plot(soak))?;
    }
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report.to_json())? + "\n",
    )?;
    println!("{text}");
    progress(&format!(
        "wrote {}/report.md and report.json",
        out.display()
    ));
    Ok(())
}
