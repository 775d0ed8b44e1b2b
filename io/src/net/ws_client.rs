//! A non-blocking WebSocket client over a mio `TcpStream` and `tungstenite`,
//! with pings, timeouts, and reconnect with jittered exponential backoff.
//!
//! Owning thread: the ingest thread, which calls [`WsClient::poll`] on every
//! loop iteration with a clock closure; `poll` never blocks (connect,
//! handshake, reads and writes are all non-blocking and resumed next poll).
//! Optionally the socket is registered with the reactor under one token, so
//! a dev-mode reactor wakes on data.
//!
//! States: `Idle` (waiting out the backoff) → `Connecting` (TCP) →
//! `TlsHandshaking` (`wss://` only) → `Handshaking` (HTTP upgrade) → `Open`
//! → back to `Idle` on any failure, or `Closing` → `Stopped` when the caller
//! closes. The TLS handshake is driven without blocking, one step per poll,
//! inside the same `connect_timeout_ns` as TCP connect and the upgrade.
//! A `wss://` URL uses rustls with the roots of [`TlsSetup`] (Mozilla's by
//! default, see [`WsClient::with_tls`]); the server name is the URL's host.
//! [`WsEvent::Connected`] is emitted on every (re)connection: the caller
//! must then rebuild its books from fresh snapshots, since messages were
//! lost while disconnected.
//!
//! Bad-input policy (each counted in [`WsStats`], never a panic, never an
//! `Err` to the caller):
//! - peer closes mid-frame or resets the TCP connection: reconnect;
//! - peer sends a close frame: reply, reconnect;
//! - message larger than `message_bytes_max`: reconnect (the stream cannot
//!   be resynchronised mid-frame);
//! - invalid UTF-8 in a text frame or another protocol violation: reconnect;
//! - binary frames: skipped;
//! - no pong within `ping_timeout_ns`, or connect plus handshakes longer
//!   than `connect_timeout_ns`: reconnect;
//! - a TLS handshake that fails (certificate refused, protocol error):
//!   reconnect with backoff; the reason is kept in [`WsClient::last_error`];
//! - invalid JSON: not seen here (text is handed over as bytes); the
//!   Binance layer counts and skips it.
//!
//! Allocation: after the handshake, receiving a text message (read, frame
//! decode, UTF-8 check, the caller's callback) does not allocate:
//! tungstenite lends each message as a slice of its read buffer, which is
//! reclaimed in place once the message is dropped, and [`ChunkedStream`]
//! caps each read so that buffer never has to grow for frames up to
//! `FRAME_NO_GROWTH_BYTES_MAX`, about 32 KiB (the argument and the
//! measurement are in `ws_stream.rs`; `io/tests/net_ws_alloc.rs` asserts
//! zero per message).
//! So the text must not outlive the callback, and each message is dropped
//! before the next read.
//!
//! Receive stamps: each text message's `ts_recv_ns` is the kernel's
//! receive stamp of the socket read that delivered the message's last byte
//! (why the last: `ws_stream.rs`), converted to the caller's clock (the
//! offset to CLOCK_REALTIME is measured once per poll that converts, and a
//! converted stamp is never later than the caller's clock read right after
//! the message; see [`super::rx_stamp`]). Every connection asks for stamps
//! ([`super::enable_rx_stamps`]) unless [`WsConfig::rx_stamps`] is off; how
//! that fared is [`WsClient::rx_stamping`] (probed on a fresh socket when
//! the client is made, so it can be logged at start-up, then the outcome of
//! the latest connection). Where the kernel refuses, or a read comes
//! without a stamp (stamping not live yet just after start-up), the message
//! is stamped from the caller's clock after the read, and counted in
//! [`WsStats::messages_stamped_user`].
//!
//! Idle polls: tungstenite zero-fills the spare part of its read buffer
//! (up to 128 KiB) before every socket read, including one that ends in
//! `WouldBlock`. So after a read that would have blocked (tungstenite then
//! holds no complete frame), the next poll first reads the socket into the
//! stream's own buffer ([`ChunkedStream::read_ahead`]; under TLS it peeks
//! one byte) and skips `read()` while the socket has nothing (counted in
//! `reads_skipped`); bytes it read are tungstenite's next read, so a poll
//! that finds a message makes one system call for it, not a `peek` and a
//! `recv`; pings, the pong timeout and
//! the flush of queued pongs still run. After a read that returned a
//! message the client reads on as before, since tungstenite may hold more
//! complete frames. Pings carry a static payload so sending one does
//! not allocate either; sending text (subscription and snapshot requests)
//! copies it into a message, which is allowed off the hot path.

