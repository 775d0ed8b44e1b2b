//! The simulated venue's FIX side: a FIX 4.4 acceptor on a loopback port,
//! polled by the simulator's thread ([`crate::venue`]), passing the
//! sessions' orders, cancels and replaces to the exchange's matching
//! engines ([`crate::exchange`], [`orders`]), answering with
//! ExecutionReports and OrderCancelRejects ([`reports`]) and status
//! requests with ExecType=I reports ([`status`]). Up to [`SESSIONS_MAX`]
//! sessions at once. Each SenderCompID that logs on is a participant
//! ([`participants`]); when its session goes away its resting orders are
//! cancelled, or, with `cancel_on_disconnect` off, kept for its return.
//! A connection that has not sent its Logon within [`LOGON_WAIT_NS`] is
//! closed, freeing its slot; one whose first message is not a Logon is
//! closed at once. ClOrdIDs are opaque text ([`ids`]).
//!
//! It measures tick-to-trade: for every order it receives, its receive time
//! (the kernel's stamp, SO_TIMESTAMPNS, when available) minus the trigger
//! time the client sends (user tag 5051, else TransactTime(60)): the venue
//! time of the market data that triggered the order. Kernel stamps are
//! CLOCK_REALTIME, so the clock the venue is given must be too (the
//! caller's choice; `genesis` gives it CLOCK_REALTIME): subtracting a TSC
//! time from a CLOCK_REALTIME stamp, which drift apart, gave negative
//! differences, once clamped to 1 ns. A receive time still before its
//! trigger (a clock the venue does not share) is counted, never recorded.

mod connection;
mod ids;
mod orders;
mod participants;
mod reports;
mod status;
mod summary;
#[cfg(test)]
mod tests;

use crate::config::SimConfig;
use crate::exchange::{Exchange, MarketDataOut};
use crate::wait::Readiness;
use connection::{peek_logon, Peek, Pending, LOGON_WAIT_NS};
use genesis_io::fix::session::{Session, SessionConfig};
use genesis_io::fix::InstrumentScale;
use hdrhistogram::Histogram;
use ids::Ids;
use orders::Orders;
use participants::Participants;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
pub use summary::{OpenOrderSummary, ParticipantSummary};

/// Sessions the simulator serves at once.
pub const SESSIONS_MAX: usize = 8;

/// Unsent bytes a session may hold before replies wait in the exchange
/// (the session's output buffer holds 1 MiB).
const OUTPUT_BACKLOG_BYTES_MAX: usize = 256 << 10;

/// The longest the simulator waits without polling a live session's
/// timers (heartbeats, TestRequests, logout timeouts): a sixteenth of its
/// heartbeat interval, within these bounds.
const TIMER_WAIT_NS_MIN: u64 = 1_000_000;
const TIMER_WAIT_NS_MAX: u64 = 250_000_000;
/// The longest wait while a connection has yet to send its Logon (closed
/// after [`LOGON_WAIT_NS`]).
const LOGON_TIMER_WAIT_NS: u64 = 100_000_000;

/// The simulator's FIX side: a listener on loopback, up to
/// [`SESSIONS_MAX`] connections, and the participants they log on as.
pub struct FixAcceptor {
    listener: TcpListener,
    /// The venue's CompID; a Logon must name it as TargetCompID.
    venue_comp_id: String,
    session_config: SessionConfig,
    connections: Vec<Option<Connection>>,
    participants: Participants,
    /// Cancel a participant's resting orders when its session goes.
    cancel_on_disconnect: bool,
    router: Router,
    /// Receive time at the venue minus the trigger's venue time, per order (ns).
    pub tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
}

enum Connection {
    /// Waiting for the Logon that says who it is.
    Logon(Pending),
    /// Boxed: a session is large, and slots wait empty or pending most of the time.
    Live(Box<Live>),
}

struct Live {
    stream: TcpStream,
    session: Session,
    participant: usize,
    /// Kernel receive stamps on (SO_TIMESTAMPNS), so that the sleeping
    /// simulator thread does not add its sleep to tick-to-trade.
    stamped: bool,
    /// The peer went away.
    gone: bool,
}

/// What the session handler needs besides the session.
struct Router {
    symbols: Vec<String>,
    scales: Vec<InstrumentScale>,
    tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
    /// The last ExecID sent.
    exec_seq: u64,
    /// The ExecID's text (reused).
    exec_id: String,
    /// When the kernel received the bytes being processed, else when they were read.
    arrival_ns: u64,
    /// Orders that arrived (by the venue's clock) before their trigger time.
    tick_to_trade_before_trigger: u64,
    /// The ClOrdIDs of the participants' orders.
    ids: Ids,
}

