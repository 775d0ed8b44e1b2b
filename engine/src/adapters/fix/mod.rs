//! The engine's FIX 4.4 initiator, polled by ingest as its venue lane.
//!
//! On each poll it (re)connects with backoff, reads the socket into the
//! session (acks, fills and rejects become engine events in a preallocated
//! outbox), runs the session's timers (heartbeats, test requests), sends the
//! requests execution queued, and writes what the session has to send
//! without blocking: a partial write stays in the session's buffer.
//!
//! Requests queued while the session is not logged on wait in a bounded
//! list; if it fills, the oldest request is answered with a local reject
//! (venue reason `VENUE_REJECT_NOT_CONNECTED`) so neither strategy nor
//! execution waits forever on an order that never left. A new order or
//! replace that waited longer than `venue.fix.pending_age_max_ms` is
//! rejected the same way when the session comes up, rather than sent on
//! market data that old; cancels always go.

pub mod cl_ord_id;

use crate::clock::EpochClock;
use crate::config::{Config, FixVenueConfig};
use crate::event::{venue_reason, Event, Fill, Input, OrderAck, OrderReject, RejectedRequest};
use crate::execution::gateway::{OrderRequest, RequestKind};
use crate::ingest::source::Source;
use crate::recent::RecentMap;
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use cl_ord_id::{id_of_text, order_id_of, replace_version_of, ClOrdId};
use crossbeam_queue::ArrayQueue;
use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::exec_report::{CancelRejectResponseTo, ExecKind, OrderUpdate};
use genesis_io::fix::order::{
    NewOrderSingle, OrdType, OrderCancelReplaceRequest, OrderCancelRequest, TimeInForce,
};
use genesis_io::fix::seq_store::SeqStore;
use genesis_io::fix::session::{
    Session, SessionConfig, SessionEvent, SessionHandler, SessionState,
};
use genesis_io::fix::{InstrumentScale, Lots, Message, Ticks};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Reason code of a reject the client makes itself for a request it could not send.
pub const VENUE_REJECT_NOT_CONNECTED: i64 = -1;
const PENDING_MAX: usize = 4_096;
const OUTBOX_MAX: usize = 8_192;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixClientCounters {
    pub connects: u64,
    pub disconnects: u64,
    pub logons: u64,
    pub requests_sent: u64,
    pub rejected_not_connected: u64,
    /// New orders and replaces that waited too long for the session (also in `rejected_not_connected`).
    pub requests_expired: u64,
    pub reports_unparsed: u64,
    pub reports_ignored: u64,
}

/// Orders whose versions are remembered, preallocated.
const VERSIONS_CAPACITY: usize = 1 << 16;

/// The ClOrdID versions of one order: the one the venue last accepted (its
/// OrigClOrdID for the next cancel or replace) and the last one sent (a
/// replace the venue refuses leaves `accepted` where it was).
#[derive(Clone, Copy, Debug, Default)]
struct Versions {
    accepted: u64,
    sent: u64,
}

/// What the session hands the engine while reading.
struct Inbox<'a> {
    outbox: &'a mut VecDeque<Event>,
    versions: &'a mut FxHashMap<u64, Versions>,
    instruments: &'a RecentMap<u16>,
    scales: &'a [InstrumentScale],
    symbols: &'a [String],
    counters: &'a mut FixClientCounters,
    logged_on: &'a mut bool,
}

