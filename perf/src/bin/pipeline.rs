//! Pipeline throughput: Genesis fused on one core against the same stages run
//! thread-per-stage over `crossbeam-channel`, and against the raw speed of
//! appending journal records to the same disk, all in one run.
//!
//! Every run uses the built-in instruments and market maker, the synthetic
//! feed as fast as the engine takes it (`rate_per_sec = 0`, no conflation)
//! and the simulated venue, with the journal in the page cache.
//!
//! `--latency-rate N` runs instead the pipelined-p99 comparison alone, the
//! way the bench's latency row does (load generator at N events/s, threads
//! unpinned): the cache-line round trip, Genesis fused, Genesis pipelined
//! (two threads), their p99 ratio and the stage hop, all in one run, with
//! the CPU pressure beside them. `--only pipelined` runs just that plan
//! (for `perf sched record`, which attributes what preempts its threads).
//! `--spin-budgets-us 0,5,20,100` adds, in the same run, the pipelined plan
//! with the `spin-park` wait at each budget (the reader spins that long,
//! then parks until ingest publishes): the hop and p99 per budget.
//! `--realtime-priority N` adds the pipelined plan pinned with its stage
//! threads `SCHED_FIFO` at N (root only), with each of those waits.
//! Each pipelined row's hop is compared with the cache-line round trip
//! measured just before and just after it (median of repeats each time).
//! `--trace` stamps every event of each row on every thread
//! (`genesis_engine::topology::trace`: taken, each stage's exit, handed to
//! the next ring, the CPU) and prints where the slowest `--trace-top`
//! fraction waited (`genesis_perf::event_trace`), with `--trace-csv DIR`
//! their parts on `CLOCK_MONOTONIC` for `perf/sched/slow_events.py`.
//!
//! `--hop` measures what one ring hop costs beside the cache-line round
//! trip, in one run: a bare `disruptor` ring carrying a `u64`, the same ring
//! carrying the 128-byte `Event` (as the allocator aligns it, and on cache
//! lines of its own as the engine's rings now carry it), and the `Event`
//! ring with the consumer reading the clock on every empty poll (as idle
//! work does), each event
//! sent when the consumer is idle (one every few µs, as at 100k events/s),
//! timed from the producer's stamp to the consumer's pick-up (one TSC, so
//! both cores read the same clock). Then the paired rows: the aligned
//! `Event` ring with its producer pinned to core 0 and its consumer to
//! core 1, the consumer spinning with the pause hint (the engine's
//! `spin-hint`), one event in flight as the round trip has, each repeat
//! right after a cache-line round trip on the same pinned pair with the
//! same spin: hop ÷ round trip per pair, so both
//! figures of a ratio come from the same placement of the two vCPUs (this
//! VM's round trip switches between ~60–100 ns and ~250–450 ns within a
//! second, and a hop measured at one level against a round trip at the
//! other reads 2–6× apart).

