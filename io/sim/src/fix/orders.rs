//! Orders arriving on a session go straight into the matcher: the session
//! handler of every connection, called by the FIX session for each
//! application message. Same owning thread as the acceptor.
//!
//! A NewOrderSingle opens its ClOrdID's chain; a cancel or replace must
//! name (OrigClOrdID) a version of a live order the venue accepted, or it
//! is refused at once as an unknown order (CxlRejReason 1). Status requests
//! (OrderStatusRequest, OrderMassStatusRequest) are answered from the
//! exchange's view of the participant's orders ([`super::status`]).

use super::Router;
use crate::exchange::{reason, Exchange, MarketDataOut, Request, RequestKind, Side, OWNER_SESSION};
use genesis_io::fix::exec_report::{CancelRejectResponseTo, OrdStatus, OrderCancelReject};
use genesis_io::fix::order::{OrderRequest, Side as FixSide};
use genesis_io::fix::session::{Sender, SessionHandler};
use genesis_io::fix::Message;

pub(super) struct Orders<'a> {
    pub(super) router: &'a mut Router,
    pub(super) exchange: &'a mut Exchange,
    out: &'a mut dyn MarketDataOut,
    /// The participant; the exchange owner is `OWNER_SESSION + participant`.
    pub(super) participant: usize,
}

/// What the venue reads from an order request.
struct Fields<'m> {
    kind: RequestKind,
    /// The ClOrdID the request is about: a new order's own, a cancel's or
    /// replace's OrigClOrdID.
    names: &'m [u8],
    /// The ClOrdID the request asks for: a new order's or replace's new
    /// one, a cancel's own.
    asks: &'m [u8],
    side: Side,
    price: i64,
    qty: i64,
    /// The venue time of the market data that triggered it (0: unknown).
    trigger_ns: u64,
}

impl<'m> Fields<'m> {
    fn of(request: &OrderRequest<'m>) -> Fields<'m> {
        let side = |side| {
            if side == FixSide::Buy {
                Side::Buy
            } else {
                Side::Sell
            }
        };
        match request {
            OrderRequest::New(o) => Fields {
                kind: RequestKind::New,
                names: o.cl_ord_id,
                asks: o.cl_ord_id,
                side: side(o.side),
                price: o.price_ticks.map_or(0, |p| p.0),
                qty: o.qty_lots.0,
                trigger_ns: o.trigger_ns.unwrap_or(o.transact_time_ns),
            },
            OrderRequest::Replace(r) => Fields {
                kind: RequestKind::Replace,
                names: r.orig_cl_ord_id,
                asks: r.order.cl_ord_id,
                side: side(r.order.side),
                price: r.order.price_ticks.map_or(0, |p| p.0),
                qty: r.order.qty_lots.0,
                trigger_ns: r.order.trigger_ns.unwrap_or(r.order.transact_time_ns),
            },
            OrderRequest::Cancel(c) => Fields {
                kind: RequestKind::Cancel,
                names: c.orig_cl_ord_id,
                asks: c.cl_ord_id,
                side: side(c.side),
                price: 0,
                qty: c.qty_lots.0,
                trigger_ns: c.transact_time_ns,
            },
        }
    }
}

impl<'a> Orders<'a> {
    pub fn new(
        router: &'a mut Router,
        exchange: &'a mut Exchange,
        out: &'a mut dyn MarketDataOut,
        participant: usize,
    ) -> Orders<'a> {
        Orders {
            router,
            exchange,
            out,
            participant,
        }
    }

    /// When the bytes being handled arrived (the kernel's stamp if any).
    pub fn set_arrival_ns(&mut self, arrival_ns: u64) {
        self.router.arrival_ns = arrival_ns;
    }

    /// Records one order's tick-to-trade: arrival minus trigger time. An
    /// arrival before its trigger is a clock the venue does not share, not a
    /// latency: counted, not recorded.
    fn record_tick_to_trade(&mut self, trigger_ns: u64, now_ns: u64) {
        let arrival_ns = if self.router.arrival_ns > 0 {
            self.router.arrival_ns
        } else {
            now_ns
        };
        let Some(latency_ns) = arrival_ns.checked_sub(trigger_ns) else {
            self.router.tick_to_trade_before_trigger += 1;
            return;
        };
        let mut histogram = self
            .router
            .tick_to_trade_ns
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        histogram.saturating_record(latency_ns);
    }

    /// The exchange's key for the order the request is about; `None` for a
    /// cancel or replace naming no live order's accepted version.
    fn key_of(&mut self, fields: &Fields<'_>) -> Option<u64> {
        let ids = &mut self.router.ids;
        let participant = self.participant;
        match fields.kind {
            RequestKind::New => Some(ids.open(participant, fields.names)),
            RequestKind::Cancel | RequestKind::Replace => {
                let key = ids.key_of(participant, fields.names)?;
                if fields.kind == RequestKind::Replace {
                    ids.request(participant, key, fields.asks);
                }
                Some(key)
            }
        }
    }
}

/// Refuses a cancel or replace of an order the venue does not know.
fn refuse_unknown(sender: &mut Sender, fields: &Fields<'_>, now_ns: u64) {
    let response_to = if fields.kind == RequestKind::Replace {
        CancelRejectResponseTo::Replace
    } else {
        CancelRejectResponseTo::Cancel
    };
    let reject = OrderCancelReject {
        order_id: fields.names,
        cl_ord_id: fields.asks,
        orig_cl_ord_id: fields.names,
        ord_status: OrdStatus::New,
        response_to,
        reason: Some(reason::UNKNOWN_ORDER as u64),
        text: None,
        poss_dup: false,
    };
    let _ = sender.send_cancel_reject(&reject, now_ns);
}

impl SessionHandler for Orders<'_> {
    fn on_app_message(&mut self, message: &Message<'_>, sender: &mut Sender, now_ns: u64) {
        if self.answer_status(message, sender, now_ns) {
            return;
        }
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
        let fields = Fields::of(&request);
        if fields.kind != RequestKind::Cancel && fields.trigger_ns > 0 {
            self.record_tick_to_trade(fields.trigger_ns, now_ns);
        }
        let Some(order) = self.key_of(&fields) else {
            return refuse_unknown(sender, &fields, now_ns);
        };
        let request = Request {
            kind: fields.kind,
            order,
            instrument,
            side: fields.side,
            price: fields.price,
            qty: fields.qty,
        };
        let session = OWNER_SESSION + self.participant as u32;
        self.exchange.submit(session, request, now_ns, self.out);
    }
}
