//! The FIX 4.4 session layer as a sans-IO state machine: bytes in, bytes
//! out, and time passed in by the caller.
//!
//! Owning thread: one thread owns a [`Session`] and its socket (in the
//! engine, the thread that busy-polls the venue connection). Nothing here
//! reads a clock or touches a socket: the caller passes `now_ns`
//! (nanoseconds since the Unix epoch, UTC, because SendingTime(52) is
//! written from it) and moves bytes between the socket and
//! [`Session::recv_buffer`] / [`Session::pending_output`].
//!
//! Invariants:
//! - business messages are sent only in [`SessionState::Active`], i.e. after
//!   the counterparty acknowledged Logon (or, as acceptor, after we did);
//! - an incoming MsgSeqNum is consumed exactly once, in order; a gap is
//!   recovered by one ResendRequest, messages above the gap are dropped and
//!   come back as resends; a MsgSeqNum too low without PossDupFlag logs out;
//! - bad input is counted in [`SessionCounters`] and answered as the FIX
//!   spec says (ignore a garbled message, session Reject, ResendRequest, or
//!   Logout with a reason), and never panics;
//! - after construction nothing allocates except the sequence-number file
//!   writes (logon, logout, disconnect, once per reserved block);
//! - every request sent (D, F, G, H, AF) is logged by MsgSeqNum in a fixed
//!   ring, so a session-level Reject of it reaches the handler as a typed
//!   [`RequestReject`] naming the request's ClOrdID, as does a
//!   BusinessMessageReject (which is not passed to `on_app_message`);
//! - "MsgSeqNum too low" in either direction stops the session: it records a
//!   [`SeqNumTooLow`], refuses to log on again (unless a reset is configured
//!   or pending), and [`Session::seq_num_error`] names the remedy, so a
//!   driver never retries forever in silence.
//!
//! Resend policy for our own application messages: we never resend them.
//! Every ResendRequest is answered with one SequenceReset-GapFill up to our
//! next MsgSeqNum, as the spec allows for messages the sender chooses not
//! to resend. An order that reached the socket before a disconnect might be
//! stale by the time of a resend, and resending it could duplicate a live
//! order; instead [`SessionEvent::GapFilled`] tells the engine which
//! MsgSeqNums were skipped, so it can reconcile the orders it sent with
//! those numbers (await their ExecutionReports, query or cancel them).

mod inbound;
mod sender;
mod timers;

pub use sender::Sender;

use crate::fix::decode::{FieldTable, Message};
use crate::fix::error::FixError;
use crate::fix::framer::Framer;
pub use crate::fix::reject::RequestReject;
use crate::fix::seq_store::{SeqNumbers, SeqState, SeqStore, SeqStoreLock};

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Which side of the connection this session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Connects and sends Logon first (Genesis towards a venue).
    Initiator,
    /// Accepts and answers Logon (the simulated venue).
    Acceptor,
}

/// Static configuration of a session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Initiator or acceptor.
    pub role: Role,
    /// Our SenderCompID(49).
    pub sender_comp_id: String,
    /// The counterparty's CompID, our TargetCompID(56).
    pub target_comp_id: String,
    /// HeartBtInt(108) we propose as initiator, in seconds (>= 1).
    pub heartbeat_interval_s: u64,
    /// Largest BodyLength(9) accepted; a longer message logs out.
    pub body_length_max: usize,
    /// Capacity of the outgoing buffer, in bytes.
    pub out_capacity_bytes: usize,
    /// How long to wait for the Logon answer before disconnecting.
    pub logon_timeout_ns: u64,
    /// How long to wait for the Logout answer before disconnecting.
    pub logout_timeout_ns: u64,
    /// Outgoing sequence numbers reserved per write of the sequence file.
    pub seq_reserve_block: u64,
    /// Initiator: every Logon carries ResetSeqNumFlag(141)=Y and both
    /// directions (and the sequence file) restart at 1. For venues that
    /// expect a fresh sequence each connection.
    pub reset_on_logon: bool,
    /// Send the user-defined tag 5051 (trigger time) when an order carries
    /// one. Off by default: venues that validate user-defined fields reject
    /// any order carrying it (35=3, 371=5051); the simulator reads it.
    pub send_trigger_time: bool,
    /// Requests remembered by MsgSeqNum, to name the request a Reject refers to.
    pub sent_log_capacity: usize,
}

