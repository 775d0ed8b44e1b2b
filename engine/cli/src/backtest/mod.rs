//! `genesis backtest TAPE… --config FILE`: recorded tapes through the same
//! five stages as a live run, against the backtest venue
//! (`genesis_sim::backtest`), in tape time.
//!
//! The market comes from the tapes (`genesis_engine::adapters::tape_source`:
//! Tardis CSV, ITCH 5.0 or binary tapes, plain or gzip, told from their
//! bytes); orders go through execution's gateway to the backtest venue;
//! [`driver`] merges both in tape time and hands ingest the rows and the
//! venue's replies. The run is `genesis_engine::run::run` with these parts:
//! the config's core plan, wait strategies, journal and latency histograms,
//! as live. What differs, and why:
//! - ingest, risk, strategy and execution must share one core (the journal
//!   may have its own): the venue's clock may only run ahead of orders that
//!   are already decided (see [`driver`]); the tape's order-independent
//!   work may run ahead on another core (`backtest.tape_core`, see
//!   [`tape_core`]);
//! - ingest's timers are off (they would tick in wall time) and market data
//!   is never conflated: every row of the tape is processed; the latency
//!   and event-rate alerts are off (they compare wall time with tape time);
//! - the journal folder must hold no records yet: a backtest writes a
//!   journal of its own, which `genesis replay` verifies without a venue
//!   (the venue's answers are journaled inputs); as it is never resumed, no
//!   snapshot thread runs (`snapshot.enabled` off).
//!
//! Owning thread: the caller's; the engine's threads (and, with
//! `backtest.read_ahead_thread`, the tape reader; with `backtest.tape_core`
//! in a fused plan, the tape's thread) are started and joined inside
//! [`run_backtest`].

pub mod driver;
mod in_flight;
mod order_link;
mod read_ahead;
mod report;
pub mod tape_core;
mod translate;

pub use driver::{Driver, DriverCounters, Progress};
pub use report::BacktestReport;

use crate::commands::backtest::TapeFailure;
use anyhow::{bail, Context, Result};
use genesis_engine::adapters::tape_source::TapeFeed;
use genesis_engine::config::{plan_groups, Config, StrategyName};
use genesis_engine::ingest::{NoSource, Sources, POLL_BUDGET_MAX};
use genesis_engine::run::{Parts, RunHooks};
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::topology::side_work::SideWork;
use genesis_engine::topology::wait::Wait;
use genesis_engine::topology::{EXECUTION, JOURNAL};
use genesis_io::tape::records::TapesFormat;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tape_core::{TapeAhead, TapeThread};

/// What `genesis backtest` was asked.
pub struct BacktestOptions {
    pub tapes: Vec<PathBuf>,
    /// Overrides `journal.dir`.
    pub journal: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Set to stop early (Ctrl-C); what was read is processed and journaled.
    pub stop: Arc<AtomicBool>,
}

/// The config as a backtest runs it: `options.journal` applied, timers
/// off, no conflation; refused if its core plan puts execution off
/// ingest's core. Returns it and whether the plan is fused.
pub fn backtest_config(config: &Config, options: &BacktestOptions) -> Result<(Config, bool)> {
    let mut config = config.clone();
    if let Some(dir) = &options.journal {
        config.journal.dir = dir.clone();
    }
    config.market_data.timer_interval_ms = 0;
    config.topology.conflate_when_full = false;
    // A backtest's journal is never resumed (the folder must be fresh), so
    // the snapshots a restart starts from are never read: no snapshot
    // thread re-running risk and strategy over the journal beside the run.
    config.snapshot.enabled = false;
    // Receive → journal latency and event-rate alerts compare wall time
    // with tape time here: meaningless, so off.
    config.alerts.latency_p99_warn_ns = i64::MAX as u64;
    config.alerts.latency_p99_critical_ns = i64::MAX as u64;
    config.alerts.event_rate_warn_below = 0.0;
    config.alerts.event_rate_critical_below = 0.0;
    let groups = plan_groups(&config.topology.cores).map_err(anyhow::Error::msg)?;
    if !groups[0].stages.contains(&EXECUTION) {
        bail!(
            "topology.cores: a backtest runs ingest, risk, strategy and execution on one core (only the journal may have its own): the venue's clock may run ahead only of orders already decided; this plan runs {}",
            groups[0].name()
        );
    }
    if config.venue.queue_capacity < 2 * POLL_BUDGET_MAX {
        bail!(
            "venue.queue_capacity {} is below {}, the orders one poll of a backtest can send",
            config.venue.queue_capacity,
            2 * POLL_BUDGET_MAX
        );
    }
    if let Some(core) = config.backtest.tape_core {
        if core == groups[0].core {
            bail!(
                "backtest.tape_core {core} is ingest's core: the tape's work goes on another core (the journal's, or a free one)"
            );
        }
    }
    config.validate("backtest")?;
    Ok((config, groups.len() == 1))
}