impl Inbox<'_> {
    /// The instrument a report is about: its Symbol(55), or the order's
    /// (an OrderCancelReject carries no symbol).
    fn instrument_of(&self, symbol: Option<&[u8]>, cl_ord_id: Option<&[u8]>) -> Option<usize> {
        if let Some(symbol) = symbol {
            return self.symbols.iter().position(|s| s.as_bytes() == symbol);
        }
        let order = cl_ord_id.and_then(order_id_of)?;
        self.instruments.get(order.0).map(usize::from)
    }

    /// A replace the venue accepted makes its ClOrdID the order's current
    /// one; an order that closed is forgotten.
    fn track_versions(&mut self, kind: ExecKind, order: OrderId, cl_ord_id: Option<&[u8]>) {
        match kind {
            ExecKind::Replaced => {
                let version = cl_ord_id.and_then(replace_version_of);
                if let (Some(version), Some(versions)) = (version, self.versions.get_mut(&order.0))
                {
                    versions.accepted = version;
                }
            }
            ExecKind::Fill | ExecKind::Cancelled | ExecKind::Expired | ExecKind::Rejected => {
                self.versions.remove(&order.0);
            }
            _ => {}
        }
    }

    fn push(&mut self, instrument: usize, side: Side, input: Input, ts_venue_ns: u64) {
        if self.outbox.len() == OUTBOX_MAX {
            // Bounded by construction: ingest drains the outbox every poll
            // and the session reads at most one socket buffer per poll.
            tracing::error!("FIX client outbox full: a venue message is dropped");
            return;
        }
        let mut event = Event::new(InstrumentId(instrument as u16), side, input);
        event.ts_venue_ns = ts_venue_ns;
        self.outbox.push_back(event);
    }
}

fn side_of(side: genesis_io::fix::order::Side) -> Side {
    match side {
        genesis_io::fix::order::Side::Buy => Side::Buy,
        _ => Side::Sell,
    }
}

impl SessionHandler for Inbox<'_> {
    fn on_app_message(
        &mut self,
        message: &Message<'_>,
        _sender: &mut genesis_io::fix::session::Sender,
        now_ns: u64,
    ) {
        let symbol = message.get(genesis_io::fix::tags::SYMBOL);
        let order = message
            .get(genesis_io::fix::tags::ORIG_CL_ORD_ID)
            .or_else(|| message.get(genesis_io::fix::tags::CL_ORD_ID));
        let Some(instrument) = self.instrument_of(symbol, order) else {
            self.counters.reports_ignored += 1;
            tracing::warn!(symbol = ?symbol.map(String::from_utf8_lossy), "FIX report for a symbol not configured");
            return;
        };
        let scale = self.scales[instrument];
        let update = match OrderUpdate::parse(message, &scale) {
            Ok(Some(update)) => update,
            Ok(None) => {
                self.counters.reports_ignored += 1;
                return;
            }
            Err(err) => {
                self.counters.reports_unparsed += 1;
                tracing::warn!(%err, "unparsable FIX order update");
                return;
            }
        };
        match update {
            OrderUpdate::Execution(report) => {
                let order = report.cl_ord_id.and_then(order_id_of).unwrap_or(OrderId(0));
                let original = report.orig_cl_ord_id.and_then(order_id_of).unwrap_or(order);
                let side = side_of(report.side);
                let input = match report.kind {
                    ExecKind::New => Input::OrderAck(OrderAck {
                        order_id: order,
                        venue_order_id: id_of_text(report.order_id),
                        price: Price(0),
                        qty: Qty(report.order_qty_lots.map_or(0, |l| l.0)),
                    }),
                    ExecKind::Replaced => Input::OrderAck(OrderAck {
                        order_id: original,
                        venue_order_id: id_of_text(report.order_id),
                        price: Price(0),
                        qty: Qty(report.order_qty_lots.map_or(0, |l| l.0)),
                    }),
                    ExecKind::PartialFill | ExecKind::Fill => Input::Fill(Fill {
                        order_id: original,
                        exec_id: ExecId(id_of_text(report.exec_id)),
                        price: Price(report.last_px_ticks.0),
                        qty: Qty(report.last_qty_lots.0),
                    }),
                    ExecKind::Cancelled | ExecKind::Expired => Input::CancelAck(original),
                    ExecKind::Rejected => Input::OrderReject(OrderReject {
                        order_id: order,
                        request: RejectedRequest::New,
                        venue_reason: report.ord_rej_reason.map_or(0, |r| r as i64),
                    }),
                    _ => {
                        self.counters.reports_ignored += 1;
                        return;
                    }
                };
                self.track_versions(report.kind, original, report.cl_ord_id);
                self.push(instrument, side, input, now_ns);
            }
            OrderUpdate::CancelReject(reject) => {
                let order = order_id_of(reject.orig_cl_ord_id).unwrap_or(OrderId(0));
                if reject.reason == Some(venue_reason::UNKNOWN_ORDER as u64) {
                    // The order is closed (see `Orders::on_reject`): forget it.
                    self.versions.remove(&order.0);
                }
                let request = match reject.response_to {
                    CancelRejectResponseTo::Cancel => RejectedRequest::Cancel,
                    CancelRejectResponseTo::Replace => RejectedRequest::Replace,
                };
                let input = Input::OrderReject(OrderReject {
                    order_id: order,
                    request,
                    venue_reason: reject.reason.map_or(0, |r| r as i64),
                });
                self.push(instrument, Side::None, input, now_ns);
            }
        }
    }

    fn on_session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::LoggedOn {
                heartbeat_interval_s,
            } => {
                *self.logged_on = true;
                self.counters.logons += 1;
                tracing::info!(heartbeat_interval_s, "FIX session logged on");
            }
            SessionEvent::Disconnect(reason) => tracing::warn!(?reason, "FIX session disconnects"),
            SessionEvent::GapFilled { begin, new_seq_num } => {
                tracing::warn!(
                    begin,
                    new_seq_num,
                    "the venue gap-filled our messages: those orders may not have reached it"
                )
            }
            SessionEvent::RejectReceived {
                ref_seq_num,
                reason,
            } => {
                tracing::warn!(
                    ref_seq_num,
                    ?reason,
                    "the venue rejected one of our messages at session level"
                )
            }
            other => tracing::debug!(?other, "FIX session event"),
        }
    }
}

