//! Order status for reconciliation: OrderStatusRequest (H) and
//! OrderMassStatusRequest (AF), encoded by the initiator and parsed by the
//! acceptor, and their answers, ExecutionReports with ExecType=I (Order
//! Status), encoded by the acceptor and parsed by the initiator as a
//! [`StatusReport`].
//!
//! Owning thread: none (borrowed views and pure functions).
//! Invariants: a [`StatusReport`] only ever comes from an ExecutionReport
//! whose ExecType(150) is `I`, so a status answer is never mistaken for a
//! live fill or ack; quantities are exact lots, the price exact ticks;
//! parsing borrows from the received buffer and never allocates.
//!
//! Answers, after the FIX 4.4 specification and what the acceptor here does:
//! - ExecID(17) is `0` on every status report (FIX 4.4, field ExecID): a
//!   status report is not an execution, and never enters fill dedup.
//! - H for an order the venue does not know: one report with OrdStatus=8
//!   (Rejected), OrdRejReason(103)=5 (Unknown order), OrderID `NONE`
//!   (FIX 4.4 Appendix D, order status request for an unknown order); see
//!   [`StatusReport::unknown_order`].
//! - AF: one report per matching order, each echoing MassStatusReqID(584)
//!   with TotNumReports(911) = the number of reports and
//!   LastRptRequested(912)=Y on the last. FIX 4.4 does not say how to answer
//!   when no order matches (QuickFIX has no built-in answer: its executor
//!   refuses AF with a BusinessMessageReject, reason 3). Genesis answers
//!   one report with TotNumReports=0 and LastRptRequested=Y, OrderID `NONE`
//!   and OrdStatus=8 (Rejected), so the requester learns "none" at once
//!   rather than at its deadline; see [`StatusReport::no_orders`]. An
//!   initiator reads such an answer with [`StatusReport::is_empty_answer`].

use crate::fix::decimal::{InstrumentScale, Lots, Ticks};
use crate::fix::decode::Message;
use crate::fix::encode::Encoder;
use crate::fix::error::ValueError;
use crate::fix::exec_report::{encode_order_state, ExecType, OrdStatus};
use crate::fix::order::Side;
use crate::fix::tags::{self, MsgType};

/// OrderID(37) of a report about an order the venue does not have.
pub const ORDER_ID_NONE: &[u8] = b"NONE";
/// ExecID(17) of every status report.
pub const STATUS_EXEC_ID: &[u8] = b"0";
/// OrdRejReason(103) 5: unknown order.
pub const ORD_REJ_REASON_UNKNOWN_ORDER: u64 = 5;

/// An OrderStatusRequest (H): the status of one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderStatusRequest<'a> {
    /// ClOrdID(11) of the order (its current version).
    pub cl_ord_id: &'a [u8],
    /// OrderID(37), the venue's id, when known.
    pub order_id: Option<&'a [u8]>,
    /// OrdStatusReqID(790): echoed on the answer, to match it to this request.
    pub ord_status_req_id: Option<&'a [u8]>,
    /// Symbol(55).
    pub symbol: &'a [u8],
    /// Side(54).
    pub side: Side,
}

/// MassStatusReqType(585).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MassStatusReqType {
    /// 1: the orders of one security (Symbol(55)).
    Security = 1,
    /// 2: of one underlying security.
    UnderlyingSecurity = 2,
    /// 3: of one product.
    Product = 3,
    /// 4: of one CFICode.
    CfiCode = 4,
    /// 5: of one security type.
    SecurityType = 5,
    /// 6: of one trading session.
    TradingSession = 6,
    /// 7: all orders.
    AllOrders = 7,
    /// 8: of one party.
    PartyId = 8,
}

impl MassStatusReqType {
    const ALL: [MassStatusReqType; 8] = [
        MassStatusReqType::Security,
        MassStatusReqType::UnderlyingSecurity,
        MassStatusReqType::Product,
        MassStatusReqType::CfiCode,
        MassStatusReqType::SecurityType,
        MassStatusReqType::TradingSession,
        MassStatusReqType::AllOrders,
        MassStatusReqType::PartyId,
    ];