use super::backoff::JitteredBackoff;
use super::reactor::{connect_tcp, tcp_connect_state, ConnectState};
use super::rx_stamp::{enable_rx_stamps, probe_tcp_rx_stamps, CallerClockBridge, RxStamping};
use super::stream_url::split_url;
use super::tls::{TlsConfig, TlsSetup};
use super::ws_config::{WsConfig, WsEndpoint};
use super::ws_stream::{ChunkedStream, TlsProgress, READ_BUFFER_BYTES};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use std::io::ErrorKind;
use std::sync::Arc;
use tungstenite::client::client_with_config;
use tungstenite::error::{Error as WsError, ProtocolError};
use tungstenite::handshake::client::{ClientHandshake, Response};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocket;
use tungstenite::{Bytes, Message};

/// An open connection's pings: when the last was sent, and when the one
/// still awaiting its pong was.
type Pings = (u64, Option<u64>);

/// Payload of our pings: static, so a ping allocates nothing. Pongs are
/// matched by arrival, not by payload.
const PING_PAYLOAD: &[u8] = b"genesis";

/// Why a connection ended (or never opened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// TCP connect failed (refused, unreachable).
    ConnectFailed,
    /// Connect plus handshake took longer than `connect_timeout_ns`.
    ConnectTimeout,
    /// The HTTP upgrade was refused or malformed.
    HandshakeFailed,
    /// The TLS handshake failed (e.g. the server's certificate was refused).
    TlsFailed,
    /// The peer sent a close frame.
    PeerClosed,
    /// The peer closed or reset the TCP connection without a close frame
    /// (possibly mid-frame).
    Reset,
    /// A message exceeded `message_bytes_max`.
    Oversized,
    /// A protocol violation (bad UTF-8, bad framing, bad masking).
    ProtocolViolation,
    /// No pong within `ping_timeout_ns`.
    PingTimeout,
    /// An I/O error other than the above.
    Io,
    /// The caller closed the client.
    ClosedByUs,
}

/// What [`WsClient::poll`] reports to the caller.
#[derive(Debug)]
pub enum WsEvent<'a> {
    /// A connection opened: rebuild state from snapshots.
    Connected,
    /// A text message, with the time it was received.
    Text {
        /// The message bytes (valid UTF-8).
        bytes: &'a [u8],
        /// Receive time on the caller's clock: the kernel's stamp of the
        /// read that delivered the last byte, or the caller's clock after
        /// the read when there is none (see the module docs).
        ts_recv_ns: u64,
    },
    /// The connection ended; a reconnect is scheduled unless the caller closed it.
    Disconnected(DisconnectReason),
}

/// Counters of the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Connection attempts started.
    pub connects_started: u64,
    /// Connections opened (handshake done).
    pub connects_opened: u64,
    /// Failed attempts (connect or handshake failure or timeout).
    pub connects_failed: u64,
    /// Of those, TLS handshakes that failed.
    pub tls_failures: u64,
    /// Text messages delivered.
    pub messages_text: u64,
    /// Binary frames skipped.
    pub messages_binary_skipped: u64,
    /// Pings sent.
    pub pings_sent: u64,
    /// Pongs received.
    pub pongs_received: u64,
    /// Close frames from the peer.
    pub peer_closes: u64,
    /// Resets, including a peer closing mid-frame.
    pub resets: u64,
    /// Messages over the size limit.
    pub oversized: u64,
    /// Protocol violations.
    pub protocol_violations: u64,
    /// Pong timeouts.
    pub ping_timeouts: u64,
    /// Other I/O errors.
    pub io_errors: u64,
    /// Text messages the caller could not send (not open, buffer full).
    pub sends_refused: u64,
    /// Open polls that skipped tungstenite's `read()` because the last read
    /// would have blocked and the socket still had nothing to read.
    pub reads_skipped: u64,
    /// Socket reads not made because an earlier read of the same poll
    /// found the socket drained (`ws_stream.rs`).
    pub socket_reads_spared: u64,
    /// Open polls whose first socket read was made ahead of tungstenite and
    /// brought bytes (plain sockets): the one-byte `peek` that used to ask
    /// first was not made (`ws_stream.rs`, `ChunkedStream::read_ahead`).
    pub reads_ahead: u64,
    /// Text messages stamped by the kernel.
    pub messages_stamped_kernel: u64,
    /// Text messages stamped from the caller's clock (stamps off, refused,
    /// or a read that came without one).
    pub messages_stamped_user: u64,
}

