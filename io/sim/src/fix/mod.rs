//! The simulated venue's FIX side: a FIX 4.4 acceptor on a loopback port,
//! polled by the simulator's thread ([`crate::venue`]), passing the
//! sessions' orders, cancels and replaces to the exchange's matching
//! engines ([`crate::exchange`], [`orders`]) and answering with
//! ExecutionReports and OrderCancelRejects ([`reports`]). Up to
//! [`SESSIONS_MAX`] sessions at once, each its own participant (they can
//! trade with each other); when one goes away its resting orders are
//! cancelled. ClOrdIDs are opaque text ([`ids`]).
//!
//! It measures tick-to-trade: for every order it receives, its receive time
//! (the kernel's stamp, SO_TIMESTAMPNS, when available) minus the trigger
//! time the client sends (user tag 5051, else TransactTime(60)): the venue
//! time of the market data that triggered the order. Kernel stamps are
//! CLOCK_REALTIME, so the clock the venue is given must be too (the
//! caller's choice; `genesis` gives it CLOCK_REALTIME).

mod ids;
mod orders;
mod reports;

use crate::config::SimConfig;
use crate::exchange::{Exchange, MarketDataOut, OWNER_SESSION};
use genesis_io::fix::session::{Session, SessionConfig};
use genesis_io::fix::InstrumentScale;
use hdrhistogram::Histogram;
use ids::Ids;
use orders::Orders;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Sessions the simulator serves at once.
pub const SESSIONS_MAX: usize = 8;

/// Unsent bytes a session may hold before replies wait in the exchange
/// (the session's output buffer holds 1 MiB).
const OUTPUT_BACKLOG_BYTES_MAX: usize = 256 << 10;

/// The simulator's FIX side: a listener on loopback and up to
/// [`SESSIONS_MAX`] sessions, each its own participant on the exchange.
pub struct FixAcceptor {
    listener: TcpListener,
    session_config: SessionConfig,
    /// Slot `n` is the exchange's participant `OWNER_SESSION + n`.
    connections: Vec<Option<Connection>>,
    router: Router,
    /// Receive time at the venue minus the trigger's venue time, per order (ns).
    pub tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
}

struct Connection {
    stream: TcpStream,
    session: Session,
    /// Kernel receive stamps on (SO_TIMESTAMPNS), so that the sleeping
    /// simulator thread does not add its sleep to tick-to-trade.
    stamped: bool,
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
    /// The ClOrdIDs of the sessions' live orders.
    ids: Ids,
}

impl FixAcceptor {
    /// Binds `addr` (port 0 picks a free one); the venue's CompIDs are
    /// `sender_comp_id` (ours) and `target_comp_id` (the client's).
    /// ExecIDs count up from `exec_id_seed`, which must be clear of any
    /// earlier run's (a client that resumes takes a repeated ExecID for a
    /// resent duplicate): the start time in µs is, unless an earlier run
    /// sent more than a million reports per second.
    pub fn bind(
        config: &SimConfig,
        addr: SocketAddr,
        sender_comp_id: &str,
        target_comp_id: &str,
        exec_id_seed: u64,
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
        Ok(FixAcceptor {
            listener,
            session_config: SessionConfig::acceptor(sender_comp_id, target_comp_id),
            connections: (0..SESSIONS_MAX).map(|_| None).collect(),
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
                ids: Ids::new(SESSIONS_MAX),
            },
            tick_to_trade_ns,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Sessions connected now.
    pub fn connected_count(&self) -> usize {
        self.connections.iter().flatten().count()
    }

    /// Accepts a connection into a free slot, reads and handles what each
    /// session sent, sends the exchange's replies. True if anything happened.
    pub fn poll(
        &mut self,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> bool {
        let mut busy = self.accept(exchange, out, now_ns);
        let mut closed = [false; SESSIONS_MAX];
        for (slot, connection) in self.connections.iter_mut().enumerate() {
            let Some(connection) = connection.as_mut() else {
                continue;
            };
            let mut handler = Orders::new(&mut self.router, &mut *exchange, &mut *out, slot);
            let (read_busy, gone) = connection.read(&mut handler, now_ns);
            busy |= read_busy;
            closed[slot] = gone;
            connection.session.poll_timers(now_ns, &mut handler);
        }
        busy |= self.send_replies(exchange, now_ns);
        for (slot, entry) in self.connections.iter_mut().enumerate() {
            let Some(connection) = entry.as_mut() else {
                continue;
            };
            connection.write();
            if closed[slot] || connection.session.disconnect_reason().is_some() {
                let _ = connection.session.on_disconnected();
                *entry = None;
                self.router.ids.clear_session(slot);
                exchange.session_closed(OWNER_SESSION + slot as u32, now_ns, out);
                busy = true;
            }
        }
        busy
    }

    /// Encodes the exchange's replies into their sessions. Replies wait in
    /// the exchange while a session's socket is not taking what it already
    /// has: none is encoded into a full buffer and lost.
    fn send_replies(&mut self, exchange: &mut Exchange, now_ns: u64) -> bool {
        let backed_up = self
            .connections
            .iter()
            .flatten()
            .any(|c| c.session.pending_output().len() > OUTPUT_BACKLOG_BYTES_MAX);
        let mut busy = false;
        let mut next_reply = || (!backed_up).then(|| exchange.pop_reply()).flatten();
        while let Some(reply) = next_reply() {
            busy = true;
            let slot = reply.session.saturating_sub(OWNER_SESSION) as usize;
            if let Some(Some(connection)) = self.connections.get_mut(slot) {
                self.router
                    .answer(&mut connection.session, slot, &reply, now_ns);
            }
        }
        busy
    }

    fn accept(
        &mut self,
        exchange: &mut Exchange,
        out: &mut dyn MarketDataOut,
        now_ns: u64,
    ) -> bool {
        // A connection waits in the listen backlog while every slot is taken.
        let Some(slot) = self.connections.iter().position(Option::is_none) else {
            return false;
        };
        let Ok((stream, _)) = self.listener.accept() else {
            return false;
        };
        let Ok(mut session) = Session::new(self.session_config.clone(), None) else {
            return false;
        };
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let _ = stream.set_nodelay(true);
        let stamped = genesis_io::net::enable_rx_stamps(&stream).is_kernel();
        assert_eq!(
            self.router.ids.order_count(slot),
            0,
            "a free slot starts with no orders"
        );
        session.on_connected(
            now_ns,
            &mut Orders::new(&mut self.router, exchange, out, slot),
        );
        self.connections[slot] = Some(Connection {
            stream,
            session,
            stamped,
        });
        true
    }
}

impl Connection {
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
