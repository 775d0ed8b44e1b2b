//! The sending half of a session: sequence numbers out, header fields,
//! admin message builders, and the typed business sends.
//!
//! Owning thread: the session's thread.
//! Invariants: a MsgSeqNum is consumed only when the whole message was
//! queued in the [`OutBuffer`]; business messages are refused until the
//! counterparty acknowledged Logon; before a MsgSeqNum beyond the persisted
//! reservation is used, a new reservation is written to the [`SeqStore`],
//! so a restart never reuses a sequence number; nothing allocates except
//! that reservation write (once per `seq_reserve_block` messages).

use crate::fix::decimal::InstrumentScale;
use crate::fix::encode::Encoder;
use crate::fix::error::{FixError, SendError};
use crate::fix::exec_report::{ExecutionReport, OrderCancelReject};
use crate::fix::order::{NewOrderSingle, OrderCancelReplaceRequest, OrderCancelRequest};
use crate::fix::out_buffer::OutBuffer;
use crate::fix::seq_store::{SeqNumbers, SeqStore};
use crate::fix::tags::{self, MsgType, SessionRejectReason};

/// `49=<sender><SOH>56=<target><SOH>`, built once per session.
fn comp_id_fields(sender_comp_id: &str, target_comp_id: &str) -> Box<[u8]> {
    let (sender_tag, target_tag) = (tags::SENDER_COMP_ID, tags::TARGET_COMP_ID);
    format!("{sender_tag}={sender_comp_id}\x01{target_tag}={target_comp_id}\x01")
        .into_bytes()
        .into_boxed_slice()
}

/// Encodes and queues outgoing messages for one session.
#[derive(Debug)]
pub struct Sender {
    pub(super) encoder: Encoder,
    pub(super) out: OutBuffer,
    pub(super) seq: SeqNumbers,
    next_out_reserved: u64,
    seq_reserve_block: u64,
    store: Option<SeqStore>,
    sender_comp_id: Box<[u8]>,
    target_comp_id: Box<[u8]>,
    /// `49=<ours><SOH>56=<theirs><SOH>`, written after MsgType in every header.
    comp_id_fields: Box<[u8]>,
    pub(super) logged_on: bool,
    pub(super) last_sent_ns: u64,
    pub(super) messages_sent_count: u64,
    pub(super) app_messages_sent_count: u64,
}

impl Sender {
    pub(super) fn new(
        sender_comp_id: &str,
        target_comp_id: &str,
        message_capacity_bytes: usize,
        out_capacity_bytes: usize,
        seq_reserve_block: u64,
        store: Option<SeqStore>,
        seq: SeqNumbers,
    ) -> Sender {
        Sender {
            encoder: Encoder::with_capacity(message_capacity_bytes),
            out: OutBuffer::with_capacity(out_capacity_bytes),
            seq,
            next_out_reserved: seq.next_out,
            seq_reserve_block: seq_reserve_block.max(1),
            store,
            sender_comp_id: sender_comp_id.as_bytes().into(),
            target_comp_id: target_comp_id.as_bytes().into(),
            comp_id_fields: comp_id_fields(sender_comp_id, target_comp_id),
            logged_on: false,
            last_sent_ns: 0,
            messages_sent_count: 0,
            app_messages_sent_count: 0,
        }
    }

    /// The current sequence numbers.
    pub fn seq_numbers(&self) -> SeqNumbers {
        self.seq
    }

    /// True once the counterparty acknowledged Logon (until disconnect or Logout).
    pub fn is_logged_on(&self) -> bool {
        self.logged_on
    }

    pub(super) fn comp_ids_match(
        &self,
        their_sender: Option<&[u8]>,
        their_target: Option<&[u8]>,
    ) -> bool {
        their_sender == Some(&self.target_comp_id[..])
            && their_target == Some(&self.sender_comp_id[..])
    }

    /// Writes the exact numbers (clean points: logon, logout, disconnect).
    pub(super) fn persist_exact(&mut self) -> Result<(), FixError> {
        self.next_out_reserved = self.seq.next_out;
        match &self.store {
            Some(store) => store.save(self.seq),
            None => Ok(()),
        }
    }

    fn reserve_if_needed(&mut self) -> Result<(), SendError> {
        if self.seq.next_out < self.next_out_reserved {
            return Ok(());
        }
        let reserved = self.seq.next_out + self.seq_reserve_block;
        if let Some(store) = &self.store {
            let numbers = SeqNumbers {
                next_out: reserved,
                next_in: self.seq.next_in,
            };
            store.save(numbers).map_err(|_| SendError::SeqStoreFailed)?;
        }
        self.next_out_reserved = reserved;
        Ok(())
    }

    /// The standard header: MsgType, the constant CompIDs (one copy),
    /// MsgSeqNum, SendingTime. FIX fixes only the order of 8, 9 and 35.
    #[inline]
    fn write_header(&mut self, msg_type: MsgType, seq_num: u64, now_ns: u64) {
        self.encoder.begin(msg_type.as_bytes());
        self.encoder.raw(&self.comp_id_fields);
        self.encoder.field_u64(tags::MSG_SEQ_NUM, seq_num);
        self.encoder.field_timestamp(tags::SENDING_TIME, now_ns);
    }

