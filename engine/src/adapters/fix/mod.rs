//! The engine's FIX 4.4 initiator, polled by ingest as its venue lane.
//!
//! On each poll it (re)connects with backoff, reads the socket into the
//! session (acks, fills and rejects become engine events in a preallocated
//! outbox), runs the session's timers (heartbeats, test requests), sends the
//! requests execution queued, and writes what the session has to send
//! without blocking: a partial write stays in the session's buffer. A poll
//! with a zero budget is ingest asking for the orders just decided: it only
//! encodes and writes them (no read first), and [`Source::send_due`] tells
//! ingest when execution has queued one.
//!
//! Connecting never waits on the network: a poll starts a non-blocking
//! `connect` and later polls ask the socket where it stands (`SO_ERROR`,
//! then the peer's address) — connected, refused, or still pending. A
//! venue host that drops SYNs (a firewall, a dead host) thus costs ingest
//! two system calls per poll, not a blocked loop; an attempt not answered
//! within `venue.fix.connect_timeout_ms` fails like a refused one
//! (`connect_failures`, backoff, a warn on the 1st and each power of ten).
//!
//! How often the socket is read: on every full poll while an answer is
//! expected, otherwise on one full poll in [`READ_EVERY_IDLE_POLLS`]: an
//! empty `recv` is a system call (~1 µs quiet, 1.5–3.5 µs under load on
//! this VM) in an iteration of ingest's loop, before the market-data read,
//! and a datagram that lands meanwhile waits for it. An answer is expected
//! while the session is not logged on (logon, logout), output waits, a
//! session or reconciliation message (a TestRequest, a ResendRequest, a
//! status request, a heartbeat) went out within [`READ_EVERY_POLL_NS`], or
//! an order request written has not been answered (its ack, reject, cancel
//! ack or cancel reject not read yet; [`Link::answers_due`]) — for at most
//! [`READ_EVERY_POLL_NS`] after the first of them was written: an answer
//! later than that (or a venue that answers some requests with a fill
//! only) is read on the idle schedule, and the count starts afresh. The
//! count is not matched to requests: any ack, reject, cancel or cancel
//! reject read takes one off, an unsolicited one (an IOC's remainder, a
//! venue's mass cancel) or a late one included, so the every-poll reading
//! can end before the last answer due; that answer is then read on the idle
//! schedule, like an unasked-for fill. Bytes
//! written are not enough: orders go out in bursts, and reading on every
//! poll for 2 ms after each burst (the rule before) found the socket empty
//! on nearly all of those polls once the burst's answers were in. A fill on
//! a resting order, unasked for, waits at most
//! [`READ_EVERY_IDLE_POLLS`] iterations; nothing is lost (the kernel holds
//! the bytes). A read that returns fewer bytes than the session's buffer
//! offered found the socket drained at that moment: the poll makes no
//! second `recv` (which would find it empty); bytes that arrive after it
//! are read on the next poll that reads.
//!
//! What a strict venue enforces, and what a disconnect leaves behind:
//! - A request waits in a bounded list while the session is down. A new
//!   order or replace made longer ago than `venue.fix.pending_age_max_ms`
//!   (counted from when execution made it) is rejected locally
//!   (`venue_reason::NOT_CONNECTED`), on any poll, connected or not, so
//!   nothing goes out late on old prices; cancels always go.
//! - A session-level Reject (35=3) or BusinessMessageReject (35=j) of a
//!   new order, cancel or replace becomes the engine's reject of that
//!   request, journaled with the reason ([`inbox`]).
//! - "MsgSeqNum too low" stops reconnecting: the error, logged once, names
//!   the remedy (`genesis fix reset-seq`, or `reset_on_logon`).
//! - Fills are deduplicated on ExecID together with the venue's OrderID.
//! - After each logon the venue is asked for every order it holds and the
//!   answers are applied before new orders may go ([`reconcile`]).
//! - Losing the socket is logged once per loss, with the reason.
//!
//! The engine's tick-to-trade is recorded here ([`TickToTrade`]): each
//! order on market data is stamped when `write` returns with the session's
//! output drained (its bytes are the kernel's then; a partial write waits
//! for the write that finishes it), read on the process's one
//! [`EpochClock`]; and, where the kernel stamps sends (`SO_TIMESTAMPING`
//! TX software, enabled on every connection before its first byte), by the
//! stamp of the send that carried its last byte, read from the socket's
//! error queue on the next full poll (not on the zero-budget send, which
//! only writes) and matched by the count of bytes written on the connection;
//! the read stops at the stamp of the last write (one `recvmsg` per write
//! when the kernel has stamped it, none on a poll after no write).
//! Which stamp ends `decide-send` is [`TickToTrade::send_stamp`].
//!
//! Owning thread: ingest's. Invariants, asserted: one connection at a
//! time; logged on only while connected; the pending list and the outbox
//! never outgrow their bounds; no new order or replace is sent while a
//! reconciliation round is asking or applying.

pub mod cl_ord_id;
mod inbox;
mod ledger;
mod reconcile;
mod requests;

use crate::clock::EpochClock;
use crate::config::{Config, FixVenueConfig};
use crate::event::{venue_reason, Event, Input};
use crate::execution::gateway::OrderRequest;
use crate::ingest::source::Source;
use crate::telemetry::tick_to_trade::{SendStamp, SessionReads, TickToTrade};
use crate::units::{InstrumentId, Side};
use crossbeam_queue::ArrayQueue;
use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::seq_store::SeqStore;
use genesis_io::fix::session::{DisconnectReason, Session, SessionConfig, SessionState};
use genesis_io::fix::{FixError, InstrumentScale};
use genesis_io::net::{
    drain_tx_stamps_until, enable_tx_stamps, tcp_connect_state, ConnectState, TxStamping,
};
use inbox::Inbox;
use ledger::Ledger;
use mio::net::TcpStream;
use reconcile::Round;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

