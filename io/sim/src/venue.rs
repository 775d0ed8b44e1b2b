//! The simulated venue: one thread running the exchange (price-time
//! matching per instrument, [`crate::exchange`]), its FIX acceptor
//! ([`crate::fix`]), and its market data: ITCH 5.0 over MoldUDP64 on UDP
//! with a request port and a GLIMPSE snapshot server ([`crate::itch`]) and
//! Binance-compatible WebSocket streams with REST snapshots ([`crate::ws`]).
//!
//! The market moves by the [`MarketFlow`] it is given: a walk its caller
//! runs (the liquidity provider quotes it, the taker prints its trades), or
//! the tops another thread publishes on a board ([`crate::BoardFlow`]).
//!
//! Time comes from the clock it is given, so its timestamps (ITCH headers,
//! ExecID seeds, tick-to-trade) agree with its caller's. Its own delays are
//! kept out of the latencies measured against it:
//! - each market move is stamped when it is applied (not when the loop
//!   iteration began) and its ITCH packet leaves at once, so no message
//!   waits for the rest of the iteration's moves before it is sent;
//! - after a busy iteration the thread keeps polling, yielding the core
//!   between polls, for at most [`IDLE_YIELDS_MAX`] polls within
//!   [`IDLE_POLL_NS`]; then it sleeps ([`IDLE_SLEEP`]) between polls. One
//!   thread, never more: a simulator must not take the engine's core on a
//!   small host. A yield hands the core over whenever another thread
//!   wants it, but the yielding thread stays runnable and takes a core
//!   back at once: on a host whose every core an engine thread spins on,
//!   each yield after FIX traffic was a preemption of an engine thread,
//!   so they are few (the ITCH and WebSocket servers offer no readiness
//!   handle to block on, so the loop cannot sleep in `epoll` instead).
//! - a flow that is read on an interval ([`MarketFlow::poll_interval_ns`],
//!   the board an in-process engine publishes its market on) is read only
//!   that often, and its moves do not count as work: the engine beside it
//!   publishes a top per event, and a venue that followed each one stayed
//!   busy, polling and yielding, on a host whose every core an engine
//!   thread spins on (thousands of preemptions a second). Idle, such a
//!   venue's sleeps double from [`IDLE_SLEEP`] to [`IDLE_SLEEP_MAX`] and
//!   end at the flow's next read, so it wakes about once per interval.
//!
//! An operator (or a test) drives it with [`VenueCommand`]s, applied on its
//! thread in order, before the sessions are served: drop every session,
//! hold or release the market, cancel or trade through resting orders,
//! enter an order for a participant. When it stops it leaves a summary of
//! every participant ([`ParticipantSummary`]).

use crate::config::SimConfig;
use crate::exchange::{Exchange, ExchangeCounters, MarketDataOut, Side};
use crate::fix::{FixAcceptor, ParticipantSummary};
use crate::flow::{MarketFlow, MarketMove};
use crate::itch::{ItchOut, ItchOutCounters, ItchPorts};
use crate::ws::{WsOut, WsOutCounters};
use genesis_io::venue::{BookEvent, MatchingEngine};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the loop keeps polling after the last iteration that did
/// something: a steady feed (a move every 50 µs or more often) never waits
/// for a sleep to end.
pub const IDLE_POLL_NS: u64 = 50_000;
/// Most polls, each after a yield, that follow a busy iteration before the
/// loop sleeps instead (within [`IDLE_POLL_NS`]): one, to pick up what
/// crossed the last poll, without staying runnable for 50 µs (the old
/// loop made 2–3 per busy iteration in a debug build under load, dozens
/// in a release build on a quiet host).
pub const IDLE_YIELDS_MAX: u32 = 1;
/// The pause between polls of a venue idle for longer than [`IDLE_POLL_NS`].
pub const IDLE_SLEEP: Duration = Duration::from_micros(20);
/// The longest sleep of an idle venue whose flow is read on an interval.
pub const IDLE_SLEEP_MAX: Duration = Duration::from_millis(1);

/// Nanoseconds since the Unix epoch, from the caller's clock.
pub type NowNs = Box<dyn Fn() -> u64 + Send>;

