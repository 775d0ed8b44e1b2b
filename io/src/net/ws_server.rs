//! A small non-blocking WebSocket server for the venue simulator and tests:
//! accepts connections, completes handshakes, hands each text message
//! received to the caller, and sends or broadcasts text.
//!
//! Owning thread: the venue simulator's loop (or a test's loop), which calls
//! [`WsServer::poll`] every iteration; nothing blocks, so a client and this
//! server can run in one thread. A loop that blocks between polls waits on
//! the descriptors [`WsServer::list_fds`] lists (a partly written frame or
//! response wakes it when the socket has room). It serves every stream to every
//! connection (the request path is not inspected): enough for one
//! simulated venue, not a general server.
//!
//! Plain HTTP on the same port: each connection's request head (up to
//! [`HEAD_BYTES_MAX`]) is read first. A WebSocket upgrade goes on to
//! tungstenite (which re-reads the head from a replaying stream); any other
//! `GET` is handed to the caller of [`WsServer::poll_with_http`] with its
//! request target (e.g. `/api/v3/depth?symbol=BTCUSDT&limit=1000`), who
//! answers with [`WsServer::send_http_response`]; the response is written
//! without blocking, over as many polls as it takes, then the connection
//! is closed (`Connection: close`). [`WsServer::poll`] answers such
//! requests 404. A head that is malformed, too long, or not a `GET` is
//! answered 400 or 405 and counted.
//!
//! Fault injection for tests: [`WsServer::close_all`] (close frame, then
//! drop) and [`WsServer::abort_all_mid_frame`] (half a frame, then drop).
//! A connection whose peer misbehaves or goes away is dropped and counted.

use super::error::NetError;
use super::wait_for::WaitFor;
use mio::net::{TcpListener, TcpStream};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use tungstenite::error::Error as WsError;
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::Message;

/// Longest request head read before deciding upgrade or plain HTTP.
pub const HEAD_BYTES_MAX: usize = 8 * 1024;

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
    /// Plain HTTP requests handed to the caller.
    pub http_requests: u64,
    /// HTTP responses written in full.
    pub http_responses: u64,
    /// Request heads refused (malformed, too long, not `GET`) or left
    /// unanswered by a caller of [`WsServer::poll`].
    pub http_refused: u64,
}

/// A TCP stream that first replays the bytes already read from it (the
/// request head), so tungstenite sees the whole upgrade request.
#[derive(Debug)]
pub struct ReplayStream {
    head: Vec<u8>,
    at: usize,
    tcp: TcpStream,
}

impl Read for ReplayStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head.len() {
            let count = buf.len().min(self.head.len() - self.at);
            buf[..count].copy_from_slice(&self.head[self.at..self.at + count]);
            self.at += count;
            return Ok(count);
        }
        self.tcp.read(buf)
    }
}

impl Write for ReplayStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

type ServerMid = MidHandshake<ServerHandshake<ReplayStream, NoCallback>>;

enum Connection {
    /// Reading the request head.
    Head {
        tcp: TcpStream,
        head: Vec<u8>,
    },
    Handshaking(ServerMid),
    Open {
        ws: WebSocket<ReplayStream>,
        /// A frame (or a pong) waits in tungstenite's buffer for room in
        /// the socket: written by the next poll, which a writable socket
        /// wakes.
        output_waits: bool,
    },
    /// A plain request handed to the caller, awaiting its response.
    HttpWaiting {
        tcp: TcpStream,
    },
    /// Writing a response, then closing.
    HttpWriting {
        tcp: TcpStream,
        out: Vec<u8>,
        written: usize,
    },
}

