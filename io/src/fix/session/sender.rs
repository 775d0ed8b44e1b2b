//! The sending half of a session: sequence numbers out, header fields,
//! admin message builders, and the typed business sends.
//!
//! Owning thread: the session's thread.
//! Invariants: a MsgSeqNum is consumed only when the whole message was
//! queued in the [`Outbox`]; business messages are refused until the
//! counterparty acknowledged Logon; before a MsgSeqNum beyond the persisted
//! reservation is used, a new reservation is written to the [`SeqStore`],
//! so a restart never reuses a sequence number; every request (D, F, G, H,
//! AF) is logged with its MsgSeqNum and id in the [`SentLog`], and one whose
//! id is longer than [`REQUEST_ID_LEN_MAX`] is refused unsent; tag 5051 is
//! written only when the session is configured to send it; nothing
//! allocates except that reservation write (once per `seq_reserve_block`
//! messages).

use super::SessionConfig;
use crate::fix::decimal::InstrumentScale;
use crate::fix::encode::{Encoder, HEADER_RESERVE};
use crate::fix::error::{FixError, SendError};
use crate::fix::exec_report::{ExecutionReport, OrderCancelReject};
use crate::fix::order::{NewOrderSingle, OrderCancelReplaceRequest, OrderCancelRequest};
use crate::fix::outbox::Outbox;
use crate::fix::reject::BusinessMessageReject;
use crate::fix::sent_log::{SentLog, REQUEST_ID_LEN_MAX};
use crate::fix::seq_store::{SeqNumbers, SeqState, SeqStore};
use crate::fix::status::{OrderMassStatusRequest, OrderStatusRequest, StatusReport};
use crate::fix::tags::{self, MsgType, SessionRejectReason, MSG_TYPES};

/// The header's constant start for every MsgType, built once per
/// session: `35=<type><SOH>49=<sender><SOH>56=<target><SOH>34=`, one copy
/// per message where MsgType, the CompIDs and the `34=` before MsgSeqNum
/// were four writes.
#[derive(Debug)]
struct HeaderPrefixes {
    bytes: Box<[u8]>,
    /// Start and end of each type's prefix in `bytes`, by `MsgType as usize`.
    spans: [(u32, u32); MSG_TYPES.len()],
}

impl HeaderPrefixes {
    fn new(sender_comp_id: &str, target_comp_id: &str) -> HeaderPrefixes {
        let (sender_tag, target_tag) = (tags::SENDER_COMP_ID, tags::TARGET_COMP_ID);
        let (type_tag, seq_tag) = (tags::MSG_TYPE, tags::MSG_SEQ_NUM);
        let mut bytes = Vec::new();
        let mut spans = [(0, 0); MSG_TYPES.len()];
        for (index, msg_type) in MSG_TYPES.into_iter().enumerate() {
            assert_eq!(
                msg_type as usize, index,
                "MSG_TYPES is in declaration order"
            );
            let start = bytes.len() as u32;
            bytes.extend_from_slice(format!("{type_tag}=").as_bytes());
            bytes.extend_from_slice(msg_type.as_bytes());
            let rest = format!(
                "\x01{sender_tag}={sender_comp_id}\x01{target_tag}={target_comp_id}\x01{seq_tag}="
            );
            bytes.extend_from_slice(rest.as_bytes());
            spans[index] = (start, bytes.len() as u32);
        }
        HeaderPrefixes {
            bytes: bytes.into_boxed_slice(),
            spans,
        }
    }

    #[inline(always)]
    fn of(&self, msg_type: MsgType) -> &[u8] {
        let (start, end) = self.spans[msg_type as usize];
        &self.bytes[start as usize..end as usize]
    }
}

/// Encodes and queues outgoing messages for one session.
#[derive(Debug)]
pub struct Sender {
    /// The encoder and the bytes it queued for the socket, in one buffer.
    pub(super) out: Outbox,
    pub(super) seq: SeqNumbers,
    next_out_reserved: u64,
    seq_reserve_block: u64,
    store: Option<SeqStore>,
    sender_comp_id: Box<[u8]>,
    target_comp_id: Box<[u8]>,
    /// `35=<type><SOH>49=<ours><SOH>56=<theirs><SOH>34=` per MsgType.
    header_prefixes: HeaderPrefixes,
    pub(super) logged_on: bool,
    pub(super) last_sent_ns: u64,
    pub(super) messages_sent_count: u64,
    pub(super) app_messages_sent_count: u64,
    /// The numbers were reset to 1 and no Logon was acknowledged since:
    /// the next Logon carries 141=Y (also persisted, for a crash in between).
    reset_pending: bool,
    send_trigger_time: bool,
    pub(super) sent_log: SentLog,
}