/// What a (resumed) client handshake returns.
type HandshakeResult =
    Result<(WebSocket<ChunkedStream>, Response), HandshakeError<ClientHandshake<ChunkedStream>>>;

enum State {
    Idle {
        retry_at_ns: u64,
    },
    Connecting {
        stream: TcpStream,
        started_ns: u64,
    },
    TlsHandshaking {
        stream: ChunkedStream,
        started_ns: u64,
    },
    Handshaking {
        mid: MidHandshake<ClientHandshake<ChunkedStream>>,
        started_ns: u64,
    },
    Open {
        ws: WebSocket<ChunkedStream>,
        ping_last_ns: u64,
        ping_outstanding_ns: Option<u64>,
        /// The last `read()` ended in `WouldBlock`: peek the socket before
        /// the next one.
        read_blocked: bool,
    },
    Closing {
        ws: WebSocket<ChunkedStream>,
        deadline_ns: u64,
    },
    Stopped,
}

/// Whether and how a connection runs TLS.
enum TlsTarget {
    /// `ws://` (or a URL that will fail the upgrade anyway).
    Plain,
    /// `wss://`: the configuration and the server name to verify.
    Tls(Arc<ClientConfig>, ServerName<'static>),
    /// `wss://` whose host is not a valid server name: every attempt fails.
    Invalid(String),
}

/// Non-blocking, reconnecting WebSocket client.
pub struct WsClient {
    endpoint: WsEndpoint,
    config: WsConfig,
    tls: TlsTarget,
    state: State,
    backoff: JitteredBackoff,
    registration: Option<(Registry, Token)>,
    last_error: Option<String>,
    /// How receive times are taken (probe, then the latest connection's).
    stamping: RxStamping,
    /// Kernel stamps to the caller's clock, measured afresh each poll.
    bridge: CallerClockBridge,
    stats: WsStats,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("endpoint", &self.endpoint)
            .field("open", &self.is_open())
            .field("stamping", &self.stamping)
            .field("stats", &self.stats)
            .finish()
    }
}

impl WsClient {
    /// A client that connects on its first poll; a `wss://` URL trusts
    /// Mozilla's roots (use [`WsClient::with_tls`] to add a CA file).
    pub fn new(endpoint: WsEndpoint, config: WsConfig) -> WsClient {
        let is_tls = split_url(&endpoint.url, ("ws", "wss")).is_ok_and(|parts| parts.tls);
        if !is_tls {
            return WsClient::build(endpoint, config, TlsTarget::Plain);
        }
        // Compiled-in roots, no file: cannot fail short of a bug.
        let setup = TlsSetup::new(&TlsConfig::default()).expect("Mozilla's roots load");
        WsClient::with_tls(endpoint, config, &setup)
    }

    /// A client whose `wss://` connections trust the roots of `tls`.
    pub fn with_tls(endpoint: WsEndpoint, config: WsConfig, tls: &TlsSetup) -> WsClient {
        let target = match split_url(&endpoint.url, ("ws", "wss")) {
            Ok(parts) if parts.tls => match ServerName::try_from(parts.host.to_string()) {
                Ok(name) => TlsTarget::Tls(tls.client_config(), name),
                Err(error) => {
                    TlsTarget::Invalid(format!("TLS server name {:?}: {error}", parts.host))
                }
            },
            _ => TlsTarget::Plain,
        };
        WsClient::build(endpoint, config, target)
    }

    fn build(endpoint: WsEndpoint, config: WsConfig, tls: TlsTarget) -> WsClient {
        let backoff = JitteredBackoff::new(
            config.reconnect_initial_ns,
            config.reconnect_max_ns,
            config.reconnect_jitter_seed,
        );
        let stamping = if config.rx_stamps {
            probe_tcp_rx_stamps()
        } else {
            RxStamping::NotRequested
        };
        WsClient {
            endpoint,
            config,
            tls,
            state: State::Idle { retry_at_ns: 0 },
            backoff,
            registration: None,
            last_error: None,
            stamping,
            bridge: CallerClockBridge::default(),
            stats: WsStats::default(),
        }
    }