/// Refuses a journal folder that already holds records.
fn check_fresh_journal(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let verify = match genesis_journal::verify(dir) {
        // An empty folder (or one with files but no segment) holds no records.
        Err(genesis_journal::JournalError::NoJournal { .. }) => return Ok(()),
        other => other.with_context(|| format!("checking the journal folder {}", dir.display()))?,
    };
    if let Some(seq_last) = verify.seq_last {
        bail!(
            "journal folder {} already holds records up to sequence {seq_last}: a backtest writes a journal of its own; give --journal with a new folder (or remove it)",
            dir.display()
        );
    }
    Ok(())
}

/// The engine's parts for a backtest of `feed` under `config` (as
/// [`backtest_config`] returns it): the tape and the backtest venue as
/// ingest's sources through the [`Driver`], execution's gateway feeding the
/// venue, and the config's strategy. The driver is shared with the lanes.
/// With `backtest.tape_core`, also the tape's work for that core (see
/// [`tape_core`]), to run with [`TapeCore::start`].
pub fn backtest_parts(
    config: &Config,
    feed: TapeFeed,
    synchronous: bool,
) -> (Parts, Arc<Mutex<Driver>>, Option<TapeAhead>) {
    let (orders_out, requests) = order_link::order_link(config.venue.queue_capacity);
    let (driver, ahead) = match config.backtest.tape_core {
        Some(_) => {
            let (driver, ahead) = Driver::with_tape_core(config, feed, requests, synchronous);
            (driver, Some(ahead))
        }
        None => (Driver::new(config, feed, requests, synchronous), None),
    };
    let driver = Arc::new(Mutex::new(driver));
    let (venue, market) = Driver::lanes(&driver);
    let parts = Parts {
        sources: Sources {
            control: Box::new(NoSource),
            venue: Box::new(venue),
            market: Box::new(market),
        },
        strategy: genesis_engine::strategy::from_config(config),
        gateway: Box::new(order_link::LinkGateway(orders_out)),
    };
    (parts, driver, ahead)
}

/// Where the tape's work runs: on the journal's thread (the run asks the
/// hooks for it) or on a thread of its own.
pub enum TapeCore {
    None,
    OnJournalThread(Option<Box<TapeAhead>>),
    Own(TapeThread),
}

impl TapeCore {
    /// Places `ahead` on `backtest.tape_core`: the journal's thread if the
    /// journal runs alone on that core, else a thread of its own pinned
    /// there (when the plan pins), waiting by that core's wait strategy.
    pub fn start(config: &Config, ahead: Option<TapeAhead>) -> Result<TapeCore> {
        let (Some(ahead), Some(core)) = (ahead, config.backtest.tape_core) else {
            return Ok(TapeCore::None);
        };
        let groups = plan_groups(&config.topology.cores).map_err(anyhow::Error::msg)?;
        let journal_group = groups.iter().position(|g| g.stages.contains(&JOURNAL));
        if journal_group.is_some_and(|index| index > 0 && groups[index].core == core) {
            return Ok(TapeCore::OnJournalThread(Some(Box::new(ahead))));
        }
        let wait = Wait::new(config.wait_for_core(core), config.topology.sleep_us);
        Ok(TapeCore::Own(TapeThread::start(
            ahead,
            core,
            wait,
            config.topology.pin_threads,
        )))
    }

