//! A thin non-blocking TCP driver around a [`Session`], for tests, tools
//! and the simulated venue. The engine drives [`Session`] from its own
//! busy-poll loop instead.
//!
//! Owning thread: the thread that calls `poll`; the driver owns its socket.
//! Invariants: sockets are non-blocking (`TCP_NODELAY` set), so `poll`
//! never waits on the network — except `connect`, which is a blocking
//! `connect_timeout` (loopback or LAN: fine for tools, not for the engine);
//! a partial write leaves the tail in the session's buffer for the next
//! poll; reconnects follow a [`Backoff`], except after "MsgSeqNum too low":
//! then `poll` returns the session's error (naming the remedy) instead of
//! reconnecting.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fix::backoff::Backoff;
use crate::fix::error::FixError;
use crate::fix::session::{Session, SessionHandler, SessionState};

/// Nanoseconds since the Unix epoch from the system clock (for drivers
/// and tests; the session itself never reads a clock).
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// Reads, processes, runs timers and writes once. Returns whether bytes
/// moved, or `Err` when the connection must be closed.
fn pump(
    stream: &mut TcpStream,
    session: &mut Session,
    now_ns: u64,
    handler: &mut impl SessionHandler,
) -> Result<bool, std::io::Error> {
    let mut progressed = false;
    loop {
        let buffer = session.recv_buffer();
        if buffer.is_empty() {
            break;
        }
        match stream.read(buffer) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(count) => {
                progressed = true;
                session.on_received(count, now_ns, handler);
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    session.poll_timers(now_ns, handler);
    progressed |= flush(stream, session)?;
    Ok(progressed)
}

/// Writes as much pending output as the socket takes without blocking.
fn flush(stream: &mut TcpStream, session: &mut Session) -> Result<bool, std::io::Error> {
    let mut progressed = false;
    while !session.pending_output().is_empty() {
        match stream.write(session.pending_output()) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(count) => {
                progressed = true;
                session.consume_output(count);
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(progressed)
}

/// Pumps an open connection; closes it when the session or the socket says so.
/// Returns (progressed, still_open).
fn drive(
    stream: &mut TcpStream,
    session: &mut Session,
    now_ns: u64,
    handler: &mut impl SessionHandler,
) -> (bool, bool) {
    match pump(stream, session, now_ns, handler) {
        Ok(progressed) if session.disconnect_reason().is_none() => (progressed, true),
        Ok(progressed) => {
            // Best effort: the Logout explaining why should reach the peer.
            let _ = flush(stream, session);
            (progressed, false)
        }
        Err(_) => (true, false),
    }
}

/// A session that connects out to `addr` and reconnects with backoff.
#[derive(Debug)]
pub struct TcpInitiator {
    addr: SocketAddr,
    session: Session,
    stream: Option<TcpStream>,
    backoff: Backoff,
    next_connect_ns: u64,
    reconnect: bool,
    connects_count: u64,
}

impl TcpInitiator {
    /// A driver that will connect on the first [`TcpInitiator::poll`].
    pub fn new(addr: SocketAddr, session: Session, backoff: Backoff) -> TcpInitiator {
        TcpInitiator {
            addr,
            session,
            stream: None,
            backoff,
            next_connect_ns: 0,
            reconnect: true,
            connects_count: 0,
        }
    }

    /// The session (to send orders, read counters, log out).
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Whether to connect again after a disconnect (default: yes).
    pub fn set_reconnect(&mut self, reconnect: bool) {
        self.reconnect = reconnect;
    }

    /// True while a TCP connection is open.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Successful TCP connects so far.
    pub fn connects_count(&self) -> u64 {
        self.connects_count
    }

    /// Drops the connection without Logout (what a crash looks like to the
    /// peer) and persists the sequence numbers.
    pub fn drop_connection(&mut self) -> Result<(), FixError> {
        self.stream = None;
        self.session.on_disconnected()
    }

    /// One non-blocking pass; returns whether anything happened. While the
    /// sequence numbers disagree ([`Session::seq_num_error`]) it does not
    /// connect and returns that error.
    pub fn poll(
        &mut self,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) -> Result<bool, FixError> {
        let Some(stream) = self.stream.as_mut() else {
            if let Some(error) = self.session.seq_num_error() {
                return Err(error);
            }
            return self.try_connect(now_ns, handler);
        };
        let (progressed, open) = drive(stream, &mut self.session, now_ns, handler);
        if self.session.state() == SessionState::Active {
            self.backoff.reset();
        }
        if !open {
            self.stream = None;
            self.next_connect_ns = now_ns + self.backoff.next_delay_ns();
            self.session.on_disconnected()?;
        }
        Ok(progressed)
    }

    fn try_connect(
        &mut self,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) -> Result<bool, FixError> {
        if !self.reconnect && self.connects_count > 0 || now_ns < self.next_connect_ns {
            return Ok(false);
        }
        match TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
            Ok(stream) => {
                let socket_error = |source| FixError::Socket {
                    what: "configure",
                    addr: self.addr.to_string(),
                    source,
                };
                stream.set_nodelay(true).map_err(socket_error)?;
                stream.set_nonblocking(true).map_err(socket_error)?;
                self.stream = Some(stream);
                self.connects_count += 1;
                self.session.on_connected(now_ns, handler);
                Ok(true)
            }
            Err(_) => {
                self.next_connect_ns = now_ns + self.backoff.next_delay_ns();
                Ok(false)
            }
        }
    }
}

/// A session that accepts one connection at a time on a listening socket.
#[derive(Debug)]
pub struct TcpAcceptor {
    listener: TcpListener,
    session: Session,
    stream: Option<TcpStream>,
}

impl TcpAcceptor {
    /// Listens on `addr` (use port 0 for a free port; see [`TcpAcceptor::local_addr`]).
    pub fn bind(addr: SocketAddr, session: Session) -> Result<TcpAcceptor, FixError> {
        let socket_error = |source| FixError::Socket {
            what: "listen on",
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(socket_error)?;
        listener.set_nonblocking(true).map_err(socket_error)?;
        Ok(TcpAcceptor {
            listener,
            session,
            stream: None,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, FixError> {
        self.listener
            .local_addr()
            .map_err(|source| FixError::Socket {
                what: "query",
                addr: String::new(),
                source,
            })
    }

    /// The session.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// True while a counterparty is connected.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// One non-blocking pass; returns whether anything happened.
    pub fn poll(
        &mut self,
        now_ns: u64,
        handler: &mut impl SessionHandler,
    ) -> Result<bool, FixError> {
        let Some(stream) = self.stream.as_mut() else {
            return match self.listener.accept() {
                Ok((stream, peer)) => {
                    let socket_error = |source| FixError::Socket {
                        what: "configure",
                        addr: peer.to_string(),
                        source,
                    };
                    stream.set_nodelay(true).map_err(socket_error)?;
                    stream.set_nonblocking(true).map_err(socket_error)?;
                    self.stream = Some(stream);
                    self.session.on_connected(now_ns, handler);
                    Ok(true)
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => Ok(false),
                Err(source) => Err(FixError::Socket {
                    what: "accept on",
                    addr: String::new(),
                    source,
                }),
            };
        };
        let (progressed, open) = drive(stream, &mut self.session, now_ns, handler);
        if !open {
            self.stream = None;
            self.session.on_disconnected()?;
        }
        Ok(progressed)
    }
}

/// Calls `poll` until `done` returns true or `timeout` passes, sleeping
/// 1 ms whenever a pass made no progress (a test/tool wait, not a spin).
/// Returns whether `done` became true.
pub fn poll_until(
    timeout: Duration,
    mut poll: impl FnMut(u64) -> Result<bool, FixError>,
    mut done: impl FnMut() -> bool,
) -> Result<bool, FixError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let progressed = poll(unix_now_ns())?;
        if done() {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        if !progressed {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
