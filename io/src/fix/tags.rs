//! FIX 4.4 tag numbers and message types used by Genesis.
//!
//! Owning thread: none (constants and a `Copy` enum).
//! Invariant: every [`MsgType`] round-trips through [`MsgType::as_bytes`] and
//! [`MsgType::from_bytes`].

/// Account(1).
pub const ACCOUNT: u32 = 1;
/// User-defined (5000-9999): the triggering market data's venue time in ns.
pub const GENESIS_TRIGGER_NS: u32 = 5051;
/// AvgPx(6).
pub const AVG_PX: u32 = 6;
/// BeginSeqNo(7).
pub const BEGIN_SEQ_NO: u32 = 7;
/// BeginString(8).
pub const BEGIN_STRING: u32 = 8;
/// BodyLength(9).
pub const BODY_LENGTH: u32 = 9;
/// CheckSum(10).
pub const CHECK_SUM: u32 = 10;
/// ClOrdID(11).
pub const CL_ORD_ID: u32 = 11;
/// CumQty(14).
pub const CUM_QTY: u32 = 14;
/// EndSeqNo(16).
pub const END_SEQ_NO: u32 = 16;
/// ExecID(17).
pub const EXEC_ID: u32 = 17;
/// HandlInst(21).
pub const HANDL_INST: u32 = 21;
/// LastPx(31).
pub const LAST_PX: u32 = 31;
/// LastQty(32).
pub const LAST_QTY: u32 = 32;
/// MsgSeqNum(34).
pub const MSG_SEQ_NUM: u32 = 34;
/// MsgType(35).
pub const MSG_TYPE: u32 = 35;
/// NewSeqNo(36).
pub const NEW_SEQ_NO: u32 = 36;
/// OrderID(37).
pub const ORDER_ID: u32 = 37;
/// OrderQty(38).
pub const ORDER_QTY: u32 = 38;
/// OrdStatus(39).
pub const ORD_STATUS: u32 = 39;
/// OrdType(40).
pub const ORD_TYPE: u32 = 40;
/// OrigClOrdID(41).
pub const ORIG_CL_ORD_ID: u32 = 41;
/// PossDupFlag(43).
pub const POSS_DUP_FLAG: u32 = 43;
/// Price(44).
pub const PRICE: u32 = 44;
/// RefSeqNum(45).
pub const REF_SEQ_NUM: u32 = 45;
/// SenderCompID(49).
pub const SENDER_COMP_ID: u32 = 49;
/// SendingTime(52).
pub const SENDING_TIME: u32 = 52;
/// Side(54).
pub const SIDE: u32 = 54;
/// Symbol(55).
pub const SYMBOL: u32 = 55;
/// TargetCompID(56).
pub const TARGET_COMP_ID: u32 = 56;
/// Text(58).
pub const TEXT: u32 = 58;
/// TimeInForce(59).
pub const TIME_IN_FORCE: u32 = 59;
/// TransactTime(60).
pub const TRANSACT_TIME: u32 = 60;
/// EncryptMethod(98).
pub const ENCRYPT_METHOD: u32 = 98;
/// CxlRejReason(102).
pub const CXL_REJ_REASON: u32 = 102;
/// OrdRejReason(103).
pub const ORD_REJ_REASON: u32 = 103;
/// HeartBtInt(108).
pub const HEART_BT_INT: u32 = 108;
/// TestReqID(112).
pub const TEST_REQ_ID: u32 = 112;
/// OrigSendingTime(122).
pub const ORIG_SENDING_TIME: u32 = 122;
/// GapFillFlag(123).
pub const GAP_FILL_FLAG: u32 = 123;
/// ResetSeqNumFlag(141).
pub const RESET_SEQ_NUM_FLAG: u32 = 141;
/// ExecType(150).
pub const EXEC_TYPE: u32 = 150;
/// LeavesQty(151).
pub const LEAVES_QTY: u32 = 151;
/// RefTagID(371).
pub const REF_TAG_ID: u32 = 371;
/// RefMsgType(372).
pub const REF_MSG_TYPE: u32 = 372;
/// SessionRejectReason(373).
pub const SESSION_REJECT_REASON: u32 = 373;
/// BusinessRejectRefID(379).
pub const BUSINESS_REJECT_REF_ID: u32 = 379;
/// BusinessRejectReason(380).
pub const BUSINESS_REJECT_REASON: u32 = 380;
/// CxlRejResponseTo(434).
pub const CXL_REJ_RESPONSE_TO: u32 = 434;
/// MassStatusReqID(584).
pub const MASS_STATUS_REQ_ID: u32 = 584;
/// MassStatusReqType(585).
pub const MASS_STATUS_REQ_TYPE: u32 = 585;
/// OrdStatusReqID(790).
pub const ORD_STATUS_REQ_ID: u32 = 790;
/// TotNumReports(911).
pub const TOT_NUM_REPORTS: u32 = 911;
/// LastRptRequested(912).
pub const LAST_RPT_REQUESTED: u32 = 912;

