//! A small mio reactor for busy-polled ingest: one `Poll`, one event buffer
//! allocated at start-up, and helpers that open sockets with their options.
//!
//! Owning thread: the ingest thread (a `Poll` is not shared). In
//! [`PollMode::Spin`] (prod) every `poll` uses a zero timeout, so it never
//! blocks and the caller's loop spins on it; in [`PollMode::Wait`] (dev,
//! tests, small hosts) it sleeps at most the given timeout. mio readiness is
//! edge-triggered: after an event the owner must read until `WouldBlock`
//! (every receiver in this module does, within its per-poll budget, and is
//! called again on the next iteration if it stopped at the budget).
//!
//! Invariant: `poll` does not allocate (the `Events` buffer is reused); an
//! interrupted `epoll_wait` counts as "no events", not an error.

use super::error::NetError;
use super::options::{apply_socket_options, apply_tcp_options, OptionsReport, SocketOptions};
use mio::event::Source;
use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token};
use std::net::SocketAddr;
use std::time::Duration;

/// How `poll` waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    /// Zero timeout: never block (prod, on an isolated core).
    Spin,
    /// Block at most this long waiting for readiness (dev, tests).
    Wait {
        /// Longest wait per `poll`.
        timeout: Duration,
    },
}

impl PollMode {
    fn timeout(self) -> Duration {
        match self {
            PollMode::Spin => Duration::ZERO,
            PollMode::Wait { timeout } => timeout,
        }
    }
}

/// Counters of the reactor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReactorStats {
    /// Calls to `poll`.
    pub polls: u64,
    /// Calls that returned at least one event.
    pub polls_ready: u64,
    /// `epoll_wait` interrupted by a signal (treated as no events).
    pub polls_interrupted: u64,
}

/// The ingest thread's poller.
#[derive(Debug)]
pub struct Reactor {
    poll: Poll,
    events: Events,
    mode: PollMode,
    stats: ReactorStats,
}

impl Reactor {
    /// A poller whose event buffer holds `events_capacity` events per poll.
    pub fn new(mode: PollMode, events_capacity: usize) -> Result<Reactor, NetError> {
        assert!(
            events_capacity > 0,
            "the event buffer needs room for one event"
        );
        let poll = Poll::new().map_err(|source| NetError::PollCreate { source })?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(events_capacity),
            mode,
            stats: ReactorStats::default(),
        })
    }

    /// The registry, to register sources owned elsewhere.
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// The wait mode.
    pub fn mode(&self) -> PollMode {
        self.mode
    }

    /// Counters.
    pub fn stats(&self) -> &ReactorStats {
        &self.stats
    }

    /// Register a source for readability (and writability if asked).
    pub fn register(
        &self,
        role: &'static str,
        source: &mut impl Source,
        token: Token,
        interest: Interest,
    ) -> Result<(), NetError> {
        self.poll
            .registry()
            .register(source, token, interest)
            .map_err(|source| NetError::Register { role, source })
    }

    /// Poll once with the mode's timeout and return the ready events.
    pub fn poll(&mut self) -> Result<&Events, NetError> {
        self.stats.polls += 1;
        match self.poll.poll(&mut self.events, Some(self.mode.timeout())) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {
                self.stats.polls_interrupted += 1;
                self.events.clear();
            }
            Err(source) => return Err(NetError::Poll { source }),
        }
        if !self.events.is_empty() {
            self.stats.polls_ready += 1;
        }
        Ok(&self.events)
    }
}

/// Bind a non-blocking UDP socket and apply `options` to it.
pub fn bind_udp(
    role: &'static str,
    addr: SocketAddr,
    options: &SocketOptions,
) -> Result<(UdpSocket, OptionsReport), NetError> {
    let socket = UdpSocket::bind(addr).map_err(|source| NetError::Bind { role, addr, source })?;
    let report = apply_socket_options(&socket, options);
    Ok((socket, report))
}

/// Start a non-blocking TCP connection and apply `options` to it. The
/// connection completes later: wait for writability, then check
/// `take_error` / `peer_addr` (see [`tcp_connect_state`]).
///
/// `SO_RCVBUF` is set after `connect` starts, so on a long-haul link the
/// window scale negotiated in the SYN may not reflect it; on loopback and
/// LAN links this does not matter.
pub fn connect_tcp(
    addr: SocketAddr,
    options: &SocketOptions,
) -> Result<(TcpStream, OptionsReport), NetError> {
    let stream = TcpStream::connect(addr).map_err(|source| NetError::Connect { addr, source })?;
    let report = apply_tcp_options(&stream, options);
    Ok((stream, report))
}

/// Where a non-blocking TCP connect stands.
#[derive(Debug)]
pub enum ConnectState {
    /// Still in progress.
    Pending,
    /// Connected.
    Connected,
    /// Failed (refused, unreachable, reset).
    Failed(std::io::Error),
}

/// Check a connecting stream without blocking (the documented mio recipe:
/// a pending error means failure, a peer address means connected,
/// `NotConnected` means still in progress).
pub fn tcp_connect_state(stream: &TcpStream) -> ConnectState {
    match stream.take_error() {
        Ok(Some(error)) | Err(error) => return ConnectState::Failed(error),
        Ok(None) => {}
    }
    match stream.peer_addr() {
        Ok(_) => ConnectState::Connected,
        Err(error)
            if error.kind() == std::io::ErrorKind::NotConnected
                || error.raw_os_error() == Some(libc::EINPROGRESS) =>
        {
            ConnectState::Pending
        }
        Err(error) => ConnectState::Failed(error),
    }
}