impl FixAcceptor {
    /// Binds `addr` (port 0 picks a free one); the venue's CompID is
    /// `sender_comp_id`; `target_comp_id` names the first participant
    /// (any SenderCompID may log on). ExecIDs count up from `exec_id_seed`,
    /// which must be clear of any earlier run's (a client that resumes takes
    /// a repeated ExecID for a resent duplicate): the start time in µs is,
    /// unless an earlier run sent more than a million reports per second.
    pub fn bind(
        config: &SimConfig,
        addr: SocketAddr,
        (sender_comp_id, target_comp_id): (&str, &str),
        exec_id_seed: u64,
        cancel_on_disconnect: bool,
    ) -> std::io::Result<FixAcceptor> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let scales = config
            .instruments
            .iter()
            .map(|i| InstrumentScale::new(&i.tick_size, &i.lot_size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        assert!(
            !scales.is_empty(),
            "the venue lists at least one instrument"
        );
        let tick_to_trade_ns = Arc::new(Mutex::new(genesis_histlog::new_latency_histogram()));
        let mut session_config = SessionConfig::acceptor(sender_comp_id, target_comp_id);
        session_config.send_trigger_time = true;
        Ok(FixAcceptor {
            listener,
            venue_comp_id: sender_comp_id.to_owned(),
            session_config,
            connections: (0..SESSIONS_MAX).map(|_| None).collect(),
            participants: Participants::default(),
            cancel_on_disconnect,
            router: Router {
                symbols: config
                    .instruments
                    .iter()
                    .map(|i| i.symbol.clone())
                    .collect(),
                scales,
                tick_to_trade_ns: Arc::clone(&tick_to_trade_ns),
                exec_seq: exec_id_seed,
                exec_id: String::with_capacity(24),
                arrival_ns: 0,
                tick_to_trade_before_trigger: 0,
                ids: Ids::new(SESSIONS_MAX),
            },
            tick_to_trade_ns,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Orders whose receive time, in the venue's clock, was before their
    /// trigger time (left out of tick-to-trade).
    pub fn tick_to_trade_before_trigger(&self) -> u64 {
        self.router.tick_to_trade_before_trigger
    }

    /// Sessions logged on now.
    pub fn connected_count(&self) -> usize {
        self.connections
            .iter()
            .filter(|c| matches!(c, Some(Connection::Live(_))))
            .count()
    }

    /// Lists what the simulator's wait wakes for: the listener while a
    /// slot is free, every connection's input, and its output while bytes
    /// wait for room in the socket.
    pub fn list_fds(&self, readiness: &mut Readiness) {
        if self.connections.iter().any(Option::is_none) {
            readiness.readable(self.listener.as_raw_fd());
        }
        for connection in self.connections.iter().flatten() {
            match connection {
                Connection::Logon(pending) => readiness.readable(pending.stream.as_raw_fd()),
                Connection::Live(live) => readiness.readable_or_writable(
                    live.stream.as_raw_fd(),
                    !live.session.pending_output().is_empty(),
                ),
            }
        }
    }

    /// How long the simulator may wait before the sessions' timers need a
    /// poll (`None`: no connection, nothing timed).
    pub fn timer_wait_ns(&self) -> Option<u64> {
        self.connections
            .iter()
            .flatten()
            .map(|connection| match connection {
                Connection::Logon(_) => LOGON_TIMER_WAIT_NS,
                Connection::Live(live) => (live.session.heartbeat_interval_ns() / 16)
                    .clamp(TIMER_WAIT_NS_MIN, TIMER_WAIT_NS_MAX),
            })
            .min()
    }

    /// Accepts a connection into a free slot, reads and handles what each
    /// session sent, sends the exchange's replies. True if anything happened.
    pub fn poll(
        &mut self,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> bool {
        let mut busy = self.accept(now_ns);
        for slot in 0..SESSIONS_MAX {
            busy |= self.read_slot(slot, exchange, out, now_ns);
        }
        busy |= self.send_replies(exchange, now_ns);
        for slot in 0..SESSIONS_MAX {
            busy |= self.flush_slot(slot, exchange, out, now_ns);
        }
        busy
    }

    /// Reads what one connection sent: a Logon being assembled, or a session's messages.
    fn read_slot(
        &mut self,
        slot: usize,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> bool {
        let (read, peek, expired) = match &mut self.connections[slot] {
            None => return false,
            Some(Connection::Live(live)) => {
                let mut handler = Orders::new(&mut self.router, exchange, out, live.participant);
                let (busy, gone) = live.read(&mut handler, now_ns);
                live.gone |= gone;
                live.session.poll_timers(now_ns, &mut handler);
                return busy;
            }
            Some(Connection::Logon(pending)) => {
                let read = pending.read();
                let expired = now_ns.saturating_sub(pending.since_ns) > LOGON_WAIT_NS;
                (read, peek_logon(&pending.bytes), expired)
            }
        };
        match (read, peek) {
            (
                _,
                Peek::Logon {
                    sender_comp_id,
                    target_comp_id,
                },
            ) => self.log_on(
                slot,
                (&sender_comp_id, &target_comp_id),
                exchange,
                out,
                now_ns,
            ),
            (Ok(()), Peek::Incomplete) if !expired => false,
            _ => {
                self.connections[slot] = None;
                true
            }
        }
    }

    /// The Logon is in: the connection becomes its participant's session.
    fn log_on(
        &mut self,
        slot: usize,
        (sender_comp_id, target_comp_id): (&str, &str),
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> bool {
        let Some(Connection::Logon(pending)) = self.connections[slot].take() else {
            return false;
        };
        if target_comp_id != self.venue_comp_id {
            return true;
        }
        let Some(participant) = self.participants.attach(sender_comp_id, slot) else {
            return true;
        };
        let config = SessionConfig {
            target_comp_id: sender_comp_id.to_owned(),
            ..self.session_config.clone()
        };
        let Ok(mut session) = Session::new(config, None) else {
            self.participants.detach(participant);
            return true;
        };
        let mut handler = Orders::new(&mut self.router, exchange, out, participant);
        session.on_connected(now_ns, &mut handler);
        handler.set_arrival_ns(now_ns);
        session.on_bytes(&pending.bytes, now_ns, &mut handler);
        self.connections[slot] = Some(Connection::Live(Box::new(Live {
            stream: pending.stream,
            session,
            participant,
            stamped: pending.stamped,
            gone: false,
        })));
        true
    }

    /// Writes a session's output; closes the connection if it is done.
    fn flush_slot(
        &mut self,
        slot: usize,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> bool {
        let Some(Connection::Live(live)) = &mut self.connections[slot] else {
            return false;
        };
        live.write();
        if live.gone || live.session.disconnect_reason().is_some() {
            self.close(slot, exchange, out, now_ns);
            return true;
        }
        false
    }

    /// Drops the connection in `slot` (no Logout); its participant's
    /// orders are cancelled or kept, as configured.
    fn close(
        &mut self,
        slot: usize,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) {
        let Some(Connection::Live(mut live)) = self.connections[slot].take() else {
            self.connections[slot] = None;
            return;
        };
        let _ = live.session.on_disconnected();
        self.participants.detach(live.participant);
        if self.cancel_on_disconnect {
            self.router.ids.clear_session(live.participant);
            exchange.session_closed(Participants::owner(live.participant), now_ns, out);
        }
    }

    /// Drops every connection without Logout, as a network failure would.
    /// Returns how many sessions were dropped.
    pub fn drop_connections(
        &mut self,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> usize {
        let live = self.connected_count();
        for slot in 0..SESSIONS_MAX {
            self.close(slot, exchange, out, now_ns);
        }
        live
    }

    /// Encodes the exchange's replies into their sessions, or records them
    /// for participants that are away. Replies wait in the exchange while a
    /// session's socket is not taking what it already has: none is encoded
    /// into a full buffer and lost.
    pub(crate) fn send_replies(&mut self, exchange: &mut Exchange, now_ns: u64) -> bool {
        let backed_up = self.connections.iter().flatten().any(|c| match c {
            Connection::Live(live) => {
                live.session.pending_output().len() > OUTPUT_BACKLOG_BYTES_MAX
            }
            Connection::Logon(_) => false,
        });
        let mut busy = false;
        let mut next_reply = || (!backed_up).then(|| exchange.pop_reply()).flatten();
        while let Some(reply) = next_reply() {
            busy = true;
            let participant = Participants::index_of_owner(reply.session);
            let slot = self.participants.get(participant).and_then(|p| p.slot);
            let session = match slot.and_then(|slot| self.connections[slot].as_mut()) {
                Some(Connection::Live(live)) => Some(&mut live.session),
                _ => None,
            };
            self.router.answer(session, participant, &reply, now_ns);
        }
        busy
    }

    fn accept(&mut self, now_ns: u64) -> bool {
        // A connection waits in the listen backlog while every slot is taken.
        let Some(slot) = self.connections.iter().position(Option::is_none) else {
            return false;
        };
        let Ok((stream, _)) = self.listener.accept() else {
            return false;
        };
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let _ = stream.set_nodelay(true);
        let stamped = genesis_io::net::enable_rx_stamps(&stream).is_kernel();
        self.connections[slot] = Some(Connection::Logon(Pending {
            stream,
            bytes: Vec::with_capacity(connection::LOGON_BYTES_MAX),
            since_ns: now_ns,
            stamped,
        }));
        true
    }
}

impl Live {
    /// Reads what arrived and hands it to the session: (anything read, peer gone).
    fn read(&mut self, handler: &mut Orders<'_>, now_ns: u64) -> (bool, bool) {
        let received = if self.stamped {
            genesis_io::net::recv_stamped(&self.stream, self.session.recv_buffer())
        } else {
            self.stream
                .read(self.session.recv_buffer())
                .map(|count| (count, None))
        };
        match received {
            Ok((0, _)) => (false, true),
            Ok((count, stamp)) => {
                handler.set_arrival_ns(stamp.unwrap_or(now_ns));
                self.session.on_received(count, now_ns, handler);
                (true, false)
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => (false, false),
            Err(_) => (false, true),
        }
    }

    /// Writes what the session has to send, as far as the socket takes it.
    fn write(&mut self) {
        while !self.session.pending_output().is_empty() {
            match self.stream.write(self.session.pending_output()) {
                Ok(written) if written > 0 => self.session.consume_output(written),
                _ => break,
            }
        }
    }
}