impl SessionConfig {
    /// Defaults for an initiator from `sender` to `target`.
    pub fn initiator(sender_comp_id: &str, target_comp_id: &str) -> SessionConfig {
        SessionConfig {
            role: Role::Initiator,
            sender_comp_id: sender_comp_id.to_owned(),
            target_comp_id: target_comp_id.to_owned(),
            heartbeat_interval_s: 30,
            body_length_max: 4096,
            out_capacity_bytes: 1 << 20,
            logon_timeout_ns: 10 * NANOS_PER_SECOND,
            logout_timeout_ns: 2 * NANOS_PER_SECOND,
            seq_reserve_block: 1000,
            reset_on_logon: false,
            send_trigger_time: false,
            sent_log_capacity: 1024,
        }
    }

    /// Defaults for an acceptor from `sender` to `target`.
    pub fn acceptor(sender_comp_id: &str, target_comp_id: &str) -> SessionConfig {
        SessionConfig {
            role: Role::Acceptor,
            ..SessionConfig::initiator(sender_comp_id, target_comp_id)
        }
    }

    fn validate(&self) -> Result<(), FixError> {
        let comp_id_ok =
            |id: &str| !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_graphic());
        if !comp_id_ok(&self.sender_comp_id) || !comp_id_ok(&self.target_comp_id) {
            return Err(FixError::Config(
                "CompIDs must be non-empty printable ASCII",
            ));
        }
        if self.heartbeat_interval_s == 0 || self.heartbeat_interval_s > 3600 {
            return Err(FixError::Config(
                "heartbeat_interval_s must be within 1..=3600",
            ));
        }
        if self.body_length_max < 64 || self.out_capacity_bytes < 2 * self.body_length_max {
            return Err(FixError::Config(
                "body_length_max >= 64 and out_capacity_bytes >= 2 x body_length_max",
            ));
        }
        Ok(())
    }
}

/// Where the session is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// No connection.
    Disconnected,
    /// Initiator: Logon sent, waiting for the answer.
    LogonSent,
    /// Acceptor: connected, waiting for the counterparty's Logon.
    AwaitingLogon,
    /// Logged on: business messages may flow.
    Active,
    /// Logout sent, waiting for the answer.
    LogoutSent,
}

/// Why the session asks its driver to close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// Logout exchanged.
    LogoutComplete,
    /// No Logout answer in time.
    LogoutTimeout,
    /// No Logon answer in time.
    LogonTimeout,
    /// The counterparty stayed silent after our TestRequest.
    CounterpartySilent,
    /// A message had a MsgSeqNum below the expected one without PossDupFlag.
    SeqNumTooLow,
    /// A message had no usable MsgSeqNum(34).
    SeqNumMissing,
    /// A message was longer than `body_length_max`.
    MessageTooLong,
    /// The BeginString was not FIX.4.4.
    BadBeginString,
    /// SenderCompID/TargetCompID did not match the configuration.
    CompIdMismatch,
    /// The first message was not a valid Logon.
    LogonInvalid,
    /// The outgoing buffer overflowed with session messages.
    OutputOverflow,
    /// The counterparty logged us out because our MsgSeqNum was too low
    /// (see [`Session::seq_num_error`] for the remedy).
    SeqNumTooLowAtCounterparty,
    /// The sequence file could not be written when the numbers were reset.
    SeqStoreFailed,
}

/// "MsgSeqNum too low", seen by us or by the counterparty: the two sides'
/// numbers disagree and reconnecting cannot fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqNumTooLow {
    /// The counterparty sent a MsgSeqNum below the one we expect (it reset
    /// its numbers, or our stored `next_in` is ahead of it).
    Received {
        /// The MsgSeqNum we expected.
        expected: u64,
        /// The MsgSeqNum it sent.
        received: u64,
    },
    /// The counterparty logged us out because our MsgSeqNum was below the
    /// one it expects (our stored `next_out` is behind it). The numbers come
    /// from its Logout text when it gives them.
    Sent {
        /// The MsgSeqNum it expected.
        expected: Option<u64>,
        /// The MsgSeqNum we sent.
        sent: Option<u64>,
    },
}

impl std::fmt::Display for SeqNumTooLow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number = |value: Option<u64>| value.map_or("?".to_owned(), |n| n.to_string());
        match *self {
            SeqNumTooLow::Received { expected, received } => write!(
                formatter,
                "we expected MsgSeqNum {expected} but the venue sent {received} \
                 (the venue reset its numbers, or our stored next_in is ahead)"
            ),
            SeqNumTooLow::Sent { expected, sent } => write!(
                formatter,
                "the venue expected MsgSeqNum {} but we sent {} (our stored next_out is behind)",
                number(expected),
                number(sent)
            ),
        }
    }
}