use anyhow::Result;
use clap::Parser;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{Config, CorePlan, MarketDataSource, WaitKind};
use genesis_engine::event::{Event, EVENT_BYTES};
use genesis_engine::ingest::Sink;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::topology::chain::Chain;
use genesis_journal::FileWriter;
use genesis_perf::setup::{chains_of, PLAN_FUSED, PLAN_TWO_CORES};
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
    /// Run the pipelined-p99 comparison at this offered rate instead.
    #[arg(long)]
    latency_rate: Option<u64>,
    /// With `--latency-rate`: run only this plan (fused or pipelined).
    #[arg(long)]
    only: Option<String>,
    /// Measure one ring hop beside the cache-line round trip instead.
    #[arg(long)]
    hop: bool,
    /// With `--latency-rate`: also run the pipelined plan with the
    /// `spin-park` wait at each of these spin budgets (µs).
    #[arg(long, value_delimiter = ',')]
    spin_budgets_us: Vec<u64>,
    /// With `--latency-rate`: also run the pipelined plan pinned, its stage
    /// threads `SCHED_FIFO` at this priority (needs root; 0: no such row),
    /// once per wait (spin-hint, and each of `--spin-budgets-us`).
    #[arg(long, default_value_t = 0)]
    realtime_priority: u8,
    /// With `--realtime-priority`: also the FIFO plan whose head (ingest)
    /// sleeps this long when idle and whose reader parks at once
    /// (`spin-park` 0), one row per value (µs): FIFO threads that sleep
    /// leave the normal threads their time without RT throttling.
    #[arg(long, value_delimiter = ',')]
    fifo_head_sleep_us: Vec<u64>,
    /// With `--latency-rate`: trace every event of each row (a few clock
    /// reads per event and stage more than the untraced run) and print
    /// where the slowest waited.
    #[arg(long)]
    trace: bool,
    /// With `--latency-rate`: pin each row's stage threads to their cores
    /// (pinned threads cannot stack on one CPU); the bench runs them unpinned.
    #[arg(long)]
    pin: bool,
    /// With `--latency-rate`: run without the engine's HdrHistogram
    /// interval log (the reporter's once-a-second compressed write), to
    /// see what that write costs a plan that leaves no CPU free.
    #[arg(long)]
    no_latency_log: bool,
    /// With `--trace`: the fraction of events, slowest first, to break down.
    #[arg(long, default_value_t = 0.001)]
    trace_top: f64,
    /// With `--trace`: write each row's slowest events here as CSV
    /// (`<row>.csv`, times on CLOCK_MONOTONIC).
    #[arg(long)]
    trace_csv: Option<PathBuf>,
    /// With `--latency-rate`: skip the cache-line round trips beside each
    /// pipelined row (and the hop ratio), e.g. under valgrind, where a
    /// ping-pong between two threads it runs one at a time takes hours.
    #[arg(long)]
    no_round_trip: bool,
}

/// How a row's threads wait: the `spin-park` budget if any, and a sleeping head's sleep.
#[derive(Clone, Copy, Default)]
struct RowWaits {
    spin_budget_us: Option<u64>,
    head_sleep_us: Option<u64>,
}

/// Repeats of the cache-line round trip beside each pipelined row, and
/// round trips per repeat.
const RTT_REPEATS: usize = 5;
const RTT_ROUND_TRIPS: u64 = 40_000;

/// The cache-line round trip as a hop is compared with: the median p50 of
/// [`RTT_REPEATS`] repeats; prints every repeat's p50 after `label`.
fn round_trip_p50(label: &str) -> Result<u64> {
    use genesis_perf::floor::{cache_line_ping_pong_repeats, median_by_p50};
    let repeats = cache_line_ping_pong_repeats(RTT_REPEATS, RTT_ROUND_TRIPS)?;
    let p50s: Vec<u64> = repeats.iter().map(|r| r.timed.p50_ns).collect();
    let median = median_by_p50(repeats).timed.p50_ns;
    println!("cache-line round trip {label}: p50 of {RTT_REPEATS} repeats {p50s:?} ns, median {median} ns");
    Ok(median)
}

/// The median of the round trips measured just before and just after a row.
fn median_of(mut p50s: Vec<u64>) -> u64 {
    p50s.sort_unstable();
    p50s[p50s.len() / 2].max(1)
}

/// Hops timed per ring variant.
const HOPS: u64 = 100_000;
/// Gap between two sends: the consumer is idle when each event lands.
const HOP_GAP_NS: u64 = 2_000;