    /// The tape's thread's line in the plan's description, if it has one.
    fn own_thread(&self, config: &Config) -> Option<(usize, String, &'static str)> {
        match (self, config.backtest.tape_core) {
            (TapeCore::Own(_), Some(core)) => {
                Some((core, "tape".into(), config.wait_for_core(core).name()))
            }
            _ => None,
        }
    }

    /// Waits for the tape's own thread, if it has one.
    pub fn finish(self) {
        if let TapeCore::Own(thread) = self {
            thread.join();
        }
    }
}

impl RunHooks for TapeCore {
    fn head_blocks(&self) -> bool {
        true
    }

    fn side_work(&mut self) -> Option<Box<dyn SideWork>> {
        match self {
            TapeCore::OnJournalThread(ahead) => {
                ahead.take().map(|ahead| ahead as Box<dyn SideWork>)
            }
            _ => None,
        }
    }
}

/// Runs the backtest (see the module header).
pub fn run_backtest(config: &Config, options: &BacktestOptions) -> Result<BacktestReport> {
    let (config, fused) = backtest_config(config, options)?;
    check_fresh_journal(&config.journal.dir)?;
    let tape_failure = |e: genesis_io::tape::TapeError| TapeFailure(e.to_string());
    let format = TapesFormat::detect(&options.tapes).map_err(tape_failure)?;
    let feed = TapeFeed::open(&options.tapes, &config).map_err(tape_failure)?;
    let tape_bytes = options
        .tapes
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    // Ingest's thread waits for room in the journal's ring (the hooks ask
    // it to), so every plan hands over synchronously: orders are taken
    // right after each hand-over, with no window.
    let (parts, driver, ahead) = backtest_parts(&config, feed, true);
    let progress = lock(&driver).progress();
    let bar = ProgressThread::start(options.progress, tape_bytes, progress);
    let cpu_started_s = report::process_cpu_s();
    let mut tape_core = TapeCore::start(&config, ahead)?;
    let run = genesis_engine::run::run(
        &config,
        parts,
        &mut tape_core,
        Arc::clone(&options.stop),
        None,
    );
    let own_thread = tape_core.own_thread(&config);
    tape_core.finish();
    let cpu_s = report::process_cpu_s() - cpu_started_s;
    bar.finish();
    let mut run = run?;
    run.plan.threads.extend(own_thread);
    let mut driver = lock(&driver);
    driver.publish_progress();
    Ok(BacktestReport {
        driver: driver.counters(),
        venue: driver.venue().counters(),
        latency: Percentiles::of(driver.latency_ns()),
        latency_to_journal: fused,
        format,
        tape_bytes,
        levels_truncated: driver.levels_truncated(),
        requote_every_updates: (config.strategy.name == StrategyName::TouchQuoter)
            .then_some(config.strategy.touch_quoter.requote_every_updates),
        strategy: config.strategy.name.to_string(),
        tape_error: driver.take_tape_error().map(|e| e.to_string()),
        cpu_s,
        run,
    })
}

fn lock(driver: &Mutex<Driver>) -> std::sync::MutexGuard<'_, Driver> {
    driver.lock().unwrap_or_else(|e| e.into_inner())
}

/// A progress bar of the tape's bytes, drawn from another thread (the
/// engine's threads only store counters).
struct ProgressThread {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl ProgressThread {
    fn start(shown: bool, tape_bytes: u64, progress: Arc<Progress>) -> ProgressThread {
        let done = Arc::new(AtomicBool::new(false));
        if !shown {
            return ProgressThread { done, handle: None };
        }
        let bar = indicatif::ProgressBar::new(tape_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "backtest {bar:40} {bytes}/{total_bytes} of tape, {msg} ({elapsed}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let finished = Arc::clone(&done);
        let handle = std::thread::Builder::new()
            .name("backtest-progress".into())
            .spawn(move || {
                while !finished.load(Ordering::Acquire) {
                    bar.set_position(progress.file_bytes_read.load(Ordering::Relaxed));
                    bar.set_message(format!("{} rows", progress.rows.load(Ordering::Relaxed)));
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            })
            .ok();
        ProgressThread { done, handle }
    }

    fn finish(mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
