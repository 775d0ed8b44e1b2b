//! Assembles a run: stages from config, sources and gateway, the core plan's
//! threads; and collects the report when it ends.

pub mod report;

use crate::adapters::binance_source::BinanceSource;
use crate::adapters::fix::FixClient;
use crate::adapters::itch_source::ItchSource;
use crate::adapters::paper_venue::SimVenue;
use crate::adapters::QueueGateway;
use crate::clock::EpochClock;
use crate::config::Config;
use crate::execution::{ExecutionStage, Gateway};
use crate::ingest::synthetic::Synthetic;
use crate::ingest::{ControlInbox, ControlSender, Ingest, Sources};
use crate::journal_stage::JournalStage;
use crate::risk::RiskStage;
use crate::run::report::RunReport;
use crate::strategy::{Idle, MarketMaker, Strategy, StrategyStage};
use crate::telemetry::metrics::StageMetrics;
use crate::telemetry::reporter::{Reporter, Watch};
use crate::telemetry::Board;
use crate::topology::chain::{Chain, Timed};
use crate::topology::runner::{run_groups, GroupPlan, Shared};
use crate::topology::wait::Wait;
use crate::topology::{self, EXECUTION, JOURNAL, RISK, STRATEGY};
use crate::venue::itch_sim::ItchSimSockets;
use crate::venue::market_view::MarketView;
use crate::venue::sim::{VenueSim, VenueSimSetup};
use genesis_io::net::combined_stream_url;
use genesis_journal::JournalError;
use std::net::ToSocketAddrs;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("core plan: {0}")]
    Plan(String),
    #[error("venue: {0}")]
    Venue(String),
    #[error("cannot record the run's config at {path}: {source}")]
    RunConfig {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the drain thread: {0}")]
    DrainThread(String),
    #[error("drain: {0}")]
    Drain(#[from] crate::drain::DrainError),
    #[error("latency log: {0}")]
    LatencyLog(#[from] genesis_histlog::HistLogError),
    #[error("latency log folder {path}: {source}")]
    LatencyLogDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The pluggable parts of a run: where input comes from, what trades, where orders go.
pub struct Parts {
    pub sources: Sources,
    pub strategy: Box<dyn Strategy>,
    pub gateway: Box<dyn Gateway>,
    /// The simulated venue this run started, if any (stopped when the run ends).
    pub venue_sim: Option<VenueSim>,
    /// True when orders go to `venue_sim` (over FIX), so it measures tick-to-trade.
    pub venue_sim_trades: bool,
}

impl Parts {
    /// The configured parts: control inbox, venue (simulated over FIX on
    /// loopback by default), market data (from the simulated venue as ITCH
    /// over UDP loopback by default), bundled strategy.
    pub fn from_config(config: &Config) -> Result<(Parts, ControlSender), EngineError> {
        let (control_sender, inbox) = ControlInbox::new();
        let source = config.market_data.source.as_str();
        let kind = config.venue.kind.as_str();
        let sim_makes_market = matches!(source, "itch-sim" | "binance-sim");
        // When the market comes from elsewhere, the simulated venue matches
        // against the tops ingest sees, through this view (written by the
        // FIX client's `observe`).
        let view = (kind == "fix-sim" && !sim_makes_market)
            .then(|| Arc::new(MarketView::new(config.instruments.len())));
        let mut itch_sim_source = None;
        let mut itch = None;
        if source == "itch-sim" {
            // The request port first: the engine's receiver needs its address,
            // and the simulator needs the receiver's.
            let sockets = ItchSimSockets::bind(loopback(0))
                .map_err(|e| EngineError::Venue(format!("ITCH request port: {e}")))?;
            let itch_source =
                ItchSource::bind(config, sockets.request_addr).map_err(EngineError::Venue)?;
            let feed_addr = itch_source.feed_addr().map_err(EngineError::Venue)?;
            itch = Some((sockets, feed_addr));
            itch_sim_source = Some(itch_source);
        }
        let fix = &config.venue.fix;
        let venue_sim = if sim_makes_market || kind == "fix-sim" {
            let fix_port = if kind == "fix-sim" { fix.port } else { 0 };
            let setup = VenueSimSetup {
                fix_addr: loopback(fix_port),
                // The simulated venue's CompIDs mirror ours.
                sender_comp_id: fix.target_comp_id.clone(),
                target_comp_id: fix.sender_comp_id.clone(),
                itch,
                ws_addr: (source == "binance-sim").then(|| loopback(0)),
                view: view.clone(),
                hold_market: true,
            };
            Some(
                VenueSim::start(config, setup)
                    .map_err(|e| EngineError::Venue(format!("simulated venue: {e}")))?,
            )
        } else {
            None
        };
        let market: Box<dyn crate::ingest::Source> = match (source, itch_sim_source) {
            (_, Some(itch_source)) => Box::new(itch_source),
            ("itch", _) => Box::new(ItchSource::bind_external(config).map_err(EngineError::Venue)?),
            ("binance-sim" | "binance-ws", _) => {
                let url = match venue_sim.as_ref().and_then(|sim| sim.ws_addr) {
                    Some(ws_addr) if source == "binance-sim" => {
                        let symbols: Vec<&str> = config
                            .instruments
                            .iter()
                            .map(|i| i.symbol.as_str())
                            .collect();
                        combined_stream_url(&ws_addr.to_string(), &symbols)
                    }
                    _ => config.market_data.binance.url.clone(),
                };
                Box::new(BinanceSource::new(config, &url).map_err(EngineError::Venue)?)
            }
            _ => Box::new(Synthetic::new(config)),
        };
        let (venue, gateway): (Box<dyn crate::ingest::Source>, Box<dyn Gateway>) = match kind {
            "sim" => {
                let (venue, gateway) = SimVenue::new(config);
                (Box::new(venue), Box::new(gateway))
            }
            _ => {
                let (gateway, requests) = QueueGateway::new(config.venue.queue_capacity);
                let address = match venue_sim.as_ref().filter(|_| kind == "fix-sim") {
                    Some(sim) => sim.fix_addr,
                    None => (fix.host.as_str(), fix.port)
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut addresses| addresses.next())
                        .ok_or_else(|| {
                            EngineError::Venue(format!(
                                "cannot resolve venue.fix.host {}:{}",
                                fix.host, fix.port
                            ))
                        })?,
                };
                // The simulated venue starts afresh with every run, so its
                // session's sequence numbers must too: no sequence file.
                let mut settings = fix.clone();
                if kind == "fix-sim" {
                    settings.seq_file = std::path::PathBuf::new();
                }
                let client = FixClient::new(config, &settings, address, requests, view.clone())
                    .map_err(|err| EngineError::Venue(format!("FIX session: {err}")))?;
                (Box::new(client), Box::new(gateway))
            }
        };
        let parts = Parts {
            sources: Sources {
                control: Box::new(inbox),
                venue,
                market,
            },
            strategy: strategy_from_config(config),
            gateway,
            venue_sim,
            venue_sim_trades: kind == "fix-sim",
        };
        Ok((parts, control_sender))
    }
}

fn loopback(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// The bundled strategy `strategy.name` names.
pub fn strategy_from_config(config: &Config) -> Box<dyn Strategy> {
    match config.strategy.name.as_str() {
        "none" => Box::new(Idle),
        _ => Box::new(MarketMaker::new(
            config.strategy.market_maker.clone(),
            config.instruments.len(),
        )),
    }
}

/// Runs until the sources drain, `stop` is set, or `duration` passes.
#[allow(clippy::disallowed_methods)] // wall time of the whole run, for the report
pub fn run(
    config: &Config,
    parts: Parts,
    stop: Arc<AtomicBool>,
    duration: Option<Duration>,
) -> Result<RunReport, EngineError> {
    let groups = topology::plan_groups(&config.topology.cores).map_err(EngineError::Plan)?;
    let clock = EpochClock::new();
    let (journal, recovery) = JournalStage::open(&config.journal)?;
    let seq_first = recovery.seq_next;
    if let Some(truncation) = &recovery.truncation {
        tracing::warn!(%truncation, "journal recovery cut a torn tail");
    }
    if seq_first > 1 {
        tracing::info!(seq_first, journal = %journal.dir().display(), "resuming the journal after its last record");
    }
    let run_config = crate::journal_stage::run_config_path(&config.journal.dir, seq_first);
    let config_text = toml::to_string_pretty(config).unwrap_or_default();
    std::fs::write(&run_config, config_text).map_err(|source| EngineError::RunConfig {
        path: run_config.clone(),
        source,
    })?;
    let seq_durable = journal.seq_durable_handle();
    let drain = start_drain(config, &seq_durable)?;
    let (latency_log, latency_log_path) = open_latency_log(config, clock.now_ns())?;
    let board = Arc::new(Board::new());
    let endpoint_stop = Arc::new(AtomicBool::new(false));
    let _ = board
        .journal_durable
        .set((Arc::clone(&seq_durable), seq_first));
    if let Some(drain) = &drain {
        let _ = board.gauges.set(drain.stats());
    }
    let endpoint = start_endpoint(config, &board, groups.len() - 1, &endpoint_stop);
    let mut venue_sim = parts.venue_sim;
    let venue_sim_trades = parts.venue_sim_trades;
    let mut risk = Some(Timed::new(RiskStage::new(config), "risk"));
    let mut strategy_stage = StrategyStage::new(config, parts.strategy);
    strategy_stage.set_order_id_floor(crate::replay::order_id_floor(seq_first) - 1);
    let mut strategy = Some(Timed::new(strategy_stage, "strategy"));
    let mut execution = Some(Timed::new(
        ExecutionStage::new(config, parts.gateway),
        "execution",
    ));
    let mut journal = Some(Timed::new(journal, "journal"));
    let mut ingest_stage = Ingest::new(
        parts.sources,
        clock.clone(),
        config.instruments.len(),
        config.topology.conflate_when_full,
        config.risk.exec_id_memory,
        config.market_data.timer_interval_ms * 1_000_000,
    );
    ingest_stage.set_seq_next(seq_first);
    seed_exec_ids(
        &mut ingest_stage,
        &config.journal.dir,
        seq_first,
        config.risk.exec_id_memory,
    );
    let mut ingest = Some(ingest_stage);
    let mut plans: Vec<GroupPlan> = groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            let has = |stage: usize| group.stages.contains(&stage);
            GroupPlan {
                group: group.clone(),
                index,
                board: Arc::clone(&board),
                wait: Wait::new(config.wait_for_core(group.core), config.topology.sleep_us),
                pin: config.topology.pin_threads,
                batch_max: config.topology.batch_max,
                ingest: ingest.take().filter(|_| has(topology::INGEST)),
                chain: Chain {
                    clock: clock.clone(),
                    risk: if has(RISK) { risk.take() } else { None },
                    strategy: if has(STRATEGY) { strategy.take() } else { None },
                    execution: if has(EXECUTION) {
                        execution.take()
                    } else {
                        None
                    },
                    journal: if has(JOURNAL) { journal.take() } else { None },
                    fatal: None,
                },
            }
        })
        .collect();
    let alerts = crate::telemetry::alerts::Alerts::new(&config.alerts);
    let mut reporter = Reporter::new(
        Duration::from_millis(config.metrics.interval_ms),
        latency_log,
    )
    .with_watch(Watch::new(Arc::clone(&board), alerts));
    let now_ns = clock.now_ns();
    for plan in &mut plans {
        if let Some(ingest) = &mut plan.ingest {
            reporter.attach(ingest.metrics_mut(), now_ns);
        }
        for metrics in plan.chain.metrics_mut() {
            reporter.attach(metrics, now_ns);
        }
    }
    let reporter_done = Arc::new(AtomicBool::new(false));
    let reporter = reporter.spawn(Arc::clone(&reporter_done));
    let plan_summary = crate::run::report::PlanSummary::of(&plans);
    let shared = Arc::new(Shared {
        stop,
        failed: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    let started = Instant::now();
    let started_ns = clock.now_ns();
    // The simulated market starts moving only now that the engine is about
    // to read it: nothing queues in the sockets while the journal recovers.
    if let Some(sim) = &venue_sim {
        sim.release_market();
    }
    let mut results = run_groups(
        plans,
        config.topology.ring_capacity,
        Arc::clone(&shared),
        duration,
    );
    let elapsed = started.elapsed();
    reporter_done.store(true, std::sync::atomic::Ordering::Release);
    let mut reporter = reporter.join().expect("the reporter thread does not panic");
    let finals: Vec<StageMetrics> = results
        .iter_mut()
        .flat_map(|r| {
            let ingest = r.ingest.as_ref().map(|i| i.metrics().clone());
            ingest
                .into_iter()
                .chain(r.chain.metrics_mut().map(|m| m.clone()).collect::<Vec<_>>())
        })
        .collect();
    let stages = reporter.finish(finals, clock.now_ns());
    if let Some(sim) = venue_sim.as_mut() {
        let counters = sim.stop();
        tracing::debug!(?counters, "simulated venue stopped");
    }
    let tick_to_trade = venue_sim.as_mut().filter(|_| venue_sim_trades).map(|sim| {
        let histogram = sim
            .tick_to_trade_ns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        reporter.write_extra("tick-to-trade", started_ns, clock.now_ns(), &histogram);
        histogram
    });
    // The floor tick-to-trade is compared with, measured in this run.
    let loopback_rtt = tick_to_trade
        .as_ref()
        .and_then(|_| crate::venue::floor::loopback_tcp_rtt(2_000).ok());
    let drain = drain.map(|drain| match drain.stop(Duration::from_secs(5)) {
        Ok(snapshot) => snapshot,
        Err(err) => crate::drain::DrainSnapshot {
            last_error: Some(err.to_string()),
            ..Default::default()
        },
    });
    endpoint_stop.store(true, std::sync::atomic::Ordering::Release);
    if let Some(handle) = endpoint {
        let _ = handle.join();
    }
    let error = shared
        .fatal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut report = RunReport::collect(plan_summary, results, stages, elapsed, error);
    report.latency_intervals = reporter.intervals_written;
    report.drain = drain;
    report.tick_to_trade = tick_to_trade
        .as_ref()
        .map(crate::telemetry::metrics::Percentiles::of);
    report.loopback_tcp_rtt = loopback_rtt
        .as_ref()
        .map(crate::telemetry::metrics::Percentiles::of);
    report.journal_seq_first = seq_first;
    report.journal_seq_durable = seq_durable.load(std::sync::atomic::Ordering::Acquire);
    report.journal_truncation = recovery.truncation.as_ref().map(|t| t.to_string());
    report.latency_log_path = latency_log_path;
    report.latency_log_error = reporter.sink_error.take();
    Ok(report)
}

/// Starts the metrics endpoint if configured; a port that cannot be bound is
/// logged, never fatal: trading does not stop over a metrics port.
fn start_endpoint(
    config: &Config,
    board: &Arc<Board>,
    rings: usize,
    stop: &Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    if config.metrics.listen.is_empty() {
        return None;
    }
    match crate::telemetry::metrics_http::serve(
        &config.metrics.listen,
        Arc::clone(board),
        rings,
        Arc::clone(stop),
    ) {
        Ok((address, handle)) => {
            tracing::info!(%address, "metrics endpoint: GET http://{address}/metrics");
            Some(handle)
        }
        Err(err) => {
            tracing::error!(address = %config.metrics.listen, %err, "metrics endpoint not started");
            None
        }
    }
}

/// A run's latency interval log, and where it is.
type LatencyLog = (
    Option<Box<dyn crate::telemetry::reporter::IntervalSink>>,
    Option<std::path::PathBuf>,
);

/// The interval log of this run, if configured: `<dir>/run-<secs>-<pid>.hlog`.
fn open_latency_log(config: &Config, start_unix_ns: u64) -> Result<LatencyLog, EngineError> {
    let dir = &config.metrics.latency_log_dir;
    if dir.as_os_str().is_empty() {
        return Ok((None, None));
    }
    std::fs::create_dir_all(dir).map_err(|source| EngineError::LatencyLogDir {
        path: dir.clone(),
        source,
    })?;
    let mut path = dir.join(format!(
        "run-{}-{}.hlog",
        start_unix_ns / 1_000_000_000,
        std::process::id()
    ));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!(
            "run-{}-{}-{n}.hlog",
            start_unix_ns / 1_000_000_000,
            std::process::id()
        ));
        n += 1;
    }
    let comment = format!(
        "genesis run, pid {}; tags: <stage> (receive to stage exit), <stage>.processing",
        std::process::id()
    );
    let writer = genesis_histlog::IntervalLogWriter::create(&path, start_unix_ns, Some(&comment))?;
    Ok((Some(Box::new(writer)), Some(path)))
}

/// Feeds ingest the exec ids of the fills in the journal's last events, so a
/// venue that resends fills after a restart (FIX ResendRequest, PossDup) does
/// not get them counted twice. Reads at most `memory × 8` events back.
fn seed_exec_ids(ingest: &mut Ingest, dir: &std::path::Path, seq_first: u64, memory: usize) {
    if seq_first <= 1 {
        return;
    }
    let from = seq_first.saturating_sub(memory as u64 * 8).max(1);
    let Ok(mut reader) = crate::journal_stage::EventReader::open(dir, from, seq_first - 1) else {
        return;
    };
    let mut seeded = 0u64;
    while let Ok(Some(event)) = reader.next_event() {
        if let crate::event::Input::Fill(fill) = event.input() {
            ingest.remember_exec_id(fill.exec_id.0);
            seeded += 1;
        }
    }
    tracing::info!(
        seeded,
        from,
        "exec ids of journaled fills remembered for duplicate detection"
    );
}

/// Starts the PostgreSQL drain following the journal, if a database is
/// configured (`[postgres] url` or $DATABASE_URL); says once when not.
fn start_drain(
    config: &Config,
    seq_durable: &Arc<std::sync::atomic::AtomicU64>,
) -> Result<Option<crate::drain::LiveDrain>, EngineError> {
    use crate::drain::{
        DbUrl, DrainOptions, FolderMode, InstrumentRow, JournalFeed, LiveDrain,
        JOURNAL_STREAM_DEFAULT,
    };
    let Some(url) = config.postgres.effective_url() else {
        tracing::info!(
            "no database configured ([postgres] url or DATABASE_URL): running without a drain"
        );
        return Ok(None);
    };
    let url = DbUrl::parse(&url)?;
    tracing::info!(database = %url.redacted(), "draining the journal into PostgreSQL");
    let feed = JournalFeed::new(
        &config.journal.dir,
        JOURNAL_STREAM_DEFAULT,
        FolderMode::Follow,
    )
    .with_seq_written(Arc::clone(seq_durable));
    let options = DrainOptions {
        chunk_events: config.postgres.chunk_events,
        instruments: InstrumentRow::from_config(config),
        ..DrainOptions::default()
    };
    let drain = LiveDrain::spawn(url, Box::new(feed), options)
        .map_err(|err| EngineError::DrainThread(err.to_string()))?;
    Ok(Some(drain))
}
