//! Rejections of our requests: a session-level Reject (3) or a
//! BusinessMessageReject (j) of a NewOrderSingle, OrderCancelRequest,
//! OrderCancelReplaceRequest, OrderStatusRequest or OrderMassStatusRequest,
//! turned into one typed [`RequestReject`] that names the request it
//! rejects, so the engine can close that request instead of waiting forever.
//!
//! Owning thread: none (borrowed views and pure functions).
//! Invariants: a Reject names its message only by RefSeqNum(45); the session
//! maps that number to the request's type and id through its
//! [`crate::fix::sent_log::SentLog`]. A BusinessMessageReject names it by
//! BusinessRejectRefID(379) (our ClOrdID or MassStatusReqID) and
//! RefMsgType(372). Nothing here allocates.

use crate::fix::decode::Message;
use crate::fix::encode::Encoder;
use crate::fix::error::ValueError;
use crate::fix::tags::{self, MsgType};

/// BusinessRejectReason(380) 3: unsupported message type (what QuickFIX
/// sends for a message its application does not handle).
pub const BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE: u64 = 3;
/// BusinessRejectReason(380) 0: other.
pub const BUSINESS_REJECT_OTHER: u64 = 0;

/// Which kind of message rejected our request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectLevel {
    /// A session-level Reject (35=3): the message broke a session rule
    /// (QuickFIX's data dictionary, an undefined tag, a bad value) and was
    /// not processed at all.
    Session,
    /// A BusinessMessageReject (35=j): the application refused it.
    Business,
}

/// The counterparty refused one of our requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestReject<'a> {
    /// Session or business level.
    pub level: RejectLevel,
    /// The rejected request's MsgType (from our log of sent messages, else
    /// RefMsgType(372)); `None` when neither names a type this crate knows.
    pub msg_type: Option<MsgType>,
    /// The rejected request's id: the ClOrdID(11) of D, F, G or H, or the
    /// MassStatusReqID(584) of AF (from our log, else
    /// BusinessRejectRefID(379)).
    pub request_id: Option<&'a [u8]>,
    /// RefSeqNum(45): the MsgSeqNum we sent it with.
    pub ref_seq_num: Option<u64>,
    /// RefTagID(371): the offending tag, when the Reject names one.
    pub ref_tag: Option<u32>,
    /// SessionRejectReason(373) or BusinessRejectReason(380).
    pub reason: Option<u64>,
    /// Text(58).
    pub text: Option<&'a [u8]>,
}

impl RequestReject<'_> {
    /// A NewOrderSingle, OrderCancelRequest or OrderCancelReplaceRequest was rejected.
    pub fn is_order_entry(&self) -> bool {
        matches!(
            self.msg_type,
            Some(
                MsgType::NewOrderSingle
                    | MsgType::OrderCancelRequest
                    | MsgType::OrderCancelReplaceRequest
            )
        )
    }
}

/// A BusinessMessageReject (j).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusinessMessageReject<'a> {
    /// RefSeqNum(45), when given.
    pub ref_seq_num: Option<u64>,
    /// RefMsgType(372): the rejected message's MsgType as sent.
    pub ref_msg_type: &'a [u8],
    /// BusinessRejectRefID(379): the rejected message's business id.
    pub ref_id: Option<&'a [u8]>,
    /// BusinessRejectReason(380).
    pub reason: u64,
    /// Text(58).
    pub text: Option<&'a [u8]>,
}

impl<'a> BusinessMessageReject<'a> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::BusinessMessageReject;

    /// Parses a BusinessMessageReject.
    pub fn parse(message: &Message<'a>) -> Result<BusinessMessageReject<'a>, ValueError> {
        Ok(BusinessMessageReject {
            ref_seq_num: message
                .get(tags::REF_SEQ_NUM)
                .map(|_| message.get_u64(tags::REF_SEQ_NUM))
                .transpose()?,
            ref_msg_type: message.require(tags::REF_MSG_TYPE)?,
            ref_id: message.get(tags::BUSINESS_REJECT_REF_ID),
            reason: message.get_u64(tags::BUSINESS_REJECT_REASON)?,
            text: message.get(tags::TEXT),
        })
    }

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder) {
        if let Some(seq_num) = self.ref_seq_num {
            encoder.field_u64(tags::REF_SEQ_NUM, seq_num);
        }
        encoder.field(tags::REF_MSG_TYPE, self.ref_msg_type);
        if let Some(id) = self.ref_id {
            encoder.field(tags::BUSINESS_REJECT_REF_ID, id);
        }
        encoder.field_u64(tags::BUSINESS_REJECT_REASON, self.reason);
        if let Some(text) = self.text {
            encoder.field(tags::TEXT, text);
        }
    }
}

/// The fields of a session-level Reject (3) that describe the rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionReject<'a> {
    /// RefSeqNum(45).
    pub ref_seq_num: u64,
    /// RefTagID(371).
    pub ref_tag: Option<u32>,
    /// RefMsgType(372).
    pub ref_msg_type: Option<&'a [u8]>,
    /// SessionRejectReason(373).
    pub reason: Option<u64>,
    /// Text(58).
    pub text: Option<&'a [u8]>,
}

impl<'a> SessionReject<'a> {
    /// Reads a Reject's fields; an unreadable optional number is dropped
    /// rather than failing the whole Reject (its RefSeqNum is what matters).
    pub fn parse(message: &Message<'a>) -> Result<SessionReject<'a>, ValueError> {
        Ok(SessionReject {
            ref_seq_num: message.get_u64(tags::REF_SEQ_NUM)?,
            ref_tag: message
                .get_u64(tags::REF_TAG_ID)
                .ok()
                .and_then(|tag| u32::try_from(tag).ok()),
            ref_msg_type: message.get(tags::REF_MSG_TYPE),
            reason: message.get_u64(tags::SESSION_REJECT_REASON).ok(),
            text: message.get(tags::TEXT),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::decode::FieldTable;

    #[test]
    fn business_reject_round_trips() {
        // What the acceptor writes, the initiator reads back.
        let reject = BusinessMessageReject {
            ref_seq_num: Some(12),
            ref_msg_type: b"AF",
            ref_id: Some(b"GEN-MS1"),
            reason: BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE,
            text: Some(b"Unsupported Message Type"),
        };
        let mut encoder = Encoder::with_capacity(512);
        encoder.begin(b"j");
        encoder.field_u64(tags::MSG_SEQ_NUM, 3);
        encoder.field(tags::SENDER_COMP_ID, b"A");
        encoder.field_timestamp(tags::SENDING_TIME, 0);
        encoder.field(tags::TARGET_COMP_ID, b"B");
        reject.encode_body(&mut encoder);
        let bytes = encoder.finish().unwrap().to_vec();
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        assert_eq!(BusinessMessageReject::parse(&message), Ok(reject));
    }
}