impl Sender {
    pub(super) fn new(config: &SessionConfig, store: Option<SeqStore>, state: SeqState) -> Sender {
        let (sender_comp_id, target_comp_id) = (&config.sender_comp_id, &config.target_comp_id);
        let seq = state.numbers;
        Sender {
            // Room for `out_capacity_bytes` pending and a message's header gap.
            out: Outbox::with_capacity(
                config.body_length_max + 64,
                config.out_capacity_bytes + HEADER_RESERVE,
            ),
            seq,
            next_out_reserved: seq.next_out,
            seq_reserve_block: config.seq_reserve_block.max(1),
            store,
            sender_comp_id: sender_comp_id.as_bytes().into(),
            target_comp_id: target_comp_id.as_bytes().into(),
            header_prefixes: HeaderPrefixes::new(sender_comp_id, target_comp_id),
            logged_on: false,
            last_sent_ns: 0,
            messages_sent_count: 0,
            app_messages_sent_count: 0,
            reset_pending: state.reset_on_next_logon,
            send_trigger_time: config.send_trigger_time,
            sent_log: SentLog::with_capacity(config.sent_log_capacity),
        }
    }

    /// The sequence file's path, if the session has one.
    pub(super) fn store_path(&self) -> Option<&std::path::Path> {
        self.store.as_ref().map(SeqStore::path)
    }

    pub(super) fn reset_pending(&self) -> bool {
        self.reset_pending
    }

    fn stored_state(&self, numbers: SeqNumbers) -> SeqState {
        SeqState {
            numbers,
            reset_on_next_logon: self.reset_pending,
        }
    }

    /// Both directions back to 1, the sent log forgotten, and the reset
    /// persisted as pending until a Logon is acknowledged.
    pub(super) fn reset_numbers(&mut self) -> Result<(), FixError> {
        self.seq = SeqNumbers::default();
        self.sent_log.clear();
        self.reset_pending = true;
        self.persist_exact()
    }

