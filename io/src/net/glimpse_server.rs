//! The venue side of GLIMPSE: a SoupBinTCP listener that answers each login
//! with a snapshot of the current books (ITCH 5.0 messages, End of Snapshot
//! with the MoldUDP64 sequence to resume from, End of Session), then closes.
//!
//! Owning thread: the venue simulator's, which owns the matching books and
//! the MoldUDP64 publisher and calls [`GlimpseServer::poll`] every loop with
//! the publisher's next sequence number. The snapshot is taken in the poll
//! that sees the login, from the same books the publisher's messages come
//! from, so it is exactly the book before `next_sequence`. Between polls
//! that thread may block on [`GlimpseServer::list_fds`] until
//! [`GlimpseServer::deadline_ns`].
//!
//! Invariants: nothing blocks (listener and connections are non-blocking;
//! unsent bytes wait in the connection's buffer); at most `clients_max`
//! connections are served, more are closed at once (counted); a
//! connection that does not log in within `login_timeout_ns`, or whose
//! snapshot makes no progress for `idle_timeout_ns`, is closed (counted).
//! Bad input (a bad frame, a packet other than login, logout or heartbeat,
//! a wrong password or session) closes that connection only, counted.

use super::error::NetError;
use super::wait_for::WaitFor;
use crate::itch::glimpse::write_snapshot;
use crate::itch::{
    Credentials, ItchInstrument, LoginRejectReason, RestingOrders, Session, SoupFramer, SoupPacket,
};
use mio::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

const NS_PER_DAY: u64 = 86_400_000_000_000;
/// Client packets are short: a login request is the longest one accepted.
const CLIENT_FRAME_BYTES_MAX: usize = 256;

/// How to run a [`GlimpseServer`].
#[derive(Clone, Debug)]
pub struct GlimpseServerConfig {
    /// Where to listen (port 0 picks a free one).
    pub bind_addr: SocketAddr,
    /// Session name sent in Login Accepted (the MoldUDP64 session's name).
    pub session: Session,
    /// Required username and password; `None` accepts any.
    pub credentials: Option<Credentials>,
    /// The instruments, in book index order.
    pub instruments: Vec<ItchInstrument>,
    /// Connections served at once.
    pub clients_max: usize,
    /// A connection that has not logged in after this long is closed.
    pub login_timeout_ns: u64,
    /// A connection whose snapshot makes no progress for this long is closed.
    pub idle_timeout_ns: u64,
}

/// Counters of the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlimpseServerStats {
    /// Connections accepted and served.
    pub connections_accepted: u64,
    /// Connections closed at once because `clients_max` were being served.
    pub connections_refused: u64,
    /// Logins accepted (one snapshot each).
    pub logins_accepted: u64,
    /// Logins refused (credentials or session).
    pub logins_rejected: u64,
    /// Snapshots written out completely.
    pub snapshots_sent: u64,
    /// Sequenced messages put into snapshots.
    pub snapshot_messages: u64,
    /// Connections closed for a login or progress timeout.
    pub timeouts: u64,
    /// Connections closed for bad input.
    pub bad_input: u64,
    /// Connections closed by a socket error or the peer.
    pub disconnects: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    AwaitingLogin,
    /// Writing the snapshot (`snapshot`) or a rejection; closed once written.
    Sending {
        snapshot: bool,
    },
}

#[derive(Debug)]
struct Client {
    stream: TcpStream,
    framer: SoupFramer,
    out: Vec<u8>,
    out_written: usize,
    stage: Stage,
    /// Login deadline, then the time of the last progress.
    mark_ns: u64,
    open: bool,
}

/// The snapshot service (see the module docs).
#[derive(Debug)]
pub struct GlimpseServer {
    listener: TcpListener,
    config: GlimpseServerConfig,
    clients: Vec<Client>,
    stats: GlimpseServerStats,
}