    /// How receive times are taken: before the first connection, what a
    /// fresh TCP socket was granted (log it at start-up); afterwards, what
    /// the latest connection's socket was granted. Not kernel: every
    /// message is stamped from the caller's clock after its read.
    pub fn rx_stamping(&self) -> RxStamping {
        self.stamping
    }

    /// Why the last attempt failed in the TLS or WebSocket handshake, if it
    /// did (cleared when a connection opens).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Whether connections run TLS (`wss://`).
    pub fn is_tls(&self) -> bool {
        !matches!(self.tls, TlsTarget::Plain)
    }

    /// Register every future connection's socket with `registry` under
    /// `token` (readable and writable). Call before the first poll.
    pub fn register_with(&mut self, registry: &Registry, token: Token) -> std::io::Result<()> {
        self.registration = Some((registry.try_clone()?, token));
        Ok(())
    }

    /// Counters.
    pub fn stats(&self) -> &WsStats {
        &self.stats
    }

    /// Whether the connection is open (messages can be sent).
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// When the next connection attempt is due, while waiting out a backoff.
    pub fn retry_at_ns(&self) -> Option<u64> {
        match self.state {
            State::Idle { retry_at_ns } => Some(retry_at_ns),
            _ => None,
        }
    }

    /// Queue a text message (flushed now if the socket takes it, else on a
    /// later poll). `false`, counted, if the connection is not open or the
    /// write buffer is full.
    pub fn send_text(&mut self, text: &str) -> bool {
        let State::Open { ws, .. } = &mut self.state else {
            self.stats.sends_refused += 1;
            return false;
        };
        match ws.send(Message::text(text)) {
            Ok(()) => true,
            Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => true,
            Err(_) => {
                self.stats.sends_refused += 1;
                false
            }
        }
    }

