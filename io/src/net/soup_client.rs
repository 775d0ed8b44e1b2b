//! A non-blocking SoupBinTCP client session: connect with a deadline, log
//! in, read packets as they come (kernel receive stamps where the kernel
//! gives them), send heartbeats, and fail with a reason instead of ever
//! blocking the thread that polls it.
//!
//! Owning thread: the ingest thread, which calls [`SoupClient::poll`] on
//! every loop iteration while a session runs (GLIMPSE snapshots, through
//! `MoldReceiver`). Invariants: no call blocks (the socket is non-blocking,
//! connect completion is checked, never waited for); at most
//! `read_bytes_per_poll_max` bytes are read per poll; after a failure the
//! socket is closed and the client is idle until the next
//! [`SoupClient::connect`]; buffers are allocated in [`SoupClient::new`].
//!
//! Failure policy (returned, never panicked): connect refused or timed out,
//! nothing received for `idle_timeout_ns`, peer closed, a bad frame, a
//! packet out of place, a rejected login, End of Session while the owner
//! still wanted data.

use super::options::SocketOptions;
use super::reactor::{connect_tcp, tcp_connect_state, ConnectState};
use super::rx_stamp::{enable_rx_stamps, recv_stamped, RxStamping};
use crate::itch::{Credentials, LoginRequest, Session, SnapshotFailure, SoupFramer, SoupPacket};
use mio::net::TcpStream;
use std::io::Write;
use std::net::SocketAddr;

/// Largest SoupBinTCP packet with its length prefix.
const FRAME_BYTES_MAX: usize = 2 + 65_535;

/// How to run a [`SoupClient`] session.
#[derive(Clone, Copy, Debug)]
pub struct SoupClientConfig {
    /// The server.
    pub server_addr: SocketAddr,
    /// Login username and password.
    pub credentials: Credentials,
    /// Session asked for; all spaces for the current one.
    pub requested_session: Session,
    /// Next sequenced message wanted (1 from the start).
    pub requested_sequence_number: u64,
    /// A connection not made within this long fails.
    pub connect_timeout_ns: u64,
    /// A session that receives nothing (not even a heartbeat) for this long fails.
    pub idle_timeout_ns: u64,
    /// A client heartbeat goes out when nothing was sent for this long.
    pub heartbeat_interval_ns: u64,
    /// Most bytes read per poll (bounds the work of one poll).
    pub read_bytes_per_poll_max: usize,
    /// Socket options (receive buffer, busy poll, `TCP_NODELAY`).
    pub options: SocketOptions,
}

/// What the server sent, handed to the owner in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoupEvent<'a> {
    /// The login was accepted.
    LoginAccepted {
        /// The session.
        session: Session,
        /// Sequence number of the next sequenced message.
        sequence_number: u64,
    },
    /// One sequenced message, with the receive stamp of the read it came in.
    Sequenced {
        /// The message.
        message: &'a [u8],
        /// Kernel receive stamp of the read (or the caller's clock).
        ts_recv_ns: u64,
    },
}

/// Counters of the client, across sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoupClientStats {
    /// Connections started.
    pub connects: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Packets received.
    pub packets_received: u64,
    /// Client heartbeats sent.
    pub heartbeats_sent: u64,
    /// Reads the kernel did not stamp (stamped from the caller's clock).
    pub reads_stamped_user: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Connecting { deadline_ns: u64 },
    LoggingIn,
    LoggedIn,
}

/// One SoupBinTCP client session at a time (see the module docs).
#[derive(Debug)]
pub struct SoupClient {
    config: SoupClientConfig,
    state: State,
    stream: Option<TcpStream>,
    framer: SoupFramer,
    out: Vec<u8>,
    out_written: usize,
    received_last_ns: u64,
    sent_last_ns: u64,
    stamping: Option<RxStamping>,
    stats: SoupClientStats,
}