impl GlimpseServer {
    /// Listen on `config.bind_addr`.
    pub fn bind(config: GlimpseServerConfig) -> Result<GlimpseServer, NetError> {
        if config.clients_max == 0 {
            return Err(NetError::Config {
                field: "clients_max",
                reason: "must be at least 1",
            });
        }
        let listener = TcpListener::bind(config.bind_addr).map_err(|source| NetError::Bind {
            role: "glimpse server",
            addr: config.bind_addr,
            source,
        })?;
        Ok(GlimpseServer {
            listener,
            clients: Vec::with_capacity(config.clients_max),
            config,
            stats: GlimpseServerStats::default(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.listener
            .local_addr()
            .map_err(|source| NetError::LocalAddr {
                role: "glimpse server",
                source,
            })
    }

    /// Counters.
    pub fn stats(&self) -> &GlimpseServerStats {
        &self.stats
    }

    /// Connections being served.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Lists what its owner's wait wakes for: the listener (a connection
    /// to accept, or to refuse), every client's input, and its output while
    /// snapshot bytes wait for room in the socket.
    pub fn list_fds(&self, list: &mut dyn FnMut(RawFd, WaitFor)) {
        list(self.listener.as_raw_fd(), WaitFor::Readable);
        for client in &self.clients {
            let output_waits = client.out_written < client.out.len();
            list(
                client.stream.as_raw_fd(),
                WaitFor::input_or_output(output_waits),
            );
        }
    }

    /// The earliest client deadline (a login's, or a snapshot's progress
    /// timeout), in the clock `poll` is given; `None` with no client. A
    /// poll at or after it closes that client.
    pub fn deadline_ns(&self) -> Option<u64> {
        self.clients
            .iter()
            .map(|client| match client.stage {
                Stage::AwaitingLogin => client.mark_ns,
                Stage::Sending { .. } => client.mark_ns.saturating_add(self.config.idle_timeout_ns),
            })
            .min()
    }

    /// Accept, read logins, write snapshots, close what is done or late.
    /// `next_sequence` is the MoldUDP64 sequence number the publisher will
    /// give its next message; `orders` gives the books' resting orders.
    pub fn poll(&mut self, now_ns: u64, next_sequence: u64, orders: &dyn RestingOrders) {
        self.accept(now_ns);
        for index in 0..self.clients.len() {
            let client = &mut self.clients[index];
            read_client(client, &mut self.stats);
            if client.stage == Stage::AwaitingLogin {
                take_login(
                    client,
                    &self.config,
                    &mut self.stats,
                    now_ns,
                    next_sequence,
                    orders,
                );
            } else {
                // Whatever comes after the login (heartbeats, logout) is
                // read and dropped, so closing never resets the connection.
                client.framer.clear();
            }
            write_out(client, &mut self.stats, now_ns);
            check_deadline(client, &self.config, &mut self.stats, now_ns);
        }
        self.clients.retain(|client| client.open);
    }

    fn accept(&mut self, now_ns: u64) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _peer)) => stream,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                // WouldBlock ends the backlog; other errors (a connection
                // reset before accept) concern that connection only.
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            if self.clients.len() >= self.config.clients_max {
                self.stats.connections_refused += 1;
                continue;
            }
            let _ = stream.set_nodelay(true);
            self.stats.connections_accepted += 1;
            self.clients.push(Client {
                stream,
                framer: SoupFramer::with_capacity(CLIENT_FRAME_BYTES_MAX),
                out: Vec::new(),
                out_written: 0,
                stage: Stage::AwaitingLogin,
                mark_ns: now_ns.saturating_add(self.config.login_timeout_ns),
                open: true,
            });
        }
    }
}

/// Read what the client sent into its framer.
fn read_client(client: &mut Client, stats: &mut GlimpseServerStats) {
    while client.open {
        let spare = client.framer.spare_mut();
        if spare.is_empty() {
            // A client packet longer than any this server accepts.
            return close(client, &mut stats.bad_input);
        }
        match client.stream.read(spare) {
            Ok(0) => return close(client, &mut stats.disconnects),
            Ok(count) => client.framer.commit(count),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => return close(client, &mut stats.disconnects),
        }
    }
}

/// A login gets the snapshot (or a rejection); heartbeats are ignored.
fn take_login(
    client: &mut Client,
    config: &GlimpseServerConfig,
    stats: &mut GlimpseServerStats,
    now_ns: u64,
    next_sequence: u64,
    orders: &dyn RestingOrders,
) {
    while let Some(frame) = client.framer.next_frame() {
        let request = match frame.and_then(SoupPacket::parse) {
            Ok(SoupPacket::LoginRequest(request)) => request,
            Ok(SoupPacket::ClientHeartbeat | SoupPacket::Debug { .. }) => continue,
            Ok(SoupPacket::LogoutRequest) => return close(client, &mut stats.disconnects),
            Ok(_) | Err(_) => return close(client, &mut stats.bad_input),
        };
        let blank = Session([b' '; 10]);
        let reason = if config.credentials.is_some_and(|c| c != request.credentials) {
            Some(LoginRejectReason::NotAuthorized)
        } else if request.requested_session != blank && request.requested_session != config.session
        {
            Some(LoginRejectReason::SessionNotAvailable)
        } else {
            None
        };
        client.stage = Stage::Sending {
            snapshot: reason.is_none(),
        };
        client.mark_ns = now_ns;
        match reason {
            Some(reason) => {
                stats.logins_rejected += 1;
                SoupPacket::LoginRejected { reason }.encode(&mut client.out);
            }
            None => {
                stats.logins_accepted += 1;
                SoupPacket::LoginAccepted {
                    session: config.session,
                    sequence_number: 1,
                }
                .encode(&mut client.out);
                stats.snapshot_messages += write_snapshot(
                    &mut client.out,
                    &config.instruments,
                    orders,
                    next_sequence,
                    now_ns % NS_PER_DAY,
                );
            }
        }
        return;
    }
}

/// Write as much of the pending bytes as the socket takes; a finished
/// snapshot closes the connection.
fn write_out(client: &mut Client, stats: &mut GlimpseServerStats, now_ns: u64) {
    while client.open && client.out_written < client.out.len() {
        match client.stream.write(&client.out[client.out_written..]) {
            Ok(0) => close(client, &mut stats.disconnects),
            Ok(count) => {
                client.out_written += count;
                client.mark_ns = now_ns;
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => close(client, &mut stats.disconnects),
        }
    }
    if let (true, Stage::Sending { snapshot }) = (client.open, client.stage) {
        if client.out_written == client.out.len() {
            stats.snapshots_sent += u64::from(snapshot);
            client.open = false;
        }
    }
}

fn check_deadline(
    client: &mut Client,
    config: &GlimpseServerConfig,
    stats: &mut GlimpseServerStats,
    now_ns: u64,
) {
    let late = match client.stage {
        Stage::AwaitingLogin => now_ns >= client.mark_ns,
        Stage::Sending { .. } => now_ns.saturating_sub(client.mark_ns) >= config.idle_timeout_ns,
    };
    if client.open && late {
        close(client, &mut stats.timeouts);
    }
}

fn close(client: &mut Client, counter: &mut u64) {
    if client.open {
        *counter += 1;
        client.open = false;
    }
}