/// What to start.
pub struct VenueSimSetup {
    /// The FIX port (port 0 picks a free one).
    pub fix_addr: SocketAddr,
    /// The venue's own CompID and its clients'.
    pub sender_comp_id: String,
    pub target_comp_id: String,
    /// ITCH: the bound request port and snapshot server, and where to publish the feed.
    pub itch: Option<(ItchPorts, SocketAddr)>,
    /// WebSocket streams on this address (port 0 picks a free one).
    pub ws_addr: Option<SocketAddr>,
    /// Where the market's moves come from.
    pub flow: Box<dyn MarketFlow>,
    /// The clock every timestamp is read from.
    pub now_ns: NowNs,
    /// Keep the market still until [`VenueSim::release_market`] or the
    /// first FIX session connects (sessions are served meanwhile): an
    /// in-process engine releases it when it starts reading, so no market
    /// data waits in its sockets. Not needed by an engine in another
    /// process: joining late, it catches up from a snapshot.
    pub hold_market: bool,
    /// Cancel a participant's resting orders when its session goes (a
    /// real venue's cancel-on-disconnect); false keeps them for its return.
    pub cancel_on_disconnect: bool,
}

/// What an operator (or a test) asks of the running venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueCommand {
    /// Drop every FIX connection without Logout, as a network failure would.
    Disconnect,
    /// Stop the market: no quotes move, no prints trade.
    Hold,
    /// Let the market move again.
    Release,
    /// Cancel every n-th resting session order (an operator, an expiry).
    CancelEvery(usize),
    /// Trade through every n-th resting session order (it fills whole).
    FillEvery(usize),
    /// Enter a limit order for a participant at the venue (another
    /// terminal on the same account).
    Order {
        participant: String,
        cl_ord_id: String,
        symbol: String,
        side: Side,
        price_ticks: i64,
        qty_lots: i64,
    },
    /// Take every participant's summary now ([`VenueSim::summary_now`]).
    Summary,
}

/// What the simulator did, when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VenueSimReport {
    pub exchange: ExchangeCounters,
    pub itch: ItchOutCounters,
    pub ws: WsOutCounters,
    /// Loop iterations (each polls every socket once).
    pub loop_iterations: u64,
    /// Times the market flow was read.
    pub flow_polls: u64,
    /// Iterations that did something (FIX traffic, or a flow read every iteration).
    pub busy_iterations: u64,
    /// Yields of the core between polls after a busy iteration.
    pub yields: u64,
}

/// A running simulated venue.
pub struct VenueSim {
    pub fix_addr: SocketAddr,
    pub ws_addr: Option<SocketAddr>,
    /// Receive time at the venue minus the trigger's venue time, per order (ns).
    pub tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
    report: Arc<Mutex<VenueSimReport>>,
    market_moving: Arc<AtomicBool>,
    control: Arc<Control>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// Commands on their way to the simulator's thread, what it said of the
/// ones it applied, and the summary it leaves when it stops.
#[derive(Default)]
struct Control {
    commands: Mutex<VecDeque<VenueCommand>>,
    notes: Mutex<Vec<String>>,
    /// The latest summary and how many were taken (at a `Summary` command or the stop).
    summary: Mutex<(u64, Vec<ParticipantSummary>)>,
    summary_taken: Condvar,
}

impl Control {
    fn store_summary(&self, summary: Vec<ParticipantSummary>) {
        let mut stored = lock(&self.summary);
        stored.0 += 1;
        stored.1 = summary;
        self.summary_taken.notify_all();
    }
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

/// Everything the simulator's thread owns.
struct Simulator {
    exchange: Exchange,
    fix: FixAcceptor,
    outputs: Outputs,
    flow: Box<dyn MarketFlow>,
    /// This iteration's moves (reused).
    moves: Vec<MarketMove>,
    now_ns: NowNs,
}

/// The flags the simulator's thread shares with its handle.
struct Shared {
    stop: Arc<AtomicBool>,
    market_moving: Arc<AtomicBool>,
    report: Arc<Mutex<VenueSimReport>>,
    control: Arc<Control>,
    /// The market waits for the first session (or a release).
    held_for_first_session: bool,
}

impl VenueSim {
    /// Binds every port, then starts the simulator's thread.
    pub fn start(config: &SimConfig, setup: VenueSimSetup) -> Result<VenueSim, String> {
        let exec_id_seed = (setup.now_ns)() / 1_000;
        let fix = FixAcceptor::bind(
            config,
            setup.fix_addr,
            (&setup.sender_comp_id, &setup.target_comp_id),
            exec_id_seed,
            setup.cancel_on_disconnect,
        )
        .map_err(|e| format!("FIX port {}: {e}", setup.fix_addr))?;
        let fix_addr = fix.local_addr().map_err(|e| e.to_string())?;
        let outputs = Outputs {
            itch: bind_itch(config, setup.itch)?,
            ws: bind_ws(config, setup.ws_addr)?,
        };
        let ws_addr = match &outputs.ws {
            Some(ws) => Some(ws.local_addr()?),
            None => None,
        };
        let tick_to_trade_ns = Arc::clone(&fix.tick_to_trade_ns);
        let simulator = Simulator {
            exchange: Exchange::new(config.instruments.len(), config.resting_orders_max),
            fix,
            outputs,
            flow: setup.flow,
            moves: Vec::with_capacity(64),
            now_ns: setup.now_ns,
        };
        let shared = Shared {
            stop: Arc::new(AtomicBool::new(false)),
            market_moving: Arc::new(AtomicBool::new(!setup.hold_market)),
            report: Arc::new(Mutex::new(VenueSimReport::default())),
            control: Arc::new(Control::default()),
            held_for_first_session: setup.hold_market,
        };
        let handle = spawn(simulator, &shared)?;
        Ok(VenueSim {
            fix_addr,
            ws_addr,
            tick_to_trade_ns,
            report: shared.report,
            market_moving: shared.market_moving,
            control: shared.control,
            stop: shared.stop,
            handle: Some(handle),
        })
    }

