//! ExecutionReport (8) and OrderCancelReject (9): parsed into an exact,
//! typed [`OrderUpdate`] for the engine's order state machine, and encoded
//! by the acceptor (simulated venue).
//!
//! Owning thread: none (borrowed views and pure functions).
//! Invariants: [`ExecKind`] is a pure function of ExecType(150) and
//! OrdStatus(39) (see [`ExecKind::from_codes`]); LastPx/LastQty/CumQty/
//! LeavesQty are exact ticks and lots or the report is refused; AvgPx is
//! carried as text because an average need not lie on the tick grid;
//! ExecID(17) is carried so the engine can drop duplicates (PossDup resends).

use crate::fix::decimal::{InstrumentScale, Lots, Ticks};
use crate::fix::decode::Message;
use crate::fix::encode::Encoder;
use crate::fix::error::ValueError;
use crate::fix::order::Side;
use crate::fix::tags::{self, MsgType};

macro_rules! char_enum {
    ($(#[$doc:meta])* $name:ident, $tag:expr, { $($(#[$variant_doc:meta])* $variant:ident = $byte:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$variant_doc])* $variant),+
        }

        impl $name {
            /// The wire character.
            pub const fn as_char(self) -> u8 {
                match self { $($name::$variant => $byte),+ }
            }

            /// Parses the wire character.
            pub fn from_char(value: u8) -> Result<$name, ValueError> {
                match value {
                    $($byte => Ok($name::$variant),)+
                    _ => Err(ValueError::UnknownValue { tag: $tag }),
                }
            }
        }
    };
}

char_enum!(
    /// ExecType(150), FIX 4.4 values plus the pre-4.4 fill codes 1 and 2.
    ExecType, tags::EXEC_TYPE, {
        /// 0.
        New = b'0',
        /// 1 (before FIX 4.4).
        PartialFillLegacy = b'1',
        /// 2 (before FIX 4.4).
        FillLegacy = b'2',
        /// 3.
        DoneForDay = b'3',
        /// 4.
        Canceled = b'4',
        /// 5.
        Replaced = b'5',
        /// 6.
        PendingCancel = b'6',
        /// 7.
        Stopped = b'7',
        /// 8.
        Rejected = b'8',
        /// 9.
        Suspended = b'9',
        /// A.
        PendingNew = b'A',
        /// B.
        Calculated = b'B',
        /// C.
        Expired = b'C',
        /// D.
        Restated = b'D',
        /// E.
        PendingReplace = b'E',
        /// F.
        Trade = b'F',
        /// G.
        TradeCorrect = b'G',
        /// H.
        TradeCancel = b'H',
        /// I.
        OrderStatus = b'I',
    }
);

char_enum!(
    /// OrdStatus(39).
    OrdStatus, tags::ORD_STATUS, {
        /// 0.
        New = b'0',
        /// 1.
        PartiallyFilled = b'1',
        /// 2.
        Filled = b'2',
        /// 3.
        DoneForDay = b'3',
        /// 4.
        Canceled = b'4',
        /// 5 (deprecated in 4.4).
        Replaced = b'5',
        /// 6.
        PendingCancel = b'6',
        /// 7.
        Stopped = b'7',
        /// 8.
        Rejected = b'8',
        /// 9.
        Suspended = b'9',
        /// A.
        PendingNew = b'A',
        /// B.
        Calculated = b'B',
        /// C.
        Expired = b'C',
        /// D.
        AcceptedForBidding = b'D',
        /// E.
        PendingReplace = b'E',
    }
);

/// What a venue message means for the order state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecKind {
    /// The order is live (ExecType New).
    New,
    /// A trade that leaves the order open (ExecType Trade, OrdStatus not Filled).
    PartialFill,
    /// A trade that completes the order (ExecType Trade, OrdStatus Filled).
    Fill,
    /// The order was cancelled (ExecType Canceled).
    Cancelled,
    /// The order was replaced (ExecType Replaced); `cl_ord_id` is the new version.
    Replaced,
    /// The order was rejected (ExecType Rejected).
    Rejected,
    /// The order expired (ExecType Expired): treat as cancelled by the venue.
    Expired,
    /// The venue acknowledged a request but has not acted (Pending New/Cancel/Replace).
    Pending,
    /// A cancel or replace request was refused (OrderCancelReject).
    CancelReject,
    /// Status only: no state change (DoneForDay, Stopped, Suspended,
    /// Calculated, Restated, OrderStatus). TradeCorrect and TradeCancel land
    /// here too and need an operator: positions may have to be corrected.
    Other,
}