/// Something the engine may want to log, count, or act on. `Copy`, no text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The Logon exchange completed; business messages may flow.
    LoggedOn {
        /// The agreed HeartBtInt(108) in seconds.
        heartbeat_interval_s: u64,
    },
    /// The counterparty sent Logout (we answered it).
    LogoutReceived,
    /// The session asks to be disconnected.
    Disconnect(DisconnectReason),
    /// A message failed framing or decoding and was ignored (spec: no
    /// reject, the next message's gap triggers a ResendRequest).
    Garbled,
    /// An incoming gap: we asked for a resend from `expected`.
    ResendRequested {
        /// The first MsgSeqNum we asked for.
        expected: u64,
        /// The MsgSeqNum that revealed the gap.
        received: u64,
    },
    /// We answered a ResendRequest with a gap fill: our messages
    /// `begin..new_seq_num` were NOT resent (see the module's resend policy).
    GapFilled {
        /// First MsgSeqNum skipped.
        begin: u64,
        /// The MsgSeqNum that follows the skipped range.
        new_seq_num: u64,
    },
    /// We sent a session-level Reject for a message.
    RejectSent {
        /// The rejected message's MsgSeqNum.
        ref_seq_num: u64,
        /// SessionRejectReason(373).
        reason: u8,
    },
    /// The counterparty rejected one of our messages at session level; if
    /// `ref_seq_num` was an order, that order never reached the venue's book.
    RejectReceived {
        /// RefSeqNum(45).
        ref_seq_num: u64,
        /// SessionRejectReason(373), if given.
        reason: Option<u64>,
    },
    /// A PossDup resend below the expected MsgSeqNum was ignored.
    DuplicateIgnored {
        /// Its MsgSeqNum.
        seq_num: u64,
    },
    /// The sequence numbers disagree beyond repair by reconnecting; the
    /// session will not log on again until reset (see [`Session::seq_num_error`]).
    SeqNumTooLow(SeqNumTooLow),
    /// Both directions were reset to 1 and the Logon carries ResetSeqNumFlag(141)=Y.
    SeqNumsReset,
}

/// Counters of everything notable, for monitoring (read them any time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCounters {
    /// Messages that passed framing and decoding.
    pub messages_received: u64,
    /// Messages queued for sending (gap fills included).
    pub messages_sent: u64,
    /// Business messages delivered to the handler.
    pub app_messages_received: u64,
    /// Framing or checksum/body-length failures (ignored messages).
    pub garbled: u64,
    /// Messages above `body_length_max`.
    pub too_long: u64,
    /// Session Rejects we sent.
    pub rejects_sent: u64,
    /// Session Rejects we received.
    pub rejects_received: u64,
    /// Messages missing a required tag (each also counted in `rejects_sent`).
    pub missing_tag: u64,
    /// Messages with an unknown MsgType (each also counted in `rejects_sent`).
    pub unknown_msg_type: u64,
    /// Incoming gaps that triggered a ResendRequest.
    pub gaps: u64,
    /// ResendRequests we answered.
    pub resend_requests_answered: u64,
    /// MsgSeqNum too low without PossDupFlag.
    pub seq_too_low: u64,
    /// PossDup duplicates ignored.
    pub duplicates_ignored: u64,
    /// CompID mismatches.
    pub comp_id_errors: u64,
    /// Heartbeats sent because we were idle.
    pub heartbeats_sent: u64,
    /// TestRequests sent because the counterparty was silent.
    pub test_requests_sent: u64,
    /// Disconnects requested by the session.
    pub disconnects: u64,
    /// Our requests rejected by a Reject or BusinessMessageReject (each
    /// delivered as a [`RequestReject`]).
    pub requests_rejected: u64,
    /// BusinessMessageRejects received.
    pub business_rejects_received: u64,
}

/// Receives what the session delivers. Called from inside the session's
/// methods, on the session's thread.
pub trait SessionHandler {
    /// A business message, in MsgSeqNum order (resends have PossDupFlag=Y:
    /// drop duplicates by ExecID). `sender` may be used to answer at once.
    fn on_app_message(&mut self, message: &Message<'_>, sender: &mut Sender, now_ns: u64);

    /// A session event; the default ignores it.
    fn on_session_event(&mut self, event: SessionEvent) {
        let _ = event;
    }

    /// The counterparty rejected one of our requests: a session-level
    /// Reject whose RefSeqNum is a request in the sent log, or any
    /// BusinessMessageReject. Close the request it names (by `request_id`
    /// and `msg_type`) with `reason`. The default ignores it.
    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        let _ = reject;
    }
}

