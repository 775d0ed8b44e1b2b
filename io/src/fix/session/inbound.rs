//! Incoming messages: framing, validation, sequence numbers, and the
//! administrative messages.
//!
//! Owning thread: the session's thread.
//! Invariants: `seq.next_in` advances only past a message processed or
//! rejected in order (or as a SequenceReset/GapFill says); messages above a
//! gap are dropped once a ResendRequest is out (they come back as resends);
//! nothing here allocates or panics.

use std::io::Write as _;

use super::{
    Core, DisconnectReason, Role, SeqNumTooLow, Session, SessionEvent, SessionHandler,
    SessionState, NANOS_PER_SECOND,
};
use crate::fix::decode::{parse_u64, Message};
use crate::fix::error::DecodeError;
use crate::fix::framer::Frame;
use crate::fix::reject::{BusinessMessageReject, RejectLevel, RequestReject, SessionReject};
use crate::fix::tags::{self, MsgType, SessionRejectReason};

/// A short text for a Logout, formatted on the stack (no allocation).
struct ReasonText {
    bytes: [u8; 96],
    len: usize,
}

impl ReasonText {
    fn new(args: std::fmt::Arguments<'_>) -> ReasonText {
        let mut bytes = [0u8; 96];
        let mut cursor = &mut bytes[..];
        let _ = cursor.write_fmt(args);
        let len = 96 - cursor.len();
        ReasonText { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Session {
    pub(super) fn process_frames(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        while self.core.disconnect_reason.is_none() {
            let Some(frame) = self.framer.next_frame() else {
                break;
            };
            match frame {
                Frame::Message(range) => {
                    let bytes = self.framer.bytes(range);
                    match self.table.decode(bytes) {
                        Ok(message) => self.core.on_message(&message, now_ns, handler),
                        Err(error) => self.core.on_decode_error(error, now_ns, handler),
                    }
                }
                Frame::Garbled { .. } => {
                    self.core.counters.garbled += 1;
                    handler.on_session_event(SessionEvent::Garbled);
                }
                Frame::TooLong { body_length } => {
                    self.core.counters.too_long += 1;
                    let text = ReasonText::new(format_args!(
                        "message too long: BodyLength {body_length} > {}",
                        self.core.config.body_length_max
                    ));
                    self.core.logout_and_disconnect(
                        DisconnectReason::MessageTooLong,
                        text.as_bytes(),
                        now_ns,
                        handler,
                    );
                }
            }
        }
    }
}

impl Core {
    fn on_decode_error(
        &mut self,
        error: DecodeError,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        if error == DecodeError::BadBeginString {
            let text = b"BeginString(8) must be FIX.4.4";
            self.logout_and_disconnect(DisconnectReason::BadBeginString, text, now_ns, handler);
        } else {
            // Spec: a garbled message is ignored without a Reject and its
            // MsgSeqNum is not consumed; the next message shows the gap.
            self.counters.garbled += 1;
            handler.on_session_event(SessionEvent::Garbled);
        }
    }

    fn on_message(
        &mut self,
        message: &Message<'_>,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        if self.state == SessionState::Disconnected {
            return;
        }
        self.counters.messages_received += 1;
        self.last_received_ns = now_ns;
        self.test_request_sent_ns = None;
        let Some((seq_num, msg_type)) = self.admit(message, now_ns, handler) else {
            return;
        };
        if msg_type == Some(MsgType::Logon)
            && message.get_flag(tags::RESET_SEQ_NUM_FLAG) == Ok(true)
        {
            self.on_reset_requested(seq_num);
        }
        if msg_type == Some(MsgType::SequenceReset)
            && message.get_flag(tags::GAP_FILL_FLAG) != Ok(true)
        {
            return self.on_sequence_reset(message, seq_num, now_ns, handler);
        }
        let expected = self.sender.seq.next_in;
        if seq_num < expected {
            self.on_seq_num_too_low(message, seq_num, expected, now_ns, handler);
        } else if seq_num > expected {
            self.on_gap(message, msg_type, seq_num, expected, now_ns, handler);
        } else {
            self.on_in_order(message, msg_type, seq_num, now_ns, handler);
        }
        if let Some(until) = self.resend_requested_until {
            if self.sender.seq.next_in > until {
                self.resend_requested_until = None;
            }
        }
    }

    /// The checks every message passes before its sequence number counts:
    /// a MsgSeqNum, the session's CompIDs, and Logon first while logging
    /// on. Its MsgSeqNum and type, or `None` once the session was ended.
    fn admit(
        &mut self,
        message: &Message<'_>,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) -> Option<(u64, Option<MsgType>)> {
        let Ok(seq_num) = message.seq_num() else {
            let text = b"MsgSeqNum(34) missing or not a number";
            self.logout_and_disconnect(DisconnectReason::SeqNumMissing, text, now_ns, handler);
            return None;
        };
        if !self.sender.comp_ids_match(
            message.get(tags::SENDER_COMP_ID),
            message.get(tags::TARGET_COMP_ID),
        ) {
            self.on_comp_id_mismatch(message, seq_num, now_ns, handler);
            return None;
        }
        let msg_type = message.msg_type();
        let awaiting_logon = matches!(
            self.state,
            SessionState::LogonSent | SessionState::AwaitingLogon
        );
        let logout_while_logging_on =
            self.state == SessionState::LogonSent && msg_type == Some(MsgType::Logout);
        if awaiting_logon && msg_type != Some(MsgType::Logon) && !logout_while_logging_on {
            let text = b"the first message must be Logon(A)";
            self.logout_and_disconnect(DisconnectReason::LogonInvalid, text, now_ns, handler);
            return None;
        }
        Some((seq_num, msg_type))
    }

    fn on_comp_id_mismatch(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        self.counters.comp_id_errors += 1;
        let reason = SessionRejectReason::CompIdProblem;
        self.reject(message, seq_num, reason, None, now_ns, handler);
        let text = b"SenderCompID(49)/TargetCompID(56) do not match the session";
        self.logout_and_disconnect(DisconnectReason::CompIdMismatch, text, now_ns, handler);
    }

    /// A Logon with ResetSeqNumFlag(141)=Y: its number starts our count in;
    /// an acceptor restarts its own from 1 and will echo the flag.
    fn on_reset_requested(&mut self, seq_num: u64) {
        self.sender.seq.next_in = seq_num;
        if self.config.role == Role::Acceptor {
            self.sender.seq.next_out = 1;
            self.sender.sent_log.clear();
            self.peer_requested_reset = true;
        }
    }

    fn on_in_order(
        &mut self,
        message: &Message<'_>,
        msg_type: Option<MsgType>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        self.sender.seq.next_in = seq_num + 1;
        let Some(msg_type) = msg_type else {
            self.counters.unknown_msg_type += 1;
            return self.reject(
                message,
                seq_num,
                SessionRejectReason::InvalidMsgType,
                None,
                now_ns,
                handler,
            );
        };
        if let Some(tag) = self.first_missing_tag(message, msg_type) {
            if msg_type == MsgType::Logon {
                let text = ReasonText::new(format_args!("Logon(A) without required tag {tag}"));
                return self.logout_and_disconnect(
                    DisconnectReason::LogonInvalid,
                    text.as_bytes(),
                    now_ns,
                    handler,
                );
            }
            self.counters.missing_tag += 1;
            let reason = SessionRejectReason::RequiredTagMissing;
            return self.reject(message, seq_num, reason, Some(tag), now_ns, handler);
        }
        match msg_type {
            MsgType::Logon => self.on_logon(message, now_ns, handler),
            MsgType::Heartbeat => {}
            MsgType::TestRequest => {
                let id = message.get(tags::TEST_REQ_ID);
                if self.sender.send_heartbeat(id, now_ns).is_err() {
                    self.request_disconnect(DisconnectReason::OutputOverflow, handler);
                }
            }
            MsgType::ResendRequest => self.on_resend_request(message, seq_num, now_ns, handler),
            MsgType::Reject => self.on_reject_received(message, seq_num, now_ns, handler),
            MsgType::SequenceReset => self.on_gap_fill(message, seq_num, now_ns, handler),
            MsgType::Logout => self.on_logout(message, now_ns, handler),
            MsgType::BusinessMessageReject => {
                if self.state == SessionState::Active {
                    self.on_business_reject(message, seq_num, now_ns, handler);
                }
            }
            _ => {
                if self.state == SessionState::Active {
                    self.counters.app_messages_received += 1;
                    handler.on_app_message(message, &mut self.sender, now_ns);
                }
            }
        }
    }

    /// The first required tag missing: SendingTime, OrigSendingTime on a
    /// PossDup resend (not required on a SequenceReset), or a body tag.
    fn first_missing_tag(&self, message: &Message<'_>, msg_type: MsgType) -> Option<u32> {
        if message.get(tags::SENDING_TIME).is_none() {
            return Some(tags::SENDING_TIME);
        }
        let needs_orig_time = message.is_poss_dup() && msg_type != MsgType::SequenceReset;
        if needs_orig_time && message.get(tags::ORIG_SENDING_TIME).is_none() {
            return Some(tags::ORIG_SENDING_TIME);
        }
        message.first_missing(msg_type.required_tags())
    }

    fn on_seq_num_too_low(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        expected: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        if message.is_poss_dup() {
            self.counters.duplicates_ignored += 1;
            return handler.on_session_event(SessionEvent::DuplicateIgnored { seq_num });
        }
        self.counters.seq_too_low += 1;
        self.note_seq_too_low(
            SeqNumTooLow::Received {
                expected,
                received: seq_num,
            },
            handler,
        );
        let text = ReasonText::new(format_args!(
            "MsgSeqNum too low, expecting {expected} but received {seq_num}"
        ));
        self.logout_and_disconnect(
            DisconnectReason::SeqNumTooLow,
            text.as_bytes(),
            now_ns,
            handler,
        );
    }

    fn on_gap(
        &mut self,
        message: &Message<'_>,
        msg_type: Option<MsgType>,
        seq_num: u64,
        expected: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        match msg_type {
            // Spec: process the Logon (or Logout, or ResendRequest) first,
            // then ask for the missing messages.
            Some(MsgType::Logon) => {
                if let Some(tag) = self.first_missing_tag(message, MsgType::Logon) {
                    let text = ReasonText::new(format_args!("Logon(A) without required tag {tag}"));
                    return self.logout_and_disconnect(
                        DisconnectReason::LogonInvalid,
                        text.as_bytes(),
                        now_ns,
                        handler,
                    );
                }
                self.on_logon(message, now_ns, handler);
            }
            Some(MsgType::Logout) => return self.on_logout(message, now_ns, handler),
            Some(MsgType::ResendRequest)
                if self
                    .first_missing_tag(message, MsgType::ResendRequest)
                    .is_none() =>
            {
                self.on_resend_request(message, seq_num, now_ns, handler);
            }
            _ => {}
        }
        if self.disconnect_reason.is_some() || self.resend_requested_until.is_some() {
            return;
        }
        self.counters.gaps += 1;
        self.resend_requested_until = Some(seq_num);
        if self.sender.send_resend_request(expected, now_ns).is_err() {
            return self.request_disconnect(DisconnectReason::OutputOverflow, handler);
        }
        handler.on_session_event(SessionEvent::ResendRequested {
            expected,
            received: seq_num,
        });
    }

    fn on_logon(&mut self, message: &Message<'_>, now_ns: u64, handler: &mut impl SessionHandler) {
        let heartbeat_interval_s = message.get_u64(tags::HEART_BT_INT).unwrap_or(0);
        let encrypt_ok = message.get(tags::ENCRYPT_METHOD) == Some(b"0");
        match (self.config.role, self.state) {
            (Role::Initiator, SessionState::LogonSent) => {
                if (1..=3600).contains(&heartbeat_interval_s) {
                    self.heartbeat_interval_ns = heartbeat_interval_s * NANOS_PER_SECOND;
                }
            }
            (Role::Acceptor, SessionState::AwaitingLogon) => {
                if !encrypt_ok || !(1..=3600).contains(&heartbeat_interval_s) {
                    let text =
                        b"Logon(A) needs EncryptMethod(98)=0 and HeartBtInt(108) in 1..=3600";
                    return self.logout_and_disconnect(
                        DisconnectReason::LogonInvalid,
                        text,
                        now_ns,
                        handler,
                    );
                }
                self.heartbeat_interval_ns = heartbeat_interval_s * NANOS_PER_SECOND;
                let reset = self.peer_requested_reset;
                if self
                    .sender
                    .send_logon(heartbeat_interval_s, reset, now_ns)
                    .is_err()
                {
                    return self.request_disconnect(DisconnectReason::OutputOverflow, handler);
                }
            }
            // A second Logon on a live session: nothing to do.
            _ => return,
        }
        self.state = SessionState::Active;
        self.state_since_ns = now_ns;
        self.sender.logged_on = true;
        self.sender.logon_acknowledged();
        // A failed write only loses the exact numbers; the reservation on
        // disk still keeps a restart from reusing a sequence number.
        let _ = self.sender.persist_exact();
        let heartbeat_interval_s = self.heartbeat_interval_ns / NANOS_PER_SECOND;
        handler.on_session_event(SessionEvent::LoggedOn {
            heartbeat_interval_s,
        });
    }

    /// A Logout: answered, then disconnect. One whose text says our
    /// MsgSeqNum was too low (QuickFIX: "MsgSeqNum too low, expecting N but
    /// received M") stops the session until it is reset.
    fn on_logout(&mut self, message: &Message<'_>, now_ns: u64, handler: &mut impl SessionHandler) {
        let too_low = message.get(tags::TEXT).and_then(seq_too_low_in_text);
        if self.state != SessionState::LogoutSent {
            handler.on_session_event(SessionEvent::LogoutReceived);
            let _ = self.sender.send_logout(b"", now_ns);
            self.state = SessionState::LogoutSent;
        }
        let reason = match too_low {
            Some(problem) => {
                self.note_seq_too_low(problem, handler);
                DisconnectReason::SeqNumTooLowAtCounterparty
            }
            None => DisconnectReason::LogoutComplete,
        };
        self.request_disconnect(reason, handler);
    }

    /// A session-level Reject: counted and reported; when its RefSeqNum is a
    /// request in the sent log, the handler learns which request it rejects.
    fn on_reject_received(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        self.counters.rejects_received += 1;
        let Ok(reject) = SessionReject::parse(message) else {
            let reason = SessionRejectReason::IncorrectDataFormat;
            let tag = Some(tags::REF_SEQ_NUM);
            return self.reject(message, seq_num, reason, tag, now_ns, handler);
        };
        handler.on_session_event(SessionEvent::RejectReceived {
            ref_seq_num: reject.ref_seq_num,
            reason: reject.reason,
        });
        let Some(sent) = self.sender.sent_log.get(reject.ref_seq_num) else {
            return;
        };
        self.counters.requests_rejected += 1;
        handler.on_request_rejected(&RequestReject {
            level: RejectLevel::Session,
            msg_type: Some(sent.msg_type),
            request_id: Some(sent.id),
            ref_seq_num: Some(reject.ref_seq_num),
            ref_tag: reject.ref_tag,
            reason: reject.reason,
            text: reject.text,
        });
    }

    /// A BusinessMessageReject: always delivered as a [`RequestReject`],
    /// naming the request by BusinessRejectRefID(379), else by our log.
    fn on_business_reject(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        self.counters.business_rejects_received += 1;
        let reject = match BusinessMessageReject::parse(message) {
            Ok(reject) => reject,
            Err(error) => {
                let reason = SessionRejectReason::IncorrectDataFormat;
                let tag = Some(error.tag());
                return self.reject(message, seq_num, reason, tag, now_ns, handler);
            }
        };
        let sent = reject
            .ref_seq_num
            .and_then(|ref_seq_num| self.sender.sent_log.get(ref_seq_num));
        self.counters.requests_rejected += 1;
        handler.on_request_rejected(&RequestReject {
            level: RejectLevel::Business,
            msg_type: MsgType::from_bytes(reject.ref_msg_type).or(sent.map(|s| s.msg_type)),
            request_id: reject.ref_id.or(sent.map(|s| s.id)),
            ref_seq_num: reject.ref_seq_num,
            ref_tag: None,
            reason: Some(reject.reason),
            text: reject.text,
        });
    }

    /// Answers a ResendRequest with one gap fill (we never resend business
    /// messages: see the session module).
    fn on_resend_request(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        let (Ok(begin), Ok(end)) = (
            message.get_u64(tags::BEGIN_SEQ_NO),
            message.get_u64(tags::END_SEQ_NO),
        ) else {
            let reason = SessionRejectReason::IncorrectDataFormat;
            return self.reject(
                message,
                seq_num,
                reason,
                Some(tags::BEGIN_SEQ_NO),
                now_ns,
                handler,
            );
        };
        self.counters.resend_requests_answered += 1;
        let next_out = self.sender.seq.next_out;
        if begin == 0 || begin >= next_out || (end != 0 && end < begin) {
            return;
        }
        let new_seq_num = if end == 0 || end >= next_out {
            next_out
        } else {
            end + 1
        };
        if self
            .sender
            .send_gap_fill(begin, new_seq_num, now_ns)
            .is_err()
        {
            return self.request_disconnect(DisconnectReason::OutputOverflow, handler);
        }
        handler.on_session_event(SessionEvent::GapFilled { begin, new_seq_num });
    }

    /// SequenceReset-GapFill received in order.
    fn on_gap_fill(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        match message.get_u64(tags::NEW_SEQ_NO) {
            Ok(new_seq_num) if new_seq_num > seq_num => self.sender.seq.next_in = new_seq_num,
            _ => {
                let reason = SessionRejectReason::ValueIncorrect;
                self.reject(
                    message,
                    seq_num,
                    reason,
                    Some(tags::NEW_SEQ_NO),
                    now_ns,
                    handler,
                );
            }
        }
    }

    /// SequenceReset in reset mode: MsgSeqNum is ignored, NewSeqNo rules.
    fn on_sequence_reset(
        &mut self,
        message: &Message<'_>,
        seq_num: u64,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        let expected = self.sender.seq.next_in;
        match message.get_u64(tags::NEW_SEQ_NO) {
            Ok(new_seq_num) if new_seq_num >= expected => self.sender.seq.next_in = new_seq_num,
            _ => {
                let reason = SessionRejectReason::ValueIncorrect;
                self.reject(
                    message,
                    seq_num,
                    reason,
                    Some(tags::NEW_SEQ_NO),
                    now_ns,
                    handler,
                );
            }
        }
    }

    fn reject(
        &mut self,
        message: &Message<'_>,
        ref_seq_num: u64,
        reason: SessionRejectReason,
        ref_tag: Option<u32>,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        self.counters.rejects_sent += 1;
        let ref_msg_type = message.msg_type_bytes();
        if self
            .sender
            .send_reject(ref_seq_num, reason, ref_tag, ref_msg_type, now_ns)
            .is_err()
        {
            return self.request_disconnect(DisconnectReason::OutputOverflow, handler);
        }
        handler.on_session_event(SessionEvent::RejectSent {
            ref_seq_num,
            reason: reason as u8,
        });
    }
}

/// Reads "MsgSeqNum too low, expecting N but received M" (QuickFIX's and
/// our own Logout text, any letter case); the numbers are optional.
fn seq_too_low_in_text(text: &[u8]) -> Option<SeqNumTooLow> {
    const PHRASE: &[u8] = b"msgseqnum too low";
    let found = text
        .windows(PHRASE.len())
        .any(|window| window.eq_ignore_ascii_case(PHRASE));
    found.then(|| SeqNumTooLow::Sent {
        expected: number_after(text, b"expecting "),
        sent: number_after(text, b"received "),
    })
}

/// The decimal number right after the first `word` in `text`.
fn number_after(text: &[u8], word: &[u8]) -> Option<u64> {
    let start = text
        .windows(word.len())
        .position(|window| window.eq_ignore_ascii_case(word))?
        + word.len();
    let digits = &text[start..];
    let length = digits
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    parse_u64(&digits[..length])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quickfix_logout_text_is_read() {
        // QuickFIX's exact wording, ours, and text that is something else.
        assert_eq!(
            seq_too_low_in_text(b"MsgSeqNum too low, expecting 57 but received 3"),
            Some(SeqNumTooLow::Sent {
                expected: Some(57),
                sent: Some(3)
            })
        );
        assert_eq!(
            seq_too_low_in_text(b"msgseqnum TOO LOW"),
            Some(SeqNumTooLow::Sent {
                expected: None,
                sent: None
            })
        );
        assert_eq!(seq_too_low_in_text(b"restart"), None);
    }
}