impl ExecKind {
    /// The exact mapping from ExecType(150) and OrdStatus(39).
    pub const fn from_codes(exec_type: ExecType, ord_status: OrdStatus) -> ExecKind {
        match exec_type {
            ExecType::Trade | ExecType::PartialFillLegacy | ExecType::FillLegacy => {
                if matches!(ord_status, OrdStatus::Filled) {
                    ExecKind::Fill
                } else {
                    ExecKind::PartialFill
                }
            }
            ExecType::New => ExecKind::New,
            ExecType::Canceled => ExecKind::Cancelled,
            ExecType::Replaced => ExecKind::Replaced,
            ExecType::Rejected => ExecKind::Rejected,
            ExecType::Expired => ExecKind::Expired,
            ExecType::PendingNew | ExecType::PendingCancel | ExecType::PendingReplace => {
                ExecKind::Pending
            }
            ExecType::DoneForDay
            | ExecType::Stopped
            | ExecType::Suspended
            | ExecType::Calculated
            | ExecType::Restated
            | ExecType::TradeCorrect
            | ExecType::TradeCancel
            | ExecType::OrderStatus => ExecKind::Other,
        }
    }
}

/// An ExecutionReport (8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutionReport<'a> {
    /// What it means for the order.
    pub kind: ExecKind,
    /// ExecType(150).
    pub exec_type: ExecType,
    /// OrdStatus(39).
    pub ord_status: OrdStatus,
    /// OrderID(37), the venue's id.
    pub order_id: &'a [u8],
    /// ExecID(17), unique per report: the dedup key.
    pub exec_id: &'a [u8],
    /// ClOrdID(11) (absent on some unsolicited reports).
    pub cl_ord_id: Option<&'a [u8]>,
    /// OrigClOrdID(41) on cancel/replace reports.
    pub orig_cl_ord_id: Option<&'a [u8]>,
    /// Symbol(55).
    pub symbol: Option<&'a [u8]>,
    /// Side(54).
    pub side: Side,
    /// OrderQty(38), when present.
    pub order_qty_lots: Option<Lots>,
    /// LastQty(32); zero when absent.
    pub last_qty_lots: Lots,
    /// LastPx(31); zero when absent.
    pub last_px_ticks: Ticks,
    /// CumQty(14).
    pub cum_qty_lots: Lots,
    /// LeavesQty(151).
    pub leaves_qty_lots: Lots,
    /// AvgPx(6) as sent (may be off the tick grid).
    pub avg_px_text: &'a [u8],
    /// OrdRejReason(103), when present.
    pub ord_rej_reason: Option<u64>,
    /// Text(58), when present.
    pub text: Option<&'a [u8]>,
    /// PossDupFlag(43): a resend; check `exec_id` before applying.
    pub poss_dup: bool,
}

/// CxlRejResponseTo(434).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelRejectResponseTo {
    /// 1: an OrderCancelRequest was refused.
    Cancel,
    /// 2: an OrderCancelReplaceRequest was refused.
    Replace,
}

/// An OrderCancelReject (9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCancelReject<'a> {
    /// OrderID(37).
    pub order_id: &'a [u8],
    /// ClOrdID(11) of the refused request.
    pub cl_ord_id: &'a [u8],
    /// OrigClOrdID(41): the order that stays as it was.
    pub orig_cl_ord_id: &'a [u8],
    /// OrdStatus(39) of that order.
    pub ord_status: OrdStatus,
    /// Which request was refused.
    pub response_to: CancelRejectResponseTo,
    /// CxlRejReason(102), when present.
    pub reason: Option<u64>,
    /// Text(58), when present.
    pub text: Option<&'a [u8]>,
    /// PossDupFlag(43).
    pub poss_dup: bool,
}

