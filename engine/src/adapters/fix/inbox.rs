//! What the FIX session hands the engine while it reads: ExecutionReports
//! and OrderCancelRejects become the venue lane's events (acks, fills,
//! cancel acks, rejects) in the client's preallocated outbox; status
//! answers (ExecType=I) go to reconciliation, never taken for live reports;
//! a Reject (35=3) or BusinessMessageReject (35=j) of a new order, cancel
//! or replace becomes the engine's reject of that request, with the reason.
//!
//! Fills carry an exec id keyed on ExecID together with the venue's
//! OrderID (`genesis_io::fix::exec_dedup::ExecKey`), so a venue that
//! restarts its ExecID counter does not turn real fills into duplicates,
//! while a PossDup resend (same OrderID, same ExecID) is still caught by
//! ingest. A fill whose CumQty a reconciliation already counted is flagged
//! duplicate here.
//!
//! With reconciliation on, a live fill about an order the client knows
//! nothing of is followed by a `VenueOrder` event read from the same report
//! (`Ledger::on_live_unknown`): execution then applies the CumQty it shows
//! missing for an order of ours the journal never recorded, once, even if
//! the venue's mass status answer leaves the order out. A fill about an
//! order under another ClOrdID lineage that the engine has not adopted is
//! not ours: journaled flagged duplicate (applied nowhere) and counted.
//!
//! Owning thread: ingest's, inside `FixClient::poll`. A report that names
//! no configured instrument, or does not parse, is counted and logged,
//! never turned into an event.

use super::cl_ord_id::id_of_text;
use super::ledger::Ledger;
use super::reconcile::Round;
use super::{push_event, FixClientCounters, Instruments, Link};
use crate::event::{
    venue_reason, Event, Fill, Input, OrderAck, OrderReject, RejectedRequest, FLAG_DUPLICATE,
};
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use genesis_io::fix::exec_dedup::ExecKey;
use genesis_io::fix::exec_report::{
    CancelRejectResponseTo, ExecKind, ExecType, ExecutionReport, OrderCancelReject, OrderUpdate,
};
use genesis_io::fix::reject::{RejectLevel, RequestReject};
use genesis_io::fix::session::{SessionEvent, SessionHandler};
use genesis_io::fix::status::StatusReport;
use genesis_io::fix::{tags, Message, MsgType};
use std::collections::VecDeque;

/// What the session hands the engine while reading.
pub(super) struct Inbox<'a> {
    pub outbox: &'a mut VecDeque<Event>,
    pub ledger: &'a mut Ledger,
    pub round: &'a mut Round,
    pub instruments: &'a Instruments,
    pub counters: &'a mut FixClientCounters,
    pub link: &'a mut Link,
}

