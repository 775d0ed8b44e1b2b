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
//! - after an iteration that did nothing the thread blocks in `ppoll`
//!   ([`crate::wait`]) on its FIX listener and connections, the ITCH
//!   request port and snapshot server (listener and sessions), the
//!   WebSocket server (listener and connections, REST ones included), and
//!   a [`Doorbell`] the handle rings (a command, the market's release, the
//!   stop): on input, and on room to write where output waits (a partly
//!   written FIX message, snapshot, WebSocket frame or REST response).
//!   It wakes when one is ready or the next timer is due: the flow's next
//!   read, the FIX sessions' timers (a sixteenth of their heartbeat
//!   interval), the ITCH heartbeat of a quiet feed (every
//!   [`crate::itch::HEARTBEAT_INTERVAL_NS`]), a snapshot session's login
//!   or progress deadline, and the close of a WebSocket depth-diff window
//!   that holds a change. A kernel-stamped FIX read keeps the wait out of
//!   tick-to-trade. So an engine's order, a retransmission request, a
//!   snapshot login or a WebSocket request wakes the venue through its
//!   socket, and a venue with nothing to serve and nothing timed makes no
//!   wake-ups at all: on a host whose every core an engine thread spins
//!   on, each wake-up is a preemption of an engine thread. One thread,
//!   never more.
//! - a flow that is read on an interval ([`MarketFlow::poll_interval_ns`],
//!   the board an in-process engine publishes its market on) is read at
//!   most that often, and its moves do not count as work: the engine beside
//!   it publishes a top per event. Its timer is armed only while something
//!   depends on the market between two FIX messages: an ITCH or WebSocket
//!   output that publishes it, or a session order that could trade as it
//!   moves. A board rings the venue's doorbell itself when a top reaches
//!   the price of a resting session order (the venue tells it those prices
//!   after every change, [`MarketFlow::watch_prices`]), so then the timer
//!   is armed only after such a ring, or every [`WATCH_FALLBACK_NS`] while
//!   orders rest (the board's writer does not fence, so a ring can be
//!   missed in a window of nanoseconds; the fallback bounds what such a
//!   miss costs). Otherwise the board is read, if a
//!   read is due, when the next FIX message wakes the venue, before the
//!   message is handled: an order still meets a top at most one interval
//!   old.
//! - a flow read on every iteration (a walk paced by its caller's clock)
//!   says when its next move is due ([`MarketFlow::next_move_in_ns`]), and
//!   while the market moves the wait ends then: a walk at 1,000 moves a
//!   second wakes the venue about 1,000 times a second, not 50,000 (it
//!   bounded every wait by [`IDLE_SLEEP`], which a flow that cannot tell
//!   still does). A move is late by the wake-up's latency, as it was; its
//!   venue time is its due time. A timer due within [`WAIT_MIN_NS`] (2 µs;
//!   every gap of a walk faster than 500,000 moves a second) is not waited
//!   for in `ppoll`: the thread spins until it is due and goes round, since
//!   a `ppoll` and the wake-up after it cost more than the gap. Held (until the engine reads, or by
//!   [`VenueCommand::Hold`]) a walk is not read, so it sets no timer: the
//!   release rings the doorbell.
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
use crate::wait::{Doorbell, Readiness};
use crate::ws::{WsOut, WsOutCounters};
use genesis_io::venue::{BookEvent, MatchingEngine};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The longest wait of a venue whose flow is read on every iteration but
/// cannot tell when its next move is due
/// ([`MarketFlow::next_move_in_ns`] is `None`) while its market moves.
pub const IDLE_SLEEP: Duration = Duration::from_micros(20);