/// The FIX message types this crate understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgType {
    /// Heartbeat (0).
    Heartbeat,
    /// TestRequest (1).
    TestRequest,
    /// ResendRequest (2).
    ResendRequest,
    /// Reject (3), session level.
    Reject,
    /// SequenceReset (4), reset or gap fill.
    SequenceReset,
    /// Logout (5).
    Logout,
    /// Logon (A).
    Logon,
    /// NewOrderSingle (D).
    NewOrderSingle,
    /// OrderCancelRequest (F).
    OrderCancelRequest,
    /// OrderCancelReplaceRequest (G).
    OrderCancelReplaceRequest,
    /// ExecutionReport (8).
    ExecutionReport,
    /// OrderCancelReject (9).
    OrderCancelReject,
    /// OrderStatusRequest (H).
    OrderStatusRequest,
    /// OrderMassStatusRequest (AF).
    OrderMassStatusRequest,
    /// BusinessMessageReject (j).
    BusinessMessageReject,
}

impl MsgType {
    /// The MsgType(35) value on the wire.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            MsgType::Heartbeat => b"0",
            MsgType::TestRequest => b"1",
            MsgType::ResendRequest => b"2",
            MsgType::Reject => b"3",
            MsgType::SequenceReset => b"4",
            MsgType::Logout => b"5",
            MsgType::Logon => b"A",
            MsgType::NewOrderSingle => b"D",
            MsgType::OrderCancelRequest => b"F",
            MsgType::OrderCancelReplaceRequest => b"G",
            MsgType::ExecutionReport => b"8",
            MsgType::OrderCancelReject => b"9",
            MsgType::OrderStatusRequest => b"H",
            MsgType::OrderMassStatusRequest => b"AF",
            MsgType::BusinessMessageReject => b"j",
        }
    }

    /// Parses a MsgType(35) value; `None` for types this crate does not know.
    pub fn from_bytes(value: &[u8]) -> Option<MsgType> {
        if value == b"AF" {
            return Some(MsgType::OrderMassStatusRequest);
        }
        let [byte] = value else { return None };
        Some(match byte {
            b'0' => MsgType::Heartbeat,
            b'1' => MsgType::TestRequest,
            b'2' => MsgType::ResendRequest,
            b'3' => MsgType::Reject,
            b'4' => MsgType::SequenceReset,
            b'5' => MsgType::Logout,
            b'A' => MsgType::Logon,
            b'D' => MsgType::NewOrderSingle,
            b'F' => MsgType::OrderCancelRequest,
            b'G' => MsgType::OrderCancelReplaceRequest,
            b'8' => MsgType::ExecutionReport,
            b'9' => MsgType::OrderCancelReject,
            b'H' => MsgType::OrderStatusRequest,
            b'j' => MsgType::BusinessMessageReject,
            _ => return None,
        })
    }

    /// True for session-level (administrative) messages.
    pub const fn is_admin(self) -> bool {
        matches!(
            self,
            MsgType::Heartbeat
                | MsgType::TestRequest
                | MsgType::ResendRequest
                | MsgType::Reject
                | MsgType::SequenceReset
                | MsgType::Logout
                | MsgType::Logon
        )
    }

    /// Body tags a message of this type must carry (beyond the standard header).
    pub const fn required_tags(self) -> &'static [u32] {
        match self {
            MsgType::Heartbeat | MsgType::Logout => &[],
            MsgType::Reject => &[REF_SEQ_NUM],
            MsgType::TestRequest => &[TEST_REQ_ID],
            MsgType::ResendRequest => &[BEGIN_SEQ_NO, END_SEQ_NO],
            MsgType::SequenceReset => &[NEW_SEQ_NO],
            MsgType::Logon => &[ENCRYPT_METHOD, HEART_BT_INT],
            MsgType::NewOrderSingle => {
                &[CL_ORD_ID, SIDE, TRANSACT_TIME, ORDER_QTY, ORD_TYPE, SYMBOL]
            }
            MsgType::OrderCancelRequest => {
                &[ORIG_CL_ORD_ID, CL_ORD_ID, SIDE, TRANSACT_TIME, SYMBOL]
            }
            MsgType::OrderCancelReplaceRequest => &[
                ORIG_CL_ORD_ID,
                CL_ORD_ID,
                SIDE,
                TRANSACT_TIME,
                ORD_TYPE,
                SYMBOL,
            ],
            MsgType::ExecutionReport => &[
                ORDER_ID, EXEC_ID, EXEC_TYPE, ORD_STATUS, SIDE, LEAVES_QTY, CUM_QTY, AVG_PX,
            ],
            MsgType::OrderCancelReject => &[
                ORDER_ID,
                CL_ORD_ID,
                ORIG_CL_ORD_ID,
                ORD_STATUS,
                CXL_REJ_RESPONSE_TO,
            ],
            MsgType::OrderStatusRequest => &[CL_ORD_ID, SIDE],
            MsgType::OrderMassStatusRequest => &[MASS_STATUS_REQ_ID, MASS_STATUS_REQ_TYPE],
            MsgType::BusinessMessageReject => &[REF_MSG_TYPE, BUSINESS_REJECT_REASON],
        }
    }
}