    /// A Logon was acknowledged: a pending reset is done.
    pub(super) fn logon_acknowledged(&mut self) {
        self.reset_pending = false;
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
            Some(store) => store.save_state(self.stored_state(self.seq)),
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
            let state = self.stored_state(numbers);
            store
                .save_state(state)
                .map_err(|_| SendError::SeqStoreFailed)?;
        }
        self.next_out_reserved = reserved;
        Ok(())
    }

    /// The standard header: MsgType, the constant CompIDs and `34=` (one
    /// copy of the type's prefix), MsgSeqNum, SendingTime. FIX fixes only
    /// the order of 8, 9 and 35.
    #[inline(always)]
    fn write_header(&mut self, msg_type: MsgType, seq_num: u64, now_ns: u64) -> &mut Encoder {
        let encoder = self.out.encoder();
        encoder.begin_with(self.header_prefixes.of(msg_type));
        encoder.value_u64(seq_num);
        encoder.field_timestamp(tags::SENDING_TIME, now_ns);
        encoder
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
        body(self.write_header(msg_type, seq_num, now_ns));
        self.out.commit()?;
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

    /// Sends a request (D, F, G, H, AF) and logs it under its MsgSeqNum with
    /// `id` (ClOrdID or MassStatusReqID, field `id_tag`), so a Reject of it
    /// can name it. An id longer than [`REQUEST_ID_LEN_MAX`] is refused.
    fn send_request(
        &mut self,
        msg_type: MsgType,
        (id_tag, id): (u32, &[u8]),
        now_ns: u64,
        body: impl FnOnce(&mut Encoder),
    ) -> Result<u64, SendError> {
        if id.len() > REQUEST_ID_LEN_MAX {
            return Err(SendError::BadValue { tag: id_tag });
        }
        let seq_num = self.send_app(msg_type, now_ns, body)?;
        self.sent_log.record(seq_num, msg_type, id);
        Ok(seq_num)
    }

    /// The order as it goes on the wire: without tag 5051 unless configured.
    fn wire_order<'a>(&self, order: &NewOrderSingle<'a>) -> NewOrderSingle<'a> {
        NewOrderSingle {
            trigger_ns: order.trigger_ns.filter(|_| self.send_trigger_time),
            ..*order
        }
    }

    /// Sends a NewOrderSingle; returns its MsgSeqNum. A session-level Reject
    /// of it reaches [`super::SessionHandler::on_request_rejected`] with its ClOrdID.
    pub fn send_new_order(
        &mut self,
        order: &NewOrderSingle<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        let id = (tags::CL_ORD_ID, order.cl_ord_id);
        let with_trigger = self.send_trigger_time;
        self.send_request(MsgType::NewOrderSingle, id, now_ns, |encoder| {
            order.encode_body_with(encoder, scale, with_trigger)
        })
    }

    /// Sends an OrderCancelRequest; returns its MsgSeqNum.
    pub fn send_cancel(
        &mut self,
        request: &OrderCancelRequest<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        let id = (tags::CL_ORD_ID, request.cl_ord_id);
        self.send_request(MsgType::OrderCancelRequest, id, now_ns, |encoder| {
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
        let request = OrderCancelReplaceRequest {
            order: self.wire_order(&request.order),
            ..*request
        };
        let id = (tags::CL_ORD_ID, request.order.cl_ord_id);
        self.send_request(MsgType::OrderCancelReplaceRequest, id, now_ns, |encoder| {
            request.encode_body(encoder, scale)
        })
    }

    /// Sends an OrderStatusRequest (reconciliation); returns its MsgSeqNum.
    pub fn send_order_status_request(
        &mut self,
        request: &OrderStatusRequest<'_>,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        let id = (tags::CL_ORD_ID, request.cl_ord_id);
        self.send_request(MsgType::OrderStatusRequest, id, now_ns, |encoder| {
            request.encode_body(encoder)
        })
    }

    /// Sends an OrderMassStatusRequest (reconciliation); returns its MsgSeqNum.
    pub fn send_mass_status_request(
        &mut self,
        request: &OrderMassStatusRequest<'_>,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        let id = (tags::MASS_STATUS_REQ_ID, request.mass_status_req_id);
        self.send_request(MsgType::OrderMassStatusRequest, id, now_ns, |encoder| {
            request.encode_body(encoder)
        })
    }

    /// Sends an ExecutionReport with ExecType=I answering H or AF (acceptor
    /// side); returns its MsgSeqNum.
    pub fn send_status_report(
        &mut self,
        report: &StatusReport<'_>,
        scale: &InstrumentScale,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::ExecutionReport, now_ns, |encoder| {
            report.encode_body(encoder, scale)
        })
    }

    /// Sends a BusinessMessageReject (acceptor side); returns its MsgSeqNum.
    pub fn send_business_reject(
        &mut self,
        reject: &BusinessMessageReject<'_>,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send_app(MsgType::BusinessMessageReject, now_ns, |encoder| {
            reject.encode_body(encoder)
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

    /// Logon; with `reset`, ResetSeqNumFlag(141)=Y (asking the counterparty
    /// to reset, or echoing its request as acceptor).
    pub(super) fn send_logon(
        &mut self,
        heartbeat_interval_s: u64,
        reset: bool,
        now_ns: u64,
    ) -> Result<u64, SendError> {
        self.send(MsgType::Logon, now_ns, |encoder| {
            encoder.field_char(tags::ENCRYPT_METHOD, b'0');
            encoder.field_u64(tags::HEART_BT_INT, heartbeat_interval_s);
            if reset {
                encoder.field_char(tags::RESET_SEQ_NUM_FLAG, b'Y');
            }
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
        let encoder = self.write_header(MsgType::SequenceReset, begin_seq_num, now_ns);
        encoder.field_char(tags::POSS_DUP_FLAG, b'Y');
        encoder.field_timestamp(tags::ORIG_SENDING_TIME, now_ns);
        encoder.field_char(tags::GAP_FILL_FLAG, b'Y');
        encoder.field_u64(tags::NEW_SEQ_NO, new_seq_num);
        self.out.commit()?;
        self.last_sent_ns = now_ns;
        self.messages_sent_count += 1;
        Ok(())
    }
}