/// Reason code of a reject the client makes itself for a request it could not send.
pub const VENUE_REJECT_NOT_CONNECTED: i64 = venue_reason::NOT_CONNECTED;
/// Requests that wait for the session; the oldest is rejected locally past it.
const PENDING_MAX: usize = 4_096;
/// Venue events that wait for ingest to take them.
const OUTBOX_MAX: usize = 8_192;
/// An answer is waited for on every full poll at most this long after the
/// request (or session message) that asked for it went out (acks come back
/// within it on a LAN).
pub const READ_EVERY_POLL_NS: u64 = 2_000_000;
/// Otherwise it is read on one full poll in this many.
pub const READ_EVERY_IDLE_POLLS: u32 = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixClientCounters {
    pub connects: u64,
    /// Connection attempts that failed (refused, unreachable, timed out).
    pub connect_failures: u64,
    pub disconnects: u64,
    pub logons: u64,
    pub requests_sent: u64,
    /// Requests answered with a local reject (never sent), for any reason.
    pub rejected_not_connected: u64,
    /// New orders and replaces made longer ago than `pending_age_max_ms`
    /// (also in `rejected_not_connected`).
    pub requests_expired: u64,
    /// New orders and replaces that reached the session during a
    /// reconciliation round (also in `rejected_not_connected`).
    pub rejected_reconciling: u64,
    /// Our requests the venue refused with a Reject (35=3) or a
    /// BusinessMessageReject (35=j).
    pub requests_rejected_by_venue: u64,
    pub reports_unparsed: u64,
    pub reports_ignored: u64,
    /// Fill reports a reconciliation had already counted (flagged duplicate).
    pub fills_covered_by_reconcile: u64,
    /// Fill reports about orders of another ClOrdID lineage (or system)
    /// the engine never adopted: not ours (flagged duplicate).
    pub fills_not_ours: u64,
    /// Times the session refused to connect because the sequence numbers disagree.
    pub seq_num_too_low: u64,
    /// `recv` calls made on the socket (those that found it empty included).
    pub socket_reads: u64,
    /// `recvmsg` calls made on the socket's error queue for TX stamps.
    pub tx_stamp_reads: u64,
}

/// Whether the `failures`-th failed connection attempt in a row is logged
/// at warn: the first, then each power of ten.
fn connect_failure_is_said(failures: u64) -> bool {
    failures == 1 || (failures >= 10 && 10u64.pow(failures.ilog10()) == failures)
}

/// The venue's instruments as the session names them.
pub(super) struct Instruments {
    pub scales: Vec<InstrumentScale>,
    pub symbols: Vec<String>,
}

impl Instruments {
    fn index_of(&self, symbol: &[u8]) -> Option<usize> {
        self.symbols.iter().position(|s| s.as_bytes() == symbol)
    }
}

/// Why the connection went: logged once per loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    PeerClosed,
    Read(std::io::ErrorKind),
    Write(std::io::ErrorKind),
    Session(DisconnectReason),
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::PeerClosed => f.write_str("the venue closed the connection"),
            Loss::Read(kind) => write!(f, "read failed: {kind}"),
            Loss::Write(kind) => write!(f, "write failed: {kind}"),
            Loss::Session(reason) => write!(f, "the session ended it: {reason:?}"),
        }
    }
}

/// The connection's state beyond the session's.
#[derive(Default)]
pub(super) struct Link {
    pub logged_on: bool,
    /// Set by the session's LoggedOn event; the poll starts a round on it.
    pub logon_seen: bool,
    /// Why the session asked to disconnect, if it did.
    pub session_reason: Option<DisconnectReason>,
    /// The first poll happened (the gate was closed for the first round).
    polled: bool,
    seq_error_logged: bool,
    /// Order requests (new, cancel, replace) sent on this connection whose
    /// answer has not been read: an ack, a reject (ExecutionReport or
    /// session/business reject), a cancel ack or a cancel reject each close
    /// one. The socket is read on every full poll while it is not zero.
    pub answers_due: u32,
    /// When `answers_due` last rose from zero: past [`READ_EVERY_POLL_NS`]
    /// after it, the answers still due are read on the idle schedule.
    answers_due_since_ns: u64,
}

impl Link {
    /// An order request was encoded for the venue at `now_ns`.
    fn on_request_sent(&mut self, now_ns: u64) {
        if self.answers_due == 0 {
            self.answers_due_since_ns = now_ns;
        }
        self.answers_due = self.answers_due.saturating_add(1);
    }

    /// The venue answered one of the requests sent.
    pub(super) fn on_answer(&mut self) {
        self.answers_due = self.answers_due.saturating_sub(1);
    }

    /// Whether an answer is still waited for on every poll at `now_ns`; one
    /// overdue gives the wait up (counted afresh from the next request).
    fn awaits_answer(&mut self, now_ns: u64) -> bool {
        if self.answers_due > 0
            && now_ns.saturating_sub(self.answers_due_since_ns) >= READ_EVERY_POLL_NS
        {
            self.answers_due = 0;
        }
        self.answers_due > 0
    }
}

/// A connection under way: its socket, and when it is given up.
struct Connecting {
    stream: TcpStream,
    deadline_ns: u64,
}

pub struct FixClient {
    address: SocketAddr,
    session: Session,
    stream: Option<TcpStream>,
    /// The connection being made (non-blocking) while `stream` is `None`.
    connecting: Option<Connecting>,
    /// A connection not made within this long is a failed attempt.
    connect_timeout_ns: u64,
    backoff: Backoff,
    reconnect_at_ns: u64,
    requests: Arc<ArrayQueue<OrderRequest>>,
    /// Requests waiting for the session.
    pending: VecDeque<OrderRequest>,
    pending_age_max_ns: u64,
    outbox: VecDeque<Event>,
    instruments: Instruments,
    /// What the client remembers per order (ClOrdID versions, adopted ids, status answers).
    ledger: Ledger,
    round: Round,
    link: Link,
    cancels_sent: u64,
    pub counters: FixClientCounters,
    /// The engine's tick-to-trade: stamps at send.
    tick_to_trade: TickToTrade,
    /// The send stamp's clock (the process's one anchor, as ingest's).
    clock: EpochClock,
    /// Bytes written on this connection: the TX stamps' key counts them.
    bytes_written: u64,
    /// Whether this connection's sends are stamped by the kernel.
    tx_stamping: TxStamping,
    /// When a session or reconciliation message (anything but an order
    /// request) last went out: the socket is read every poll after it.
    session_written_ns: u64,
    /// Messages the session had encoded, less order requests, when last
    /// looked at (a change says a session message went out).
    session_messages_seen: u64,
    /// Full polls since the socket was last read.
    polls_unread: u32,
    /// Bytes went out since the error queue was last read to their end:
    /// the next full poll reads it (stamps left there would count against
    /// the socket's receive buffer).
    tx_stamps_due: bool,
}