    /// Lets a held market move (see [`VenueSimSetup::hold_market`]).
    pub fn release_market(&self) {
        self.market_moving.store(true, Ordering::Release);
    }

    /// Queues a command for the simulator's thread (applied in order).
    pub fn command(&self, command: VenueCommand) {
        lock(&self.control.commands).push_back(command);
    }

    /// What the simulator said of the commands it applied since the last call.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.control.notes))
    }

    /// Every participant's fills, positions and open orders, as the
    /// simulator left them when it stopped (empty before).
    pub fn summary(&self) -> Vec<ParticipantSummary> {
        lock(&self.control.summary).1.clone()
    }

    /// Every participant's summary as the running simulator sees it, taken
    /// on its thread between two loop iterations; `None` if it did not
    /// answer within `timeout` (stopped, or stuck).
    pub fn summary_now(&self, timeout: Duration) -> Option<Vec<ParticipantSummary>> {
        let taken_before = lock(&self.control.summary).0;
        self.command(VenueCommand::Summary);
        let guard = lock(&self.control.summary);
        let (guard, _) = self
            .control
            .summary_taken
            .wait_timeout_while(guard, timeout, |(taken, _)| *taken == taken_before)
            .unwrap_or_else(|e| e.into_inner());
        (guard.0 != taken_before).then(|| guard.1.clone())
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn bind_itch(
    config: &SimConfig,
    itch: Option<(ItchPorts, SocketAddr)>,
) -> Result<Option<ItchOut>, String> {
    let Some((ports, destination)) = itch else {
        return Ok(None);
    };
    ItchOut::new(config, ports, destination)
        .map(Some)
        .map_err(|e| format!("ITCH publisher to {destination}: {e}"))
}

fn bind_ws(config: &SimConfig, addr: Option<SocketAddr>) -> Result<Option<WsOut>, String> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    WsOut::bind(config, addr)
        .map(Some)
        .map_err(|e| format!("WebSocket port {addr}: {e}"))
}

/// The simulator's thread: runs until stopped, then leaves its counters
/// and summary.
fn spawn(mut simulator: Simulator, shared: &Shared) -> Result<JoinHandle<()>, String> {
    let stop = Arc::clone(&shared.stop);
    let moving = Arc::clone(&shared.market_moving);
    let report = Arc::clone(&shared.report);
    let control = Arc::clone(&shared.control);
    let mut held_for_first_session = shared.held_for_first_session;
    std::thread::Builder::new()
        .name("venue-sim".into())
        .spawn(move || {
            if let Some(itch) = &mut simulator.outputs.itch {
                itch.directory((simulator.now_ns)());
            }
            let mut idle = Idle::new(simulator.flow.poll_interval_ns());
            let mut counts = (0u64, 0u64);
            while !stop.load(Ordering::Acquire) {
                simulator.apply_commands(&control, &moving, &mut held_for_first_session);
                let mut market_moving = moving.load(Ordering::Acquire);
                held_for_first_session &= !market_moving;
                if held_for_first_session && simulator.fix.connected_count() > 0 {
                    held_for_first_session = false;
                    moving.store(true, Ordering::Release);
                    market_moving = true;
                }
                let read_flow = market_moving && idle.flow_due((simulator.now_ns)());
                let busy = simulator.step(read_flow, idle.flow_moves_are_work());
                counts.0 += 1;
                counts.1 += u64::from(read_flow);
                idle.pause(busy, (simulator.now_ns)());
            }
            control.store_summary(simulator.fix.summary(&simulator.exchange));
            let mut report = lock(&report);
            (report.loop_iterations, report.flow_polls) = counts;
            (report.busy_iterations, report.yields) = (idle.busy_iterations, idle.yields);
            report.exchange = simulator.exchange.counters;
            if let Some(ws) = &simulator.outputs.ws {
                report.ws = ws.counters;
            }
            if let Some(itch) = &simulator.outputs.itch {
                report.itch = itch.counters;
            }
        })
        .map_err(|e| format!("cannot start the simulator thread: {e}"))
}

/// When the loop last did something, and how it waits since.
struct Idle {
    /// When an iteration last did something (`None`: never yet).
    busy_last_ns: Option<u64>,
    /// How often the flow is read (0: every iteration).
    flow_interval_ns: u64,
    /// When the flow is read next (with an interval).
    flow_due_ns: u64,
    /// The next idle sleep (doubles while idle, with an interval).
    sleep: Duration,
    /// Yields left before the loop sleeps (reset by a busy iteration).
    yields_left: u32,
    /// Busy iterations and yields so far, for the report.
    busy_iterations: u64,
    yields: u64,
}

impl Idle {
    fn new(flow_interval_ns: u64) -> Idle {
        Idle {
            busy_last_ns: None,
            flow_interval_ns,
            flow_due_ns: 0,
            sleep: IDLE_SLEEP,
            yields_left: 0,
            busy_iterations: 0,
            yields: 0,
        }
    }

