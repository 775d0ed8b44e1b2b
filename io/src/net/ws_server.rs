//! A small non-blocking WebSocket server for the venue simulator and tests:
//! accepts connections, completes handshakes, hands each text message
//! received to the caller, and sends or broadcasts text.
//!
//! Owning thread: the venue simulator's loop (or a test's loop), which calls
//! [`WsServer::poll`] every iteration; nothing blocks, so a client and this
//! server can run in one thread. It serves every stream to every
//! connection (the request path is not inspected): enough for one
//! simulated venue, not a general server.
//!
//! Fault injection for tests: [`WsServer::close_all`] (close frame, then
//! drop) and [`WsServer::abort_all_mid_frame`] (half a frame, then drop).
//! A connection whose peer misbehaves or goes away is dropped and counted.

use super::error::NetError;
use mio::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use tungstenite::error::Error as WsError;
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::Message;

/// Identifies one accepted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

/// Counters of the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsServerStats {
    /// TCP connections accepted.
    pub accepted: u64,
    /// Handshakes completed.
    pub opened: u64,
    /// Handshakes that failed.
    pub handshakes_failed: u64,
    /// Connections dropped (peer gone, protocol error, or closed by us).
    pub dropped: u64,
    /// Text messages received.
    pub messages_received: u64,
    /// Text messages sent.
    pub messages_sent: u64,
}

type ServerMid = MidHandshake<ServerHandshake<TcpStream, NoCallback>>;

enum Connection {
    Handshaking(ServerMid),
    Open(WebSocket<TcpStream>),
}

/// Non-blocking WebSocket server.
pub struct WsServer {
    listener: TcpListener,
    config: WebSocketConfig,
    connections: Vec<(ConnectionId, Connection)>,
    connections_spare: Vec<(ConnectionId, Connection)>,
    connection_id_next: u64,
    stats: WsServerStats,
}

impl std::fmt::Debug for WsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsServer")
            .field("connections", &self.connections.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl WsServer {
    /// Listen on `addr`; messages up to `message_bytes_max` are accepted.
    pub fn bind(addr: SocketAddr, message_bytes_max: usize) -> Result<WsServer, NetError> {
        let listener = TcpListener::bind(addr).map_err(|source| NetError::Bind {
            role: "websocket server",
            addr,
            source,
        })?;
        Ok(WsServer {
            listener,
            config: WebSocketConfig::default()
                .max_message_size(Some(message_bytes_max))
                .max_frame_size(Some(message_bytes_max)),
            connections: Vec::new(),
            connections_spare: Vec::new(),
            connection_id_next: 0,
            stats: WsServerStats::default(),
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.listener
            .local_addr()
            .map_err(|source| NetError::LocalAddr {
                role: "websocket server",
                source,
            })
    }

    /// Counters.
    pub fn stats(&self) -> &WsServerStats {
        &self.stats
    }

    /// Connections with a completed handshake.
    pub fn open_count(&self) -> usize {
        self.connections
            .iter()
            .filter(|(_, c)| matches!(c, Connection::Open(_)))
            .count()
    }

    /// Accept, advance handshakes, and pass every text message received to
    /// `on_text(connection, bytes)`.
    pub fn poll(&mut self, mut on_text: impl FnMut(ConnectionId, &[u8])) {
        self.accept_all();
        // Each connection is moved out (a handshake step consumes it) and
        // moved back if still alive; the two vectors keep their capacity.
        std::mem::swap(&mut self.connections, &mut self.connections_spare);
        let mut pending = std::mem::take(&mut self.connections_spare);
        for (id, connection) in pending.drain(..) {
            match self.advance(id, connection, &mut on_text) {
                Some(connection) => self.connections.push((id, connection)),
                None => self.stats.dropped += 1,
            }
        }
        self.connections_spare = pending;
    }

    /// Send `text` to one connection; `false` if it is not open or gone.
    pub fn send_text(&mut self, to: ConnectionId, text: &str) -> bool {
        let Some((_, Connection::Open(ws))) = self.connections.iter_mut().find(|(id, _)| *id == to)
        else {
            return false;
        };
        let sent = send(ws, text);
        self.stats.messages_sent += u64::from(sent);
        sent
    }

    /// Send `text` to every open connection; returns how many took it.
    pub fn broadcast_text(&mut self, text: &str) -> usize {
        let mut count = 0;
        for (_, connection) in &mut self.connections {
            if let Connection::Open(ws) = connection {
                count += usize::from(send(ws, text));
            }
        }
        self.stats.messages_sent += count as u64;
        count
    }

    /// Send a close frame to every connection and drop them all.
    pub fn close_all(&mut self) {
        for (_, connection) in self.connections.drain(..) {
            if let Connection::Open(mut ws) = connection {
                // The peer may be gone already; the drop below is what matters.
                let _ = ws.close(None);
                let _ = ws.flush();
            }
            self.stats.dropped += 1;
        }
    }

    /// Write the start of a text frame that announces 4096 bytes but carries
    /// two, then drop every connection: the peer sees a close mid-frame.
    pub fn abort_all_mid_frame(&mut self) {
        for (_, connection) in self.connections.drain(..) {
            if let Connection::Open(mut ws) = connection {
                let _ = ws.get_mut().write_all(&[0x81, 126, 0x10, 0x00, b'{', b'"']);
            }
            self.stats.dropped += 1;
        }
    }

    fn accept_all(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                // A connection that died before accept; try the next.
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            self.stats.accepted += 1;
            let id = ConnectionId(self.connection_id_next);
            self.connection_id_next += 1;
            match tungstenite::accept_with_config(stream, Some(self.config)) {
                Ok(ws) => {
                    self.stats.opened += 1;
                    self.connections.push((id, Connection::Open(ws)));
                }
                Err(HandshakeError::Interrupted(mid)) => {
                    self.connections.push((id, Connection::Handshaking(mid)));
                }
                Err(HandshakeError::Failure(_)) => self.stats.handshakes_failed += 1,
            }
        }
    }

    fn advance(
        &mut self,
        id: ConnectionId,
        connection: Connection,
        on_text: &mut impl FnMut(ConnectionId, &[u8]),
    ) -> Option<Connection> {
        match connection {
            Connection::Handshaking(mid) => match mid.handshake() {
                Ok(ws) => {
                    self.stats.opened += 1;
                    Some(Connection::Open(ws))
                }
                Err(HandshakeError::Interrupted(mid)) => Some(Connection::Handshaking(mid)),
                Err(HandshakeError::Failure(_)) => {
                    self.stats.handshakes_failed += 1;
                    None
                }
            },
            Connection::Open(mut ws) => loop {
                match ws.read() {
                    Ok(Message::Text(text)) => {
                        self.stats.messages_received += 1;
                        on_text(id, text.as_bytes());
                    }
                    Ok(_) => {}
                    Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
                        return Some(Connection::Open(ws));
                    }
                    Err(_) => return None,
                }
            },
        }
    }
}

fn send(ws: &mut WebSocket<TcpStream>, text: &str) -> bool {
    match ws.send(Message::text(text)) {
        Ok(()) => true,
        Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => true,
        Err(_) => false,
    }
}