impl Inbox<'_> {
    /// The instrument a report is about: its Symbol(55), or the order's
    /// (an OrderCancelReject carries no symbol).
    fn instrument_of(&self, symbol: Option<&[u8]>, cl_ord_id: Option<&[u8]>) -> Option<usize> {
        if let Some(symbol) = symbol {
            return self.instruments.index_of(symbol);
        }
        self.ledger.instrument_of(self.ledger.order_of(cl_ord_id?))
    }

    /// The parsed update, or `None` when the message is not one (counted).
    fn update_of<'m>(
        &mut self,
        message: &Message<'m>,
        instrument: usize,
    ) -> Option<OrderUpdate<'m>> {
        match OrderUpdate::parse(message, &self.instruments.scales[instrument]) {
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
    /// `price_text` is the report's Price(44), when it has one.
    fn on_execution(
        &mut self,
        report: &ExecutionReport<'_>,
        (instrument, price_text): (usize, Option<&[u8]>),
        now_ns: u64,
    ) {
        let order = report
            .cl_ord_id
            .map_or(OrderId(0), |id| self.ledger.order_of(id));
        let original = report
            .orig_cl_ord_id
            .map_or(order, |id| self.ledger.order_of(id));
        let Some(input) = execution_input(report, order, original) else {
            self.counters.reports_ignored += 1;
            return;
        };
        let is_fill = matches!(input, Input::Fill(_));
        let mut flags = 0;
        if is_fill
            && self
                .ledger
                .covered_by_status(original, report.cum_qty_lots.0)
        {
            // A resend of a fill the last status answer counted: applied once already.
            flags |= FLAG_DUPLICATE;
            self.counters.fills_covered_by_reconcile += 1;
        }
        let reconciling = is_fill && self.round.enabled() && !report.poss_dup;
        if reconciling && !original.is_own() && !self.ledger.is_adopted(original) {
            // Another lineage's (or system's) order the engine never took on.
            flags |= FLAG_DUPLICATE;
            self.counters.fills_not_ours += 1;
        }
        let told = if reconciling {
            let scale = self.instruments.scales[instrument];
            let price = price_text
                .and_then(|text| scale.price_ticks(tags::PRICE, text).ok())
                .map(|ticks| ticks.0);
            self.ledger
                .on_live_unknown(report, (instrument, price), &scale)
        } else {
            None
        };
        self.ledger
            .track_versions(report.kind, original, report.cl_ord_id);
        let key = (InstrumentId(instrument as u16), side_of(report.side));
        push_event(self.outbox, key, input, flags, now_ns);
        if let Some(told) = told {
            push_event(self.outbox, key, Input::VenueOrder(told), 0, now_ns);
        }
    }

    /// An OrderCancelReject as the venue lane's reject event.
    fn on_cancel_reject(&mut self, reject: &OrderCancelReject<'_>, instrument: usize, now_ns: u64) {
        let order = self.ledger.order_of(reject.orig_cl_ord_id);
        if reject.reason == Some(venue_reason::UNKNOWN_ORDER as u64) {
            // The order is closed (see `Orders::on_reject`): forget it.
            self.ledger.forget(order);
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
        let key = (InstrumentId(instrument as u16), Side::None);
        push_event(self.outbox, key, input, 0, now_ns);
    }

    /// An ExecutionReport with ExecType=I: an answer to our status
    /// requests, applied by reconciliation if it answers this round.
    fn on_status_message(&mut self, message: &Message<'_>, instrument: Option<usize>, now_ns: u64) {
        let scale = self.instruments.scales[instrument.unwrap_or(0)];
        let report = match StatusReport::parse(message, &scale) {
            Ok(Some(report)) => report,
            Ok(None) => return,
            Err(err) => {
                self.counters.reports_unparsed += 1;
                tracing::warn!(%err, "unparsable FIX status report");
                return;
            }
        };
        // A resent status answer describes an order as it was, not as it is.
        if report.poss_dup || !self.round.on_report(&report) {
            self.counters.reports_ignored += 1;
            return;
        }
        if report.is_empty_answer() {
            return;
        }
        let Some(instrument) = instrument else {
            self.counters.reports_ignored += 1;
            tracing::warn!(symbol = ?report.symbol.map(String::from_utf8_lossy),
                "status report for a symbol not configured");
            return;
        };
        if let Some(order) = self.ledger.on_status(&report, instrument, &scale) {
            let key = (InstrumentId(instrument as u16), side_of(report.side));
            push_event(self.outbox, key, Input::VenueOrder(order), 0, now_ns);
        }
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
            exec_id: ExecId(ExecKey::of_report(report).hash()),
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

/// Whether a report of this kind answers an order request: a new order's
/// ack or reject, a replace's ack, a cancel's ack. Fills do not (they may
/// come long after, unasked for), nor pending states (the answer follows).
fn answers_a_request(kind: ExecKind) -> bool {
    matches!(
        kind,
        ExecKind::New | ExecKind::Replaced | ExecKind::Cancelled | ExecKind::Rejected
    )
}

fn side_of(side: genesis_io::fix::order::Side) -> Side {
    match side {
        genesis_io::fix::order::Side::Buy => Side::Buy,
        _ => Side::Sell,
    }
}

/// A status answer (35=8 with 150=I): never a live report.
fn is_status_report(message: &Message<'_>) -> bool {
    message.msg_type() == Some(MsgType::ExecutionReport)
        && message.get(tags::EXEC_TYPE) == Some(&[ExecType::OrderStatus.as_char()][..])
}

/// The engine's reason code for a request the venue refused outright.
fn reject_reason(reject: &RequestReject<'_>) -> i64 {
    match reject.level {
        RejectLevel::Session => {
            venue_reason::SESSION_REJECT + reject.reason.map_or(99, |r| r.min(999) as i64)
        }
        RejectLevel::Business => {
            venue_reason::BUSINESS_REJECT + reject.reason.map_or(0, |r| r.min(999) as i64)
        }
    }
}

impl SessionHandler for Inbox<'_> {
    fn on_app_message(
        &mut self,
        message: &Message<'_>,
        _sender: &mut genesis_io::fix::session::Sender,
        now_ns: u64,
    ) {
        let symbol = message.get(tags::SYMBOL);
        let order = message
            .get(tags::ORIG_CL_ORD_ID)
            .or_else(|| message.get(tags::CL_ORD_ID));
        let instrument = self.instrument_of(symbol, order);
        if is_status_report(message) {
            return self.on_status_message(message, instrument, now_ns);
        }
        let Some(instrument) = instrument else {
            self.counters.reports_ignored += 1;
            tracing::warn!(symbol = ?symbol.map(String::from_utf8_lossy), "FIX report for a symbol not configured");
            return;
        };
        match self.update_of(message, instrument) {
            Some(OrderUpdate::Execution(report)) => {
                if answers_a_request(report.kind) && !report.poss_dup {
                    self.link.on_answer();
                }
                self.on_execution(&report, (instrument, message.get(tags::PRICE)), now_ns)
            }
            Some(OrderUpdate::CancelReject(reject)) => {
                self.link.on_answer();
                self.on_cancel_reject(&reject, instrument, now_ns)
            }
            None => {}
        }
    }

    /// A new order, cancel or replace the venue refused at session or
    /// business level is rejected in the engine, with the reason; a refused
    /// status request goes to reconciliation.
    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        if self.round.on_request_rejected(reject) {
            return;
        }
        let request = match reject.msg_type {
            Some(MsgType::NewOrderSingle) => RejectedRequest::New,
            Some(MsgType::OrderCancelRequest) => RejectedRequest::Cancel,
            Some(MsgType::OrderCancelReplaceRequest) => RejectedRequest::Replace,
            _ => {
                tracing::warn!(
                    ?reject,
                    "the venue rejected a request of ours that is no order"
                );
                return;
            }
        };
        self.link.on_answer();
        let Some(order) = reject.request_id.map(|id| self.ledger.order_of(id)) else {
            tracing::warn!(
                ?reject,
                "the venue rejected an order request it does not name"
            );
            return;
        };
        self.counters.requests_rejected_by_venue += 1;
        let venue_reason = reject_reason(reject);
        tracing::warn!(order = order.0, ?request, level = ?reject.level, venue_reason,
            ref_tag = ?reject.ref_tag, text = ?reject.text.map(String::from_utf8_lossy),
            "the venue refused an order request; the engine rejects it");
        let instrument = self.ledger.instrument_of(order).unwrap_or(0);
        let input = Input::OrderReject(OrderReject {
            order_id: order,
            request,
            venue_reason,
        });
        let key = (InstrumentId(instrument as u16), Side::None);
        push_event(self.outbox, key, input, 0, 0);
    }

    fn on_session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::LoggedOn {
                heartbeat_interval_s,
            } => {
                self.link.logged_on = true;
                self.link.logon_seen = true;
                self.counters.logons += 1;
                tracing::info!(heartbeat_interval_s, "FIX session logged on");
            }
            // Logged once, with the loss, by the client.
            SessionEvent::Disconnect(reason) => self.link.session_reason = Some(reason),
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
            SessionEvent::SeqNumTooLow(problem) => {
                tracing::error!(%problem, "FIX MsgSeqNum too low: the session stops")
            }
            SessionEvent::SeqNumsReset => {
                tracing::warn!("FIX sequence numbers reset to 1 (ResetSeqNumFlag=Y on logon)")
            }
            other => tracing::debug!(?other, "FIX session event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_io::fix::exec_report::OrdStatus;
    use genesis_io::fix::{Lots, Ticks};

    fn fill(order_id: &'static [u8], exec_id: &'static [u8]) -> ExecutionReport<'static> {
        ExecutionReport {
            kind: ExecKind::PartialFill,
            exec_type: ExecType::Trade,
            ord_status: OrdStatus::PartiallyFilled,
            order_id,
            exec_id,
            cl_ord_id: Some(b"7"),
            orig_cl_ord_id: None,
            symbol: Some(b"ALPHA"),
            side: genesis_io::fix::order::Side::Buy,
            order_qty_lots: None,
            last_qty_lots: Lots(1),
            last_px_ticks: Ticks(100),
            cum_qty_lots: Lots(1),
            leaves_qty_lots: Lots(1),
            avg_px_text: b"1.00",
            ord_rej_reason: None,
            text: None,
            poss_dup: false,
        }
    }

    fn exec_id_of(report: &ExecutionReport<'_>) -> ExecId {
        match execution_input(report, OrderId(7), OrderId(7)) {
            Some(Input::Fill(fill)) => fill.exec_id,
            other => panic!("{other:?}"),
        }
    }

    // A venue that restarted its ExecID counter repeats ExecID "1" on
    // another order: a different fill. The same OrderID and ExecID, resent
    // with PossDup, is the same fill.
    #[test]
    fn fills_are_keyed_on_order_id_and_exec_id() {
        let first = exec_id_of(&fill(b"V-1", b"1"));
        let restarted = exec_id_of(&fill(b"V-2", b"1"));
        assert_ne!(first, restarted);
        let resent = ExecutionReport {
            poss_dup: true,
            ..fill(b"V-1", b"1")
        };
        assert_eq!(exec_id_of(&resent), first);
    }

    /// What an inbox turned reports into, over the parts it borrows.
    struct Lane {
        outbox: VecDeque<Event>,
        ledger: Ledger,
        round: Round,
        instruments: Instruments,
        counters: FixClientCounters,
        link: Link,
    }

    impl Lane {
        /// A lane reconciling by mass status, ClOrdIDs under lineage `k3x9qz`.
        fn new() -> Lane {
            let mut ledger = Ledger::new();
            ledger.set_lineage(crate::orders::Lineage::parse("k3x9qz"));
            Lane {
                outbox: VecDeque::new(),
                ledger,
                round: Round::new(&crate::config::FixVenueConfig::default(), 16),
                instruments: Instruments {
                    scales: vec![genesis_io::fix::InstrumentScale::new("0.01", "1").unwrap()],
                    symbols: vec!["ALPHA".into()],
                },
                counters: FixClientCounters::default(),
                link: Link {
                    logged_on: true,
                    polled: true,
                    ..Link::default()
                },
            }
        }

        fn read(&mut self, report: &ExecutionReport<'_>) -> Vec<Event> {
            let mut inbox = Inbox {
                outbox: &mut self.outbox,
                ledger: &mut self.ledger,
                round: &mut self.round,
                instruments: &self.instruments,
                counters: &mut self.counters,
                link: &mut self.link,
            };
            inbox.on_execution(report, (0, Some(b"100.00")), 1);
            self.outbox.drain(..).collect()
        }
    }

    /// A live fill of `last` lots bringing order `cl_ord_id` (10 lots) to `cum`.
    fn live_fill(
        cl_ord_id: &'static [u8],
        exec_id: &'static [u8],
        last: i64,
        cum: i64,
    ) -> ExecutionReport<'static> {
        ExecutionReport {
            cl_ord_id: Some(cl_ord_id),
            order_qty_lots: Some(Lots(10)),
            last_qty_lots: Lots(last),
            cum_qty_lots: Lots(cum),
            leaves_qty_lots: Lots(10 - cum),
            ..fill(b"V-9", exec_id)
        }
    }

    // A live fill of an order of ours this client knows nothing of (sent
    // just before a crash, never recorded) carries its CumQty: the fill is
    // followed by the order as the venue holds it, so execution applies
    // the lots the crash lost. Once: the next fill of it is a plain fill.
    #[test]
    fn live_fill_of_an_unknown_order_tells_its_cum_qty() {
        let mut lane = Lane::new();
        let events = lane.read(&live_fill(b"k3x9qzb", b"E2", 3, 5));
        let inputs: Vec<Input> = events.iter().map(|e| e.input()).collect();
        assert!(
            matches!(inputs[0], Input::Fill(f) if f.order_id == OrderId(11) && f.qty == Qty(3))
        );
        assert_eq!(events[0].flags, 0);
        match inputs.get(1) {
            Some(Input::VenueOrder(told)) => {
                assert_eq!(told.order_id, OrderId(11));
                assert_eq!(
                    (told.qty, told.cum_qty, told.price),
                    (Qty(10), Qty(5), Price(10_000))
                );
                assert_eq!(told.state, crate::event::VenueOrderState::Open);
            }
            other => panic!("the order's state follows the fill: {other:?}"),
        }
        let events = lane.read(&live_fill(b"k3x9qzb", b"E3", 1, 6));
        assert_eq!(events.len(), 1, "known now: {events:?}");
        assert_eq!(events[0].flags, 0);
    }

    // An order this client sent is known: its fills are plain fills.
    #[test]
    fn live_fill_of_a_known_order_is_a_plain_fill() {
        let mut lane = Lane::new();
        lane.ledger.remember_instrument(OrderId(11), 0);
        let events = lane.read(&live_fill(b"k3x9qzb", b"E2", 3, 5));
        assert_eq!(events.len(), 1);
        assert!(matches!(events[0].input(), Input::Fill(_)));
    }

    // A fill of another lineage's order the engine never adopted is not
    // ours: journaled flagged duplicate (applied nowhere) and counted; the
    // order as the venue holds it follows, for execution to adopt.
    #[test]
    fn live_fill_of_another_lineages_order_is_not_ours() {
        let mut lane = Lane::new();
        let events = lane.read(&live_fill(b"ab12cd4", b"E2", 3, 5));
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].is_duplicate(), "not our fill");
        assert_eq!(lane.counters.fills_not_ours, 1);
        let adopted = lane.ledger.order_of(b"ab12cd4");
        assert!(!adopted.is_own());
        assert!(matches!(events[1].input(), Input::VenueOrder(v) if v.order_id == adopted));
        // Adopted (the venue works it): its next fill is ours.
        let events = lane.read(&live_fill(b"ab12cd4", b"E3", 1, 6));
        assert_eq!(events.len(), 1);
        assert!(!events[0].is_duplicate());
    }

    // Session and business rejects keep FIX's reason in their own ranges.
    #[test]
    fn reject_reasons_name_their_level() {
        let reject = RequestReject {
            level: RejectLevel::Session,
            msg_type: Some(MsgType::NewOrderSingle),
            request_id: Some(b"7"),
            ref_seq_num: Some(3),
            ref_tag: Some(5051),
            reason: Some(0),
            text: None,
        };
        assert_eq!(reject_reason(&reject), venue_reason::SESSION_REJECT);
        let business = RequestReject {
            level: RejectLevel::Business,
            reason: Some(3),
            ..reject
        };
        assert_eq!(reject_reason(&business), venue_reason::BUSINESS_REJECT + 3);
    }
}