impl FixClient {
    /// A client for `settings` at `address`, draining `requests`.
    pub fn new(
        config: &Config,
        settings: &FixVenueConfig,
        address: SocketAddr,
        requests: Arc<ArrayQueue<OrderRequest>>,
    ) -> Result<FixClient, FixError> {
        let mut session_config =
            SessionConfig::initiator(&settings.sender_comp_id, &settings.target_comp_id);
        session_config.heartbeat_interval_s = settings.heartbeat_s;
        session_config.reset_on_logon = settings.reset_on_logon;
        session_config.send_trigger_time = settings
            .send_trigger_time
            .unwrap_or(config.venue.sends_trigger_time());
        let store = (!settings.seq_file.as_os_str().is_empty()).then(|| {
            if let Some(parent) = settings.seq_file.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            SeqStore::new(&settings.seq_file)
        });
        let scales = config
            .instruments
            .iter()
            .map(|i| InstrumentScale::new(&i.tick_size, &i.lot_size))
            .collect::<Result<Vec<_>, _>>()?;
        let orders_max = config.risk.max_open_orders * 2 + 16;
        Ok(FixClient {
            address,
            session: Session::new(session_config, store)?,
            stream: None,
            connecting: None,
            connect_timeout_ns: settings.connect_timeout_ms * 1_000_000,
            backoff: Backoff::new(
                settings.reconnect_min_ms * 1_000_000,
                settings.reconnect_max_ms * 1_000_000,
            ),
            reconnect_at_ns: 0,
            requests,
            pending: VecDeque::with_capacity(PENDING_MAX),
            pending_age_max_ns: settings.pending_age_max_ms * 1_000_000,
            outbox: VecDeque::with_capacity(OUTBOX_MAX),
            instruments: Instruments {
                scales,
                symbols: config
                    .instruments
                    .iter()
                    .map(|i| i.symbol.clone())
                    .collect(),
            },
            ledger: Ledger::new(),
            round: Round::new(settings, orders_max),
            link: Link::default(),
            cancels_sent: 0,
            counters: FixClientCounters::default(),
            tick_to_trade: TickToTrade::new(),
            clock: EpochClock::new(),
            bytes_written: 0,
            tx_stamping: TxStamping::SendReturn { errno: 0 },
            tx_stamps_due: false,
            session_written_ns: 0,
            session_messages_seen: 0,
            polls_unread: 0,
        })
    }

    /// The "MsgSeqNum too low" error, naming its remedy, while the session refuses to log on.
    pub fn seq_num_error(&self) -> Option<FixError> {
        self.session.seq_num_error()
    }

    /// Where reconciliation is: true while new orders and replaces are held back.
    pub fn is_reconciling(&self) -> bool {
        self.round.gating()
    }

    fn inbox(&mut self) -> (&mut Session, Inbox<'_>) {
        (
            &mut self.session,
            Inbox {
                outbox: &mut self.outbox,
                ledger: &mut self.ledger,
                round: &mut self.round,
                instruments: &self.instruments,
                counters: &mut self.counters,
                link: &mut self.link,
            },
        )
    }

    /// Starts a connection when none is under way (unless the sequence
    /// numbers disagree or the backoff says wait), then looks at the one
    /// under way: never waits for the venue.
    fn connect(&mut self, now_ns: u64) {
        assert!(self.stream.is_none(), "one connection at a time");
        if self.connecting.is_none() {
            if let Some(error) = self.session.seq_num_error() {
                self.counters.seq_num_too_low += 1;
                if !self.link.seq_error_logged {
                    self.link.seq_error_logged = true;
                    tracing::error!("{error}");
                }
                return;
            }
            if now_ns < self.reconnect_at_ns {
                return;
            }
            match TcpStream::connect(self.address) {
                Ok(stream) => {
                    self.connecting = Some(Connecting {
                        stream,
                        deadline_ns: now_ns.saturating_add(self.connect_timeout_ns),
                    });
                }
                Err(err) => return self.connect_failed(&err, now_ns),
            }
        }
        self.poll_connecting(now_ns);
    }

    /// Where the connection under way stands, asked without waiting
    /// (`SO_ERROR`, then the peer's address): connected, failed, given up
    /// past its deadline, or still pending (kept for the next poll).
    fn poll_connecting(&mut self, now_ns: u64) {
        let Some(connecting) = self.connecting.take() else {
            return;
        };
        match tcp_connect_state(&connecting.stream) {
            ConnectState::Connected => self.connected(connecting.stream, now_ns),
            ConnectState::Failed(err) => self.connect_failed(&err, now_ns),
            ConnectState::Pending if now_ns >= connecting.deadline_ns => {
                let err = std::io::Error::from(std::io::ErrorKind::TimedOut);
                self.connect_failed(&err, now_ns);
            }
            ConnectState::Pending => self.connecting = Some(connecting),
        }
    }

    /// The connection is made: `TCP_NODELAY`, TX stamps, then the session
    /// starts (its Logon goes out on this poll's write).
    fn connected(&mut self, stream: TcpStream, now_ns: u64) {
        debug_assert!(self.connecting.is_none(), "one connection at a time");
        let _ = stream.set_nodelay(true);
        self.start_send_stamps(&stream);
        if self.counters.connect_failures > 0 {
            tracing::info!(
                address = %self.address,
                failed_attempts = self.counters.connect_failures,
                "FIX venue reachable again"
            );
        }
        self.counters.connects += 1;
        self.stream = Some(stream);
        self.link.logged_on = false;
        self.link.session_reason = None;
        self.link.answers_due = 0;
        let (session, mut inbox) = self.inbox();
        session.on_connected(now_ns, &mut inbox);
    }

    /// An attempt failed (refused, unreachable, no answer by its deadline):
    /// counted, logged, and the next one waits for the backoff.
    #[cold]
    fn connect_failed(&mut self, err: &std::io::Error, now_ns: u64) {
        let delay_ns = self.backoff.next_delay_ns();
        self.reconnect_at_ns = now_ns + delay_ns;
        self.counters.connect_failures += 1;
        self.log_connect_failure(err, delay_ns);
    }

    /// Whether a connection is under way (started, not yet made or failed).
    pub fn is_connecting(&self) -> bool {
        self.connecting.is_some()
    }

    /// A venue that does not answer is said at warn on the first failed
    /// attempt and then on the 10th, 100th, 1,000th …, so an absent venue
    /// is visible without a line per retry; the other attempts go to debug.
    #[cold]
    fn log_connect_failure(&self, err: &std::io::Error, retry_in_ns: u64) {
        let failures = self.counters.connect_failures;
        let retry_in_ms = retry_in_ns / 1_000_000;
        if connect_failure_is_said(failures) {
            tracing::warn!(
                %err,
                address = %self.address,
                failures,
                retry_in_ms,
                "FIX venue not reachable; orders wait, then are rejected locally"
            );
        } else {
            tracing::debug!(%err, address = %self.address, failures, "FIX connect failed; backing off");
        }
    }