/// One-way latency of `HOPS` events through a fresh ring of `E`, stamped
/// by `stamp` on the producer and read back by `stamp_of` on the consumer,
/// which calls `idle` on every empty poll. Returns the p50 and p99 in ns.
fn hop<E: Send + Sync + 'static>(
    empty: fn() -> E,
    stamp: fn(&mut E, u64),
    stamp_of: fn(&E) -> u64,
    idle: fn(&EpochClock),
) -> Result<(u64, u64)> {
    use disruptor::{BusySpin, Polling, Producer};
    let (mut poller, builder) =
        disruptor::build_single_producer(1 << 12, empty, BusySpin).new_event_poller();
    let mut producer = builder.build();
    let clock = EpochClock::new();
    let consumer_clock = clock.clone();
    let consumer = std::thread::Builder::new()
        .name("hop-consumer".into())
        .spawn(move || {
            let clock = consumer_clock;
            let mut histogram = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
            loop {
                match poller.take(1) {
                    Ok(mut guard) => {
                        let now = clock.raw();
                        for event in &mut guard {
                            let _ = histogram.record(clock.delta_ns(stamp_of(event), now));
                        }
                    }
                    Err(Polling::NoEvents) => idle(&clock),
                    Err(Polling::Shutdown) => break,
                }
            }
            histogram
        })?;
    for _ in 0..HOPS {
        let due = clock.now_ns() + HOP_GAP_NS;
        while clock.now_ns() < due {
            std::hint::spin_loop();
        }
        producer.publish(|slot| stamp(slot, clock.raw()));
    }
    drop(producer);
    let histogram = consumer
        .join()
        .map_err(|_| anyhow::anyhow!("hop consumer panicked"))?;
    Ok((
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
    ))
}

/// Gap between two sends in the `spin-park` hop rows: 100 k events/s.
const PARK_HOP_GAP_NS: u64 = 10_000;

/// A row's name that lives as long as the table.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// One-way latency of `HOPS` aligned events, one every [`PARK_HOP_GAP_NS`],
/// to a reader that waits as the engine's `spin-park` reader does (spins
/// `budget_us` of idle, announces, looks once more, parks until rung).
/// Returns the p50 and p99 in ns.
fn hop_spin_park(budget_us: u64) -> Result<(u64, u64)> {
    use disruptor::{BusySpin, Polling, Producer};
    use genesis_engine::topology::wait::{Doorbell, PARK_MAX};
    let (mut poller, builder) =
        disruptor::build_single_producer(1 << 12, || AlignedEvent(Event::EMPTY), BusySpin)
            .new_event_poller();
    let mut producer = builder.build();
    let clock = EpochClock::new();
    let consumer_clock = clock.clone();
    let bell = Arc::new(Doorbell::default());
    let reader_bell = Arc::clone(&bell);
    let wait = genesis_engine::topology::wait::Wait::new(WaitKind::SpinPark, 1)
        .with_spin_budget_us(budget_us);
    let consumer = std::thread::Builder::new()
        .name("hop-consumer".into())
        .spawn(move || {
            let (clock, bell) = (consumer_clock, reader_bell);
            bell.register_reader();
            let mut histogram = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
            let (mut polls, mut since, mut announced) = (0u32, None, false);
            loop {
                match poller.take(1) {
                    Ok(mut guard) => {
                        let now = clock.raw();
                        for event in &mut guard {
                            let _ = histogram.record(clock.delta_ns(event.0.ts_recv_ns, now));
                        }
                        (polls, since) = (0, None);
                        if std::mem::take(&mut announced) {
                            bell.withdraw();
                        }
                    }
                    Err(Polling::NoEvents) if announced => {
                        if !bell.sleep(PARK_MAX) {
                            bell.announce();
                        }
                    }
                    Err(Polling::NoEvents) => {
                        if wait.park_due(polls, &mut since) {
                            bell.announce();
                            announced = true;
                        } else {
                            wait.idle();
                        }
                        polls = polls.wrapping_add(1);
                    }
                    Err(Polling::Shutdown) => break,
                }
            }
            (
                histogram,
                bell.wakes.load(std::sync::atomic::Ordering::Relaxed),
            )
        })?;
    for _ in 0..HOPS {
        let due = clock.now_ns() + PARK_HOP_GAP_NS;
        while clock.now_ns() < due {
            std::hint::spin_loop();
        }
        producer.publish(|slot| slot.0.ts_recv_ns = clock.raw());
        bell.ring();
    }
    drop(producer);
    bell.ring();
    let (histogram, wakes) = consumer
        .join()
        .map_err(|_| anyhow::anyhow!("hop consumer panicked"))?;
    println!("spin-park {budget_us} us: the reader was woken {wakes} times in {HOPS} hops");
    Ok((
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
    ))
}