/// One FIX session (initiator or acceptor).
#[derive(Debug)]
pub struct Session {
    framer: Framer,
    table: FieldTable,
    core: Core,
    /// Held while the session lives, so a reset cannot rewrite its numbers.
    _seq_lock: Option<SeqStoreLock>,
}

/// Everything but the receive path, so a decoded [`Message`] (which
/// borrows the framer and field table) can be processed with `&mut Core`.
#[derive(Debug)]
struct Core {
    config: SessionConfig,
    sender: Sender,
    state: SessionState,
    heartbeat_interval_ns: u64,
    state_since_ns: u64,
    last_received_ns: u64,
    test_request_sent_ns: Option<u64>,
    test_request_id: u64,
    resend_requested_until: Option<u64>,
    disconnect_reason: Option<DisconnectReason>,
    counters: SessionCounters,
    /// Set once the numbers disagree beyond repair; blocks the next Logon.
    seq_too_low: Option<SeqNumTooLow>,
    /// Acceptor: the counterparty's Logon asked for a reset; echo 141=Y.
    peer_requested_reset: bool,
}

impl Session {
    /// Builds a session, loading its sequence numbers from `store` (1 and 1
    /// when the file does not exist yet).
    pub fn new(config: SessionConfig, store: Option<SeqStore>) -> Result<Session, FixError> {
        config.validate()?;
        let seq_lock = store.as_ref().map(SeqStore::lock_shared).transpose()?;
        let seq = match &store {
            Some(store) => store.load_state()?.unwrap_or_default(),
            None => SeqState::default(),
        };
        let sender = Sender::new(&config, store, seq);
        Ok(Session {
            _seq_lock: seq_lock,
            framer: Framer::new(config.body_length_max),
            table: FieldTable::new(),
            core: Core {
                sender,
                state: SessionState::Disconnected,
                heartbeat_interval_ns: config.heartbeat_interval_s * NANOS_PER_SECOND,
                state_since_ns: 0,
                last_received_ns: 0,
                test_request_sent_ns: None,
                test_request_id: 0,
                resend_requested_until: None,
                disconnect_reason: None,
                counters: SessionCounters::default(),
                seq_too_low: None,
                peer_requested_reset: false,
                config,
            },
        })
    }

    /// The lifecycle state.
    pub fn state(&self) -> SessionState {
        self.core.state
    }

    /// Counters so far.
    pub fn counters(&self) -> SessionCounters {
        SessionCounters {
            messages_sent: self.core.sender.messages_sent_count,
            ..self.core.counters
        }
    }

    /// The current sequence numbers.
    pub fn seq_numbers(&self) -> SeqNumbers {
        self.core.sender.seq
    }

    /// Set once "MsgSeqNum too low" was seen in either direction; the
    /// session then refuses to log on until reset.
    pub fn seq_num_too_low(&self) -> Option<SeqNumTooLow> {
        self.core.seq_too_low
    }

    /// The error to report (and stop reconnecting on) while
    /// [`Session::seq_num_too_low`] is set: it names the remedy, a reset of
    /// the sequence file (`genesis fix reset-seq`) or `reset_on_logon`.
    pub fn seq_num_error(&self) -> Option<FixError> {
        let problem = self.core.seq_too_low?;
        if self.core.config.reset_on_logon {
            return None;
        }
        Some(FixError::SeqNumTooLow {
            problem,
            seq_file: self.core.sender.store_path().map(Into::into),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.core.config
    }

    /// The agreed heartbeat interval (the acceptor learns it from Logon).
    pub fn heartbeat_interval_ns(&self) -> u64 {
        self.core.heartbeat_interval_ns
    }

    /// The sending half, to send business messages (fails until logged on).
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.core.sender
    }

    /// Set when the session wants its connection closed; the driver should
    /// write [`Session::pending_output`] first (best effort), then close and
    /// call [`Session::on_disconnected`].
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        self.core.disconnect_reason
    }

    /// A TCP connection was established: the initiator queues its Logon.
    pub fn on_connected(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        self.framer.clear();
        self.core.on_connected(now_ns, handler);
    }

    /// The connection is gone: persists the exact sequence numbers and
    /// forgets buffered bytes (queued but unwritten messages are lost; their
    /// MsgSeqNums will be gap-filled if the counterparty asks).
    pub fn on_disconnected(&mut self) -> Result<(), FixError> {
        self.framer.clear();
        let core = &mut self.core;
        core.state = SessionState::Disconnected;
        core.sender.logged_on = false;
        core.sender.out.clear();
        core.disconnect_reason = None;
        core.sender.persist_exact()
    }