/// A venue message about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderUpdate<'a> {
    /// An ExecutionReport.
    Execution(ExecutionReport<'a>),
    /// An OrderCancelReject.
    CancelReject(OrderCancelReject<'a>),
}

impl<'a> OrderUpdate<'a> {
    /// Parses an 8 or 9 message; `Ok(None)` for any other MsgType.
    pub fn parse(
        message: &Message<'a>,
        scale: &InstrumentScale,
    ) -> Result<Option<OrderUpdate<'a>>, ValueError> {
        Ok(match message.msg_type() {
            Some(MsgType::ExecutionReport) => Some(OrderUpdate::Execution(ExecutionReport::parse(
                message, scale,
            )?)),
            Some(MsgType::OrderCancelReject) => Some(OrderUpdate::CancelReject(
                OrderCancelReject::parse(message)?,
            )),
            _ => None,
        })
    }

    /// The state-machine meaning of this update.
    pub fn kind(&self) -> ExecKind {
        match self {
            OrderUpdate::Execution(report) => report.kind,
            OrderUpdate::CancelReject(_) => ExecKind::CancelReject,
        }
    }
}

fn optional_u64(message: &Message<'_>, tag: u32) -> Result<Option<u64>, ValueError> {
    message.get(tag).map(|_| message.get_u64(tag)).transpose()
}

impl<'a> ExecutionReport<'a> {
    /// Parses an ExecutionReport with the instrument's scale.
    pub fn parse(
        message: &Message<'a>,
        scale: &InstrumentScale,
    ) -> Result<ExecutionReport<'a>, ValueError> {
        let exec_type = ExecType::from_char(message.get_char(tags::EXEC_TYPE)?)?;
        let ord_status = OrdStatus::from_char(message.get_char(tags::ORD_STATUS)?)?;
        let lots = |tag| scale.qty_lots(tag, message.require(tag)?);
        let optional_lots = |tag| {
            message
                .get(tag)
                .map(|text| scale.qty_lots(tag, text))
                .transpose()
        };
        let last_px_ticks = match message.get(tags::LAST_PX) {
            Some(text) => scale.price_ticks(tags::LAST_PX, text)?,
            None => Ticks(0),
        };
        Ok(ExecutionReport {
            kind: ExecKind::from_codes(exec_type, ord_status),
            exec_type,
            ord_status,
            order_id: message.require(tags::ORDER_ID)?,
            exec_id: message.require(tags::EXEC_ID)?,
            cl_ord_id: message.get(tags::CL_ORD_ID),
            orig_cl_ord_id: message.get(tags::ORIG_CL_ORD_ID),
            symbol: message.get(tags::SYMBOL),
            side: Side::from_char(tags::SIDE, message.get_char(tags::SIDE)?)?,
            order_qty_lots: optional_lots(tags::ORDER_QTY)?,
            last_qty_lots: optional_lots(tags::LAST_QTY)?.unwrap_or_default(),
            last_px_ticks,
            cum_qty_lots: lots(tags::CUM_QTY)?,
            leaves_qty_lots: lots(tags::LEAVES_QTY)?,
            avg_px_text: message.require(tags::AVG_PX)?,
            ord_rej_reason: optional_u64(message, tags::ORD_REJ_REASON)?,
            text: message.get(tags::TEXT),
            poss_dup: message.is_poss_dup(),
        })
    }

    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::ExecutionReport;

    /// Writes the body fields (after the session's header). `poss_dup` and
    /// `kind` are not written: the session owns PossDupFlag and `kind`
    /// follows from ExecType and OrdStatus.
    pub fn encode_body(&self, encoder: &mut Encoder, scale: &InstrumentScale) {
        encoder.field(tags::ORDER_ID, self.order_id);
        encoder.field(tags::EXEC_ID, self.exec_id);
        encoder.field_char(tags::EXEC_TYPE, self.exec_type.as_char());
        encoder.field_char(tags::ORD_STATUS, self.ord_status.as_char());
        if let Some(cl_ord_id) = self.cl_ord_id {
            encoder.field(tags::CL_ORD_ID, cl_ord_id);
        }
        if let Some(orig_cl_ord_id) = self.orig_cl_ord_id {
            encoder.field(tags::ORIG_CL_ORD_ID, orig_cl_ord_id);
        }
        if let Some(symbol) = self.symbol {
            encoder.field(tags::SYMBOL, symbol);
        }
        encoder.field_char(tags::SIDE, self.side.as_char());
        if let Some(qty) = self.order_qty_lots {
            encoder.field_decimal(tags::ORDER_QTY, scale.lot, qty.0);
        }
        if matches!(self.kind, ExecKind::PartialFill | ExecKind::Fill) {
            encoder.field_decimal(tags::LAST_QTY, scale.lot, self.last_qty_lots.0);
            encoder.field_decimal(tags::LAST_PX, scale.tick, self.last_px_ticks.0);
        }
        let quantities = (self.leaves_qty_lots, self.cum_qty_lots);
        let reject = (self.ord_rej_reason, self.text);
        encode_order_state(encoder, scale, quantities, self.avg_px_text, reject);
    }
}