    /// Encodes a message with the next MsgSeqNum and queues it; returns the
    /// MsgSeqNum used.
    pub(super) fn send(
        &mut self,
        msg_type: MsgType,
        now_ns: u64,
        body: impl FnOnce(&mut Encoder),
    ) -> Result<u64, SendError> {
        self.reserve_if_needed()?;
        let seq_num = self.seq.next_out;
        self.write_header(msg_type, seq_num, now_ns);
        body(&mut self.encoder);
        let bytes = self.encoder.finish()?;
        self.out.push(bytes)?;
        self.seq.next_out += 1;
        self.last_sent_ns = now_ns;
        self.messages_sent_count += 1;
        Ok(seq_num)
    }

    fn send_app(
        &mut self,
        msg_type: MsgType,
        now_ns: u64,
        body: impl FnOnce(&mut Encoder),
    ) -> Result<u64, SendError> {
        if !self.logged_on {
            return Err(SendError::NotLoggedOn);
        }
        let seq_num = self.send(msg_type, now_ns, body)?;
        self.app_messages_sent_count += 1;
        Ok(seq_num)
    }

    /// Sends a NewOrderSingle; returns its MsgSeqNum (keep it to match a
    /// session-level Reject's RefSeqNum(45) to the order).
    pub fn send_new_order(
        &mut self,
        order: &NewOrderSingle<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::NewOrderSingle, now_ns, |encoder| {
            order.encode_body(encoder, scale)
        })
    }

    /// Sends an OrderCancelRequest; returns its MsgSeqNum.
    pub fn send_cancel(
        &mut self,
        request: &OrderCancelRequest<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::OrderCancelRequest, now_ns, |encoder| {
            request.encode_body(encoder, scale)
        })
    }

    /// Sends an OrderCancelReplaceRequest; returns its MsgSeqNum.
    pub fn send_replace(
        &mut self,
        request: &OrderCancelReplaceRequest<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::OrderCancelReplaceRequest, now_ns, |encoder| {
            request.encode_body(encoder, scale)
        })
    }

    /// Sends an ExecutionReport (acceptor side); returns its MsgSeqNum.
    pub fn send_execution_report(
        &mut self,
        report: &ExecutionReport<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::ExecutionReport, now_ns, |encoder| {
            report.encode_body(encoder, scale)
        })
    }

    /// Sends an OrderCancelReject (acceptor side); returns its MsgSeqNum.
    pub fn send_cancel_reject(
        &mut self,
        reject: &OrderCancelReject<'_>,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::OrderCancelReject, now_ns, |encoder| {
            reject.encode_body(encoder)
        })
    }

    pub(super) fn send_logon(
        &mut self,
        heartbeat_interval_s: u64,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send(MsgType::Logon, now_ns, |encoder| {
            encoder.field_char(tags::ENCRYPT_METHOD, b'0');
            encoder.field_u64(tags::HEART_BT_INT, heartbeat_interval_s);
        })
    }

    pub(super) fn send_heartbeat(
        &mut self,
        test_req_id: Option<&[u8]>,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send(MsgType::Heartbeat, now_ns, |encoder| {
            if let Some(id) = test_req_id {
                encoder.field(tags::TEST_REQ_ID, id);
            }
        })
    }

    pub(super) fn send_test_request(&mut self, id: u64, now_ns: u64) -> Result<u64, SendError> {
        self.send(MsgType::TestRequest, now_ns, |encoder| {
            encoder.field_u64(tags::TEST_REQ_ID, id)
        })
    }

    pub(super) fn send_resend_request(
        &mut self,
        begin_seq_num: u64,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send(MsgType::ResendRequest, now_ns, |encoder| {
            encoder.field_u64(tags::BEGIN_SEQ_NO, begin_seq_num);
            encoder.field_u64(tags::END_SEQ_NO, 0);
        })
    }

    pub(super) fn send_reject(
        &mut self,
        ref_seq_num: u64,
        reason: SessionRejectReason,
        ref_tag: Option<u32>,
        ref_msg_type: &[u8],
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send(MsgType::Reject, now_ns, |encoder| {
            encoder.field_u64(tags::REF_SEQ_NUM, ref_seq_num);
            if let Some(tag) = ref_tag {
                encoder.field_u64(tags::REF_TAG_ID, u64::from(tag));
            }
            if !ref_msg_type.is_empty() && !ref_msg_type.contains(&crate::fix::decode::SOH) {
                encoder.field(tags::REF_MSG_TYPE, ref_msg_type);
            }
            encoder.field_u64(tags::SESSION_REJECT_REASON, reason as u64);
        })
    }

    pub(super) fn send_logout(&mut self, text: &[u8], now_ns: u64) -> Result<u64, SendError> {
        self.send(MsgType::Logout, now_ns, |encoder| {
            if !text.is_empty() {
                encoder.field(tags::TEXT, text);
            }
        })
    }

    /// Answers a ResendRequest by gap-filling `begin_seq_num..new_seq_num`. The SequenceReset carries MsgSeqNum = `begin_seq_num` and
    /// PossDupFlag=Y, and consumes no new sequence number.
    pub(super) fn send_gap_fill(
        &mut self,
        begin_seq_num: u64,
        new_seq_num: u64,
        now_ns: u64,
    ) -> Result<(), SendError> {
        self.write_header(MsgType::SequenceReset, begin_seq_num, now_ns);
        self.encoder.field_char(tags::POSS_DUP_FLAG, b'Y');
        self.encoder
            .field_timestamp(tags::ORIG_SENDING_TIME, now_ns);
        self.encoder.field_char(tags::GAP_FILL_FLAG, b'Y');
        self.encoder.field_u64(tags::NEW_SEQ_NO, new_seq_num);
        let bytes = self.encoder.finish()?;
        self.out.push(bytes)?;
        self.last_sent_ns = now_ns;
        self.messages_sent_count += 1;
        Ok(())
    }
}
