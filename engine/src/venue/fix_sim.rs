//! The simulated venue's FIX side: a FIX 4.4 acceptor on a loopback port,
//! polled by the simulator's thread (`venue::sim`), passing the session's
//! orders, cancels and replaces to the exchange's matching engines
//! (`venue::exchange`) and answering with ExecutionReports and
//! OrderCancelRejects. Up to [`SESSIONS_MAX`] sessions at once, each its own
//! participant (they can trade with each other); when one goes away its
//! resting orders are cancelled.
//!
//! It measures tick-to-trade: for every order it receives, its receive time
//! (the kernel's stamp, SO_TIMESTAMPNS, when available) minus the trigger
//! time the engine sends (user tag 5051, else TransactTime(60)): the venue
//! time of the market data that triggered the order.

use crate::adapters::fix::cl_ord_id::{order_id_of, replace_version_of, ClOrdId};
use crate::config::Config;
use crate::event::{venue_reason, Input, RejectedRequest};
use crate::execution::gateway::{OrderRequest as EngineRequest, RequestKind};
use crate::telemetry::metrics::new_histogram;
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};
use crate::venue::exchange::{Exchange, MarketDataOut, Reply, OWNER_SESSION};
use genesis_io::fix::exec_report::{
    CancelRejectResponseTo, ExecKind, ExecType, ExecutionReport, OrdStatus, OrderCancelReject,
};
use genesis_io::fix::order::OrderRequest;
use genesis_io::fix::session::Sender;
use genesis_io::fix::session::{Session, SessionConfig, SessionHandler};
use genesis_io::fix::{InstrumentScale, Lots, Message, Ticks};
use hdrhistogram::Histogram;
use std::collections::HashMap;
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
    /// When the kernel received the bytes being processed, else when they were read.
    arrival_ns: u64,
    /// ClOrdID versions of the sessions' live orders that were replaced.
    versions: HashMap<(u32, u64), OrderVersions>,
}

/// Which ClOrdID of an order (`<id>` is 0, `<id>.r<k>` is k) the venue
/// accepted last, and which one a replace in flight asks for.
#[derive(Clone, Copy, Debug, Default)]
struct OrderVersions {
    accepted: u64,
    requested: Option<u64>,
}

/// The ClOrdID of `version` of `order`.
fn version_id(order: OrderId, version: u64) -> ClOrdId {
    ClOrdId::new(order, (version > 0).then_some((b'r', version)))
}