/// Paired repeats of round trip then hop, and hops per repeat.
const PAIRS: usize = 10;
const PAIR_HOPS: u64 = 20_000;

/// [`PAIRS`] repeats of a cache-line round trip then a pinned, closed-loop
/// ring hop ([`genesis_perf::floor::paired_ring_hops`]); prints each pair
/// and the median ratio.
fn paired_hops() -> Result<()> {
    use genesis_perf::floor::{paired_ring_hops, ratio_spread};
    println!("| pair | round trip p50 ns | hop p50 ns | hop p99 ns | hop ÷ round trip |");
    println!("|---:|---:|---:|---:|---:|");
    let pairs = paired_ring_hops(PAIRS, RTT_ROUND_TRIPS, PAIR_HOPS)?;
    for (index, pair) in pairs.pairs.iter().enumerate() {
        println!(
            "| {index} | {} | {} | {} | {:.2}x |",
            pair.round_trip_p50_ns,
            pair.hop_p50_ns,
            pair.hop_p99_ns,
            pair.ratio()
        );
    }
    let (low, median, high) = ratio_spread(&pairs.pairs);
    println!("paired hop ÷ round trip: median {median:.2}x, range {low:.2}x–{high:.2}x over {PAIRS} pairs");
    Ok(())
}

/// The event on whole cache lines of its own, as the engine's rings carry it.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct AlignedEvent(Event);

fn no_idle_work(_: &EpochClock) {}

fn clock_read_idle_work(clock: &EpochClock) {
    std::hint::black_box(clock.now_ns());
}