/// A wait whose earliest timer is due sooner than this is not made: the
/// thread spins until the timer is due, then goes round again (polling its
/// sockets, reading the flow).
/// A `ppoll` that blocks costs the venue a syscall, a switch out and a
/// switch back in on a timer interrupt (µs of CPU on a small VM, and the
/// wake-up is late by up to the thread's timer slack, 50 µs by default),
/// more than such a gap. Kept short because the spin is CPU the engine's
/// threads lose: with 5 µs (and going round at once instead of spinning),
/// a walk at 100,000 moves a second (10 µs apart) on a loaded 2-vCPU host
/// never waited at all, 590 ms of the venue's CPU in 2 s against 277 ms
/// with the old 20 µs waits. With 2 µs only a walk faster than 500,000
/// moves a second keeps the venue busy between its moves, as it keeps it
/// busy handling them.
pub const WAIT_MIN_NS: u64 = 2_000;

/// While session orders rest on a board that rings, the board is still
/// read this often: a top the doorbell missed (see
/// [`crate::board::TopBoard::watch_prices`]) meets the orders at most this
/// late. 100 wake-ups a second at most, against 1,000 for the interval.
pub const WATCH_FALLBACK_NS: u64 = 10_000_000;

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
    /// Blocking waits after an iteration that did nothing.
    pub waits: u64,
    /// Of those, ended by their timeout rather than a socket or the doorbell.
    pub waits_timed_out: u64,
    /// Iterations that did nothing and spun until the earliest timer (a
    /// walk's next move) instead of a wait: it was due within [`WAIT_MIN_NS`].
    pub waits_spun: u64,
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
    doorbell: Arc<Doorbell>,
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
    /// Ends the simulator's wait.
    doorbell: Arc<Doorbell>,
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
            doorbell: Arc::new(
                Doorbell::new().map_err(|e| format!("the simulator's doorbell: {e}"))?,
            ),
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
            doorbell: shared.doorbell,
            handle: Some(handle),
        })
    }

    /// Lets a held market move (see [`VenueSimSetup::hold_market`]).
    pub fn release_market(&self) {
        self.market_moving.store(true, Ordering::Release);
        self.doorbell.ring();
    }

    /// Queues a command for the simulator's thread (applied in order).
    pub fn command(&self, command: VenueCommand) {
        lock(&self.control.commands).push_back(command);
        self.doorbell.ring();
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
        self.doorbell.ring();
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
    let doorbell = Arc::clone(&shared.doorbell);
    let mut held_for_first_session = shared.held_for_first_session;
    std::thread::Builder::new()
        .name("venue-sim".into())
        .spawn(move || {
            if let Some(itch) = &mut simulator.outputs.itch {
                itch.directory((simulator.now_ns)());
            }
            let mut idle = Idle::new(simulator.flow.poll_interval_ns());
            let flow_rings = simulator.flow.ring_when_reached(Arc::clone(&doorbell));
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
                if flow_rings && (busy || read_flow) {
                    simulator.watch_resting_prices();
                }
                if busy {
                    idle.on_busy();
                } else if !stop.load(Ordering::Acquire) {
                    simulator.wait(&mut idle, market_moving, &doorbell);
                }
            }
            control.store_summary(simulator.fix.summary(&simulator.exchange));
            let mut report = lock(&report);
            (report.loop_iterations, report.flow_polls) = counts;
            report.busy_iterations = idle.busy_iterations;
            (report.waits, report.waits_timed_out) = (idle.waits, idle.waits_timed_out);
            report.waits_spun = idle.waits_spun;
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

/// How the loop waits when an iteration did nothing.
struct Idle {
    /// How often the flow is read (0: every iteration).
    flow_interval_ns: u64,
    /// When the flow is read next (with an interval).
    flow_due_ns: u64,
    /// The descriptors of the wait (reused).
    readiness: Readiness,
    /// Busy iterations and waits so far, for the report.
    busy_iterations: u64,
    waits: u64,
    waits_timed_out: u64,
    waits_spun: u64,
}

impl Idle {
    fn new(flow_interval_ns: u64) -> Idle {
        Idle {
            flow_interval_ns,
            flow_due_ns: 0,
            readiness: Readiness::default(),
            busy_iterations: 0,
            waits: 0,
            waits_timed_out: 0,
            waits_spun: 0,
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

    fn on_busy(&mut self) {
        self.busy_iterations += 1;
    }
}

impl Simulator {
    /// Blocks until a socket it serves or the doorbell is ready, or the
    /// earliest timer ([`Simulator::wait_ns`]) is due; spins until that
    /// timer instead if it is due within [`WAIT_MIN_NS`].
    fn wait(&mut self, idle: &mut Idle, market_moving: bool, doorbell: &Doorbell) {
        let timeout_ns = self.wait_ns(idle, market_moving, (self.now_ns)());
        if let Some(ns) = timeout_ns.filter(|&ns| ns < WAIT_MIN_NS) {
            // Spin until the timer is due, then go round: a round polls
            // every socket and costs µs itself, so going round at once
            // would spend more than the gap.
            idle.waits_spun += 1;
            let until_ns = (self.now_ns)() + ns;
            while (self.now_ns)() < until_ns {
                std::hint::spin_loop();
            }
            return;
        }
        let timeout = timeout_ns.map(Duration::from_nanos);
        let readiness = &mut idle.readiness;
        readiness.clear();
        readiness.readable(doorbell.fd());
        self.fix.list_fds(readiness);
        if let Some(itch) = &self.outputs.itch {
            itch.list_fds(readiness);
        }
        if let Some(ws) = &self.outputs.ws {
            ws.list_fds(readiness);
        }
        idle.waits += 1;
        match readiness.wait(timeout) {
            Ok(true) => doorbell.clear(),
            Ok(false) => idle.waits_timed_out += 1,
            // Not expected (ppoll fails on bad arguments only): pause as
            // the shortest idle wait does rather than spin.
            Err(_) => std::thread::sleep(IDLE_SLEEP),
        }
    }

    /// Tells the flow where the sessions' resting orders are, so it rings
    /// when the market reaches them ([`MarketFlow::ring_when_reached`]).
    fn watch_resting_prices(&mut self) {
        for instrument in 0..self.exchange.instrument_count() {
            let (buy_max, sell_min) = self.exchange.session_resting_prices(instrument);
            self.flow.watch_prices(instrument, buy_max, sell_min);
        }
    }

    /// How long the thread may wait (`None`: until a socket or the
    /// doorbell): the earliest of the flow's next read (a walk's next move,
    /// or [`IDLE_SLEEP`] if it cannot tell; an interval flow only while a market-data output publishes the market, or a session
    /// order rests and the flow cannot ring when the market reaches it or
    /// has rung), the FIX sessions' timers, and the market-data outputs'
    /// timers (the ITCH heartbeat and snapshot deadlines, the WebSocket
    /// diff window).
    fn wait_ns(&self, idle: &Idle, market_moving: bool, now_ns: u64) -> Option<u64> {
        let publishes = self.outputs.itch.is_some() || self.outputs.ws.is_some();
        let flow = if idle.flow_interval_ns == 0 {
            // A held walk is not read: nothing to wake for.
            market_moving.then(|| {
                self.flow
                    .next_move_in_ns()
                    .unwrap_or(IDLE_SLEEP.as_nanos() as u64)
            })
        } else if market_moving
            && (publishes || (self.exchange.session_orders_live() > 0 && self.flow.read_wanted()))
        {
            Some(idle.flow_due_ns.saturating_sub(now_ns))
        } else if market_moving && self.exchange.session_orders_live() > 0 {
            Some(WATCH_FALLBACK_NS.max(idle.flow_due_ns.saturating_sub(now_ns)))
        } else {
            None
        };
        let itch = self
            .outputs
            .itch
            .as_ref()
            .map(|itch| itch.timer_wait_ns(now_ns));
        let ws = self
            .outputs
            .ws
            .as_ref()
            .and_then(|ws| ws.timer_wait_ns(now_ns));
        [flow, itch, ws, self.fix.timer_wait_ns()]
            .into_iter()
            .flatten()
            .min()
    }

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
