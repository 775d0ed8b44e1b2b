//! The simulated venue: one thread running the exchange (price-time
//! matching per instrument, `venue::exchange`), its FIX acceptor
//! (`venue::fix_sim`), and its market data: ITCH 5.0 over MoldUDP64 on UDP
//! with a request port (`venue::itch_sim`) and Binance-compatible
//! WebSocket streams with snapshots (`venue::ws_sim`).
//!
//! The market moves by the seeded random walk of the configured
//! `market_data` (the liquidity provider quotes it, the taker prints its
//! trades), or, when the engine generates the walk itself in-process
//! (`market_data.source = "synthetic"`), by the tops the engine publishes in
//! a [`MarketView`].
//!
//! It runs in-process for `genesis run` and standalone as `genesis
//! venue-sim`. The thread sleeps 20 µs when a loop iteration found nothing
//! to do: it is a simulator and must not take a core from the engine on a
//! small host.

use crate::clock::EpochClock;
use crate::config::Config;
use crate::event::{Event, Input};
use crate::ingest::source::Source;
use crate::ingest::synthetic::Synthetic;
use crate::venue::exchange::{Exchange, ExchangeCounters, MarketDataOut};
use crate::venue::fix_sim::FixAcceptor;
use crate::venue::itch_sim::{ItchOut, ItchSimSockets};
use crate::venue::market_view::MarketView;
use crate::venue::ws_sim::{WsOut, WsOutCounters};
use genesis_io::venue::{BookEvent, MatchingEngine};
use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What to start.
pub struct VenueSimSetup {
    /// The FIX port (port 0 picks a free one).
    pub fix_addr: SocketAddr,
    /// The venue's own CompID and the engine's.
    pub sender_comp_id: String,
    pub target_comp_id: String,
    /// ITCH: the bound request port and where to publish the feed.
    pub itch: Option<(ItchSimSockets, SocketAddr)>,
    /// WebSocket streams on this address (port 0 picks a free one).
    pub ws_addr: Option<SocketAddr>,
    /// Follow the engine's market instead of running the walk here.
    pub view: Option<Arc<MarketView>>,
    /// Keep the market still until [`VenueSim::release_market`] or the
    /// first FIX session connects (sessions are served meanwhile): an
    /// in-process engine releases it when it starts reading, so no market
    /// data waits in its sockets; an engine in another process has bound its
    /// feed socket before it connects, so it hears the feed from sequence 1
    /// (a late joiner must replay the session through the request port,
    /// which recovers slower than a 100k/s feed moves).
    pub hold_market: bool,
}

/// What the simulator did, when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VenueSimReport {
    pub exchange: ExchangeCounters,
    pub ws: WsOutCounters,
}

/// A running simulated venue.
pub struct VenueSim {
    pub fix_addr: SocketAddr,
    pub ws_addr: Option<SocketAddr>,
    /// Receive time at the venue minus the trigger's venue time, per order (ns).
    pub tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
    report: Arc<Mutex<VenueSimReport>>,
    market_moving: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// The market-data outputs the exchange feeds.
struct Outputs {
    itch: Option<ItchOut>,
    ws: Option<WsOut>,
}

impl MarketDataOut for Outputs {
    fn on_book_event(
        &mut self,
        instrument: usize,
        event: &BookEvent,
        book: &MatchingEngine,
        now_ns: u64,
    ) {
        if let Some(itch) = &mut self.itch {
            itch.on_book_event(instrument, event, book, now_ns);
        }
        if let Some(ws) = &mut self.ws {
            ws.on_book_event(instrument, event, book, now_ns);
        }
    }

