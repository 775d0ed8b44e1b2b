//! What the FIX session hands the engine while it reads: ExecutionReports
//! and OrderCancelRejects become the venue lane's events (acks, fills,
//! cancel acks, rejects) in the client's preallocated outbox, and the
//! ClOrdID version each order is at follows the replaces the venue accepts.
//!
//! Owning thread: ingest's, inside `FixClient::poll`. A report that names
//! no configured instrument, or does not parse, is counted and logged,
//! never turned into an event.

use super::cl_ord_id::{id_of_text, order_id_of, replace_version_of};
use super::{FixClientCounters, OUTBOX_MAX};
use crate::event::{venue_reason, Event, Fill, Input, OrderAck, OrderReject, RejectedRequest};
use crate::recent::RecentMap;
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use genesis_io::fix::exec_report::{
    CancelRejectResponseTo, ExecKind, ExecutionReport, OrderCancelReject, OrderUpdate,
};
use genesis_io::fix::session::{SessionEvent, SessionHandler};
use genesis_io::fix::{InstrumentScale, Message};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Orders whose versions are remembered, preallocated.
pub(super) const VERSIONS_CAPACITY: usize = 1 << 16;

/// The ClOrdID versions of one order: the one the venue last accepted (its
/// OrigClOrdID for the next cancel or replace) and the last one sent (a
/// replace the venue refuses leaves `accepted` where it was).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Versions {
    pub accepted: u64,
    pub sent: u64,
}

/// What the session hands the engine while reading.
pub(super) struct Inbox<'a> {
    pub outbox: &'a mut VecDeque<Event>,
    pub versions: &'a mut FxHashMap<u64, Versions>,
    pub instruments: &'a RecentMap<u16>,
    pub scales: &'a [InstrumentScale],
    pub symbols: &'a [String],
    pub counters: &'a mut FixClientCounters,
    pub logged_on: &'a mut bool,
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

    /// The parsed update, or `None` when the message is not one (counted).
    fn update_of<'m>(
        &mut self,
        message: &Message<'m>,
        instrument: usize,
    ) -> Option<OrderUpdate<'m>> {
        match OrderUpdate::parse(message, &self.scales[instrument]) {
            Ok(Some(update)) => Some(update),
            Ok(None) => {
                self.counters.reports_ignored += 1;
                None
            }
            Err(err) => {
                self.counters.reports_unparsed += 1;
                tracing::warn!(%err, "unparsable FIX order update");
                None
            }
        }
    }

    /// An ExecutionReport as the venue lane's event.
    fn on_execution(&mut self, report: &ExecutionReport<'_>, instrument: usize, now_ns: u64) {
        let order = report.cl_ord_id.and_then(order_id_of).unwrap_or(OrderId(0));
        let original = report.orig_cl_ord_id.and_then(order_id_of).unwrap_or(order);
        let Some(input) = execution_input(report, order, original) else {
            self.counters.reports_ignored += 1;
            return;
        };
        self.track_versions(report.kind, original, report.cl_ord_id);
        self.push(instrument, side_of(report.side), input, now_ns);
    }

    /// An OrderCancelReject as the venue lane's reject event.
    fn on_cancel_reject(&mut self, reject: &OrderCancelReject<'_>, instrument: usize, now_ns: u64) {
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

/// The engine's input an ExecutionReport carries: `order` is its ClOrdID's
/// order, `original` its OrigClOrdID's (the order itself for all but a
/// replace). `None` for kinds the engine does not act on.
fn execution_input(
    report: &ExecutionReport<'_>,
    order: OrderId,
    original: OrderId,
) -> Option<Input> {
    let ack = |order_id| {
        Input::OrderAck(OrderAck {
            order_id,
            venue_order_id: id_of_text(report.order_id),
            price: Price(0),
            qty: Qty(report.order_qty_lots.map_or(0, |l| l.0)),
        })
    };
    Some(match report.kind {
        ExecKind::New => ack(order),
        ExecKind::Replaced => ack(original),
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
        _ => return None,
    })
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
        match self.update_of(message, instrument) {
            Some(OrderUpdate::Execution(report)) => self.on_execution(&report, instrument, now_ns),
            Some(OrderUpdate::CancelReject(reject)) => {
                self.on_cancel_reject(&reject, instrument, now_ns)
            }
            None => {}
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