    /// Parses the wire value.
    pub fn from_code(code: u64) -> Result<MassStatusReqType, ValueError> {
        MassStatusReqType::ALL
            .into_iter()
            .find(|req_type| *req_type as u64 == code)
            .ok_or(ValueError::UnknownValue {
                tag: tags::MASS_STATUS_REQ_TYPE,
            })
    }
}

/// An OrderMassStatusRequest (AF): the status of every matching order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderMassStatusRequest<'a> {
    /// MassStatusReqID(584): echoed on every answer.
    pub mass_status_req_id: &'a [u8],
    /// MassStatusReqType(585): Genesis sends 7 (all orders).
    pub req_type: MassStatusReqType,
    /// Symbol(55), for type 1.
    pub symbol: Option<&'a [u8]>,
    /// Side(54): only orders of this side.
    pub side: Option<Side>,
}

/// A status request as the acceptor receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusRequest<'a> {
    /// H.
    Order(OrderStatusRequest<'a>),
    /// AF.
    Mass(OrderMassStatusRequest<'a>),
}

fn side(message: &Message<'_>) -> Result<Side, ValueError> {
    Side::from_char(tags::SIDE, message.get_char(tags::SIDE)?)
}

impl OrderStatusRequest<'_> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::OrderStatusRequest;

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder) {
        if let Some(order_id) = self.order_id {
            encoder.field(tags::ORDER_ID, order_id);
        }
        encoder.field(tags::CL_ORD_ID, self.cl_ord_id);
        if let Some(id) = self.ord_status_req_id {
            encoder.field(tags::ORD_STATUS_REQ_ID, id);
        }
        encoder.field(tags::SYMBOL, self.symbol);
        encoder.field_char(tags::SIDE, self.side.as_char());
    }
}

impl OrderMassStatusRequest<'_> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::OrderMassStatusRequest;

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder) {
        encoder.field(tags::MASS_STATUS_REQ_ID, self.mass_status_req_id);
        encoder.field_u64(tags::MASS_STATUS_REQ_TYPE, self.req_type as u64);
        if let Some(symbol) = self.symbol {
            encoder.field(tags::SYMBOL, symbol);
        }
        if let Some(side) = self.side {
            encoder.field_char(tags::SIDE, side.as_char());
        }
    }
}

impl<'a> StatusRequest<'a> {
    /// Parses an H or AF message; `Ok(None)` for any other MsgType.
    pub fn parse(message: &Message<'a>) -> Result<Option<StatusRequest<'a>>, ValueError> {
        Ok(Some(match message.msg_type() {
            Some(MsgType::OrderStatusRequest) => StatusRequest::Order(OrderStatusRequest {
                cl_ord_id: message.require(tags::CL_ORD_ID)?,
                order_id: message.get(tags::ORDER_ID),
                ord_status_req_id: message.get(tags::ORD_STATUS_REQ_ID),
                symbol: message.require(tags::SYMBOL)?,
                side: side(message)?,
            }),
            Some(MsgType::OrderMassStatusRequest) => StatusRequest::Mass(OrderMassStatusRequest {
                mass_status_req_id: message.require(tags::MASS_STATUS_REQ_ID)?,
                req_type: MassStatusReqType::from_code(
                    message.get_u64(tags::MASS_STATUS_REQ_TYPE)?,
                )?,
                symbol: message.get(tags::SYMBOL),
                side: message.get(tags::SIDE).map(|_| side(message)).transpose()?,
            }),
            _ => return Ok(None),
        }))
    }
}

/// An ExecutionReport with ExecType=I: the venue's view of one order (or
/// of none, see the module notes), answering an H or an AF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusReport<'a> {
    /// OrderID(37); [`ORDER_ID_NONE`] when the venue has no such order.
    pub order_id: &'a [u8],
    /// ExecID(17); [`STATUS_EXEC_ID`] from a FIX 4.4 venue.
    pub exec_id: &'a [u8],
    /// OrdStatus(39): the order's state at the venue.
    pub ord_status: OrdStatus,
    /// ClOrdID(11): the order's current version.
    pub cl_ord_id: Option<&'a [u8]>,
    /// OrigClOrdID(41), when the order was replaced.
    pub orig_cl_ord_id: Option<&'a [u8]>,
    /// Symbol(55).
    pub symbol: Option<&'a [u8]>,
    /// Side(54).
    pub side: Side,
    /// OrderQty(38).
    pub order_qty_lots: Option<Lots>,
    /// Price(44).
    pub price_ticks: Option<Ticks>,
    /// CumQty(14): filled so far.
    pub cum_qty_lots: Lots,
    /// LeavesQty(151): still working.
    pub leaves_qty_lots: Lots,
    /// AvgPx(6) as sent.
    pub avg_px_text: &'a [u8],
    /// OrdRejReason(103); 5 for an unknown order.
    pub ord_rej_reason: Option<u64>,
    /// Text(58).
    pub text: Option<&'a [u8]>,
    /// MassStatusReqID(584): the AF this answers.
    pub mass_status_req_id: Option<&'a [u8]>,
    /// OrdStatusReqID(790): the H this answers, when the H carried one.
    pub ord_status_req_id: Option<&'a [u8]>,
    /// TotNumReports(911): how many reports answer the AF (0: none match).
    pub tot_num_reports: Option<u64>,
    /// LastRptRequested(912)=Y: the last report of the answer.
    pub last_rpt_requested: bool,
    /// PossDupFlag(43).
    pub poss_dup: bool,
}