/// `--hop`: the ring hop's parts beside the cache-line round trip, one run.
fn hop_comparison(args: &Args) -> Result<()> {
    println!("cpu pressure at start: {}", pressure());
    let rtt = round_trip_p50("before the hops")?.max(1);
    let rows: [(&str, (u64, u64)); 4] = [
        (
            "disruptor hop, u64 payload, no idle work",
            hop(|| 0u64, |e, t| *e = t, |e| *e, no_idle_work)?,
        ),
        (
            "disruptor hop, 128-byte Event, no idle work",
            hop(
                || Event::EMPTY,
                |e, t| e.ts_recv_ns = t,
                |e| e.ts_recv_ns,
                no_idle_work,
            )?,
        ),
        (
            "disruptor hop, 128-byte Event on its own cache lines (align 64), no idle work",
            hop(
                || AlignedEvent(Event::EMPTY),
                |e, t| e.0.ts_recv_ns = t,
                |e| e.0.ts_recv_ns,
                no_idle_work,
            )?,
        ),
        (
            "disruptor hop, 128-byte Event, a clock read per empty poll",
            hop(
                || Event::EMPTY,
                |e, t| e.ts_recv_ns = t,
                |e| e.ts_recv_ns,
                clock_read_idle_work,
            )?,
        ),
    ];
    let mut rows = rows.to_vec();
    for &budget_us in &args.spin_budgets_us {
        let name = format!(
            "disruptor hop, aligned Event, one every {} us, reader spin-park {budget_us} us",
            PARK_HOP_GAP_NS / 1_000
        );
        rows.push((leak(name), hop_spin_park(budget_us)?));
    }
    let rtt = median_of(vec![rtt, round_trip_p50("after the hops")?]);
    println!("| hop | p50 ns | p99 ns | p50 ÷ round trip p50 |");
    println!("|---|---:|---:|---:|");
    for (name, (p50, p99)) in rows {
        println!(
            "| {name} | {p50} | {p99} | {:.2}x |",
            p50 as f64 / rtt as f64
        );
    }
    paired_hops()?;
    println!("cpu pressure at end: {}", pressure());
    Ok(())
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

/// One plan of the latency comparison at `rate` for `seconds`, in its own
/// journal folder, with the `spin-park` wait at `spin_budget_us` if given.
fn at_rate(
    root: &Path,
    (name, pin, latency_log): (&'static str, bool, bool),
    cores: CorePlan,
    (rate, seconds): (u64, f64),
    (waits, realtime_priority): (RowWaits, u8),
) -> Result<genesis_perf::outcome::Outcome> {
    let dir = root.join(name.replace(' ', "-"));
    std::fs::create_dir_all(&dir)?;
    let mut config = genesis_perf::setup::bench_config(&dir, cores, pin);
    if !latency_log {
        config.metrics.latency_log_dir = PathBuf::new();
    }
    if let Some(budget) = waits.spin_budget_us {
        config.topology.wait = WaitKind::SpinPark;
        config.topology.spin_budget_us = budget;
    }
    if let Some(sleep_us) = waits.head_sleep_us {
        let head = cores.ingest.to_string();
        config.topology.waits.insert(head, WaitKind::Sleep);
        config.topology.sleep_us = sleep_us;
    }
    if realtime_priority > 0 {
        config.topology.pin_threads = true;
        config.topology.realtime_priority = realtime_priority;
    }
    let outcome = genesis_perf::genesis::run_config(name, &config, rate, seconds);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// The stage hop p50 (strategy's entry median less risk's exit median), ns.
fn hop_p50_ns(outcome: &genesis_perf::outcome::Outcome) -> Option<i64> {
    let stage = |n: &str| outcome.stages.iter().find(|s| s.name == n);
    let (risk, strategy) = (stage("risk")?, stage("strategy")?);
    Some(
        strategy.since_scheduled.p50_ns as i64
            - strategy.processing.p50_ns as i64
            - risk.since_scheduled.p50_ns as i64,
    )
}

fn pressure() -> String {
    std::fs::read_to_string("/proc/pressure/cpu")
        .map(|t| t.lines().next().unwrap_or("").to_string())
        .unwrap_or_else(|_| "n/a".into())
}

/// The pipelined-p99 comparison: fused and pipelined at `rate` (and the
/// pipelined variants asked for), one run; each pipelined row beside the
/// cache-line round trip measured just before and just after it.
fn latency_comparison(args: &Args, rate: u64) -> Result<()> {
    let scratch = tempfile::tempdir_in(".")?;
    let root = scratch.path();
    println!("cpu pressure at start: {}", pressure());
    let wanted = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only));
    let mut fused_p99 = None;
    for (name, (waits, realtime)) in variants(args) {
        if !wanted(&name) {
            continue;
        }
        let (run_name, cores) = match name.as_str() {
            "fused" => ("genesis fused", PLAN_FUSED),
            _ => ("genesis pipelined", PLAN_TWO_CORES),
        };
        let before = (name != "fused" && !args.no_round_trip)
            .then(|| round_trip_p50("before"))
            .transpose()?;
        if args.trace {
            // Room for every event offered, the venue's and the timer's, and slack.
            let capacity = (rate as f64 * args.seconds * 1.25) as usize + 100_000;
            genesis_engine::topology::trace::arm(capacity);
        }
        let outcome = at_rate(
            root,
            (run_name, args.pin, !args.no_latency_log),
            cores,
            (rate, args.seconds),
            (waits, realtime),
        )?;
        if args.trace {
            report_trace(args, &name)?;
        }
        let e = &outcome.end_to_end;
        println!(
            "{name} @ {rate}/s: {} events, end to end p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns ({})",
            outcome.events, e.p50_ns, e.p99_ns, e.p99_9_ns, e.max_ns, outcome.plan
        );
        if name == "fused" {
            fused_p99 = Some(e.p99_ns.max(1));
            continue;
        }
        if let Some(before) = before {
            let rtt = median_of(vec![before, round_trip_p50("after")?]);
            if let Some(hop) = hop_p50_ns(&outcome) {
                println!(
                    "stage hop p50 {hop} ns = {:.1}x the cache-line round trip p50 ({rtt} ns, median of before and after)",
                    hop as f64 / rtt as f64
                );
            }
        }
        if let Some(fused) = fused_p99 {
            println!(
                "pipelined p99 / fused p99 = {:.1}x",
                e.p99_ns as f64 / fused as f64
            );
        }
    }
    println!("cpu pressure at end: {}", pressure());
    Ok(())
}

/// Where the slowest events of the row just run waited, from its trace.
fn report_trace(args: &Args, row: &str) -> Result<()> {
    use genesis_perf::event_trace::{
        breakdown, dominant_parts, label, monotonic_offset_ns, root_cause, root_causes, slowest,
        to_csv, Part, Traced,
    };
    let Some(recorded) = genesis_engine::topology::trace::take_recorded() else {
        anyhow::bail!("{row}: --trace was asked for but the run handed back no trace");
    };
    let tables: Vec<&[_]> = recorded.groups.iter().map(|g| g.rows()).collect();
    let untraced: Vec<u64> = recorded.groups.iter().map(|g| g.untraced).collect();
    let events = breakdown(&tables).map_err(|e| anyhow::anyhow!("{row}: {e}"))?;
    let top = ((events.len() as f64 * args.trace_top).ceil() as usize).max(1);
    let slow_indices = slowest(&events, top);
    let slow: Vec<&Traced> = slow_indices.iter().map(|&i| &events[i]).collect();
    let all: Vec<&_> = events.iter().collect();
    let first_due = events.first().map_or(0, |e| e.due_ns);
    println!(
        "trace of {row}: {} events on {} threads (untraced past the tables: {untraced:?}); the slowest {top} ({:.2} %): {} to {}",
        events.len(),
        tables.len(),
        args.trace_top * 100.0,
        slow.last().map_or(0, |e| e.total_ns()),
        slow.first().map_or(0, |e| e.total_ns()),
    );
    if tables.len() > 1 {
        // Stage threads on one CPU (unpinned threads the scheduler stacked).
        let stacked = |events: &[&Traced]| {
            events
                .iter()
                .filter(|e| e.cpus.windows(2).all(|pair| pair[0] == pair[1]))
                .count()
        };
        let (all_stacked, slow_stacked) = (stacked(&all), stacked(&slow));
        println!(
            "events every thread took on the same CPU (stacked): {all_stacked} of {} ({:.2} %); of the slowest {top}: {slow_stacked}",
            all.len(),
            all_stacked as f64 * 100.0 / all.len().max(1) as f64,
        );
    }
    let means_all: std::collections::HashMap<_, _> = dominant_parts(&all)
        .into_iter()
        .map(|(kind, group, _, mean)| ((kind, group), mean))
        .collect();
    let mut per_part: std::collections::BTreeMap<_, hdrhistogram::Histogram<u64>> =
        std::collections::BTreeMap::new();
    for part in events.iter().flat_map(|e| e.parts.iter()) {
        let histogram = per_part
            .entry((part.kind, part.group))
            .or_insert_with(genesis_perf::latency::histogram);
        let _ = histogram.record(part.ns().max(1));
    }
    println!("| part | longest part of (of the slowest {top}) | mean ns, slowest | mean ns, all | p99 ns, all | p99.9 ns, all | max ns, all |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, group, dominant, mean) in dominant_parts(&slow) {
        let h = &per_part[&(kind, group)];
        println!(
            "| {} | {dominant} | {mean} | {} | {} | {} | {} |",
            label(kind, group),
            means_all.get(&(kind, group)).copied().unwrap_or(0),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    println!("what began each slow event's wait (a queue traced back to the event that began the backlog):");
    println!("| began by | slow events delayed | episodes (events that began them) | mean ns of that part |");
    println!("|---|---:|---:|---:|");
    for (kind, group, delayed, episodes, mean) in root_causes(&events, &slow_indices) {
        println!(
            "| {} | {delayed} | {episodes} | {mean} |",
            label(kind, group)
        );
    }
    // One line per episode: its slowest event, with the event that began it.
    let mut seen = std::collections::HashSet::new();
    let episodes: Vec<(usize, Part, usize)> = slow_indices
        .iter()
        .filter_map(|&i| root_cause(&events, i).map(|(part, began)| (i, part, began)))
        .filter(|&(_, _, began)| seen.insert(began))
        .take(20)
        .collect();
    println!("the 20 worst episodes: the slowest event of each, then the event that began it (ms since the first event's schedule; CPU per thread; parts over 1 µs):");
    for (index, part, began) in episodes {
        let event = &events[index];
        let first = &events[began];
        println!(
            "  seq {} at {:.3} ms, {}: began by seq {} at {:.3} ms on CPUs {:?}: {} {}",
            event.seq,
            event.due_ns.saturating_sub(first_due) as f64 / 1e6,
            genesis_perf::latency::human_ns(event.total_ns()),
            first.seq,
            first.due_ns.saturating_sub(first_due) as f64 / 1e6,
            first.cpus,
            part.label(),
            genesis_perf::latency::human_ns(part.ns()),
        );
    }
    println!(
        "the slowest 20 (ms since the first event's schedule; CPU per thread; parts over 1 µs):"
    );
    for event in slow.iter().take(20) {
        let parts: Vec<String> = event
            .parts
            .iter()
            .filter(|p| p.ns() >= 1_000)
            .map(|p: &Part| format!("{} {}", p.label(), genesis_perf::latency::human_ns(p.ns())))
            .collect();
        println!(
            "  seq {} at {:.3} ms: {} on CPUs {:?}: {}",
            event.seq,
            event.due_ns.saturating_sub(first_due) as f64 / 1e6,
            genesis_perf::latency::human_ns(event.total_ns()),
            event.cpus,
            parts.join(", ")
        );
    }
    if let Some(dir) = &args.trace_csv {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.csv", row.replace(' ', "-")));
        std::fs::write(
            &path,
            to_csv(&events, &slow_indices, monotonic_offset_ns(&recorded)),
        )?;
        println!(
            "wrote {} (CLOCK_MONOTONIC offset {} ns at the start, {} at the end)",
            path.display(),
            recorded.monotonic_offset_start_ns,
            recorded.monotonic_offset_end_ns
        );
    }
    Ok(())
}

/// The rows of the latency comparison: name, waits, FIFO priority.
fn variants(args: &Args) -> Vec<(String, (RowWaits, u8))> {
    let park = |budget| RowWaits {
        spin_budget_us: Some(budget),
        head_sleep_us: None,
    };
    let mut rows = vec![
        ("fused".to_string(), (RowWaits::default(), 0)),
        ("pipelined".to_string(), (RowWaits::default(), 0)),
    ];
    for &budget in &args.spin_budgets_us {
        rows.push((
            format!("pipelined spin-park {budget} us"),
            (park(budget), 0),
        ));
    }
    let priority = args.realtime_priority;
    if priority > 0 {
        rows.push((
            format!("pipelined FIFO {priority}"),
            (RowWaits::default(), priority),
        ));
        for &budget in &args.spin_budgets_us {
            rows.push((
                format!("pipelined FIFO {priority} spin-park {budget} us"),
                (park(budget), priority),
            ));
        }
        for &sleep_us in &args.fifo_head_sleep_us {
            let waits = RowWaits {
                spin_budget_us: Some(0),
                head_sleep_us: Some(sleep_us),
            };
            rows.push((
                format!(
                    "pipelined FIFO {priority} head sleep {sleep_us} us, reader spin-park 0 us"
                ),
                (waits, priority),
            ));
        }
    }
    rows
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.hop {
        return hop_comparison(&args);
    }
    if let Some(rate) = args.latency_rate {
        return latency_comparison(&args, rate);
    }
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
