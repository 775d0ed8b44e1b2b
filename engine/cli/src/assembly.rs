//! A run as `genesis run` assembles it: the engine's parts for the
//! configured feed and venue, with the simulated venue started when the
//! config asks for it (`itch-sim`, `binance-sim`, `fix-sim`), and the
//! drain started when a database is configured; then the run, and the
//! report with what ran beside the engine. Tests and benchmarks reuse it.
//!
//! Order matters and follows the sockets: the simulator's ITCH request port
//! and snapshot server are bound first (the engine's receiver needs their
//! addresses), then the engine's feed socket (the simulator publishes to
//! it), then the simulator; a WebSocket feed (with its REST snapshots on
//! the same port) and the FIX session connect to the simulator's ports.

use crate::drain_glue::DrainHooks;
use crate::sim_glue::{self, SimHooks, WalkFlow};
use genesis_engine::adapters::binance_source::BinanceSource;
use genesis_engine::adapters::itch_source::ItchSource;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{Config, MarketDataSource, VenueKind};
use genesis_engine::ingest::{ControlSender, Source};
use genesis_engine::run::parts::{market_from_config, venue_from_config};
use genesis_engine::run::{EngineError, Parts, ReportNote, RunHooks, RunReport, VenueAt};
use genesis_engine::telemetry::feed_health::FeedHealth;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::telemetry::Gauges;
use genesis_io::net::combined_stream_url;
use genesis_sim::{BoardFlow, ItchPorts, TopBoard, VenueSim, VenueSimSetup};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

/// Everything a run needs besides its config: the engine's parts, the
/// control lane's sender, and what runs beside the engine.
pub struct Assembly {
    pub parts: Parts,
    pub control: ControlSender,
    pub beside: Beside,
}

/// What runs beside the engine, driven through the engine's [`RunHooks`].
pub struct Beside {
    config: Config,
    sim: Option<SimHooks>,
    /// The board the simulator follows, when the market comes from elsewhere.
    board: Option<Arc<TopBoard>>,
    drain: DrainHooks,
}

/// Where the simulated venue's ITCH feed goes: its bound request port and
/// snapshot server, and the engine's source reading it.
type ItchPair = (ItchPorts, ItchSource);