/// The order-state fields every ExecutionReport ends with: LeavesQty and
/// CumQty (`quantities`), AvgPx, then OrdRejReason and Text (`reject`) when present.
pub(crate) fn encode_order_state(
    encoder: &mut Encoder,
    scale: &InstrumentScale,
    (leaves_qty_lots, cum_qty_lots): (Lots, Lots),
    avg_px_text: &[u8],
    (ord_rej_reason, text): (Option<u64>, Option<&[u8]>),
) {
    encoder.field_decimal(tags::LEAVES_QTY, scale.lot, leaves_qty_lots.0);
    encoder.field_decimal(tags::CUM_QTY, scale.lot, cum_qty_lots.0);
    encoder.field(tags::AVG_PX, avg_px_text);
    if let Some(reason) = ord_rej_reason {
        encoder.field_u64(tags::ORD_REJ_REASON, reason);
    }
    if let Some(text) = text {
        encoder.field(tags::TEXT, text);
    }
}

impl<'a> OrderCancelReject<'a> {
    /// Parses an OrderCancelReject.
    pub fn parse(message: &Message<'a>) -> Result<OrderCancelReject<'a>, ValueError> {
        let response_to = match message.get_char(tags::CXL_REJ_RESPONSE_TO)? {
            b'1' => CancelRejectResponseTo::Cancel,
            b'2' => CancelRejectResponseTo::Replace,
            _ => {
                return Err(ValueError::UnknownValue {
                    tag: tags::CXL_REJ_RESPONSE_TO,
                })
            }
        };
        Ok(OrderCancelReject {
            order_id: message.require(tags::ORDER_ID)?,
            cl_ord_id: message.require(tags::CL_ORD_ID)?,
            orig_cl_ord_id: message.require(tags::ORIG_CL_ORD_ID)?,
            ord_status: OrdStatus::from_char(message.get_char(tags::ORD_STATUS)?)?,
            response_to,
            reason: optional_u64(message, tags::CXL_REJ_REASON)?,
            text: message.get(tags::TEXT),
            poss_dup: message.is_poss_dup(),
        })
    }

    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::OrderCancelReject;

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder) {
        encoder.field(tags::ORDER_ID, self.order_id);
        encoder.field(tags::CL_ORD_ID, self.cl_ord_id);
        encoder.field(tags::ORIG_CL_ORD_ID, self.orig_cl_ord_id);
        encoder.field_char(tags::ORD_STATUS, self.ord_status.as_char());
        let response_to = match self.response_to {
            CancelRejectResponseTo::Cancel => b'1',
            CancelRejectResponseTo::Replace => b'2',
        };
        encoder.field_char(tags::CXL_REJ_RESPONSE_TO, response_to);
        if let Some(reason) = self.reason {
            encoder.field_u64(tags::CXL_REJ_REASON, reason);
        }
        if let Some(text) = self.text {
            encoder.field(tags::TEXT, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_maps_on_ord_status() {
        // A trade is a fill only when OrdStatus says Filled.
        assert_eq!(
            ExecKind::from_codes(ExecType::Trade, OrdStatus::Filled),
            ExecKind::Fill
        );
        assert_eq!(
            ExecKind::from_codes(ExecType::Trade, OrdStatus::PartiallyFilled),
            ExecKind::PartialFill
        );
        assert_eq!(
            ExecKind::from_codes(ExecType::FillLegacy, OrdStatus::Filled),
            ExecKind::Fill
        );
        assert_eq!(
            ExecKind::from_codes(ExecType::Trade, OrdStatus::Canceled),
            ExecKind::PartialFill
        );
    }

    #[test]
    fn every_exec_type_code_round_trips() {
        // All ExecType characters parse back to themselves.
        for byte in b"0123456789ABCDEFGHI" {
            assert_eq!(ExecType::from_char(*byte).unwrap().as_char(), *byte);
        }
        assert!(ExecType::from_char(b'Z').is_err());
        for byte in b"0123456789ABCDE" {
            assert_eq!(OrdStatus::from_char(*byte).unwrap().as_char(), *byte);
        }
    }
}