    /// Whether this iteration reads the flow; if so, the next read is one interval on.
    fn flow_due(&mut self, now_ns: u64) -> bool {
        if now_ns < self.flow_due_ns {
            return false;
        }
        self.flow_due_ns = now_ns + self.flow_interval_ns;
        true
    }

    /// Whether the flow's moves keep the loop polling (a flow read every
    /// iteration), or are only read on their interval.
    fn flow_moves_are_work(&self) -> bool {
        self.flow_interval_ns == 0
    }

    /// After an iteration: nothing if it was busy; a yield within
    /// [`IDLE_POLL_NS`] of the last busy one, at most [`IDLE_YIELDS_MAX`]
    /// times; a sleep after that, which, with a flow read on an interval,
    /// doubles up to [`IDLE_SLEEP_MAX`] and ends no later than the flow's
    /// next read.
    fn pause(&mut self, busy: bool, now_ns: u64) {
        if busy {
            self.busy_last_ns = Some(now_ns);
            self.sleep = IDLE_SLEEP;
            self.yields_left = IDLE_YIELDS_MAX;
            self.busy_iterations += 1;
        } else if self.yields_left > 0
            && self
                .busy_last_ns
                .is_some_and(|last| now_ns.saturating_sub(last) < IDLE_POLL_NS)
        {
            self.yields_left -= 1;
            self.yields += 1;
            std::thread::yield_now();
        } else if self.flow_interval_ns == 0 {
            std::thread::sleep(IDLE_SLEEP);
        } else {
            // The next read is ahead unless the market is held (no read
            // since it came due): then only the doubling bounds the sleep.
            let until_flow = match self.flow_due_ns.saturating_sub(now_ns) {
                0 => self.sleep,
                ns => Duration::from_nanos(ns),
            };
            std::thread::sleep(self.sleep.min(until_flow));
            self.sleep = (self.sleep * 2).min(IDLE_SLEEP_MAX);
        }
    }
}

impl Simulator {
    /// Applies the queued commands in order; notes what each did.
    fn apply_commands(&mut self, control: &Control, moving: &AtomicBool, held: &mut bool) {
        let commands: Vec<VenueCommand> = lock(&control.commands).drain(..).collect();
        for command in commands {
            if command == VenueCommand::Summary {
                control.store_summary(self.fix.summary(&self.exchange));
                continue;
            }
            let note = self.apply(&command, moving, held);
            // Its replies reach their sessions (or are kept for the away)
            // before anything later is done or told.
            self.fix.send_replies(&mut self.exchange, (self.now_ns)());
            lock(&control.notes).push(note);
            self.flush_itch();
        }
    }

