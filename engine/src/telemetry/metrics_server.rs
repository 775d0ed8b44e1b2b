//! The metrics endpoint's server loop: one thread, off the hot path, serving
//! every connection at once through a `mio` poll so that no client can make
//! another wait.
//!
//! Invariants:
//! - Every socket is non-blocking; the thread only ever blocks in `poll`:
//!   with no connection held, until a client connects or
//!   [`EndpointThread::join`] wakes it (a `mio::Waker`) to see `stop`;
//!   with connections held (or an accept to retry), for at most
//!   [`POLL_TIMEOUT`], which bounds how late an idle one is closed.
//! - The listen backlog ([`LISTEN_BACKLOG`] deep, not std's 128) is
//!   emptied on every readiness: accepting never waits on a request being
//!   read, and a burst of connections never drops a scrape's handshake.
//! - At most [`CONNECTIONS_MAX`] connections are held (`held` counts
//!   them). When full, the one idle the longest is closed to take the new
//!   one, so a client that opens connections and sends nothing cannot keep
//!   a scraper out.
//! - A connection that has not sent a whole request within [`IDLE_TIMEOUT`]
//!   is closed; a request larger than [`REQUEST_BYTES_MAX`] is answered 431.
//! - One request per connection (`Connection: close`): the body is rendered
//!   once the request is complete, written as the socket takes it, and the
//!   connection closed.
//! - With no connection held the thread does not wake at all: on a host
//!   whose every core runs a pipeline thread, each wake of another thread
//!   preempts one of them (it woke 20 times a second before).
//!
//! Nothing here is ever waited on by a pipeline thread: rendering reads the
//! board's relaxed counters and the reporter's last snapshot.

use crate::telemetry::Board;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections held at once; the longest idle is closed for a new one.
pub const CONNECTIONS_MAX: usize = 256;
/// A connection that has not sent a whole request by then is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_millis(1_000);
/// Largest request head read; larger is answered 431 and closed.
pub const REQUEST_BYTES_MAX: usize = 4096;
/// Connections the kernel queues for `accept` (capped by
/// `net.core.somaxconn`). std's 128 is below what one client may open at
/// once: past it the kernel drops the handshake's last ACK, and a scrape
/// caught behind waits for the SYN-ACK to be sent again, about a second.
const LISTEN_BACKLOG: i32 = 4096;
/// Longest wait in `poll`: how soon `stop` and idle connections are seen.
const POLL_TIMEOUT: Duration = Duration::from_millis(50);
const LISTENER: Token = Token(usize::MAX);
const WAKER: Token = Token(usize::MAX - 1);

/// The endpoint's thread: set the `stop` flag given to [`serve`], then
/// [`EndpointThread::join`] wakes the thread and waits for it. Derefs to
/// the `JoinHandle` for everything else.
pub struct EndpointThread {
    handle: JoinHandle<()>,
    waker: Arc<mio::Waker>,
    wakes: Arc<AtomicU64>,
}

impl EndpointThread {
    /// Wakes the thread (it sees `stop`) and waits for it to end.
    pub fn join(self) -> std::thread::Result<()> {
        if let Err(err) = self.waker.wake() {
            tracing::warn!(%err, "metrics endpoint: cannot wake its thread to stop");
        }
        self.handle.join()
    }

    /// Returns from `poll` so far.
    pub fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}

impl std::ops::Deref for EndpointThread {
    type Target = JoinHandle<()>;
    fn deref(&self) -> &JoinHandle<()> {
        &self.handle
    }
}

/// One client connection: reading its request, then writing the answer.
struct Connection {
    stream: TcpStream,
    request: Vec<u8>,
    /// The answer once the request is complete, and how much of it is written.
    response: Option<(Vec<u8>, usize)>,
    last_activity: Instant,
}