impl FixAcceptor {
    /// Binds `addr` (port 0 picks a free one); the venue's CompIDs are
    /// `sender_comp_id` (ours) and `target_comp_id` (the engine's).
    pub fn bind(
        config: &Config,
        addr: SocketAddr,
        sender_comp_id: &str,
        target_comp_id: &str,
    ) -> std::io::Result<FixAcceptor> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let scales = config
            .instruments
            .iter()
            .map(|i| InstrumentScale::new(&i.tick_size, &i.lot_size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        let tick_to_trade_ns = Arc::new(Mutex::new(new_histogram()));
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
                // ExecIDs must never repeat, across restarts too (an engine
                // that resumes its journal takes a repeated one for a resent
                // duplicate): they count up from the start time in µs, so a
                // later start is clear of an earlier one unless that one sent
                // more than a million reports per second.
                exec_seq: crate::clock::EpochClock::new().now_ns() / 1_000,
                arrival_ns: 0,
                versions: HashMap::with_capacity(4_096),
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
            let mut handler = Orders {
                router: &mut self.router,
                exchange: &mut *exchange,
                out: &mut *out,
                session: OWNER_SESSION + slot as u32,
            };
            let (read_busy, gone) = connection.read(&mut handler, now_ns);
            busy |= read_busy;
            closed[slot] = gone;
            connection.session.poll_timers(now_ns, &mut handler);
        }
        // Replies wait in the exchange while a session's socket is not taking
        // what it already has: none is encoded into a full buffer and lost.
        let backed_up = self
            .connections
            .iter()
            .flatten()
            .any(|c| c.session.pending_output().len() > OUTPUT_BACKLOG_BYTES_MAX);
        let mut next_reply = || (!backed_up).then(|| exchange.pop_reply()).flatten();
        while let Some(reply) = next_reply() {
            busy = true;
            let slot = reply.session.saturating_sub(OWNER_SESSION) as usize;
            if let Some(Some(connection)) = self.connections.get_mut(slot) {
                self.router.answer(&mut connection.session, &reply, now_ns);
            }
        }
        for (slot, entry) in self.connections.iter_mut().enumerate() {
            let Some(connection) = entry.as_mut() else {
                continue;
            };
            connection.write();
            if closed[slot] || connection.session.disconnect_reason().is_some() {
                let _ = connection.session.on_disconnected();
                *entry = None;
                let owner = OWNER_SESSION + slot as u32;
                self.router
                    .versions
                    .retain(|(session, _), _| *session != owner);
                exchange.session_closed(OWNER_SESSION + slot as u32, now_ns, out);
                busy = true;
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
        let stamped = crate::sys::enable_receive_timestamps(&stream).is_ok();
        session.on_connected(
            now_ns,
            &mut Orders {
                router: &mut self.router,
                exchange,
                out,
                session: OWNER_SESSION + slot as u32,
            },
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
            crate::sys::recv_with_timestamp(&self.stream, self.session.recv_buffer())
        } else {
            self.stream
                .read(self.session.recv_buffer())
                .map(|count| (count, None))
        };
        match received {
            Ok((0, _)) => (false, true),
            Ok((count, stamp)) => {
                handler.router.arrival_ns = stamp.unwrap_or(now_ns);
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

/// Orders arriving on the session go straight into the matcher.
struct Orders<'a> {
    router: &'a mut Router,
    exchange: &'a mut Exchange,
    out: &'a mut dyn MarketDataOut,
    /// The exchange participant this session is.
    session: u32,
}

impl SessionHandler for Orders<'_> {
    fn on_app_message(&mut self, message: &Message<'_>, sender: &mut Sender, now_ns: u64) {
        let symbol = message
            .get(genesis_io::fix::tags::SYMBOL)
            .unwrap_or_default();
        // An unknown symbol is parsed with the first instrument's scale, only
        // to be refused by the exchange (OrdRejReason 1), never dropped.
        let known = self
            .router
            .symbols
            .iter()
            .position(|s| s.as_bytes() == symbol);
        let instrument = known.unwrap_or(self.router.symbols.len());
        let scale = self.router.scales[known.unwrap_or(0)];
        let Ok(Some(request)) = OrderRequest::parse(message, &scale) else {
            return;
        };
        let (kind, cl_ord_id, side, price, qty, transact_ns) = match request {
            OrderRequest::New(o) => (
                RequestKind::New,
                o.cl_ord_id,
                o.side,
                o.price_ticks.map_or(0, |p| p.0),
                o.qty_lots.0,
                o.trigger_ns.unwrap_or(o.transact_time_ns),
            ),
            OrderRequest::Replace(r) => (
                RequestKind::Replace,
                r.orig_cl_ord_id,
                r.order.side,
                r.order.price_ticks.map_or(0, |p| p.0),
                r.order.qty_lots.0,
                r.order.trigger_ns.unwrap_or(r.order.transact_time_ns),
            ),
            OrderRequest::Cancel(c) => (
                RequestKind::Cancel,
                c.orig_cl_ord_id,
                c.side,
                0,
                c.qty_lots.0,
                c.transact_time_ns,
            ),
        };
        let Some(order_id) = order_id_of(cl_ord_id) else {
            return;
        };
        if kind != RequestKind::Cancel && transact_ns > 0 {
            let arrival_ns = if self.router.arrival_ns > 0 {
                self.router.arrival_ns
            } else {
                now_ns
            };
            let mut histogram = self
                .router
                .tick_to_trade_ns
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            histogram.saturating_record(arrival_ns.saturating_sub(transact_ns).max(1));
        }
        // A cancel or replace must name a version of the order this venue
        // accepted; one it never accepted is an unknown order (CxlRejReason 1).
        if kind != RequestKind::New {
            let key = (self.session, order_id.0);
            let accepted = self.router.versions.get(&key).map_or(0, |v| v.accepted);
            if replace_version_of(cl_ord_id).is_none_or(|version| version > accepted) {
                let (new_id, response_to) = match &request {
                    OrderRequest::Replace(r) => {
                        (r.order.cl_ord_id, CancelRejectResponseTo::Replace)
                    }
                    OrderRequest::Cancel(c) => (c.cl_ord_id, CancelRejectResponseTo::Cancel),
                    OrderRequest::New(o) => (o.cl_ord_id, CancelRejectResponseTo::Cancel),
                };
                let reject = OrderCancelReject {
                    order_id: cl_ord_id,
                    cl_ord_id: new_id,
                    orig_cl_ord_id: cl_ord_id,
                    ord_status: OrdStatus::New,
                    response_to,
                    reason: Some(venue_reason::UNKNOWN_ORDER as u64),
                    text: None,
                    poss_dup: false,
                };
                let _ = sender.send_cancel_reject(&reject, now_ns);
                return;
            }
            if let OrderRequest::Replace(r) = &request {
                let requested = replace_version_of(r.order.cl_ord_id);
                self.router.versions.entry(key).or_default().requested = requested;
            }
        }
        let side = if side == genesis_io::fix::order::Side::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        let request = EngineRequest {
            kind,
            order_id,
            instrument: InstrumentId(instrument as u16),
            side,
            price: Price(price),
            qty: Qty(qty),
            ts_trigger_ns: transact_ns,
        };
        self.exchange
            .submit(self.session, request, now_ns, self.out);
    }
}

impl Router {
    /// Turns one of the matcher's replies into a FIX message.
    fn answer(&mut self, session: &mut Session, answer: &Reply, now_ns: u64) {
        let reply = &answer.event;
        let instrument = reply.instrument.index().min(self.scales.len() - 1);
        let scale = self.scales[instrument];
        let symbol = self.symbols[instrument].as_bytes();
        let side = if reply.side == Side::Sell {
            genesis_io::fix::order::Side::Sell
        } else {
            genesis_io::fix::order::Side::Buy
        };
        self.exec_seq += 1;
        let exec_id = ClOrdId::new(crate::units::OrderId(self.exec_seq), None);
        let report =
            |kind,
             exec_type,
             ord_status,
             order: crate::units::OrderId,
             last_qty: i64,
             last_px: i64,
             qty: i64| { (kind, exec_type, ord_status, order, last_qty, last_px, qty) };
        let order_of_reply = match reply.input() {
            Input::OrderAck(ack) => ack.order_id,
            Input::Fill(fill) => fill.order_id,
            Input::CancelAck(order) => order,
            Input::OrderReject(reject) => reject.order_id,
            _ => OrderId(0),
        };
        let key = (answer.session, order_of_reply.0);
        let versions = self.versions.get(&key).copied().unwrap_or_default();
        let fields = match reply.input() {
            Input::OrderAck(ack) if answer.replaced => report(
                ExecKind::Replaced,
                ExecType::Replaced,
                if answer.cum_qty > 0 {
                    OrdStatus::PartiallyFilled
                } else {
                    OrdStatus::New
                },
                ack.order_id,
                0,
                0,
                ack.qty.0,
            ),
            Input::OrderAck(ack) => report(
                ExecKind::New,
                ExecType::New,
                OrdStatus::New,
                ack.order_id,
                0,
                0,
                ack.qty.0,
            ),
            Input::Fill(fill) if answer.leaves_qty == 0 => report(
                ExecKind::Fill,
                ExecType::Trade,
                OrdStatus::Filled,
                fill.order_id,
                fill.qty.0,
                fill.price.0,
                0,
            ),
            Input::Fill(fill) => report(
                ExecKind::PartialFill,
                ExecType::Trade,
                OrdStatus::PartiallyFilled,
                fill.order_id,
                fill.qty.0,
                fill.price.0,
                0,
            ),
            Input::CancelAck(order) => report(
                ExecKind::Cancelled,
                ExecType::Canceled,
                OrdStatus::Canceled,
                order,
                0,
                0,
                0,
            ),
            Input::OrderReject(reject) if reject.request == RejectedRequest::New => report(
                ExecKind::Rejected,
                ExecType::Rejected,
                OrdStatus::Rejected,
                reject.order_id,
                0,
                0,
                0,
            ),
            Input::OrderReject(reject) => {
                let id = version_id(reject.order_id, versions.accepted);
                let response_to = if reject.request == RejectedRequest::Cancel {
                    CancelRejectResponseTo::Cancel
                } else {
                    CancelRejectResponseTo::Replace
                };
                let requested = versions.requested.unwrap_or(versions.accepted);
                let new_id = version_id(reject.order_id, requested);
                if let Some(entry) = self.versions.get_mut(&key) {
                    entry.requested = None;
                }
                if reject.venue_reason == venue_reason::UNKNOWN_ORDER {
                    self.versions.remove(&key);
                }
                let cancel_reject = OrderCancelReject {
                    order_id: id.as_bytes(),
                    cl_ord_id: new_id.as_bytes(),
                    orig_cl_ord_id: id.as_bytes(),
                    ord_status: OrdStatus::New,
                    response_to,
                    reason: Some(reject.venue_reason.max(0) as u64),
                    text: None,
                    poss_dup: false,
                };
                let _ = session.sender().send_cancel_reject(&cancel_reject, now_ns);
                return;
            }
            _ => return,
        };
        let (kind, exec_type, ord_status, order, last_qty, last_px, qty) = fields;
        // OrdRejReason(103) of a refused new order.
        let ord_rej_reason = match reply.input() {
            Input::OrderReject(reject) => Some(reject.venue_reason.max(0) as u64),
            _ => None,
        };
        // The order's ClOrdIDs: a replace ack names the new version and the
        // one it replaced; everything else the version now accepted.
        let (current, previous) = if answer.replaced {
            let new = versions.requested.unwrap_or(versions.accepted + 1);
            let entry = self.versions.entry(key).or_default();
            entry.accepted = new;
            entry.requested = None;
            (new, Some(versions.accepted))
        } else {
            (versions.accepted, None)
        };
        let closed = matches!(reply.input(), Input::CancelAck(_) | Input::OrderReject(_))
            || (matches!(reply.input(), Input::Fill(_)) && answer.leaves_qty == 0);
        if closed {
            self.versions.remove(&key);
        }
        let base = ClOrdId::new(order, None);
        let id = version_id(order, current);
        let orig = previous.map(|version| version_id(order, version));
        let report = ExecutionReport {
            kind,
            exec_type,
            ord_status,
            order_id: base.as_bytes(),
            exec_id: exec_id.as_bytes(),
            cl_ord_id: Some(id.as_bytes()),
            orig_cl_ord_id: orig.as_ref().map(ClOrdId::as_bytes),
            symbol: Some(symbol),
            side,
            order_qty_lots: (qty > 0).then_some(Lots(qty)),
            last_qty_lots: Lots(last_qty),
            last_px_ticks: Ticks(last_px),
            cum_qty_lots: Lots(answer.cum_qty),
            leaves_qty_lots: Lots(answer.leaves_qty),
            avg_px_text: b"0",
            ord_rej_reason,
            text: None,
            poss_dup: false,
        };
        let _ = session
            .sender()
            .send_execution_report(&report, &scale, now_ns);
    }
}