    fn apply(&mut self, command: &VenueCommand, moving: &AtomicBool, held: &mut bool) -> String {
        let now_ns = (self.now_ns)();
        let (exchange, out) = (&mut self.exchange, &mut self.outputs);
        match command {
            VenueCommand::Disconnect => {
                let dropped = self.fix.drop_connections(exchange, out, now_ns);
                format!("disconnect: {dropped} session(s) dropped")
            }
            VenueCommand::Hold => {
                *held = false;
                moving.store(false, Ordering::Release);
                "hold: the market is still".into()
            }
            VenueCommand::Release => {
                moving.store(true, Ordering::Release);
                "release: the market moves".into()
            }
            VenueCommand::CancelEvery(every) => {
                let cancelled = exchange.venue_cancel_every(*every, now_ns, out);
                format!("cancel: {cancelled} resting order(s) cancelled by the venue")
            }
            VenueCommand::FillEvery(every) => {
                let swept = exchange.venue_fill_every(*every, now_ns, out);
                format!("fill: {swept} resting order(s) traded through")
            }
            VenueCommand::Order {
                participant,
                cl_ord_id,
                symbol,
                side,
                price_ticks,
                qty_lots,
            } => {
                let entered = self.fix.enter_order(
                    (participant, cl_ord_id),
                    (symbol, *side, *price_ticks, *qty_lots),
                    (exchange, out),
                    now_ns,
                );
                match entered {
                    Ok(()) => format!("order: {cl_ord_id} entered for {participant}"),
                    Err(error) => format!("order: refused: {error}"),
                }
            }
            VenueCommand::Summary => "summary".into(),
        }
    }

    /// One loop iteration: reads the flow if `read_flow`; true if anything
    /// happened (the flow's moves count only if `flow_moves_are_work`).
    fn step(&mut self, read_flow: bool, flow_moves_are_work: bool) -> bool {
        let mut busy = read_flow && self.move_market() && flow_moves_are_work;
        // The feed goes out before the session is served, so the session's
        // turn never delays market data; and again after, with what the
        // session's orders changed.
        self.flush_itch();
        busy |= self
            .fix
            .poll(&mut self.exchange, &mut self.outputs, (self.now_ns)());
        self.flush_itch();
        if let Some(ws) = &mut self.outputs.ws {
            ws.poll(&self.exchange, (self.now_ns)());
        }
        busy
    }

    fn flush_itch(&mut self) {
        if let Some(itch) = &mut self.outputs.itch {
            itch.poll(&self.exchange, (self.now_ns)());
        }
    }

    /// Applies the flow's moves, each stamped as it is applied and its
    /// ITCH packet sent at once; true if there were any.
    fn move_market(&mut self) -> bool {
        let moves = &mut self.moves;
        self.flow.poll(&mut |market_move| moves.push(market_move));
        let busy = !self.moves.is_empty();
        for market_move in self.moves.drain(..) {
            let now_ns = (self.now_ns)();
            match market_move {
                MarketMove::Top { instrument, top } => {
                    self.exchange
                        .on_top(instrument, &top, now_ns, &mut self.outputs)
                }
                MarketMove::Print {
                    instrument,
                    aggressor,
                    price,
                    qty,
                } => self.exchange.on_print(
                    instrument,
                    aggressor,
                    price,
                    qty,
                    now_ns,
                    &mut self.outputs,
                ),
            }
            if let Some(itch) = &mut self.outputs.itch {
                itch.send_packet(now_ns);
            }
        }
        busy
    }
}
