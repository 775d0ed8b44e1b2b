//! Between the engine and the backtest venue: an engine order request as
//! the venue's [`Request`], and the venue's [`Reply`] as the engine event
//! a real venue's message would become (ack, fill, cancel ack, reject with
//! FIX's reason codes).
//!
//! Pure functions; no state.

use genesis_engine::event::{
    venue_reason, Event, Fill, Input, OrderAck, OrderReject, RejectedRequest,
};
use genesis_engine::execution::gateway::{OrderRequest, RequestKind};
use genesis_engine::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use genesis_sim::backtest::{self, Answer, RejectReason, Reply, Request};

/// The venue's request for an engine request; `None` for a side the venue
/// cannot take (pre-trade risk refuses those before they are sent).
pub(crate) fn request_of(request: &OrderRequest) -> Option<Request> {
    let side = match request.side {
        Side::Buy => backtest::Side::Buy,
        Side::Sell => backtest::Side::Sell,
        Side::None => return None,
    };
    Some(Request {
        kind: kind_of(request.kind)?,
        order_id: request.order_id.0,
        instrument: request.instrument.0,
        side,
        price: request.price.0,
        qty: request.qty.0,
    })
}

/// The venue's kind of an order-entry request; `None` for reconciliation's
/// notes to a FIX session (no backtest venue answers status requests).
fn kind_of(kind: RequestKind) -> Option<backtest::RequestKind> {
    match kind {
        RequestKind::New => Some(backtest::RequestKind::New),
        RequestKind::Cancel => Some(backtest::RequestKind::Cancel),
        RequestKind::Replace => Some(backtest::RequestKind::Replace),
        _ => None,
    }
}

/// The reject an engine request with no side gets.
pub(crate) fn sideless_reject(request: &OrderRequest) -> Event {
    let reject = OrderReject {
        order_id: request.order_id,
        request: rejected_request(kind_of(request.kind).unwrap_or(backtest::RequestKind::New)),
        venue_reason: venue_reason::OTHER,
    };
    Event::new(request.instrument, Side::None, Input::OrderReject(reject))
}

/// The engine event of a venue reply (times are the caller's to set).
pub(crate) fn event_of(reply: &Reply) -> Event {
    let order_id = OrderId(reply.order_id);
    let side = match reply.side {
        backtest::Side::Buy => Side::Buy,
        backtest::Side::Sell => Side::Sell,
    };
    let input = match reply.answer {
        Answer::Accepted {
            venue_order_id,
            price,
            qty,
        } => Input::OrderAck(OrderAck {
            order_id,
            venue_order_id,
            price: Price(price),
            qty: Qty(qty),
        }),
        Answer::Fill {
            exec_id,
            price,
            qty,
            ..
        } => Input::Fill(Fill {
            order_id,
            exec_id: ExecId(exec_id),
            price: Price(price),
            qty: Qty(qty),
        }),
        Answer::Cancelled => Input::CancelAck(order_id),
        Answer::Rejected { request, reason } => Input::OrderReject(OrderReject {
            order_id,
            request: rejected_request(request),
            venue_reason: reason_code(reason),
        }),
    };
    Event::new(InstrumentId(reply.instrument), side, input)
}

fn rejected_request(kind: backtest::RequestKind) -> RejectedRequest {
    match kind {
        backtest::RequestKind::New => RejectedRequest::New,
        backtest::RequestKind::Cancel => RejectedRequest::Cancel,
        backtest::RequestKind::Replace => RejectedRequest::Replace,
    }
}

/// FIX's OrdRejReason / CxlRejReason for a venue refusal.
fn reason_code(reason: RejectReason) -> i64 {
    match reason {
        RejectReason::UnknownInstrument => venue_reason::UNKNOWN_SYMBOL,
        RejectReason::BadQty => venue_reason::INCORRECT_QTY,
        RejectReason::TooManyOrders => venue_reason::EXCEEDS_LIMIT,
        RejectReason::UnknownOrder => venue_reason::UNKNOWN_ORDER,
        RejectReason::BadPrice | RejectReason::QtyBelowFilled => venue_reason::OTHER,
    }
}