impl SoupClient {
    /// Allocate the buffers; nothing connects until [`SoupClient::connect`].
    pub fn new(config: SoupClientConfig) -> SoupClient {
        assert!(
            config.read_bytes_per_poll_max > 0,
            "read at least one byte per poll"
        );
        SoupClient {
            config,
            state: State::Idle,
            stream: None,
            framer: SoupFramer::with_capacity(FRAME_BYTES_MAX),
            out: Vec::with_capacity(256),
            out_written: 0,
            received_last_ns: 0,
            sent_last_ns: 0,
            stamping: None,
            stats: SoupClientStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &SoupClientStats {
        &self.stats
    }

    /// How the last connection's receive times were taken (`None` before one).
    pub fn rx_stamping(&self) -> Option<RxStamping> {
        self.stamping
    }

    /// Whether no session is running.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Start connecting (non-blocking); the login goes out once connected.
    pub fn connect(&mut self, now_ns: u64) -> Result<(), SnapshotFailure> {
        self.close();
        self.stats.connects += 1;
        let (stream, _report) = connect_tcp(self.config.server_addr, &self.config.options)
            .map_err(|error| SnapshotFailure::ConnectFailed {
                errno: error_errno(&error),
            })?;
        self.stream = Some(stream);
        self.state = State::Connecting {
            deadline_ns: now_ns.saturating_add(self.config.connect_timeout_ns),
        };
        Ok(())
    }

    /// Close the session at once (nothing more is sent).
    pub fn close(&mut self) {
        self.stream = None;
        self.state = State::Idle;
        self.framer.clear();
        self.out.clear();
        self.out_written = 0;
    }

    /// Send a logout request if the socket takes it now, then close.
    pub fn logout(&mut self) {
        if self.state == State::LoggedIn {
            SoupPacket::LogoutRequest.encode(&mut self.out);
            let _ = self.flush();
        }
        self.close();
    }

    /// Drive the session: finish connecting, send what is queued, read and
    /// hand packets to `on_event` (which returns `false` to stop reading:
    /// the owner has what it wanted and will log out), check deadlines.
    /// Returns the failure that ended the session, if one did (the client
    /// is then idle).
    pub fn poll<C, F>(&mut self, now_ns: u64, clock: &mut C, on_event: F) -> Option<SnapshotFailure>
    where
        C: FnMut() -> u64,
        F: FnMut(SoupEvent<'_>) -> bool,
    {
        let result = match self.state {
            State::Idle => Ok(()),
            State::Connecting { deadline_ns } => self.poll_connecting(now_ns, deadline_ns),
            State::LoggingIn | State::LoggedIn => self.poll_session(now_ns, clock, on_event),
        };
        let failure = result.err()?;
        self.close();
        Some(failure)
    }

    fn poll_connecting(&mut self, now_ns: u64, deadline_ns: u64) -> Result<(), SnapshotFailure> {
        let stream = self.stream.as_ref().ok_or(SnapshotFailure::Closed)?;
        match tcp_connect_state(stream) {
            ConnectState::Pending if now_ns >= deadline_ns => Err(SnapshotFailure::ConnectTimeout),
            ConnectState::Pending => Ok(()),
            ConnectState::Failed(error) => Err(SnapshotFailure::ConnectFailed {
                errno: error.raw_os_error().unwrap_or(0),
            }),
            ConnectState::Connected => {
                self.stamping = Some(enable_rx_stamps(stream));
                SoupPacket::LoginRequest(LoginRequest {
                    credentials: self.config.credentials,
                    requested_session: self.config.requested_session,
                    requested_sequence_number: self.config.requested_sequence_number,
                })
                .encode(&mut self.out);
                self.state = State::LoggingIn;
                self.received_last_ns = now_ns;
                self.sent_last_ns = now_ns;
                self.flush()
            }
        }
    }

    fn poll_session<C, F>(
        &mut self,
        now_ns: u64,
        clock: &mut C,
        mut on_event: F,
    ) -> Result<(), SnapshotFailure>
    where
        C: FnMut() -> u64,
        F: FnMut(SoupEvent<'_>) -> bool,
    {
        self.flush()?;
        let mut read_bytes = 0;
        while read_bytes < self.config.read_bytes_per_poll_max {
            let Some(count_and_stamp) = self.read_some()? else {
                break;
            };
            let (count, stamp) = count_and_stamp;
            read_bytes += count;
            self.received_last_ns = now_ns;
            let ts_recv_ns = stamp.unwrap_or_else(|| {
                self.stats.reads_stamped_user += 1;
                clock()
            });
            if !self.take_frames(ts_recv_ns, &mut on_event)? {
                return Ok(());
            }
        }
        if now_ns.saturating_sub(self.received_last_ns) >= self.config.idle_timeout_ns {
            return Err(SnapshotFailure::IdleTimeout);
        }
        if self.state == State::LoggedIn
            && now_ns.saturating_sub(self.sent_last_ns) >= self.config.heartbeat_interval_ns
        {
            SoupPacket::ClientHeartbeat.encode(&mut self.out);
            self.stats.heartbeats_sent += 1;
            self.sent_last_ns = now_ns;
            self.flush()?;
        }
        Ok(())
    }

    /// One non-blocking read into the framer: `None` when nothing waits.
    fn read_some(&mut self) -> Result<Option<(usize, Option<u64>)>, SnapshotFailure> {
        let stream = self.stream.as_ref().ok_or(SnapshotFailure::Closed)?;
        loop {
            return match recv_stamped(stream, self.framer.spare_mut()) {
                Ok((0, _)) => Err(SnapshotFailure::Closed),
                Ok((count, stamp)) => {
                    self.framer.commit(count);
                    self.stats.bytes_received += count as u64;
                    Ok(Some((count, stamp)))
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => Err(SnapshotFailure::Io {
                    errno: error.raw_os_error().unwrap_or(0),
                }),
            };
        }
    }

    /// Hand every whole frame to the owner; `false` when it asked to stop.
    fn take_frames<F>(&mut self, ts_recv_ns: u64, on_event: &mut F) -> Result<bool, SnapshotFailure>
    where
        F: FnMut(SoupEvent<'_>) -> bool,
    {
        while let Some(frame) = self.framer.next_frame() {
            let packet = frame
                .and_then(SoupPacket::parse)
                .map_err(SnapshotFailure::BadFrame)?;
            self.stats.packets_received += 1;
            let event = match (self.state, packet) {
                (_, SoupPacket::ServerHeartbeat | SoupPacket::Debug { .. }) => continue,
                (
                    State::LoggingIn,
                    SoupPacket::LoginAccepted {
                        session,
                        sequence_number,
                    },
                ) => {
                    self.state = State::LoggedIn;
                    SoupEvent::LoginAccepted {
                        session,
                        sequence_number,
                    }
                }
                (State::LoggingIn, SoupPacket::LoginRejected { reason }) => {
                    return Err(SnapshotFailure::LoginRejected(reason));
                }
                (State::LoggedIn, SoupPacket::SequencedData { message }) => SoupEvent::Sequenced {
                    message,
                    ts_recv_ns,
                },
                (State::LoggedIn, SoupPacket::EndOfSession) => {
                    return Err(SnapshotFailure::EndOfSession);
                }
                (_, other) => {
                    return Err(SnapshotFailure::UnexpectedPacket {
                        packet_type: other.packet_type(),
                    });
                }
            };
            if !on_event(event) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Write what is queued, as far as the socket takes it now.
    fn flush(&mut self) -> Result<(), SnapshotFailure> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        while self.out_written < self.out.len() {
            match stream.write(&self.out[self.out_written..]) {
                Ok(0) => return Err(SnapshotFailure::Closed),
                Ok(count) => self.out_written += count,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(SnapshotFailure::Io {
                        errno: error.raw_os_error().unwrap_or(0),
                    })
                }
            }
        }
        self.out.clear();
        self.out_written = 0;
        Ok(())
    }
}

fn error_errno(error: &super::error::NetError) -> i32 {
    match error {
        super::error::NetError::Connect { source, .. } => source.raw_os_error().unwrap_or(0),
        _ => 0,
    }
}