/// Assembles the configured run (see the module header).
pub fn assemble(config: &Config) -> Result<Assembly, EngineError> {
    let source = config.market_data.source;
    let sim_trades = config.venue.kind == VenueKind::FixSim;
    // When the market comes from elsewhere, the simulated venue matches
    // against the tops ingest sees, through this board.
    let board = (sim_trades && !source.is_simulated())
        .then(|| Arc::new(TopBoard::new(config.instruments.len())));
    let itch = (source == MarketDataSource::ItchSim)
        .then(|| bind_itch(config))
        .transpose()?;
    let clock = EpochClock::new();
    let (sim, itch_source) = if source.is_simulated() || sim_trades {
        let (sim, itch_source) = start_sim(config, itch, board.as_ref(), &clock)?;
        (Some(sim), itch_source)
    } else {
        (None, None)
    };
    let market = market_source(config, itch_source, sim.as_ref())?;
    let market = sim_glue::tapped(market, board.as_ref());
    let venue = match (sim_trades, &sim) {
        (true, Some(sim)) => VenueAt::Fix {
            address: sim.fix_addr,
            // The simulated venue starts afresh with every run, so its
            // session's sequence numbers must too: no sequence file.
            settings: genesis_engine::config::FixVenueConfig {
                seq_file: std::path::PathBuf::new(),
                ..config.venue.fix.clone()
            },
        },
        _ => venue_from_config(config)?,
    };
    let (parts, control) = Parts::assemble(config, market, venue)?;
    let sim = sim.map(|sim| SimHooks {
        sim,
        trades: sim_trades,
        tick_to_trade: None,
        report: None,
    });
    Ok(Assembly {
        parts,
        control,
        beside: Beside {
            config: config.clone(),
            sim,
            board,
            drain: DrainHooks::default(),
        },
    })
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The simulator's request port and snapshot server first (the engine's
/// receiver needs their addresses), then the engine's feed socket (the
/// simulator needs its).
fn bind_itch(config: &Config) -> Result<ItchPair, EngineError> {
    let ports = ItchPorts::bind(&sim_glue::sim_config(config), loopback(0), loopback(0))
        .map_err(|e| EngineError::Venue(format!("ITCH request port and snapshot server: {e}")))?;
    let source = ItchSource::bind(config, ports.request_addr, Some(ports.snapshot_addr))
        .map_err(EngineError::Venue)?;
    Ok((ports, source))
}

/// Starts the simulated venue: FIX on `venue.fix.port` when orders go to it
/// (else any free port), ITCH and WebSocket feeds as the source asks, the
/// market held until the engine reads.
fn start_sim(
    config: &Config,
    itch: Option<ItchPair>,
    board: Option<&Arc<TopBoard>>,
    clock: &EpochClock,
) -> Result<(VenueSim, Option<ItchSource>), EngineError> {
    let fix = &config.venue.fix;
    let fix_port = if config.venue.kind == VenueKind::FixSim {
        fix.port
    } else {
        0
    };
    let (itch_out, itch_source) = match itch {
        Some((ports, source)) => {
            let feed_addr = source.feed_addr().map_err(EngineError::Venue)?;
            (Some((ports, feed_addr)), Some(source))
        }
        None => (None, None),
    };
    let flow: Box<dyn genesis_sim::MarketFlow> = match board {
        Some(board) => Box::new(BoardFlow::new(Arc::clone(board))),
        None => Box::new(WalkFlow::new(config, clock)),
    };
    let setup = VenueSimSetup {
        fix_addr: loopback(fix_port),
        // The simulated venue's CompIDs mirror ours.
        sender_comp_id: fix.target_comp_id.clone(),
        target_comp_id: fix.sender_comp_id.clone(),
        itch: itch_out,
        ws_addr: (config.market_data.source == MarketDataSource::BinanceSim).then(|| loopback(0)),
        flow,
        now_ns: sim_glue::now_ns(),
        hold_market: true,
        cancel_on_disconnect: config.venue.cancel_on_disconnect,
    };
    let sim = VenueSim::start(&sim_glue::sim_config(config), setup)
        .map_err(|e| EngineError::Venue(format!("simulated venue: {e}")))?;
    Ok((sim, itch_source))
}

/// The market-data source: the one bound for the simulator's ITCH feed,
/// the simulator's WebSocket streams, or whatever the config points at.
fn market_source(
    config: &Config,
    itch_source: Option<ItchSource>,
    sim: Option<&VenueSim>,
) -> Result<Box<dyn Source>, EngineError> {
    if let Some(itch_source) = itch_source {
        return Ok(Box::new(itch_source));
    }
    let ws_addr = sim.and_then(|sim| sim.ws_addr);
    match (config.market_data.source, ws_addr) {
        (MarketDataSource::BinanceSim, Some(ws_addr)) => {
            let symbols: Vec<&str> = config
                .instruments
                .iter()
                .map(|i| i.symbol.as_str())
                .collect();
            let url = combined_stream_url(&ws_addr.to_string(), &symbols);
            Ok(Box::new(
                BinanceSource::new(config, &url).map_err(EngineError::Venue)?,
            ))
        }
        _ => market_from_config(config),
    }
}

impl Assembly {
    /// Replaces the market-data source (a benchmark's load generator),
    /// keeping the simulator's view of the market when it has one.
    pub fn replace_market(&mut self, source: Box<dyn Source>) {
        self.parts.sources.market = sim_glue::tapped(source, self.beside.board.as_ref());
    }

    /// Lets the simulator's held market move, for callers that drive the
    /// parts themselves instead of through [`run`].
    pub fn release_market(&self) {
        if let Some(sim) = &self.beside.sim {
            sim.sim.release_market();
        }
    }
}

impl RunHooks for Beside {
    fn on_journal_open(
        &mut self,
        journal_dir: &Path,
        seq_durable: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<dyn Gauges>>, String> {
        self.drain
            .on_journal_open(&self.config, journal_dir, seq_durable)
    }

    fn on_ready(&mut self) {
        if let Some(sim) = &mut self.sim {
            sim.on_ready();
        }
    }

    fn on_stopped(&mut self) -> Vec<(&'static str, Histogram<u64>)> {
        let tick_to_trade = self.sim.as_mut().and_then(SimHooks::on_stopped);
        tick_to_trade
            .map(|histogram| ("tick-to-trade", histogram))
            .into_iter()
            .collect()
    }
}

impl Beside {
    /// Completes the report with what ran beside the engine: the venue's
    /// tick-to-trade, a loopback TCP round trip measured now beside either
    /// tick-to-trade (their floor), the
    /// simulator's and the feed's counters, and the drain's line.
    fn finish(&mut self, report: &mut RunReport, health: Option<&FeedHealth>) {
        if let Some(health) = health {
            report.notes.push(ReportNote {
                line: health.summary_line(),
                key: "market_data",
                json: health.summary_json(),
            });
        }
        if let Some(note) = self.sim.as_ref().and_then(SimHooks::report_note) {
            report.notes.push(note);
        }
        let tick_to_trade = self.sim.as_mut().and_then(|sim| sim.tick_to_trade.take());
        if let Some(histogram) = &tick_to_trade {
            report.tick_to_trade = Some(Percentiles::of(histogram));
        }
        if report.tick_to_trade.is_some() || report.engine_tick_to_trade.is_some() {
            report.loopback_tcp_rtt = crate::floor::loopback_tcp_rtt(2_000)
                .ok()
                .as_ref()
                .map(Percentiles::of);
        }
        report.notes.push(self.drain.finish());
    }
}

/// Runs the assembled engine until its sources drain, `stop` is set, or
/// `duration` passes; the report includes what ran beside it.
pub fn run(
    config: &Config,
    assembly: Assembly,
    stop: Arc<AtomicBool>,
    duration: Option<Duration>,
) -> Result<RunReport, EngineError> {
    let mut beside = assembly.beside;
    let health = assembly.parts.sources.market.feed_health();
    // On an error, what started beside the engine stops as it is dropped.
    let mut report = genesis_engine::run::run(config, assembly.parts, &mut beside, stop, duration)?;
    beside.finish(&mut report, health.as_deref());
    Ok(report)
}