pub struct FixClient {
    address: SocketAddr,
    session: Session,
    stream: Option<TcpStream>,
    backoff: Backoff,
    reconnect_at_ns: u64,
    requests: Arc<ArrayQueue<OrderRequest>>,
    /// Requests waiting for the session, with when they were queued.
    pending: VecDeque<(OrderRequest, u64)>,
    pending_age_max_ns: u64,
    outbox: VecDeque<Event>,
    scales: Vec<InstrumentScale>,
    symbols: Vec<String>,
    /// Replace count per order, for the ClOrdID of its next version.
    /// ClOrdID versions of orders that were replaced, until they close.
    versions: FxHashMap<u64, Versions>,
    /// Instrument of each recent order, for reports that carry no symbol.
    instruments: RecentMap<u16>,
    cancels_sent: u64,
    logged_on: bool,
    pub counters: FixClientCounters,
}

impl FixClient {
    /// A client for `settings` at `address`, draining `requests`.
    pub fn new(
        config: &Config,
        settings: &FixVenueConfig,
        address: SocketAddr,
        requests: Arc<ArrayQueue<OrderRequest>>,
    ) -> Result<FixClient, genesis_io::fix::FixError> {
        let mut session_config =
            SessionConfig::initiator(&settings.sender_comp_id, &settings.target_comp_id);
        session_config.heartbeat_interval_s = settings.heartbeat_s;
        let store = (!settings.seq_file.as_os_str().is_empty()).then(|| {
            if let Some(parent) = settings.seq_file.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            SeqStore::new(&settings.seq_file)
        });
        let scales = config
            .instruments
            .iter()
            .map(|i| InstrumentScale::new(&i.tick_size, &i.lot_size))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FixClient {
            address,
            session: Session::new(session_config, store)?,
            stream: None,
            backoff: Backoff::new(
                settings.reconnect_min_ms * 1_000_000,
                settings.reconnect_max_ms * 1_000_000,
            ),
            reconnect_at_ns: 0,
            requests,
            pending: VecDeque::with_capacity(PENDING_MAX),
            pending_age_max_ns: settings.pending_age_max_ms * 1_000_000,
            outbox: VecDeque::with_capacity(OUTBOX_MAX),
            scales,
            symbols: config
                .instruments
                .iter()
                .map(|i| i.symbol.clone())
                .collect(),
            versions: {
                // Only open orders that were replaced are here, and risk caps
                // open orders; this room is never outgrown in practice.
                let mut versions = FxHashMap::default();
                versions.reserve(VERSIONS_CAPACITY);
                versions
            },
            instruments: RecentMap::with_capacity(1 << 16),
            cancels_sent: 0,
            logged_on: false,
            counters: FixClientCounters::default(),
        })
    }

    fn inbox(&mut self) -> (&mut Session, Inbox<'_>) {
        (
            &mut self.session,
            Inbox {
                outbox: &mut self.outbox,
                versions: &mut self.versions,
                instruments: &self.instruments,
                scales: &self.scales,
                symbols: &self.symbols,
                counters: &mut self.counters,
                logged_on: &mut self.logged_on,
            },
        )
    }

    fn connect(&mut self, now_ns: u64) {
        if now_ns < self.reconnect_at_ns {
            return;
        }
        match TcpStream::connect_timeout(&self.address, Duration::from_millis(50)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                if stream.set_nonblocking(true).is_err() {
                    return;
                }
                self.counters.connects += 1;
                self.stream = Some(stream);
                self.logged_on = false;
                let (session, mut inbox) = self.inbox();
                session.on_connected(now_ns, &mut inbox);
            }
            Err(err) => {
                self.reconnect_at_ns = now_ns + self.backoff.next_delay_ns();
                tracing::debug!(%err, address = %self.address, "FIX connect failed; backing off");
            }
        }
    }

    fn disconnect(&mut self, now_ns: u64) {
        self.stream = None;
        self.logged_on = false;
        self.counters.disconnects += 1;
        if let Err(err) = self.session.on_disconnected() {
            tracing::error!(%err, "saving FIX sequence numbers failed");
        }
        self.reconnect_at_ns = now_ns + self.backoff.next_delay_ns();
    }

    /// Reads what the socket has, runs timers, sends queued requests, writes output.
    fn pump(&mut self, now_ns: u64) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let mut alive = true;
        loop {
            match stream.read(self.session.recv_buffer()) {
                Ok(0) => {
                    alive = false;
                    break;
                }
                Ok(count) => {
                    let (session, mut inbox) = self.inbox();
                    session.on_received(count, now_ns, &mut inbox);
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    alive = false;
                    break;
                }
            }
        }
        {
            let (session, mut inbox) = self.inbox();
            session.poll_timers(now_ns, &mut inbox);
        }
        if self.session.state() == SessionState::Active {
            self.backoff.reset();
        }
        self.send_requests(now_ns);
        while alive && !self.session.pending_output().is_empty() {
            match stream.write(self.session.pending_output()) {
                Ok(0) => alive = false,
                Ok(written) => self.session.consume_output(written),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => alive = false,
            }
        }
        if !alive || self.session.disconnect_reason().is_some() {
            self.disconnect(now_ns);
        } else {
            self.stream = Some(stream);
        }
    }

    fn send_requests(&mut self, now_ns: u64) {
        while let Some(request) = self.requests.pop() {
            if self.pending.len() == PENDING_MAX {
                let (oldest, _) = self.pending.pop_front().expect("pending is full");
                self.reject_locally(&oldest, now_ns);
            }
            self.pending.push_back((request, now_ns));
        }
        if self.session.state() != SessionState::Active {
            return;
        }
        while let Some((request, queued_ns)) = self.pending.front().copied() {
            if request.kind != RequestKind::Cancel
                && now_ns.saturating_sub(queued_ns) > self.pending_age_max_ns
            {
                self.pending.pop_front();
                self.counters.requests_expired += 1;
                self.reject_locally(&request, now_ns);
                continue;
            }
            match self.send_one(&request, now_ns) {
                Ok(()) => {
                    self.pending.pop_front();
                    self.counters.requests_sent += 1;
                }
                Err(genesis_io::fix::SendError::OutputFull { .. }) => break,
                Err(err) => {
                    tracing::warn!(%err, order = request.order_id.0, "FIX request not sent");
                    self.pending.pop_front();
                    self.reject_locally(&request, now_ns);
                }
            }
        }
    }

    fn send_one(
        &mut self,
        request: &OrderRequest,
        now_ns: u64,
    ) -> Result<(), genesis_io::fix::SendError> {
        let instrument = request.instrument.index().min(self.scales.len() - 1);
        let scale = self.scales[instrument];
        let symbol = self.symbols[instrument].as_bytes();
        let side = if request.side == Side::Buy {
            genesis_io::fix::order::Side::Buy
        } else {
            genesis_io::fix::order::Side::Sell
        };
        let versions = self
            .versions
            .get(&request.order_id.0)
            .copied()
            .unwrap_or_default();
        let current = ClOrdId::new(
            request.order_id,
            (versions.accepted > 0).then_some((b'r', versions.accepted)),
        );
        let sender = self.session.sender();
        match request.kind {
            RequestKind::New => {
                self.instruments
                    .insert(request.order_id.0, instrument as u16);
                let order = NewOrderSingle {
                    cl_ord_id: current.as_bytes(),
                    account: None,
                    symbol,
                    side,
                    qty_lots: Lots(request.qty.0),
                    ord_type: OrdType::Limit,
                    price_ticks: Some(Ticks(request.price.0)),
                    time_in_force: TimeInForce::Day,
                    transact_time_ns: request.ts_trigger_ns,
                    trigger_ns: Some(request.ts_trigger_ns),
                };
                sender.send_new_order(&order, &scale, now_ns).map(|_| ())
            }
            RequestKind::Cancel => {
                self.cancels_sent += 1;
                let cancel_id = ClOrdId::new(request.order_id, Some((b'c', self.cancels_sent)));
                let cancel = OrderCancelRequest {
                    orig_cl_ord_id: current.as_bytes(),
                    cl_ord_id: cancel_id.as_bytes(),
                    symbol,
                    side,
                    qty_lots: Lots(request.qty.0),
                    transact_time_ns: request.ts_trigger_ns,
                };
                sender.send_cancel(&cancel, &scale, now_ns).map(|_| ())
            }
            RequestKind::Replace => {
                let next = ClOrdId::new(request.order_id, Some((b'r', versions.sent + 1)));
                let replace = OrderCancelReplaceRequest {
                    orig_cl_ord_id: current.as_bytes(),
                    order: NewOrderSingle {
                        cl_ord_id: next.as_bytes(),
                        account: None,
                        symbol,
                        side,
                        qty_lots: Lots(request.qty.0),
                        ord_type: OrdType::Limit,
                        price_ticks: Some(Ticks(request.price.0)),
                        time_in_force: TimeInForce::Day,
                        transact_time_ns: request.ts_trigger_ns,
                        trigger_ns: Some(request.ts_trigger_ns),
                    },
                };
                sender.send_replace(&replace, &scale, now_ns)?;
                let sent = versions.sent + 1;
                self.versions
                    .insert(request.order_id.0, Versions { sent, ..versions });
                Ok(())
            }
        }
    }

    /// Answers a request that never left with a reject event, so the order does not hang.
    fn reject_locally(&mut self, request: &OrderRequest, now_ns: u64) {
        self.counters.rejected_not_connected += 1;
        let rejected = match request.kind {
            RequestKind::New => RejectedRequest::New,
            RequestKind::Cancel => RejectedRequest::Cancel,
            RequestKind::Replace => RejectedRequest::Replace,
        };
        let input = Input::OrderReject(OrderReject {
            order_id: request.order_id,
            request: rejected,
            venue_reason: VENUE_REJECT_NOT_CONNECTED,
        });
        let mut event = Event::new(request.instrument, request.side, input);
        event.ts_venue_ns = now_ns;
        if self.outbox.len() < OUTBOX_MAX {
            self.outbox.push_back(event);
        }
    }

    /// Logs out (at shutdown) and saves sequence numbers.
    pub fn logout(&mut self, now_ns: u64) {
        let (session, mut inbox) = self.inbox();
        session.logout(b"genesis stopping", now_ns, &mut inbox);
        if let Some(stream) = &mut self.stream {
            let _ = stream.write_all(self.session.pending_output());
        }
        let _ = self.session.on_disconnected();
    }
}

impl Source for FixClient {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let now_ns = clock.now_ns();
        if self.stream.is_none() {
            self.connect(now_ns);
        }
        self.pump(now_ns);
        let mut emitted = 0;
        while emitted < budget {
            let Some(mut event) = self.outbox.pop_front() else {
                break;
            };
            event.ts_recv_ns = clock.now_ns();
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

impl Drop for FixClient {
    fn drop(&mut self) {
        if self.stream.is_some() {
            self.logout(crate::clock::EpochClock::new().now_ns());
        }
    }
}