/// Binds `address` and serves until `stop` is set; returns the bound address.
pub fn serve(
    address: &str,
    board: Arc<Board>,
    rings: usize,
    stop: Arc<AtomicBool>,
    keep_off: Vec<usize>,
) -> std::io::Result<(SocketAddr, EndpointThread)> {
    let listener = std::net::TcpListener::bind(address)?;
    deepen_backlog(&listener)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let poll = Poll::new()?;
    let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
    let wakes = Arc::new(AtomicU64::new(0));
    let mut server = Server {
        poll,
        wakes: Arc::clone(&wakes),
        retry_accept: false,
        listener: TcpListener::from_std(listener),
        slots: (0..CONNECTIONS_MAX).map(|_| None).collect(),
        held: 0,
        board,
        rings,
    };
    server
        .poll
        .registry()
        .register(&mut server.listener, LISTENER, Interest::READABLE)?;
    let handle = std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            super::leave_cores(&keep_off, "metrics endpoint");
            server.run(&stop)
        })?;
    Ok((
        bound,
        EndpointThread {
            handle,
            waker,
            wakes,
        },
    ))
}

/// Raises the bound listener's backlog to [`LISTEN_BACKLOG`] (`listen(2)`
/// again on a listening socket sets a new backlog).
#[allow(unsafe_code)] // listen(2)
fn deepen_backlog(listener: &std::net::TcpListener) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: listen(2) on a descriptor the borrowed listener owns; no
    // memory is passed.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

struct Server {
    poll: Poll,
    /// Returns from `poll`, for tests.
    wakes: Arc<AtomicU64>,
    /// The last accept failed (out of descriptors): no new edge may come, so poll on a timeout.
    retry_accept: bool,
    listener: TcpListener,
    /// Connection slots; a slot's index is its token.
    slots: Vec<Option<Connection>>,
    /// Slots holding a connection: with none, a wake costs two system
    /// calls and no walk over the slots.
    held: usize,
    board: Arc<Board>,
    rings: usize,
}

impl Server {
    fn run(&mut self, stop: &AtomicBool) {
        let mut events = Events::with_capacity(CONNECTIONS_MAX + 1);
        while !stop.load(Ordering::Acquire) {
            let timeout = (self.held > 0 || self.retry_accept).then_some(POLL_TIMEOUT);
            let polled = self.poll.poll(&mut events, timeout);
            self.wakes.fetch_add(1, Ordering::Relaxed);
            if let Err(err) = polled {
                if err.kind() != ErrorKind::Interrupted {
                    tracing::warn!(%err, "metrics endpoint poll failed");
                    std::thread::sleep(POLL_TIMEOUT);
                }
                continue;
            }
            #[allow(clippy::disallowed_methods)] // idle timeouts are wall-clock, off the hot path
            let now = Instant::now();
            for event in events
                .iter()
                .filter(|event| event.token() != LISTENER && event.token() != WAKER)
            {
                self.advance(event.token().0, now);
            }
            // Every wake, not only on the listener's readiness: readiness is
            // edge-triggered, and an accept that failed (out of descriptors)
            // leaves connections waiting that no new edge would announce.
            self.accept_all(now);
            self.close_idle(now);
        }
    }

    /// Accepts every pending connection (the backlog never fills).
    fn accept_all(&mut self, now: Instant) {
        self.retry_accept = false;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => self.admit(stream, now),
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    // Out of descriptors, most likely: retried after POLL_TIMEOUT.
                    tracing::warn!(%err, "metrics endpoint accept failed");
                    self.retry_accept = true;
                    return;
                }
            }
        }
    }

    /// Takes `stream` into a free slot, closing the longest idle one if none is free.
    fn admit(&mut self, mut stream: TcpStream, now: Instant) {
        let index = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                let oldest = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, slot)| slot.as_ref().map(|c| (c.last_activity, i)))
                    .min()
                    .map(|(_, i)| i)
                    .expect("a full table has an oldest connection");
                self.close(oldest);
                oldest
            }
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, Token(index), interest)
            .is_err()
        {
            return;
        }
        self.slots[index] = Some(Connection {
            stream,
            request: Vec::with_capacity(512),
            response: None,
            last_activity: now,
        });
        self.held += 1;
        debug_assert!(
            self.held <= CONNECTIONS_MAX,
            "connections held within the bound"
        );
    }

    /// Reads what the connection sent and writes what it can take; closes it when done or broken.
    fn advance(&mut self, index: usize, now: Instant) {
        let Some(connection) = self.slots.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let done = match connection.response {
            None => read_request(connection, now, &self.board, self.rings),
            Some(_) => Ok(false),
        }
        .and_then(|done| {
            if done || connection.response.is_none() {
                return Ok(done);
            }
            write_response(connection, now)
        });
        match done {
            Ok(false) => {}
            Ok(true) => self.close(index),
            Err(err) => {
                tracing::debug!(%err, "metrics connection dropped");
                self.close(index);
            }
        }
    }

    fn close_idle(&mut self, now: Instant) {
        if self.held == 0 {
            return;
        }
        for index in 0..self.slots.len() {
            let idle = self.slots[index]
                .as_ref()
                .is_some_and(|c| now.duration_since(c.last_activity) >= IDLE_TIMEOUT);
            if idle {
                self.close(index);
            }
        }
    }

    fn close(&mut self, index: usize) {
        if let Some(mut connection) = self.slots[index].take() {
            let _ = self.poll.registry().deregister(&mut connection.stream);
            self.held -= 1;
        }
        debug_assert_eq!(
            self.held,
            self.slots.iter().filter(|slot| slot.is_some()).count(),
            "held counts the slots in use"
        );
    }
}