    /// Start the close handshake; no reconnect follows. The socket is
    /// dropped when the peer confirms or after `close_timeout_ns`.
    pub fn close(&mut self, now_ns: u64) {
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Open { mut ws, .. } => {
                // A failure here only means the peer is gone already.
                let _ = ws.close(None);
                self.state = State::Closing {
                    ws,
                    deadline_ns: now_ns.saturating_add(self.config.close_timeout_ns),
                };
            }
            other => self.drop_connection(other),
        }
    }

    /// Advance the connection: connect, handshake, read messages (each
    /// stamped by `clock` as it is read), ping, time out. Returns the number
    /// of events reported.
    pub fn poll<C, F>(&mut self, clock: &mut C, mut on_event: F) -> usize
    where
        C: FnMut() -> u64,
        F: FnMut(WsEvent<'_>),
    {
        let now_ns = clock();
        let mut events = 0usize;
        let mut report = |event: WsEvent<'_>| {
            events += 1;
            on_event(event);
        };
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Idle { retry_at_ns } if now_ns < retry_at_ns => {
                self.state = State::Idle { retry_at_ns };
            }
            State::Idle { .. } => self.start_connect(now_ns, &mut report),
            State::Connecting { stream, started_ns } => {
                self.poll_connecting(stream, started_ns, now_ns, &mut report);
            }
            State::TlsHandshaking { stream, started_ns } => {
                self.poll_tls(stream, started_ns, now_ns, &mut report);
            }
            State::Handshaking { mid, started_ns } => {
                self.poll_handshake(mid.handshake(), started_ns, now_ns, &mut report);
            }
            State::Open {
                ws,
                ping_last_ns,
                ping_outstanding_ns,
                read_blocked,
            } => {
                let pings = (ping_last_ns, ping_outstanding_ns);
                self.poll_open(ws, pings, read_blocked, clock, &mut report);
            }
            State::Closing { ws, deadline_ns } => self.poll_closing(ws, deadline_ns, now_ns),
            State::Stopped => {}
        }
        events
    }

    fn start_connect(&mut self, now_ns: u64, report: &mut impl FnMut(WsEvent<'_>)) {
        self.stats.connects_started += 1;
        match connect_tcp(self.endpoint.addr, &self.config.socket) {
            Ok((mut stream, _report)) => {
                self.stamping = if self.config.rx_stamps {
                    enable_rx_stamps(&stream)
                } else {
                    RxStamping::NotRequested
                };
                if let Some((registry, token)) = &self.registration {
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if registry.register(&mut stream, *token, interest).is_err() {
                        self.stats.io_errors += 1;
                    }
                }
                self.state = State::Connecting {
                    stream,
                    started_ns: now_ns,
                };
            }
            Err(_) => self.fail_attempt(DisconnectReason::ConnectFailed, now_ns, report),
        }
    }

    fn poll_connecting(
        &mut self,
        stream: TcpStream,
        started_ns: u64,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) {
        match tcp_connect_state(&stream) {
            ConnectState::Pending if self.timed_out(started_ns, now_ns) => {
                self.deregister(stream);
                self.fail_attempt(DisconnectReason::ConnectTimeout, now_ns, report);
            }
            ConnectState::Pending => self.state = State::Connecting { stream, started_ns },
            ConnectState::Failed(_) => {
                self.deregister(stream);
                self.fail_attempt(DisconnectReason::ConnectFailed, now_ns, report);
            }
            ConnectState::Connected => match &self.tls {
                TlsTarget::Plain => {
                    let stream = ChunkedStream::new(stream, self.stamping.is_kernel());
                    self.start_upgrade(stream, started_ns, now_ns, report);
                }
                TlsTarget::Tls(config, name) => {
                    match ClientConnection::new(Arc::clone(config), name.clone()) {
                        Ok(tls) => {
                            let kernel = self.stamping.is_kernel();
                            let stream = ChunkedStream::with_tls(stream, tls, kernel);
                            self.poll_tls(stream, started_ns, now_ns, report);
                        }
                        Err(error) => {
                            self.deregister(stream);
                            self.fail_tls(error.to_string(), now_ns, report);
                        }
                    }
                }
                TlsTarget::Invalid(reason) => {
                    let reason = reason.clone();
                    self.deregister(stream);
                    self.fail_tls(reason, now_ns, report);
                }
            },
        }
    }

    fn poll_tls(
        &mut self,
        mut stream: ChunkedStream,
        started_ns: u64,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) {
        match stream.drive_tls_handshake() {
            TlsProgress::Done => self.start_upgrade(stream, started_ns, now_ns, report),
            TlsProgress::Pending if self.timed_out(started_ns, now_ns) => {
                self.deregister_stream(stream.tcp_mut());
                self.fail_attempt(DisconnectReason::ConnectTimeout, now_ns, report);
            }
            TlsProgress::Pending => self.state = State::TlsHandshaking { stream, started_ns },
            TlsProgress::Failed(error) => {
                self.deregister_stream(stream.tcp_mut());
                self.fail_tls(error.to_string(), now_ns, report);
            }
        }
    }

    fn fail_tls(&mut self, reason: String, now_ns: u64, report: &mut impl FnMut(WsEvent<'_>)) {
        self.stats.tls_failures += 1;
        self.last_error = Some(format!(
            "TLS handshake with {}: {reason}",
            self.endpoint.url
        ));
        self.fail_attempt(DisconnectReason::TlsFailed, now_ns, report);
    }

    /// Send the HTTP upgrade (resumed by `poll_handshake` on later polls).
    fn start_upgrade(
        &mut self,
        stream: ChunkedStream,
        started_ns: u64,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) {
        let config = self
            .config
            .tungstenite()
            .read_buffer_size(READ_BUFFER_BYTES);
        let result = client_with_config(self.endpoint.url.as_str(), stream, Some(config));
        self.poll_handshake(result, started_ns, now_ns, report);
    }

    fn poll_handshake(
        &mut self,
        result: HandshakeResult,
        started_ns: u64,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) {
        match result {
            Ok((ws, _response)) => {
                self.stats.connects_opened += 1;
                self.last_error = None;
                self.backoff.reset();
                self.state = State::Open {
                    ws,
                    ping_last_ns: now_ns,
                    ping_outstanding_ns: None,
                    read_blocked: false,
                };
                report(WsEvent::Connected);
            }
            Err(HandshakeError::Interrupted(mut mid)) => {
                if self.timed_out(started_ns, now_ns) {
                    self.deregister_stream(mid.get_mut().get_mut().tcp_mut());
                    self.fail_attempt(DisconnectReason::ConnectTimeout, now_ns, report);
                } else {
                    self.state = State::Handshaking { mid, started_ns };
                }
            }
            // The stream is gone with the failed handshake; dropping the
            // descriptor removes it from epoll.
            Err(HandshakeError::Failure(error)) => {
                self.last_error = Some(format!(
                    "WebSocket upgrade of {}: {error}",
                    self.endpoint.url
                ));
                self.fail_attempt(DisconnectReason::HandshakeFailed, now_ns, report);
            }
        }
    }

    /// `pings` is (time of the last ping, time of the one awaiting its pong).
    fn poll_open<C>(
        &mut self,
        mut ws: WebSocket<ChunkedStream>,
        pings: Pings,
        mut read_blocked: bool,
        clock: &mut C,
        report: &mut impl FnMut(WsEvent<'_>),
    ) where
        C: FnMut() -> u64,
    {
        let (ping_last_ns, mut ping_outstanding_ns) = pings;
        self.bridge.reset();
        ws.get_mut().start_poll();
        for _ in 0..self.reads_allowed(&mut ws, &mut read_blocked) {
            // Each message is dropped by the end of its arm, before the next
            // `read()`: that lets tungstenite reuse its read buffer in place.
            match ws.read() {
                Ok(Message::Text(text)) => {
                    let ts_recv_ns = self.stamp(ws.get_ref().last_rx_stamp_ns(), clock);
                    self.stats.messages_text += 1;
                    report(WsEvent::Text {
                        bytes: text.as_bytes(),
                        ts_recv_ns,
                    });
                }
                Ok(Message::Pong(_)) => {
                    self.stats.pongs_received += 1;
                    ping_outstanding_ns = None;
                }
                // tungstenite queues the pong itself and sends it on the next read.
                Ok(Message::Ping(_)) | Ok(Message::Frame(_)) => {}
                Ok(Message::Binary(_)) => self.stats.messages_binary_skipped += 1,
                Ok(Message::Close(_)) => {
                    self.stats.peer_closes += 1;
                    // Send the queued close reply if the socket takes it.
                    let _ = ws.flush();
                    let now_ns = clock();
                    return self.lose_connection(ws, DisconnectReason::PeerClosed, now_ns, report);
                }
                Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
                    read_blocked = true;
                    break;
                }
                Err(error) => {
                    let reason = self.classify(&error);
                    let now_ns = clock();
                    return self.lose_connection(ws, reason, now_ns, report);
                }
            }
        }
        self.stats.socket_reads_spared += ws.get_mut().take_reads_spared();
        self.stats.reads_ahead += ws.get_mut().take_reads_ahead();
        let now_ns = clock();
        let pings = (ping_last_ns, ping_outstanding_ns);
        let Some((ws, (ping_last_ns, ping_outstanding_ns))) =
            self.keep_alive(ws, pings, now_ns, report)
        else {
            return;
        };
        self.state = State::Open {
            ws,
            ping_last_ns,
            ping_outstanding_ns,
            read_blocked,
        };
    }

    /// Reads this poll may make. A read that would block left no complete
    /// frame in tungstenite's buffer, so while the socket has nothing
    /// either, a read would only zero-fill the buffer and block again.
    fn reads_allowed(
        &mut self,
        ws: &mut WebSocket<ChunkedStream>,
        read_blocked: &mut bool,
    ) -> usize {
        if *read_blocked && !ws.get_mut().read_ahead() {
            self.stats.reads_skipped += 1;
            0
        } else {
            *read_blocked = false;
            self.config.messages_per_poll_max
        }
    }

    /// After the reads of an open connection: a ping whose pong is overdue
    /// loses the connection, a ping is sent when one is due, and what is
    /// queued is flushed. The connection and its pings, unless it was lost.
    fn keep_alive(
        &mut self,
        mut ws: WebSocket<ChunkedStream>,
        (mut ping_last_ns, mut ping_outstanding_ns): Pings,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) -> Option<(WebSocket<ChunkedStream>, Pings)> {
        if let Some(sent_ns) = ping_outstanding_ns {
            if now_ns.saturating_sub(sent_ns) >= self.config.ping_timeout_ns {
                self.stats.ping_timeouts += 1;
                self.lose_connection(ws, DisconnectReason::PingTimeout, now_ns, report);
                return None;
            }
        } else if now_ns.saturating_sub(ping_last_ns) >= self.config.ping_interval_ns {
            ping_last_ns = now_ns;
            ping_outstanding_ns = Some(now_ns);
            self.stats.pings_sent += 1;
            let _ = ws.write(Message::Ping(Bytes::from_static(PING_PAYLOAD)));
        }
        match ws.flush() {
            Ok(()) => {}
            Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) => {
                let reason = self.classify(&error);
                self.lose_connection(ws, reason, now_ns, report);
                return None;
            }
        }
        Some((ws, (ping_last_ns, ping_outstanding_ns)))
    }

    /// A message's receive time on the caller's clock: the kernel's stamp
    /// converted, else `read_ns` (the caller's clock, read here, after the read).
    fn stamp(&mut self, kernel_ns: Option<u64>, clock: &mut impl FnMut() -> u64) -> u64 {
        let read_ns = clock();
        match kernel_ns {
            Some(kernel_ns) => {
                self.stats.messages_stamped_kernel += 1;
                self.bridge.convert(kernel_ns, read_ns, clock)
            }
            None => {
                self.stats.messages_stamped_user += 1;
                read_ns
            }
        }
    }

    fn poll_closing(&mut self, mut ws: WebSocket<ChunkedStream>, deadline_ns: u64, now_ns: u64) {
        loop {
            match ws.read() {
                Ok(_) => continue,
                Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return self.drop_connection(State::Closing { ws, deadline_ns }),
            }
        }
        if now_ns >= deadline_ns {
            return self.drop_connection(State::Closing { ws, deadline_ns });
        }
        self.state = State::Closing { ws, deadline_ns };
    }

    fn classify(&mut self, error: &WsError) -> DisconnectReason {
        match error {
            WsError::ConnectionClosed
            | WsError::AlreadyClosed
            | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.stats.resets += 1;
                DisconnectReason::Reset
            }
            WsError::Io(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe
                ) =>
            {
                self.stats.resets += 1;
                DisconnectReason::Reset
            }
            WsError::Io(_) => {
                self.stats.io_errors += 1;
                DisconnectReason::Io
            }
            WsError::Capacity(_) => {
                self.stats.oversized += 1;
                DisconnectReason::Oversized
            }
            _ => {
                self.stats.protocol_violations += 1;
                DisconnectReason::ProtocolViolation
            }
        }
    }

    fn lose_connection(
        &mut self,
        mut ws: WebSocket<ChunkedStream>,
        reason: DisconnectReason,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) {
        self.deregister_stream(ws.get_mut().tcp_mut());
        drop(ws);
        self.schedule_retry(now_ns);
        report(WsEvent::Disconnected(reason));
    }

    fn fail_attempt(
        &mut self,
        reason: DisconnectReason,
        now_ns: u64,
        report: &mut impl FnMut(WsEvent<'_>),
    ) {
        self.stats.connects_failed += 1;
        self.schedule_retry(now_ns);
        report(WsEvent::Disconnected(reason));
    }

    fn schedule_retry(&mut self, now_ns: u64) {
        let retry_at_ns = now_ns.saturating_add(self.backoff.next_delay_ns());
        self.state = State::Idle { retry_at_ns };
    }

    fn timed_out(&self, started_ns: u64, now_ns: u64) -> bool {
        now_ns.saturating_sub(started_ns) >= self.config.connect_timeout_ns
    }

    fn drop_connection(&mut self, state: State) {
        match state {
            State::Connecting { stream, .. } => self.deregister(stream),
            State::TlsHandshaking { mut stream, .. } => self.deregister_stream(stream.tcp_mut()),
            State::Handshaking { mut mid, .. } => {
                self.deregister_stream(mid.get_mut().get_mut().tcp_mut());
            }
            State::Open { mut ws, .. } | State::Closing { mut ws, .. } => {
                self.deregister_stream(ws.get_mut().tcp_mut());
            }
            State::Idle { .. } | State::Stopped => {}
        }
        self.state = State::Stopped;
    }

    fn deregister(&self, mut stream: TcpStream) {
        self.deregister_stream(&mut stream);
    }

    fn deregister_stream(&self, stream: &mut TcpStream) {
        if let Some((registry, _)) = &self.registration {
            // Closing the descriptor removes it from epoll anyway.
            let _ = registry.deregister(stream);
        }
    }
}