    /// Before a connection's first byte: TX stamps on where the kernel
    /// gives them (logged once per connection when refused), the byte
    /// count from zero.
    fn start_send_stamps(&mut self, stream: &TcpStream) {
        self.bytes_written = 0;
        self.tx_stamps_due = false;
        self.tx_stamping = enable_tx_stamps(stream);
        if let TxStamping::SendReturn { errno } = self.tx_stamping {
            tracing::info!(
                errno,
                "no kernel TX stamps: decide-send ends at write return"
            );
        }
        self.tick_to_trade.set_send_stamp(match self.tx_stamping {
            TxStamping::KernelTxSoftware => SendStamp::TxSoftware,
            TxStamping::SendReturn { .. } => SendStamp::SendReturn,
        });
    }

    /// Takes the kernel's TX stamps of what was written (CLOCK_REALTIME,
    /// converted with a bridge measured after the reads) and drops orders
    /// whose stamp is overdue. Reads the error queue only after writes, and
    /// again on later polls only while a stamped order still waits.
    fn take_send_stamps(&mut self, stream: &TcpStream, now_ns: u64) {
        if !self.tx_stamps_due {
            return;
        }
        let mut covered = false;
        let mut taken = [(genesis_io::net::TxKey(0), 0u64); 8];
        loop {
            let mut count = 0;
            // A read error ends this poll's reading (the stamp waits or expires).
            let drained = drain_tx_stamps_until(stream, self.bytes_written, taken.len(), |stamp| {
                taken[count] = (stamp.key, stamp.realtime_ns);
                count += 1;
            })
            .ok();
            // One `recvmsg` per stamp, and one more that found the queue
            // empty unless the last stamp covered every byte written.
            // A drain that stopped at `taken.len()` stamps made no empty read.
            let empty_read = drained.map_or(1, |drained| {
                u64::from(!drained.covered && drained.count < taken.len())
            });
            self.counters.tx_stamp_reads += count as u64 + empty_read;
            let bridge = self.clock.realtime_bridge();
            for &(key, realtime_ns) in &taken[..count] {
                covered |= key.covers(self.bytes_written);
                self.tick_to_trade
                    .on_tx_stamp(key, bridge.epoch_ns(realtime_ns));
            }
            if drained.is_none_or(|drained| drained.covered || drained.count < taken.len()) {
                break;
            }
        }
        self.tick_to_trade.expire_tx_stamps(now_ns);
        self.tx_stamps_due = !covered && self.tick_to_trade.awaiting_tx_stamp() > 0;
    }

    /// The connection is gone: logged once, with why; the gate closes until
    /// the next round (with reconciliation on).
    fn disconnect(&mut self, loss: Loss, now_ns: u64) {
        debug_assert!(self.stream.is_none(), "the stream was taken by pump");
        let was_logged_on = self.link.logged_on;
        self.link.logged_on = false;
        self.counters.disconnects += 1;
        tracing::warn!(address = %self.address, reason = %loss, was_logged_on, "FIX session lost");
        if let Err(err) = self.session.on_disconnected() {
            tracing::error!(%err, "saving FIX sequence numbers failed");
        }
        self.round.on_disconnect(&mut self.outbox, now_ns);
        self.reconnect_at_ns = now_ns + self.backoff.next_delay_ns();
    }