/// What a request head turned out to be.
enum Head {
    Incomplete,
    Upgrade,
    Get { target: std::ops::Range<usize> },
    Refused(u16),
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
            .filter(|(_, c)| matches!(c, Connection::Open { .. }))
            .count()
    }

    /// Lists what its owner's wait wakes for: the listener, each
    /// connection's input while it is read (a request head, a handshake, an
    /// open WebSocket), and its output while bytes wait for room in the
    /// socket (a handshake's answer, an HTTP response, a frame). A request
    /// handed to the caller and not yet answered is not listed: nothing of
    /// it is read until the answer is written.
    pub fn list_fds(&self, list: &mut dyn FnMut(RawFd, WaitFor)) {
        list(self.listener.as_raw_fd(), WaitFor::Readable);
        for (_, connection) in &self.connections {
            let (fd, wait_for) = match connection {
                Connection::Head { tcp, .. } => (tcp.as_raw_fd(), WaitFor::Readable),
                // Interrupted only while its answer waits for room (the
                // whole request head was read before it began).
                Connection::Handshaking(mid) => (
                    mid.get_ref().get_ref().tcp.as_raw_fd(),
                    WaitFor::ReadableOrWritable,
                ),
                Connection::Open { ws, output_waits } => (
                    ws.get_ref().tcp.as_raw_fd(),
                    WaitFor::input_or_output(*output_waits),
                ),
                Connection::HttpWaiting { .. } => continue,
                Connection::HttpWriting { tcp, .. } => (tcp.as_raw_fd(), WaitFor::Writable),
            };
            list(fd, wait_for);
        }
    }

    /// Accept, advance handshakes, and pass every text message received to
    /// `on_text(connection, bytes)`. Plain HTTP requests are answered 404.
    pub fn poll(&mut self, on_text: impl FnMut(ConnectionId, &[u8])) {
        let mut unanswered = [ConnectionId(u64::MAX); 8];
        let mut count = 0usize;
        self.poll_with_http(on_text, |id, _| {
            if let Some(slot) = unanswered.get_mut(count) {
                *slot = id;
                count += 1;
            }
        });
        for &id in &unanswered[..count] {
            self.stats.http_refused += 1;
            self.send_http_response(id, 404, r#"{"code":-1,"msg":"Not found."}"#);
        }
    }

    /// Like [`WsServer::poll`], and hand each plain `GET` to
    /// `on_http(connection, request_target)`; answer it with
    /// [`WsServer::send_http_response`] after this returns.
    pub fn poll_with_http(
        &mut self,
        mut on_text: impl FnMut(ConnectionId, &[u8]),
        mut on_http: impl FnMut(ConnectionId, &[u8]),
    ) {
        self.accept_all();
        // Each connection is moved out (a handshake step consumes it) and
        // moved back if still alive; the two vectors keep their capacity.
        std::mem::swap(&mut self.connections, &mut self.connections_spare);
        let mut pending = std::mem::take(&mut self.connections_spare);
        for (id, connection) in pending.drain(..) {
            match self.advance(id, connection, &mut on_text, &mut on_http) {
                Some(connection) => self.connections.push((id, connection)),
                None => self.stats.dropped += 1,
            }
        }
        self.connections_spare = pending;
    }

    /// Answer a plain request with `status` and a JSON `body`; the
    /// connection closes once it is written. `false` if `to` is not waiting
    /// for a response.
    pub fn send_http_response(&mut self, to: ConnectionId, status: u16, body: &str) -> bool {
        let Some(index) = self
            .connections
            .iter()
            .position(|(id, c)| *id == to && matches!(c, Connection::HttpWaiting { .. }))
        else {
            return false;
        };
        let (id, connection) = self.connections.swap_remove(index);
        let Connection::HttpWaiting { tcp } = connection else {
            unreachable!("matched above");
        };
        let out = http_response(status, body);
        match write_out(tcp, out, 0) {
            Some(connection) => self.connections.push((id, connection)),
            None => self.stats.http_responses += 1,
        }
        true
    }

    /// Send `text` to one connection; `false` if it is not open or gone.
    pub fn send_text(&mut self, to: ConnectionId, text: &str) -> bool {
        let Some((_, Connection::Open { ws, output_waits })) =
            self.connections.iter_mut().find(|(id, _)| *id == to)
        else {
            return false;
        };
        let sent = send(ws, output_waits, text);
        self.stats.messages_sent += u64::from(sent);
        sent
    }

    /// Send `text` to every open connection; returns how many took it.
    pub fn broadcast_text(&mut self, text: &str) -> usize {
        let mut count = 0;
        for (_, connection) in &mut self.connections {
            if let Connection::Open { ws, output_waits } = connection {
                count += usize::from(send(ws, output_waits, text));
            }
        }
        self.stats.messages_sent += count as u64;
        count
    }

    /// Send a close frame to every connection and drop them all.
    pub fn close_all(&mut self) {
        for (_, connection) in self.connections.drain(..) {
            if let Connection::Open { mut ws, .. } = connection {
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
            if let Connection::Open { mut ws, .. } = connection {
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
            let head = Vec::with_capacity(1024);
            self.connections
                .push((id, Connection::Head { tcp: stream, head }));
        }
    }

    fn advance(
        &mut self,
        id: ConnectionId,
        connection: Connection,
        on_text: &mut impl FnMut(ConnectionId, &[u8]),
        on_http: &mut impl FnMut(ConnectionId, &[u8]),
    ) -> Option<Connection> {
        match connection {
            Connection::Head { tcp, head } => self.advance_head(id, tcp, head, on_http),
            Connection::Handshaking(mid) => self.finish_handshake(mid.handshake()),
            Connection::Open { mut ws, .. } => loop {
                match ws.read() {
                    Ok(Message::Text(text)) => {
                        self.stats.messages_received += 1;
                        on_text(id, text.as_bytes());
                    }
                    Ok(_) => {}
                    Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
                        // What an earlier send or a pong left unwritten
                        // goes now (no system call when nothing waits).
                        let output_waits = match ws.flush() {
                            Ok(()) => false,
                            Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
                                true
                            }
                            Err(_) => return None,
                        };
                        return Some(Connection::Open { ws, output_waits });
                    }
                    Err(_) => return None,
                }
            },
            waiting @ Connection::HttpWaiting { .. } => Some(waiting),
            Connection::HttpWriting { tcp, out, written } => {
                let connection = write_out(tcp, out, written);
                if connection.is_none() {
                    self.stats.http_responses += 1;
                }
                connection
            }
        }
    }

    /// Read the request head; then upgrade, hand a `GET` over, or refuse.
    fn advance_head(
        &mut self,
        id: ConnectionId,
        mut tcp: TcpStream,
        mut head: Vec<u8>,
        on_http: &mut impl FnMut(ConnectionId, &[u8]),
    ) -> Option<Connection> {
        let mut chunk = [0u8; 1024];
        loop {
            match tcp.read(&mut chunk) {
                Ok(0) => return None,
                Ok(count) => head.extend_from_slice(&chunk[..count]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
            if head.len() > HEAD_BYTES_MAX {
                break;
            }
        }
        match classify_head(&head) {
            Head::Incomplete => Some(Connection::Head { tcp, head }),
            Head::Upgrade => {
                let stream = ReplayStream { head, at: 0, tcp };
                self.finish_handshake(tungstenite::accept_with_config(stream, Some(self.config)))
            }
            Head::Get { target } => {
                self.stats.http_requests += 1;
                on_http(id, head.get(target).unwrap_or_default());
                Some(Connection::HttpWaiting { tcp })
            }
            Head::Refused(status) => {
                self.stats.http_refused += 1;
                let body = r#"{"code":-1,"msg":"Bad request."}"#;
                write_out(tcp, http_response(status, body), 0)
            }
        }
    }

    fn finish_handshake(
        &mut self,
        result: Result<
            WebSocket<ReplayStream>,
            HandshakeError<ServerHandshake<ReplayStream, NoCallback>>,
        >,
    ) -> Option<Connection> {
        match result {
            Ok(ws) => {
                self.stats.opened += 1;
                Some(Connection::Open {
                    ws,
                    output_waits: false,
                })
            }
            Err(HandshakeError::Interrupted(mid)) => Some(Connection::Handshaking(mid)),
            Err(HandshakeError::Failure(_)) => {
                self.stats.handshakes_failed += 1;
                None
            }
        }
    }
}

/// Decide what a request head is (see the module docs).
fn classify_head(head: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Partial) if head.len() <= HEAD_BYTES_MAX => Head::Incomplete,
        Ok(httparse::Status::Partial) | Err(_) => Head::Refused(400),
        Ok(httparse::Status::Complete(_)) => {
            let upgrade = request.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("upgrade") && h.value.eq_ignore_ascii_case(b"websocket")
            });
            match (request.method, request.path) {
                (Some("GET"), _) if upgrade => Head::Upgrade,
                (Some("GET"), Some(path)) => {
                    // `path` borrows from `head`: its offset there.
                    let start = path.as_ptr() as usize - head.as_ptr() as usize;
                    Head::Get {
                        target: start..start + path.len(),
                    }
                }
                _ => Head::Refused(405),
            }
        }
    }
}

fn http_response(status: u16, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Write what the socket takes; `None` once all is written (or the peer is
/// gone): the connection is then dropped, which closes it.
fn write_out(mut tcp: TcpStream, out: Vec<u8>, mut written: usize) -> Option<Connection> {
    while written < out.len() {
        match tcp.write(&out[written..]) {
            Ok(0) => return None,
            Ok(count) => written += count,
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                return Some(Connection::HttpWriting { tcp, out, written });
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    None
}

/// Sends `text`; what the socket did not take waits in tungstenite's buffer
/// (`output_waits`) for the next poll.
fn send(ws: &mut WebSocket<ReplayStream>, output_waits: &mut bool, text: &str) -> bool {
    match ws.send(Message::text(text)) {
        Ok(()) => true,
        Err(WsError::Io(error)) if error.kind() == ErrorKind::WouldBlock => {
            *output_waits = true;
            true
        }
        Err(_) => false,
    }
}