/// Every [`MsgType`] in declaration order (indexed by `MsgType as usize`),
/// for tests and tables such as the session's header prefixes.
pub const MSG_TYPES: [MsgType; 15] = [
    MsgType::Heartbeat,
    MsgType::TestRequest,
    MsgType::ResendRequest,
    MsgType::Reject,
    MsgType::SequenceReset,
    MsgType::Logout,
    MsgType::Logon,
    MsgType::NewOrderSingle,
    MsgType::OrderCancelRequest,
    MsgType::OrderCancelReplaceRequest,
    MsgType::ExecutionReport,
    MsgType::OrderCancelReject,
    MsgType::OrderStatusRequest,
    MsgType::OrderMassStatusRequest,
    MsgType::BusinessMessageReject,
];

/// SessionRejectReason(373) values this crate sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SessionRejectReason {
    /// 1: a required tag is missing.
    RequiredTagMissing = 1,
    /// 4: a tag is present without a value.
    TagWithoutValue = 4,
    /// 5: a value is incorrect (out of range) for this tag.
    ValueIncorrect = 5,
    /// 6: incorrect data format for a value.
    IncorrectDataFormat = 6,
    /// 9: SenderCompID or TargetCompID problem.
    CompIdProblem = 9,
    /// 11: invalid (unknown) MsgType.
    InvalidMsgType = 11,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_msg_type_round_trips() {
        // The header's promise: as_bytes and from_bytes are inverses.
        for msg_type in MSG_TYPES {
            assert_eq!(MsgType::from_bytes(msg_type.as_bytes()), Some(msg_type));
        }
        for unknown in [&b""[..], b"A0", b"AFX", b"Z", b"FA"] {
            assert_eq!(MsgType::from_bytes(unknown), None, "{unknown:?}");
        }
    }
}