impl<'a> StatusReport<'a> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::ExecutionReport;

    /// Parses an ExecutionReport with ExecType=I; `Ok(None)` for any other
    /// message (other ExecutionReports included).
    pub fn parse(
        message: &Message<'a>,
        scale: &InstrumentScale,
    ) -> Result<Option<StatusReport<'a>>, ValueError> {
        if message.msg_type() != Some(MsgType::ExecutionReport)
            || message.get(tags::EXEC_TYPE) != Some(&[ExecType::OrderStatus.as_char()][..])
        {
            return Ok(None);
        }
        let lots = |tag| scale.qty_lots(tag, message.require(tag)?);
        let optional_u64 = |tag| message.get(tag).map(|_| message.get_u64(tag)).transpose();
        Ok(Some(StatusReport {
            order_id: message.require(tags::ORDER_ID)?,
            exec_id: message.require(tags::EXEC_ID)?,
            ord_status: OrdStatus::from_char(message.get_char(tags::ORD_STATUS)?)?,
            cl_ord_id: message.get(tags::CL_ORD_ID),
            orig_cl_ord_id: message.get(tags::ORIG_CL_ORD_ID),
            symbol: message.get(tags::SYMBOL),
            side: side(message)?,
            order_qty_lots: message
                .get(tags::ORDER_QTY)
                .map(|text| scale.qty_lots(tags::ORDER_QTY, text))
                .transpose()?,
            price_ticks: message
                .get(tags::PRICE)
                .map(|text| scale.price_ticks(tags::PRICE, text))
                .transpose()?,
            cum_qty_lots: lots(tags::CUM_QTY)?,
            leaves_qty_lots: lots(tags::LEAVES_QTY)?,
            avg_px_text: message.require(tags::AVG_PX)?,
            ord_rej_reason: optional_u64(tags::ORD_REJ_REASON)?,
            text: message.get(tags::TEXT),
            mass_status_req_id: message.get(tags::MASS_STATUS_REQ_ID),
            ord_status_req_id: message.get(tags::ORD_STATUS_REQ_ID),
            tot_num_reports: optional_u64(tags::TOT_NUM_REPORTS)?,
            last_rpt_requested: message.get_flag(tags::LAST_RPT_REQUESTED)?,
            poss_dup: message.is_poss_dup(),
        }))
    }

    /// Writes the body fields (after the session's header); `poss_dup` is
    /// the session's to write.
    pub fn encode_body(&self, encoder: &mut Encoder, scale: &InstrumentScale) {
        encoder.field(tags::ORDER_ID, self.order_id);
        encoder.field(tags::EXEC_ID, self.exec_id);
        encoder.field_char(tags::EXEC_TYPE, ExecType::OrderStatus.as_char());
        encoder.field_char(tags::ORD_STATUS, self.ord_status.as_char());
        let optional = [
            (tags::CL_ORD_ID, self.cl_ord_id),
            (tags::ORIG_CL_ORD_ID, self.orig_cl_ord_id),
            (tags::ORD_STATUS_REQ_ID, self.ord_status_req_id),
            (tags::MASS_STATUS_REQ_ID, self.mass_status_req_id),
            (tags::SYMBOL, self.symbol),
        ];
        for (tag, value) in optional {
            if let Some(value) = value {
                encoder.field(tag, value);
            }
        }
        if let Some(total) = self.tot_num_reports {
            encoder.field_u64(tags::TOT_NUM_REPORTS, total);
        }
        if self.mass_status_req_id.is_some() || self.last_rpt_requested {
            let flag = if self.last_rpt_requested { b'Y' } else { b'N' };
            encoder.field_char(tags::LAST_RPT_REQUESTED, flag);
        }
        encoder.field_char(tags::SIDE, self.side.as_char());
        if let Some(qty) = self.order_qty_lots {
            encoder.field_decimal(tags::ORDER_QTY, scale.lot, qty.0);
        }
        if let Some(price) = self.price_ticks {
            encoder.field_decimal(tags::PRICE, scale.tick, price.0);
        }
        let quantities = (self.leaves_qty_lots, self.cum_qty_lots);
        let reject = (self.ord_rej_reason, self.text);
        encode_order_state(encoder, scale, quantities, self.avg_px_text, reject);
    }

    /// The answer to an H for an order the venue does not know.
    pub fn unknown_order(request: &OrderStatusRequest<'a>) -> StatusReport<'a> {
        StatusReport {
            cl_ord_id: Some(request.cl_ord_id),
            ord_status_req_id: request.ord_status_req_id,
            symbol: Some(request.symbol),
            ord_rej_reason: Some(ORD_REJ_REASON_UNKNOWN_ORDER),
            text: Some(b"unknown order"),
            ..StatusReport::blank(request.side)
        }
    }

    /// The single answer to an AF that no order matches.
    pub fn no_orders(request: &OrderMassStatusRequest<'a>) -> StatusReport<'a> {
        StatusReport {
            mass_status_req_id: Some(request.mass_status_req_id),
            symbol: request.symbol,
            tot_num_reports: Some(0),
            last_rpt_requested: true,
            text: Some(b"no orders match the request"),
            ..StatusReport::blank(request.side.unwrap_or(Side::Buy))
        }
    }

    /// A report about no order: OrderID `NONE`, ExecID `0`, OrdStatus
    /// Rejected, nothing filled or left. Fill in the fields that apply with
    /// struct update syntax (`StatusReport { cl_ord_id, .. StatusReport::blank(side) }`).
    pub fn blank(side: Side) -> StatusReport<'a> {
        StatusReport {
            order_id: ORDER_ID_NONE,
            exec_id: STATUS_EXEC_ID,
            ord_status: OrdStatus::Rejected,
            cl_ord_id: None,
            orig_cl_ord_id: None,
            symbol: None,
            side,
            order_qty_lots: None,
            price_ticks: None,
            cum_qty_lots: Lots(0),
            leaves_qty_lots: Lots(0),
            avg_px_text: b"0",
            ord_rej_reason: None,
            text: None,
            mass_status_req_id: None,
            ord_status_req_id: None,
            tot_num_reports: None,
            last_rpt_requested: false,
            poss_dup: false,
        }
    }

    /// The venue does not know the order asked about (H answer).
    pub fn is_unknown_order(&self) -> bool {
        self.ord_status == OrdStatus::Rejected
            && self.ord_rej_reason == Some(ORD_REJ_REASON_UNKNOWN_ORDER)
    }

    /// The AF answer that says no order matches: it carries no order.
    pub fn is_empty_answer(&self) -> bool {
        self.tot_num_reports == Some(0)
    }

    /// The order is still working at the venue: quantity left and not in
    /// a final state.
    pub fn is_open(&self) -> bool {
        let done = matches!(
            self.ord_status,
            OrdStatus::Filled
                | OrdStatus::Canceled
                | OrdStatus::Rejected
                | OrdStatus::Expired
                | OrdStatus::DoneForDay
        );
        !done && self.leaves_qty_lots.0 > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::decode::FieldTable;

    fn scale() -> InstrumentScale {
        InstrumentScale::new("0.01", "1").unwrap()
    }

    fn encoded(msg_type: MsgType, body: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut encoder = Encoder::with_capacity(1024);
        encoder.begin(msg_type.as_bytes());
        encoder.field_u64(tags::MSG_SEQ_NUM, 2);
        encoder.field(tags::SENDER_COMP_ID, b"A");
        encoder.field_timestamp(tags::SENDING_TIME, 0);
        encoder.field(tags::TARGET_COMP_ID, b"B");
        body(&mut encoder);
        encoder.finish().unwrap().to_vec()
    }

    #[test]
    fn requests_round_trip() {
        // H and AF as the initiator writes them parse back identically.
        let order = OrderStatusRequest {
            cl_ord_id: b"C7.r2",
            order_id: Some(b"V9"),
            ord_status_req_id: Some(b"GEN-OS1.0"),
            symbol: b"ACME",
            side: Side::Sell,
        };
        let mass = OrderMassStatusRequest {
            mass_status_req_id: b"GEN-MS1",
            req_type: MassStatusReqType::AllOrders,
            symbol: None,
            side: None,
        };
        let mut table = FieldTable::new();
        let bytes = encoded(MsgType::OrderStatusRequest, |e| order.encode_body(e));
        let message = table.decode(&bytes).unwrap();
        assert_eq!(
            StatusRequest::parse(&message),
            Ok(Some(StatusRequest::Order(order)))
        );
        let bytes = encoded(MsgType::OrderMassStatusRequest, |e| mass.encode_body(e));
        let message = table.decode(&bytes).unwrap();
        assert_eq!(message.get(tags::MASS_STATUS_REQ_TYPE), Some(&b"7"[..]));
        assert_eq!(
            StatusRequest::parse(&message),
            Ok(Some(StatusRequest::Mass(mass)))
        );
    }

    #[test]
    fn unknown_order_answer_follows_the_spec() {
        // OrdStatus 8, OrdRejReason 5, ExecType I, ExecID 0, OrderID NONE.
        let request = OrderStatusRequest {
            cl_ord_id: b"C1",
            order_id: None,
            ord_status_req_id: None,
            symbol: b"ACME",
            side: Side::Buy,
        };
        let report = StatusReport::unknown_order(&request);
        let bytes = encoded(MsgType::ExecutionReport, |e| {
            report.encode_body(e, &scale())
        });
        let text = String::from_utf8_lossy(&bytes).replace('\x01', "|");
        for field in [
            "|150=I|",
            "|39=8|",
            "|103=5|",
            "|17=0|",
            "|37=NONE|",
            "|11=C1|",
        ] {
            assert!(text.contains(field), "{field} missing in {text}");
        }
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        let parsed = StatusReport::parse(&message, &scale()).unwrap().unwrap();
        assert_eq!(parsed, report);
        assert!(parsed.is_unknown_order() && !parsed.is_open());
    }

    #[test]
    fn empty_mass_answer_is_recognised() {
        // TotNumReports 0 with LastRptRequested Y, echoing the request id.
        let request = OrderMassStatusRequest {
            mass_status_req_id: b"M1",
            req_type: MassStatusReqType::AllOrders,
            symbol: None,
            side: None,
        };
        let report = StatusReport::no_orders(&request);
        let bytes = encoded(MsgType::ExecutionReport, |e| {
            report.encode_body(e, &scale())
        });
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        let parsed = StatusReport::parse(&message, &scale()).unwrap().unwrap();
        assert_eq!(parsed, report);
        assert!(parsed.is_empty_answer() && parsed.last_rpt_requested);
        assert_eq!(parsed.mass_status_req_id, Some(&b"M1"[..]));
    }

    #[test]
    fn mass_status_req_type_codes_round_trip() {
        // 1..=8 parse to the variant with that code; 0 and 9 are refused.
        for code in 1..=8u64 {
            assert_eq!(
                MassStatusReqType::from_code(code).map(|t| t as u64),
                Ok(code)
            );
        }
        for code in [0u64, 9] {
            assert!(MassStatusReqType::from_code(code).is_err(), "{code}");
        }
    }

    #[test]
    fn other_execution_reports_are_not_status() {
        // A fill (ExecType F) is never parsed as a status report.
        let bytes = encoded(MsgType::ExecutionReport, |e| {
            e.field(tags::ORDER_ID, b"O1");
            e.field(tags::EXEC_ID, b"X1");
            e.field(tags::EXEC_TYPE, b"F");
        });
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        assert_eq!(StatusReport::parse(&message, &scale()), Ok(None));
    }
}