    /// Starts a Logout with `text` (may be empty); the connection closes
    /// when the counterparty answers or after `logout_timeout_ns`.
    pub fn logout(&mut self, text: &[u8], now_ns: u64, handler: &mut impl SessionHandler) {
        let core = &mut self.core;
        if matches!(core.state, SessionState::Active | SessionState::LogonSent) {
            core.sender.logged_on = false;
            core.state = SessionState::LogoutSent;
            core.state_since_ns = now_ns;
            if core.sender.send_logout(text, now_ns).is_err() {
                core.request_disconnect(DisconnectReason::OutputOverflow, handler);
            }
        }
    }

    /// Heartbeats, TestRequests and timeouts; call at least every few
    /// milliseconds (the engine: every poll-loop iteration).
    pub fn poll_timers(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        self.core.poll_timers(now_ns, handler);
    }

    /// Free space to read socket bytes into; then call [`Session::on_received`].
    pub fn recv_buffer(&mut self) -> &mut [u8] {
        self.framer.spare()
    }

    /// Processes `count` bytes just read into [`Session::recv_buffer`].
    pub fn on_received(&mut self, count: usize, now_ns: u64, handler: &mut impl SessionHandler) {
        self.framer.commit(count);
        self.process_frames(now_ns, handler);
    }

    /// Copies `bytes` in and processes them (for callers that own their buffer).
    pub fn on_bytes(&mut self, mut bytes: &[u8], now_ns: u64, handler: &mut impl SessionHandler) {
        while !bytes.is_empty() {
            let taken = self.framer.push(bytes);
            bytes = &bytes[taken..];
            self.process_frames(now_ns, handler);
            if taken == 0 {
                break;
            }
        }
    }

    /// Bytes waiting to be written to the socket.
    pub fn pending_output(&self) -> &[u8] {
        self.core.sender.out.pending()
    }

    /// Marks `count` bytes of [`Session::pending_output`] as written.
    pub fn consume_output(&mut self, count: usize) {
        self.core.sender.out.consume(count);
    }
}

impl Core {
    fn on_connected(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        self.sender.out.clear();
        self.sender.logged_on = false;
        self.disconnect_reason = None;
        self.test_request_sent_ns = None;
        self.resend_requested_until = None;
        self.peer_requested_reset = false;
        self.last_received_ns = now_ns;
        self.state_since_ns = now_ns;
        match self.config.role {
            Role::Initiator => self.send_first_logon(now_ns, handler),
            Role::Acceptor => self.state = SessionState::AwaitingLogon,
        }
    }

    /// Initiator: Logon, with a reset of both directions first when
    /// configured or pending; refused while the numbers are known to disagree.
    fn send_first_logon(&mut self, now_ns: u64, handler: &mut impl SessionHandler) {
        let reset = self.config.reset_on_logon || self.sender.reset_pending();
        if self.seq_too_low.is_some() && !reset {
            return self.request_disconnect(DisconnectReason::SeqNumTooLow, handler);
        }
        if reset {
            self.seq_too_low = None;
            if self.sender.reset_numbers().is_err() {
                return self.request_disconnect(DisconnectReason::SeqStoreFailed, handler);
            }
            handler.on_session_event(SessionEvent::SeqNumsReset);
        }
        self.heartbeat_interval_ns = self.config.heartbeat_interval_s * NANOS_PER_SECOND;
        self.state = SessionState::LogonSent;
        let interval_s = self.config.heartbeat_interval_s;
        if self.sender.send_logon(interval_s, reset, now_ns).is_err() {
            self.request_disconnect(DisconnectReason::OutputOverflow, handler);
        }
    }

    /// Records that the numbers disagree (once) and tells the handler.
    fn note_seq_too_low(&mut self, problem: SeqNumTooLow, handler: &mut impl SessionHandler) {
        if self.seq_too_low.is_none() {
            self.seq_too_low = Some(problem);
            handler.on_session_event(SessionEvent::SeqNumTooLow(problem));
        }
    }

    fn request_disconnect(&mut self, reason: DisconnectReason, handler: &mut impl SessionHandler) {
        if self.disconnect_reason.is_none() {
            self.disconnect_reason = Some(reason);
            self.counters.disconnects += 1;
            self.sender.logged_on = false;
            handler.on_session_event(SessionEvent::Disconnect(reason));
        }
    }

    /// Sends a Logout whose text says why, then asks for a disconnect.
    fn logout_and_disconnect(
        &mut self,
        reason: DisconnectReason,
        text: &[u8],
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) {
        if self.state != SessionState::Disconnected {
            let _ = self.sender.send_logout(text, now_ns);
        }
        self.state = SessionState::LogoutSent;
        self.request_disconnect(reason, handler);
    }
}