    fn on_operation_done(&mut self, instrument: usize, book: &MatchingEngine, now_ns: u64) {
        if let Some(ws) = &mut self.ws {
            ws.on_operation_done(instrument, book, now_ns);
        }
    }
}

/// Where the market moves come from.
enum Flow {
    Walk(Synthetic),
    View {
        view: Arc<MarketView>,
        versions: Vec<u64>,
    },
}

struct Simulator {
    exchange: Exchange,
    fix: FixAcceptor,
    outputs: Outputs,
    flow: Flow,
    events: Vec<Event>,
}

impl VenueSim {
    /// Binds every port, then starts the simulator's thread.
    pub fn start(config: &Config, setup: VenueSimSetup) -> Result<VenueSim, String> {
        let fix = FixAcceptor::bind(
            config,
            setup.fix_addr,
            &setup.sender_comp_id,
            &setup.target_comp_id,
        )
        .map_err(|e| format!("FIX port {}: {e}", setup.fix_addr))?;
        let fix_addr = fix.local_addr().map_err(|e| e.to_string())?;
        let itch = match setup.itch {
            Some((sockets, destination)) => Some(
                ItchOut::new(config, sockets, destination)
                    .map_err(|e| format!("ITCH publisher to {destination}: {e}"))?,
            ),
            None => None,
        };
        let ws = match setup.ws_addr {
            Some(addr) => {
                Some(WsOut::bind(config, addr).map_err(|e| format!("WebSocket port {addr}: {e}"))?)
            }
            None => None,
        };
        let ws_addr = match &ws {
            Some(ws) => Some(ws.local_addr()?),
            None => None,
        };
        let flow = match setup.view {
            Some(view) => Flow::View {
                view,
                versions: vec![0; config.instruments.len()],
            },
            None => Flow::Walk(Synthetic::new(config)),
        };
        let tick_to_trade_ns = Arc::clone(&fix.tick_to_trade_ns);
        let mut simulator = Simulator {
            exchange: Exchange::new(config.instruments.len(), config.venue.resting_orders_max),
            fix,
            outputs: Outputs { itch, ws },
            flow,
            events: Vec::with_capacity(64),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(VenueSimReport::default()));
        let market_moving = Arc::new(AtomicBool::new(!setup.hold_market));
        let (thread_stop, thread_report) = (Arc::clone(&stop), Arc::clone(&report));
        let thread_moving = Arc::clone(&market_moving);
        let handle = std::thread::Builder::new()
            .name("venue-sim".into())
            .spawn(move || {
                let clock = EpochClock::new();
                if let Some(itch) = &mut simulator.outputs.itch {
                    itch.directory(clock.now_ns());
                }
                while !thread_stop.load(Ordering::Acquire) {
                    let mut moving = thread_moving.load(Ordering::Acquire);
                    if !moving && simulator.fix.connected_count() > 0 {
                        thread_moving.store(true, Ordering::Release);
                        moving = true;
                    }
                    if !simulator.step(&clock, moving) {
                        std::thread::sleep(Duration::from_micros(20));
                    }
                }
                let mut report = thread_report.lock().unwrap_or_else(|e| e.into_inner());
                report.exchange = simulator.exchange.counters;
                if let Some(ws) = &simulator.outputs.ws {
                    report.ws = ws.counters;
                }
            })
            .map_err(|e| format!("cannot start the simulator thread: {e}"))?;
        Ok(VenueSim {
            fix_addr,
            ws_addr,
            tick_to_trade_ns,
            report,
            market_moving,
            stop,
            handle: Some(handle),
        })
    }

    /// Lets a held market move (see [`VenueSimSetup::hold_market`]).
    pub fn release_market(&self) {
        self.market_moving.store(true, Ordering::Release);
    }

    /// Stops the thread; what it did.
    pub fn stop(&mut self) -> VenueSimReport {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
        *self.report.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for VenueSim {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Simulator {
    /// One loop iteration; true if anything happened.
    fn step(&mut self, clock: &EpochClock, market_moving: bool) -> bool {
        let now_ns = clock.now_ns();
        let mut busy = market_moving && self.move_market(clock, now_ns);
        // The feed goes out before the session is served, so the session's
        // turn never delays market data; and again after, with what the
        // session's orders changed.
        self.flush_itch();
        busy |= self
            .fix
            .poll(&mut self.exchange, &mut self.outputs, clock.now_ns());
        self.flush_itch();
        if let Some(ws) = &mut self.outputs.ws {
            ws.poll(&self.exchange, clock.now_ns());
        }
        busy
    }

    fn flush_itch(&mut self) {
        if let Some(itch) = &mut self.outputs.itch {
            itch.poll();
        }
    }

    fn move_market(&mut self, clock: &EpochClock, now_ns: u64) -> bool {
        match &mut self.flow {
            Flow::Walk(walk) => {
                let events = &mut self.events;
                walk.poll(clock, 64, &mut |event| events.push(event));
                let busy = !self.events.is_empty();
                for event in self.events.drain(..) {
                    let instrument = event.instrument.index();
                    match event.input() {
                        Input::TopOfBook(top) => {
                            self.exchange
                                .on_top(instrument, &top, now_ns, &mut self.outputs)
                        }
                        Input::Trade(trade) => self.exchange.on_print(
                            instrument,
                            event.side,
                            trade.price.0,
                            trade.qty.0,
                            now_ns,
                            &mut self.outputs,
                        ),
                        _ => {}
                    }
                }
                busy
            }
            Flow::View { view, versions } => {
                let mut busy = false;
                for (instrument, version) in versions.iter_mut().enumerate() {
                    if let Some((newer, top)) = view.read_if_newer(instrument, *version) {
                        *version = newer;
                        busy = true;
                        self.exchange
                            .on_top(instrument, &top, now_ns, &mut self.outputs);
                    }
                }
                busy
            }
        }
    }
}