/// Reads until the socket is drained; once the request head is complete,
/// renders the answer. `Ok(true)`: the client closed before asking.
fn read_request(
    connection: &mut Connection,
    now: Instant,
    board: &Board,
    rings: usize,
) -> std::io::Result<bool> {
    let mut chunk = [0u8; 1024];
    loop {
        match connection.stream.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(read) => {
                connection.last_activity = now;
                let room = REQUEST_BYTES_MAX.saturating_sub(connection.request.len());
                connection
                    .request
                    .extend_from_slice(&chunk[..read.min(room)]);
                if let Some(response) = answer_for(&connection.request, board, rings) {
                    connection.response = Some((response, 0));
                    return Ok(false);
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// The answer to `request` once it is complete (or too large to be), else none yet.
fn answer_for(request: &[u8], board: &Board, rings: usize) -> Option<Vec<u8>> {
    let complete =
        request.windows(4).any(|w| w == b"\r\n\r\n") || request.windows(2).any(|w| w == b"\n\n");
    if !complete && request.len() < REQUEST_BYTES_MAX {
        return None;
    }
    let first_line = request.split(|b| *b == b'\n').next().unwrap_or_default();
    let (status, content_type, body) = if !complete {
        (
            "431 Request Header Fields Too Large",
            "text/plain",
            "request too large\n".to_string(),
        )
    } else if first_line.starts_with(b"GET /metrics ") || first_line.starts_with(b"GET / ") {
        (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            super::metrics_http::render(board, rings),
        )
    } else {
        (
            "404 Not Found",
            "text/plain",
            "only GET /metrics is served here\n".to_string(),
        )
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    Some(response)
}

/// Writes as much of the answer as the socket takes. `Ok(true)`: all written.
fn write_response(connection: &mut Connection, now: Instant) -> std::io::Result<bool> {
    let Some((response, written)) = connection.response.as_mut() else {
        return Ok(false);
    };
    while *written < response.len() {
        match connection.stream.write(&response[*written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(count) => {
                *written += count;
                connection.last_activity = now;
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    let _ = connection.stream.flush();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Runs `f` on a thread; fails the test if it has not returned within `deadline`.
    fn within<T: Send + 'static>(
        deadline: Duration,
        what: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(deadline)
            .unwrap_or_else(|_| panic!("{what} did not return within {deadline:?}"))
    }

    // An endpoint nobody connects to does not wake (it woke every 50 ms);
    // it still answers a scrape, and the stop wakes it at once.
    #[test]
    fn an_idle_endpoint_sleeps_until_a_client_or_the_stop() {
        let stop = Arc::new(AtomicBool::new(false));
        let (address, thread) = serve(
            "127.0.0.1:0",
            Arc::new(Board::new()),
            1,
            Arc::clone(&stop),
            Vec::new(),
        )
        .unwrap();
        // The window the old loop would have woken in six times or more.
        std::thread::sleep(POLL_TIMEOUT * 6);
        assert_eq!(thread.wakes(), 0, "an idle endpoint woke");
        let answer = within(Duration::from_secs(20), "a scrape", move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        });
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        stop.store(true, Ordering::Release);
        within(Duration::from_secs(20), "the endpoint's stop", move || {
            thread.join()
        })
        .expect("the endpoint's thread ended cleanly");
    }
}
