//! The exchange's replies as FIX: ExecutionReports (acks, replaces, fills,
//! cancels, refused new orders) and OrderCancelRejects (refused cancels and
//! replaces), naming each order by its ClOrdIDs ([`super::ids`]). Same
//! owning thread as the acceptor.
//!
//! Every reply takes the next ExecID, whatever it becomes. A replace ack
//! names the new ClOrdID and the one it replaced; everything else names
//! the version accepted last. An order that closes keeps only its
//! ClOrdIDs among the recently closed ([`super::ids`]), for status answers
//! (which tell what the exchange holds, not what was sent). A reply for a
//! participant that is not connected (the venue kept its orders) is only
//! recorded: the participant learns the outcome by asking for status.

use super::ids::Chain;
use super::Router;
use crate::exchange::{reason, Answer, Reply, RequestKind, Side};
use genesis_io::fix::exec_report::{
    CancelRejectResponseTo, ExecKind, ExecType, ExecutionReport, OrdStatus, OrderCancelReject,
};
use genesis_io::fix::session::Session;
use genesis_io::fix::{Lots, Ticks};
use std::fmt::Write as _;

/// The fields of an ExecutionReport that follow from the answer alone.
struct ReportFields {
    kind: ExecKind,
    exec_type: ExecType,
    ord_status: OrdStatus,
    last_qty: i64,
    last_px: i64,
    /// OrderQty(38), when the answer carries one.
    qty: i64,
    /// OrdRejReason(103) of a refused new order.
    ord_rej_reason: Option<u64>,
    /// The order is done with: filled, cancelled or refused.
    closes: bool,
}

impl ReportFields {
    fn of(reply: &Reply) -> ReportFields {
        let fields = |kind, exec_type, ord_status| ReportFields {
            kind,
            exec_type,
            ord_status,
            last_qty: 0,
            last_px: 0,
            qty: 0,
            ord_rej_reason: None,
            closes: false,
        };
        match reply.answer {
            Answer::Accepted { qty, .. } if reply.replaced => ReportFields {
                qty,
                ..fields(
                    ExecKind::Replaced,
                    ExecType::Replaced,
                    if reply.cum_qty > 0 {
                        OrdStatus::PartiallyFilled
                    } else {
                        OrdStatus::New
                    },
                )
            },
            Answer::Accepted { qty, .. } => ReportFields {
                qty,
                ..fields(ExecKind::New, ExecType::New, OrdStatus::New)
            },
            Answer::Fill { price, qty, .. } if reply.leaves_qty == 0 => ReportFields {
                last_qty: qty,
                last_px: price,
                closes: true,
                ..fields(ExecKind::Fill, ExecType::Trade, OrdStatus::Filled)
            },
            Answer::Fill { price, qty, .. } => ReportFields {
                last_qty: qty,
                last_px: price,
                ..fields(
                    ExecKind::PartialFill,
                    ExecType::Trade,
                    OrdStatus::PartiallyFilled,
                )
            },
            Answer::Cancelled { .. } => ReportFields {
                closes: true,
                ..fields(ExecKind::Cancelled, ExecType::Canceled, OrdStatus::Canceled)
            },
            Answer::Rejected { reason: code, .. } => ReportFields {
                ord_rej_reason: Some(code.max(0) as u64),
                // A duplicate ClOrdID names a live order: that one stays.
                closes: code != reason::DUPLICATE_ORDER,
                ..fields(ExecKind::Rejected, ExecType::Rejected, OrdStatus::Rejected)
            },
        }
    }
}

impl Router {
    /// Turns one of the exchange's replies to the session in `slot` into FIX.
    pub(super) fn answer(
        &mut self,
        session: Option<&mut Session>,
        slot: usize,
        reply: &Reply,
        now_ns: u64,
    ) {
        self.exec_seq += 1;
        let key = reply.answer.order();
        let Some(chain) = self.ids.chain(slot, key).cloned() else {
            debug_assert!(false, "a reply names an order whose ClOrdIDs are known");
            return;
        };
        match reply.answer {
            Answer::Rejected {
                request: request @ (RequestKind::Cancel | RequestKind::Replace),
                reason: code,
                ..
            } => self.cancel_reject(session, (slot, key), &chain, request, code, now_ns),
            _ => self.execution_report(session, (slot, key), &chain, reply, now_ns),
        }
    }

    /// An OrderCancelReject: the accepted version stays; an unknown order is forgotten.
    fn cancel_reject(
        &mut self,
        session: Option<&mut Session>,
        (slot, key): (usize, u64),
        chain: &Chain,
        request: RequestKind,
        code: i64,
        now_ns: u64,
    ) {
        let response_to = if request == RequestKind::Cancel {
            CancelRejectResponseTo::Cancel
        } else {
            CancelRejectResponseTo::Replace
        };
        let asked = chain.requested.as_deref().unwrap_or(&chain.accepted);
        let reject = OrderCancelReject {
            order_id: &chain.accepted,
            cl_ord_id: asked,
            orig_cl_ord_id: &chain.accepted,
            ord_status: OrdStatus::New,
            response_to,
            reason: Some(code.max(0) as u64),
            text: None,
            poss_dup: false,
        };
        if let Some(session) = session {
            let _ = session.sender().send_cancel_reject(&reject, now_ns);
        }
        self.ids.clear_request(slot, key);
        if code == reason::UNKNOWN_ORDER {
            self.ids.close(slot, key);
        }
    }

    fn execution_report(
        &mut self,
        session: Option<&mut Session>,
        (slot, key): (usize, u64),
        chain: &Chain,
        reply: &Reply,
        now_ns: u64,
    ) {
        let fields = ReportFields::of(reply);
        let (current, previous) = match reply.answer {
            Answer::Accepted { .. } if reply.replaced => self
                .ids
                .accept_replace(slot, key)
                .map_or((chain.accepted.clone(), None), |(new, old)| {
                    (new, Some(old))
                }),
            _ => (chain.accepted.clone(), None),
        };
        if fields.closes {
            self.ids.close(slot, key);
        }
        let Some(session) = session else { return };
        self.exec_id.clear();
        let _ = write!(self.exec_id, "{}", self.exec_seq);
        let instrument = reply.instrument.min(self.scales.len() - 1);
        let report = ExecutionReport {
            kind: fields.kind,
            exec_type: fields.exec_type,
            ord_status: fields.ord_status,
            order_id: &chain.root,
            exec_id: self.exec_id.as_bytes(),
            cl_ord_id: Some(&current),
            orig_cl_ord_id: previous.as_deref(),
            symbol: Some(self.symbols[instrument].as_bytes()),
            side: if reply.side == Side::Sell {
                genesis_io::fix::order::Side::Sell
            } else {
                genesis_io::fix::order::Side::Buy
            },
            order_qty_lots: (fields.qty > 0).then_some(Lots(fields.qty)),
            last_qty_lots: Lots(fields.last_qty),
            last_px_ticks: Ticks(fields.last_px),
            cum_qty_lots: Lots(reply.cum_qty),
            leaves_qty_lots: Lots(reply.leaves_qty),
            avg_px_text: b"0",
            ord_rej_reason: fields.ord_rej_reason,
            text: None,
            poss_dup: false,
        };
        let _ = session
            .sender()
            .send_execution_report(&report, &self.scales[instrument], now_ns);
    }
}