    /// Reads what the socket has into the session; `Err` when the connection
    /// is gone. A read that fills less than the buffer offered found the
    /// socket drained: no second `recv` to hear it say so.
    fn read_socket(&mut self, stream: &mut TcpStream, now_ns: u64) -> Result<(), Loss> {
        loop {
            let buffer = self.session.recv_buffer();
            let offered = buffer.len();
            self.counters.socket_reads += 1;
            match stream.read(buffer) {
                Ok(0) => return Err(Loss::PeerClosed),
                Ok(count) => {
                    self.tick_to_trade.on_venue_read(now_ns);
                    let (session, mut inbox) = self.inbox();
                    session.on_received(count, now_ns, &mut inbox);
                    if count < offered {
                        return Ok(());
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(Loss::Read(err.kind())),
            }
        }
    }

    /// Whether this full poll reads the socket (see the module docs).
    fn read_due(&mut self, now_ns: u64) -> bool {
        self.polls_unread += 1;
        let expecting = self.session.state() != SessionState::Active
            || !self.session.pending_output().is_empty()
            || now_ns.saturating_sub(self.session_written_ns) < READ_EVERY_POLL_NS
            || self.link.awaits_answer(now_ns);
        let due = expecting || self.polls_unread >= READ_EVERY_IDLE_POLLS;
        if due {
            self.polls_unread = 0;
        }
        due
    }

    /// Writes what the session has to send, as far as the socket takes it.
    fn write_socket(&mut self, stream: &mut TcpStream, now_ns: u64) -> Result<(), Loss> {
        if !self.session.pending_output().is_empty() {
            self.note_session_messages(now_ns);
        }
        while !self.session.pending_output().is_empty() {
            match stream.write(self.session.pending_output()) {
                Ok(0) => return Err(Loss::PeerClosed),
                Ok(written) => {
                    self.bytes_written += written as u64;
                    self.tx_stamps_due = self.tx_stamping.is_kernel();
                    self.session.consume_output(written);
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(Loss::Write(err.kind())),
            }
        }
        Ok(())
    }

    /// Whether the output about to be written holds a message other than an
    /// order request (the session's and reconciliation's, which may ask for
    /// an answer): then the socket is read on every poll for a while.
    fn note_session_messages(&mut self, now_ns: u64) {
        let messages = self.session.counters().messages_sent;
        let session_messages = messages.saturating_sub(self.counters.requests_sent);
        if session_messages != self.session_messages_seen {
            self.session_messages_seen = session_messages;
            self.session_written_ns = now_ns;
        }
    }

    /// Reads what the socket has, runs timers and reconciliation, sends
    /// queued requests, writes output.
    fn pump(&mut self, now_ns: u64) {
        let Some(mut stream) = self.stream.take() else {
            self.send_requests(now_ns);
            return;
        };
        self.take_send_stamps(&stream, now_ns);
        let read = match self.read_due(now_ns) {
            true => self.read_socket(&mut stream, now_ns),
            false => Ok(()),
        };
        {
            let (session, mut inbox) = self.inbox();
            session.poll_timers(now_ns, &mut inbox);
        }
        if self.session.state() == SessionState::Active {
            self.backoff.reset();
        }
        if std::mem::take(&mut self.link.logon_seen) {
            self.round
                .start(self.session.sender(), &mut self.outbox, now_ns);
        }
        self.round.poll(&mut self.outbox, now_ns);
        self.send_requests(now_ns);
        let written = read.and_then(|()| self.write_socket(&mut stream, now_ns));
        self.stamp_sent(written.is_ok());
        let loss = match (written, self.session.disconnect_reason()) {
            (Err(loss), _) => Some(loss),
            (Ok(()), Some(reason)) => Some(Loss::Session(reason)),
            (Ok(()), None) => None,
        };
        match loss {
            Some(loss) => self.disconnect(loss, now_ns),
            None => self.stream = Some(stream),
        }
    }

    /// Sends queued requests and writes them, nothing else: no read of the
    /// socket (a `recv` that would find nothing before the `write` that
    /// matters), no timers, no reconciliation (all on the next full poll).
    fn send_now(&mut self, now_ns: u64) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        self.send_requests(now_ns);
        let written = self.write_socket(&mut stream, now_ns);
        self.stamp_sent(written.is_ok());
        match written {
            Err(loss) => self.disconnect(loss, now_ns),
            Ok(()) => self.stream = Some(stream),
        }
    }

    /// The send stamp: once the output is drained, every order encoded since
    /// the last one was handed to the kernel now; lost with the connection.
    #[inline]
    fn stamp_sent(&mut self, written: bool) {
        if !written {
            self.tick_to_trade.on_lost();
        } else if self.session.pending_output().is_empty() {
            self.tick_to_trade.on_written(self.clock.now_ns());
        }
    }

    /// Logs out (at shutdown) and saves sequence numbers.
    pub fn logout(&mut self, now_ns: u64) {
        let (session, mut inbox) = self.inbox();
        session.logout(b"genesis stopping", now_ns, &mut inbox);
        if let Some(stream) = &mut self.stream {
            let _ = stream.write_all(self.session.pending_output());
        }
        let _ = self.session.on_disconnected();
    }
}

/// Queues a venue event for ingest (bounded by construction: ingest drains
/// the outbox every poll, and a poll reads at most one socket buffer).
pub(super) fn push_event(
    outbox: &mut VecDeque<Event>,
    (instrument, side): (InstrumentId, Side),
    input: Input,
    flags: u8,
    ts_venue_ns: u64,
) {
    if outbox.len() == OUTBOX_MAX {
        tracing::error!("FIX client outbox full: a venue event is dropped");
        return;
    }
    let mut event = Event::new(instrument, side, input);
    event.flags = flags;
    event.ts_venue_ns = ts_venue_ns;
    outbox.push_back(event);
}

impl Source for FixClient {
    /// The journal's ClOrdID lineage, and the orders open when the journal
    /// ended: the client learns the ClOrdID version the venue accepted last
    /// and the instrument of each, so status requests, cancels and replaces
    /// name them as the venue does.
    fn on_restored(&mut self, restored: &crate::ingest::source::Restored<'_>) {
        self.ledger.set_lineage(restored.lineage);
        for order in restored.open_orders {
            let versions = ledger::Versions {
                accepted: u64::from(order.version_accepted),
                sent: u64::from(order.version_sent.max(order.version_accepted)),
            };
            self.ledger
                .restore(order.id, order.instrument.index(), versions);
        }
    }

    fn tick_to_trade(&mut self) -> Option<&mut TickToTrade> {
        Some(&mut self.tick_to_trade)
    }

    /// Execution queued a request that no poll has taken yet.
    fn send_due(&self) -> bool {
        !self.requests.is_empty()
    }

    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let now_ns = clock.now_ns();
        if budget == 0 && self.stream.is_some() && self.link.polled {
            // Ingest's "send now": the orders just decided go out before
            // anything else; the socket is read on ingest's next round.
            self.send_now(now_ns);
            return 0;
        }
        if !self.link.polled {
            // Before any market data: nothing new goes until the first round.
            self.link.polled = true;
            self.round.on_disconnect(&mut self.outbox, now_ns);
        }
        if self.stream.is_none() {
            self.connect(now_ns);
        }
        self.pump(now_ns);
        let reads = SessionReads {
            socket: self.counters.socket_reads,
            tx_stamps: self.counters.tx_stamp_reads,
        };
        self.tick_to_trade.on_poll(now_ns, reads, || clock.now_ns());
        debug_assert!(
            self.stream.is_some() || !self.link.logged_on,
            "logged on only while connected"
        );
        debug_assert!(
            self.stream.is_none() || self.connecting.is_none(),
            "one connection at a time"
        );
        debug_assert!(self.outbox.len() <= OUTBOX_MAX, "the outbox is bounded");
        let mut emitted = 0;
        while emitted < budget {
            let Some(mut event) = self.outbox.pop_front() else {
                break;
            };
            event.ts_recv_ns = clock.now_ns();
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

impl Drop for FixClient {
    fn drop(&mut self) {
        if self.stream.is_some() {
            self.logout(crate::clock::EpochClock::new().now_ns());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_io::fix::tcp::TcpAcceptor;
    use std::net::TcpListener;

    /// A client connected to a listener standing in for the venue (no
    /// logon answered), polled once so it is past its first poll.
    fn connected() -> (FixClient, std::net::TcpStream, EpochClock) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let config = Config::builtin();
        let mut settings = config.venue.fix.clone();
        settings.seq_file = std::path::PathBuf::new();
        let (_gateway, requests) = crate::adapters::QueueGateway::new(16);
        let address = listener.local_addr().expect("bound");
        let mut client = FixClient::new(&config, &settings, address, requests).expect("a client");
        let clock = EpochClock::new();
        client.poll(&clock, 64, &mut |_| {});
        let deadline_ns = clock.now_ns() + 5_000_000_000;
        while client.stream.is_none() {
            assert!(clock.now_ns() < deadline_ns, "the client never connected");
            std::thread::yield_now();
            client.poll(&clock, 64, &mut |_| {});
        }
        let (venue, _) = listener.accept().expect("the client connects");
        (client, venue, clock)
    }

    /// A client for a venue at `address` (no sequence file), with `settings` as changed by `change`.
    fn client_at(address: SocketAddr, change: impl FnOnce(&mut FixVenueConfig)) -> FixClient {
        let config = Config::builtin();
        let mut settings = config.venue.fix.clone();
        settings.seq_file = std::path::PathBuf::new();
        change(&mut settings);
        let (_gateway, requests) = crate::adapters::QueueGateway::new(16);
        FixClient::new(&config, &settings, address, requests).expect("a client")
    }

    /// A loopback listener whose accept queue is full, so the kernel drops
    /// the next SYN (as a firewall or a dead host does) and a connect to it
    /// stays pending: with listen backlog 0, Linux queues one connection
    /// (it refuses SYNs only once the queue holds more than the backlog),
    /// which the returned stream holds unaccepted.
    #[allow(unsafe_code)] // listen(2)
    fn listener_dropping_syns() -> (TcpListener, std::net::TcpStream) {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        // SAFETY: listen(2) again on a descriptor the listener owns sets
        // its backlog; no memory is passed.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
        let address = listener.local_addr().expect("bound");
        let filler = std::net::TcpStream::connect(address).expect("the queue takes one");
        (listener, filler)
    }

    /// Polls until `done` (every millisecond: the kernel retransmits a
    /// dropped SYN after about a second), failing after 20 s.
    fn poll_until(client: &mut FixClient, done: impl Fn(&FixClient) -> bool, what: &str) {
        let clock = EpochClock::new();
        let deadline_ns = clock.now_ns() + 20_000_000_000;
        while !done(client) {
            assert!(clock.now_ns() < deadline_ns, "{what} never happened");
            std::thread::sleep(std::time::Duration::from_millis(1));
            client.poll(&clock, 64, &mut |_| {});
        }
    }

    /// Whether bytes wait unread on the client's socket (none once it is closed).
    fn unread(client: &FixClient) -> bool {
        let mut byte = [0u8; 1];
        client
            .stream
            .as_ref()
            .is_some_and(|stream| matches!(stream.peek(&mut byte), Ok(count) if count > 0))
    }

    /// Waits (with a deadline) until the venue's bytes reach the client's socket.
    fn wait_unread(client: &FixClient, clock: &EpochClock) {
        let deadline_ns = clock.now_ns() + 5_000_000_000;
        while !unread(client) {
            assert!(
                clock.now_ns() < deadline_ns,
                "the venue's bytes never arrived"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn failed_connects_are_said_on_the_first_and_each_power_of_ten() {
        let said: Vec<u64> = (1..=20_000)
            .filter(|&n| connect_failure_is_said(n))
            .collect();
        assert_eq!(said, [1, 10, 100, 1_000, 10_000]);
    }

    // A venue that is not there: each attempt is counted, none connects.
    #[test]
    fn a_closed_port_counts_failed_connects() {
        let address = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
            listener.local_addr().expect("bound")
        };
        let mut client = client_at(address, |_| {});
        poll_until(
            &mut client,
            |client| client.counters.connect_failures > 0,
            "a refused connect",
        );
        assert_attempts(&client, 0, 1);
    }

    /// The client's attempt is over (connected only if it connected), with these counts.
    fn assert_attempts(client: &FixClient, connects: u64, connect_failures: u64) {
        assert!(!client.is_connecting(), "the attempt is over");
        assert_eq!(client.stream.is_some(), connects > 0);
        let counters = &client.counters;
        assert_eq!(
            (counters.connects, counters.connect_failures),
            (connects, connect_failures)
        );
    }

    /// A client whose SYN the venue's kernel drops ([`listener_dropping_syns`]),
    /// after `polls` polls: each returned with the connect pending and
    /// nothing counted.
    fn pending_client(polls: usize) -> (TcpListener, std::net::TcpStream, FixClient) {
        let (listener, filler) = listener_dropping_syns();
        let address = listener.local_addr().expect("bound");
        let mut client = client_at(address, |settings| settings.connect_timeout_ms = 600_000);
        let clock = EpochClock::new();
        for _ in 0..polls {
            client.poll(&clock, 64, &mut |_| {});
            assert!(
                client.is_connecting(),
                "the SYN was dropped: still connecting"
            );
            assert!(client.stream.is_none());
            assert_eq!(client.counters, FixClientCounters::default());
        }
        (listener, filler, client)
    }

    // A venue host that drops SYNs: the poll returns with the connect
    // pending, nothing counted as failed; once the venue takes connections
    // again the client connects on a later poll.
    #[test]
    fn a_pending_connect_does_not_hold_the_poll_and_completes_later() {
        let (listener, _filler, mut client) = pending_client(2);
        let (_first, _) = listener.accept().expect("the queued connection");
        poll_until(&mut client, |client| client.stream.is_some(), "the connect");
        assert_attempts(&client, 1, 0);
    }

    // The venue goes away while the connect is pending: the retransmitted
    // SYN is refused, and that poll counts a failed connect.
    #[test]
    fn a_pending_connect_fails_when_the_venue_closes() {
        let (listener, _filler, mut client) = pending_client(1);
        drop(listener);
        poll_until(
            &mut client,
            |client| client.counters.connect_failures > 0,
            "the refused connect",
        );
        assert_attempts(&client, 0, 1);
    }

    // A connect still pending at `connect_timeout_ms` is a failed attempt:
    // counted, and the next waits for the backoff.
    #[test]
    fn a_connect_pending_past_its_deadline_fails() {
        let (_listener, _filler, mut client) = pending_client(0);
        client.connect_timeout_ns = 3_000_000_000;
        let start_ns = 1_000;
        client.connect(start_ns);
        assert!(client.is_connecting());
        client.connect(start_ns + 2_999_999_999);
        assert!(client.is_connecting(), "not yet past the deadline");
        assert_eq!(client.counters.connect_failures, 0);
        let deadline_ns = start_ns + 3_000_000_000;
        client.connect(deadline_ns);
        assert_attempts(&client, 0, 1);
        assert!(
            client.reconnect_at_ns > deadline_ns,
            "the next attempt backs off"
        );
        client.connect(deadline_ns + 1);
        assert!(!client.is_connecting(), "no new attempt before the backoff");
    }

    // Ingest's zero-budget "send now" poll writes without reading the
    // socket first: what the venue sent waits for the next full poll.
    #[test]
    fn a_zero_budget_poll_does_not_read_the_socket() {
        let (mut client, mut venue, clock) = connected();
        // Half a message: the session keeps it buffered, nothing is lost.
        venue
            .write_all(b"8=FIX.4.4\x019=5")
            .expect("the venue writes");
        wait_unread(&client, &clock);
        assert_eq!(client.poll(&clock, 0, &mut |_| {}), 0);
        assert!(unread(&client), "the send-now poll left the bytes unread");
        client.poll(&clock, 64, &mut |_| {});
        assert!(!unread(&client), "a full poll reads them");
    }

    // Ingest asks the venue to send only when execution queued a request.
    #[test]
    fn send_is_due_only_with_a_queued_request() {
        let (mut gateway, requests) = crate::adapters::QueueGateway::new(4);
        let config = Config::builtin();
        let mut settings = config.venue.fix.clone();
        settings.seq_file = std::path::PathBuf::new();
        let address: SocketAddr = "127.0.0.1:9".parse().expect("literal address");
        let client = FixClient::new(&config, &settings, address, requests).expect("a client");
        assert!(!client.send_due());
        use crate::execution::gateway::Gateway;
        let request = OrderRequest {
            kind: crate::execution::gateway::RequestKind::Cancel,
            order_id: crate::units::OrderId(1),
            instrument: InstrumentId(0),
            side: Side::Buy,
            price: crate::units::Price(100),
            qty: crate::units::Qty(1),
            ts_trigger_ns: 0,
            ts_decided_ns: 0,
            trigger_seq: 0,
        };
        gateway.send(&request).expect("room in the queue");
        assert!(client.send_due());
    }

    struct Quiet;
    impl genesis_io::fix::session::SessionHandler for Quiet {
        fn on_app_message(
            &mut self,
            _: &genesis_io::fix::Message<'_>,
            _: &mut genesis_io::fix::session::Sender,
            _: u64,
        ) {
        }
    }

    /// Polls the client and the venue once (the venue answers on the
    /// test's thread), failing past the deadline.
    fn pump(client: &mut FixClient, venue: &mut TcpAcceptor, clock: &EpochClock, deadline_ns: u64) {
        assert!(clock.now_ns() < deadline_ns, "the session never got there");
        client.poll(clock, 64, &mut |_| {});
        venue
            .poll(genesis_io::fix::tcp::unix_now_ns(), &mut Quiet)
            .expect("the venue polls");
        std::thread::yield_now();
    }

    /// A client logged on to a venue session on loopback (reconciliation
    /// off), its gateway, the venue, and a deadline 10 s away.
    fn logged_on() -> (FixClient, crate::adapters::QueueGateway, TcpAcceptor, u64) {
        let config = Config::builtin();
        let mut settings = config.venue.fix.clone();
        settings.seq_file = std::path::PathBuf::new();
        settings.reconcile = crate::config::ReconcileMode::Off;
        let venue_config =
            SessionConfig::acceptor(&settings.target_comp_id, &settings.sender_comp_id);
        let venue_session = Session::new(venue_config, None).expect("a venue session");
        let mut venue = TcpAcceptor::bind("127.0.0.1:0".parse().expect("literal"), venue_session)
            .expect("a loopback port");
        let (gateway, requests) = crate::adapters::QueueGateway::new(64);
        let address = venue.local_addr().expect("bound");
        let mut client = FixClient::new(&config, &settings, address, requests).expect("a client");
        let clock = client.clock.clone();
        let deadline_ns = clock.now_ns() + 10_000_000_000;
        while client.session.state() != SessionState::Active
            || !client.session.pending_output().is_empty()
        {
            pump(&mut client, &mut venue, &clock, deadline_ns);
        }
        (client, gateway, venue, deadline_ns)
    }

    /// Which of `polls` full polls at `now_ns` read the socket.
    fn reads_at(client: &mut FixClient, now_ns: u64, polls: u32) -> Vec<bool> {
        (0..polls).map(|_| client.read_due(now_ns)).collect()
    }

    // Logged on and idle, the socket is read on one full poll in
    // READ_EVERY_IDLE_POLLS; while an order request waits for its answer,
    // on every one, for at most READ_EVERY_POLL_NS; after a session
    // message went out, on every one for READ_EVERY_POLL_NS.
    #[test]
    fn an_idle_session_reads_its_socket_every_few_polls() {
        let (mut client, _gateway, _venue, _) = logged_on();
        let now_ns = client.clock.now_ns() + 2 * READ_EVERY_POLL_NS;
        client.polls_unread = 0;
        let reads = reads_at(&mut client, now_ns, 2 * READ_EVERY_IDLE_POLLS);
        assert_eq!(reads.iter().filter(|read| **read).count(), 2, "{reads:?}");
        assert!(reads[READ_EVERY_IDLE_POLLS as usize - 1], "{reads:?}");
        // Two requests out: every poll reads until both are answered.
        client.link.on_request_sent(now_ns);
        client.link.on_request_sent(now_ns + 1);
        assert!(reads_at(&mut client, now_ns + 2, 3)
            .iter()
            .all(|read| *read));
        client.link.on_answer();
        assert!(client.read_due(now_ns + 3), "one answer is still due");
        client.link.on_answer();
        assert_eq!(client.link.answers_due, 0);
        let reads = reads_at(&mut client, now_ns + 4, READ_EVERY_IDLE_POLLS);
        assert_eq!(reads.iter().filter(|read| **read).count(), 1, "{reads:?}");
        // An answer that never comes is waited for READ_EVERY_POLL_NS, then
        // read on the idle schedule.
        let sent_ns = now_ns + 10;
        client.link.on_request_sent(sent_ns);
        assert!(client.read_due(sent_ns + READ_EVERY_POLL_NS - 1));
        client.polls_unread = 0;
        let overdue_ns = sent_ns + READ_EVERY_POLL_NS;
        assert!(!client.read_due(overdue_ns), "the wait was given up");
        assert_eq!(client.link.answers_due, 0);
        // A session message (here a heartbeat) keeps every poll reading
        // for READ_EVERY_POLL_NS after it was written.
        let beat_ns = client.clock.now_ns() + client.session.heartbeat_interval_ns();
        assert!(beat_ns > overdue_ns);
        let beats = client.session.counters().heartbeats_sent;
        client.pump(beat_ns);
        assert_eq!(client.session.counters().heartbeats_sent, beats + 1);
        let reads = reads_at(&mut client, beat_ns + READ_EVERY_POLL_NS - 1, 3);
        assert!(reads.iter().all(|read| *read), "{reads:?}");
        client.polls_unread = 0;
        assert!(!client.read_due(beat_ns + READ_EVERY_POLL_NS));
    }

    /// A venue that acknowledges every new order it reads (ExecType New).
    struct Acker {
        scale: InstrumentScale,
    }

    impl genesis_io::fix::session::SessionHandler for Acker {
        fn on_app_message(
            &mut self,
            message: &genesis_io::fix::Message<'_>,
            sender: &mut genesis_io::fix::session::Sender,
            now_ns: u64,
        ) {
            use genesis_io::fix::exec_report::{ExecKind, ExecType, ExecutionReport, OrdStatus};
            use genesis_io::fix::{tags, Lots, MsgType, Ticks};
            if message.msg_type() != Some(MsgType::NewOrderSingle) {
                return;
            }
            let ack = ExecutionReport {
                kind: ExecKind::New,
                exec_type: ExecType::New,
                ord_status: OrdStatus::New,
                order_id: b"V-1",
                exec_id: b"E-1",
                cl_ord_id: message.get(tags::CL_ORD_ID),
                orig_cl_ord_id: None,
                symbol: message.get(tags::SYMBOL),
                side: genesis_io::fix::order::Side::Buy,
                order_qty_lots: Some(Lots(1)),
                last_qty_lots: Lots(0),
                last_px_ticks: Ticks(0),
                cum_qty_lots: Lots(0),
                leaves_qty_lots: Lots(1),
                avg_px_text: b"0",
                ord_rej_reason: None,
                text: None,
                poss_dup: false,
            };
            sender
                .send_execution_report(&ack, &self.scale, now_ns)
                .expect("room for the ack");
        }
    }

    /// Whether the socket's error queue holds a message (a TX stamp), asked
    /// without waiting.
    #[allow(unsafe_code)] // poll(2)
    fn error_queue_ready(client: &FixClient) -> bool {
        use std::os::fd::AsRawFd;
        let stream = client.stream.as_ref().expect("connected");
        let mut poll = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid `pollfd` for a live descriptor, zero timeout.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready > 0 && poll.revents & libc::POLLERR != 0
    }

    // System calls of full polls around one order, counted on loopback:
    // idle, one `recv` in READ_EVERY_IDLE_POLLS polls; with the order
    // unanswered, one per poll (each finding nothing); the poll that reads
    // the ack makes one `recv` (it returned less than the buffer: drained),
    // and the idle schedule is back after it; the order's TX stamp takes
    // one `recvmsg` of the error queue, and no poll after it reads the
    // queue again.
    #[test]
    fn a_session_reads_every_poll_only_while_an_answer_is_due() {
        use crate::execution::gateway::{Gateway, RequestKind};
        let (mut client, mut gateway, mut venue, deadline_ns) = logged_on();
        let clock = client.clock.clone();
        // Past the logon's messages; the session's timers are far off.
        let start_ns = clock.now_ns() + 10 * READ_EVERY_POLL_NS;
        let reads = |client: &FixClient| client.counters.socket_reads;
        client.polls_unread = 0;
        let before = reads(&client);
        (0..READ_EVERY_IDLE_POLLS).for_each(|_| client.pump(start_ns));
        assert_eq!(reads(&client) - before, 1, "idle: one read in a round");
        let request = OrderRequest {
            kind: RequestKind::New,
            order_id: crate::units::OrderId(1),
            instrument: InstrumentId(0),
            side: Side::Buy,
            price: crate::units::Price(100),
            qty: crate::units::Qty(1),
            ts_trigger_ns: start_ns,
            ts_decided_ns: start_ns,
            trigger_seq: 0,
        };
        gateway.send(&request).expect("room in the queue");
        client.send_now(start_ns);
        assert_eq!(
            (client.counters.requests_sent, client.link.answers_due),
            (1, 1)
        );
        while !error_queue_ready(&client) {
            assert!(clock.now_ns() < deadline_ns, "no TX stamp came");
            std::thread::yield_now();
        }
        let (before, stamp_reads) = (reads(&client), client.counters.tx_stamp_reads);
        (0..3).for_each(|_| client.pump(start_ns + 1));
        assert_eq!(reads(&client) - before, 3, "unanswered: every poll reads");
        assert_eq!(client.counters.tx_stamp_reads - stamp_reads, 1);
        assert!(!client.tx_stamps_due);
        let mut acker = Acker {
            scale: client.instruments.scales[0],
        };
        while !unread(&client) {
            assert!(clock.now_ns() < deadline_ns, "the venue never answered");
            venue
                .poll(genesis_io::fix::tcp::unix_now_ns(), &mut acker)
                .expect("the venue polls");
            std::thread::yield_now();
        }
        // The whole ack is in (the venue wrote it in one write on loopback).
        let before = reads(&client);
        client.pump(start_ns + 2);
        assert_eq!(reads(&client) - before, 1, "one read takes the ack");
        assert_eq!(client.link.answers_due, 0);
        assert!(
            matches!(
                client.outbox.back().map(Event::input),
                Some(Input::OrderAck(_))
            ),
            "the ack became an event"
        );
        let before = reads(&client);
        (0..READ_EVERY_IDLE_POLLS).for_each(|_| client.pump(start_ns + 3));
        assert_eq!(reads(&client) - before, 1, "answered: idle schedule");
        assert_eq!(client.counters.tx_stamp_reads - stamp_reads, 1);
    }

    // On a connection the kernel stamps, every order on market data is
    // recorded once its TX stamp is read: decide-send ends at the stamp,
    // decide-return at write return, and no order is missed.
    #[test]
    fn every_order_is_recorded_with_its_tx_stamp() {
        use crate::execution::gateway::{Gateway, RequestKind};
        let (mut client, mut gateway, mut venue, deadline_ns) = logged_on();
        let clock = client.clock.clone();
        assert_eq!(client.tick_to_trade.send_stamp(), SendStamp::TxSoftware);
        let orders = 5u64;
        let table = client.tick_to_trade.stamps();
        for seq in 1..=orders {
            let recv_ns = clock.now_ns();
            table.put(seq, recv_ns, recv_ns + 1);
            let request = OrderRequest {
                kind: RequestKind::New,
                order_id: crate::units::OrderId(seq),
                instrument: InstrumentId(0),
                side: Side::Buy,
                price: crate::units::Price(100),
                qty: crate::units::Qty(1),
                ts_trigger_ns: recv_ns,
                ts_decided_ns: clock.now_ns(),
                trigger_seq: seq,
            };
            gateway.send(&request).expect("room in the queue");
            client.poll(&clock, 0, &mut |_| {});
        }
        while client.tick_to_trade.histograms[0].len() < orders {
            pump(&mut client, &mut venue, &clock, deadline_ns);
        }
        let t2t = &client.tick_to_trade;
        assert_eq!(client.counters.requests_sent, orders);
        assert_eq!((t2t.stamps_missed, t2t.tx_stamps_missed), (0, 0));
        assert!(t2t.histograms.iter().all(|h| h.len() == orders));
        assert_eq!(t2t.awaiting_tx_stamp(), 0);
    }
}
