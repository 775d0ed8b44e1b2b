//! The stream as the WebSocket client's `tungstenite` sees it: a mio
//! `TcpStream`, plain or under TLS (a rustls `ClientConnection` driven over
//! the same non-blocking socket), whose every read hands tungstenite at
//! most [`READ_CHUNK_BYTES`]; the client sizes tungstenite's read buffer at
//! [`READ_BUFFER_BYTES`]. Together they keep tungstenite's receive path
//! from allocating (see below).
//!
//! Owning thread: the ingest thread, inside [`super::ws_client::WsClient`].
//!
//! TLS: the client completes the TLS handshake itself
//! ([`ChunkedStream::drive_tls_handshake`], resumed on each poll) before
//! tungstenite sends the HTTP upgrade. Afterwards reads and writes go
//! through `rustls::Stream`, which reads ciphertext when it has no
//! plaintext and returns `WouldBlock` when the socket has none either.
//! rustls's buffered connection copies each decrypted record into a new
//! `Vec` (`ChunkVecBuffer::append`), so under TLS the receive path makes
//! one allocation per TLS record (usually one per WebSocket message; see
//! `io/tests/net_ws_alloc.rs`); plain `ws://` makes none.
//!
//! Why the receive path does not allocate. `tungstenite` 0.30 reads into
//! one `BytesMut` and hands each frame over as a `Bytes` split off that
//! buffer (`split_to` + `freeze`: a reference-count increment, no copy, no
//! allocation); `Utf8Bytes` only checks the UTF-8. Before reading a frame's
//! payload it calls `reserve(payload_len)`, which allocates only if the
//! buffer is still shared (a message from an earlier read is alive) or if
//! it cannot reclaim the consumed prefix in place. Measured with the
//! counting allocator (`io/tests/net_ws_alloc.rs`): 0 allocations over
//! 10,000 diffs and tickers in small bursts, and over 24,000 in bursts of
//! 600 to 1,000 messages a single one when nothing was warm — the read
//! buffer doubling once because one 128 KiB read had filled it.
//!
//! That doubling is what the cap removes. With `V` the buffer's capacity,
//! `o` the consumed prefix, `l` the bytes held and `P` a frame's payload,
//! `reserve` allocates only if `V - o - l < P` and (`o < l` or `V < l + P`).
//! Bytes accumulate only while a frame is incomplete, so `l < P_max + 14 +
//! READ_CHUNK_BYTES`; hence it never allocates while `V >= 3 * P_max + 28 +
//! 2 * READ_CHUNK_BYTES`, that is for every frame up to
//! [`FRAME_NO_GROWTH_BYTES_MAX`] (about 32 KiB; Binance stream messages are
//! well under 1 KiB). A bigger frame (a deep snapshot) may double the
//! buffer a few times per connection, once; the buffer then keeps its size.
//!
//! A drained socket is not read again in the same poll. A plain socket
//! read that returned fewer bytes than asked (and more than none) found the
//! socket empty behind them; until the client's read loop ends (the reads
//! between [`ChunkedStream::start_poll`] and
//! [`ChunkedStream::take_reads_spared`]; the handshake's reads are never
//! spared), the next read answers `WouldBlock` without the system call
//! (counted). The poll's read ahead ([`ChunkedStream::read_ahead`]) is
//! such a read too.
//! Without it every message a poll read cost a second `recv` that found
//! nothing, after tungstenite had parsed the message; bytes that arrive in
//! between are read on the next poll, as a datagram arriving after a
//! `recvmmsg` is. Under TLS every read goes to rustls as before.
//!
//! Invariants the client keeps: each message is dropped before the next
//! `read()` (so the buffer is unique when `reserve` runs), and messages are
//! never fragmented by the venue (tungstenite assembles fragments in a new
//! `Vec` per message; Binance does not fragment).
//!
//! Kernel receive stamps. With stamps on (the socket has `SO_TIMESTAMPNS`
//! or software `SO_TIMESTAMPING`, see [`super::enable_rx_stamps`]), every
//! socket read, plain or the ciphertext reads rustls makes, is a `recvmsg`
//! that also takes the kernel's stamp; [`ChunkedStream::last_rx_stamp_ns`]
//! is the stamp of the latest read that delivered bytes (`None` if that
//! read came without one). A message takes the stamp of the read that
//! delivered its **last** byte: a message cannot be acted on before that
//! byte is in, so time before it is network (or the venue writing the
//! message), not time the engine made the message wait; and it is the
//! stamp the client can know without tracking buffer offsets inside
//! tungstenite and rustls: both parse what they hold before reading the
//! socket again, so when a message comes out, the latest socket read is
//! the one that completed it (or, with several messages from one read,
//! that same read). Linux gives a TCP read the stamp of the last segment
//! it consumed, so the stamp is never earlier than the arrival of the
//! message's last byte and never later than the read that returned it;
//! messages completed by one read share its stamp. The control buffer
//! lives on the stack: stamping adds no allocation.

use super::sys;
use mio::net::TcpStream;
use rustls::ClientConnection;
use std::io::{self, ErrorKind, Read, Write};

/// Most bytes one read asks the socket for.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Capacity of tungstenite's read buffer (`WebSocketConfig::read_buffer_size`;
/// tungstenite also zero-fills up to this much before each read, which is
/// why the client asks [`ChunkedStream::read_ahead`] before reading on a
/// poll that follows a read that would have blocked).
pub const READ_BUFFER_BYTES: usize = 128 * 1024;

/// Frames up to this payload never make the read buffer grow.
pub const FRAME_NO_GROWTH_BYTES_MAX: usize = (READ_BUFFER_BYTES - 2 * READ_CHUNK_BYTES - 28) / 3;

const _: () = assert!(READ_CHUNK_BYTES >= 14, "a read can hold a frame header");
const _: () = assert!(FRAME_NO_GROWTH_BYTES_MAX >= 32_000);

/// Most TLS I/O rounds one poll of the handshake makes before yielding.
const TLS_HANDSHAKE_ROUNDS_MAX: usize = 8;

/// Where the TLS handshake stands after a poll.
#[derive(Debug)]
pub enum TlsProgress {
    /// Done (or no TLS): the WebSocket handshake may start.
    Done,
    /// Waiting for the socket.
    Pending,
    /// Failed; the error says why (e.g. the certificate was refused).
    Failed(io::Error),
}

/// What the socket reads learned of the kernel's receive stamps.
#[derive(Clone, Copy, Debug, Default)]
struct RxStamps {
    /// Read with `recvmsg` and take the stamp (the socket has stamps on).
    kernel: bool,
    /// Stamp of the latest read that delivered bytes, if it had one.
    last_ns: Option<u64>,
}

impl RxStamps {
    /// One read into `buf` (at most its length), noting its stamp.
    fn read(&mut self, tcp: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        if !self.kernel {
            let count = tcp.read(buf)?;
            if count > 0 {
                self.last_ns = None;
            }
            return Ok(count);
        }
        let (count, stamp) = sys::recv_with_stamp(&*tcp, buf)?;
        if count > 0 {
            self.last_ns = stamp;
        }
        Ok(count)
    }
}

/// The socket as rustls sees it: reads take the kernel's stamp.
struct StampedSocket<'a> {
    tcp: &'a mut TcpStream,
    stamps: &'a mut RxStamps,
}

impl Read for StampedSocket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stamps.read(self.tcp, buf)
    }
}

impl Write for StampedSocket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A mio `TcpStream`, plain or under TLS, whose reads are capped at
/// [`READ_CHUNK_BYTES`] and, with stamps on, take the kernel's receive stamp.
#[derive(Debug)]
pub struct ChunkedStream {
    tcp: TcpStream,
    tls: Option<Box<ClientConnection>>,
    stamps: RxStamps,
    /// Inside the client's read loop (reads may be spared).
    in_poll: bool,
    /// A plain read of this poll found the socket empty behind its bytes.
    drained: bool,
    /// Reads answered `WouldBlock` without a system call since last taken.
    reads_spared: u64,
    /// Plain sockets: bytes [`ChunkedStream::read_ahead`] read before
    /// tungstenite asked (`READ_CHUNK_BYTES`, allocated with the stream;
    /// empty under TLS), handed out by the next reads.
    ahead: Box<[u8]>,
    /// `ahead[ahead_at..ahead_len]` is still to be handed out.
    ahead_at: usize,
    ahead_len: usize,
    /// The read ahead ended in the peer's close or an error instead of
    /// bytes: the next read reports it.
    ahead_end: Option<io::Result<()>>,
    /// Reads ahead that brought bytes since last taken.
    reads_ahead: u64,
}

impl ChunkedStream {
    /// Wrap a connected stream; `kernel_stamps`: the socket has receive
    /// stamps on (reads then use `recvmsg` and keep the stamp).
    pub fn new(tcp: TcpStream, kernel_stamps: bool) -> ChunkedStream {
        ChunkedStream {
            tcp,
            tls: None,
            stamps: RxStamps {
                kernel: kernel_stamps,
                last_ns: None,
            },
            in_poll: false,
            drained: false,
            reads_spared: 0,
            ahead: vec![0u8; READ_CHUNK_BYTES].into_boxed_slice(),
            ahead_at: 0,
            ahead_len: 0,
            ahead_end: None,
            reads_ahead: 0,
        }
    }

    /// Wrap a connected stream under a TLS client connection whose
    /// handshake has not started.
    pub fn with_tls(tcp: TcpStream, tls: ClientConnection, kernel_stamps: bool) -> ChunkedStream {
        ChunkedStream {
            tls: Some(Box::new(tls)),
            ahead: Box::default(),
            ..ChunkedStream::new(tcp, kernel_stamps)
        }
    }

    /// The kernel's receive stamp (CLOCK_REALTIME ns) of the latest socket
    /// read that delivered bytes; `None` if it came without one (stamps
    /// off or refused, or not yet live; see the module docs).
    pub fn last_rx_stamp_ns(&self) -> Option<u64> {
        self.stamps.last_ns
    }

    /// Advance the TLS handshake as far as the socket allows, without
    /// blocking.
    pub fn drive_tls_handshake(&mut self) -> TlsProgress {
        let Some(tls) = self.tls.as_mut() else {
            return TlsProgress::Done;
        };
        for _ in 0..TLS_HANDSHAKE_ROUNDS_MAX {
            if !tls.is_handshaking() {
                return TlsProgress::Done;
            }
            match tls.complete_io(&mut self.tcp) {
                Ok((0, 0)) => return TlsProgress::Pending,
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    return TlsProgress::Pending;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return TlsProgress::Failed(error),
            }
        }
        if tls.is_handshaking() {
            TlsProgress::Pending
        } else {
            TlsProgress::Done
        }
    }

    /// Whether a read would return at once: bytes are waiting, the peer
    /// closed, or the socket has an error (which the read then reports).
    /// `false` only when a read would block.
    ///
    /// Why it exists: tungstenite 0.30 zero-fills the spare part of its
    /// read buffer (up to [`READ_BUFFER_BYTES`]) before every socket read,
    /// the read that would block included (`FrameCodec::read_in` calls
    /// `BytesMut::resize(.., 0)`). Asking first spares an idle poll that
    /// memset.
    ///
    /// How it asks. A plain socket is read (the one `recv`, with its
    /// receive stamp, that a read of tungstenite's would have made) into
    /// the stream's own buffer, whose bytes the next reads hand out: when
    /// bytes are waiting, asking and reading are one system call, not a
    /// one-byte `peek` and then the read. A read ahead that returned fewer
    /// bytes than asked found the socket drained, as a plain read does
    /// (see the module docs). Under TLS rustls reads the ciphertext itself,
    /// so the socket is peeked (one byte into the stack, nothing consumed).
    /// No allocation either way.
    pub fn read_ahead(&mut self) -> bool {
        let Some(tls) = self.tls.as_ref() else {
            return self.read_plain_ahead();
        };
        // rustls wants no ciphertext while it holds plaintext to hand out.
        if !tls.wants_read() {
            return true;
        }
        let mut byte = [0u8; 1];
        !matches!(self.tcp.peek(&mut byte), Err(error) if error.kind() == ErrorKind::WouldBlock)
    }

    /// [`ChunkedStream::read_ahead`] on a plain socket.
    fn read_plain_ahead(&mut self) -> bool {
        if self.ahead_at < self.ahead_len || self.ahead_end.is_some() {
            return true;
        }
        match self.stamps.read(&mut self.tcp, &mut self.ahead) {
            Ok(0) => self.ahead_end = Some(Ok(())),
            Ok(count) => {
                self.reads_ahead += 1;
                (self.ahead_at, self.ahead_len) = (0, count);
                self.drained = self.in_poll && count < self.ahead.len();
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return false,
            // Read again by tungstenite's read.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => self.ahead_end = Some(Err(error)),
        }
        true
    }

    /// Hands out bytes read ahead (at most `buf`'s length), or what the
    /// read ahead ended in; `None` when it left nothing.
    fn take_ahead(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        if self.ahead_at < self.ahead_len && !buf.is_empty() {
            let count = buf.len().min(self.ahead_len - self.ahead_at);
            buf[..count].copy_from_slice(&self.ahead[self.ahead_at..self.ahead_at + count]);
            self.ahead_at += count;
            return Some(Ok(count));
        }
        // The peer's close reads as zero bytes, as from the socket.
        self.ahead_end.take().map(|end| end.map(|()| 0))
    }

    /// The client's read loop of a poll starts: the socket may hold bytes again.
    pub fn start_poll(&mut self) {
        self.in_poll = true;
        self.drained = false;
    }

    /// The read loop ended: reads answered `WouldBlock` without a system
    /// call in it (the socket was drained earlier in the same loop).
    pub fn take_reads_spared(&mut self) -> u64 {
        self.in_poll = false;
        self.drained = false;
        std::mem::take(&mut self.reads_spared)
    }

    /// Reads ahead that brought bytes (each spared a `peek`) since last taken.
    pub fn take_reads_ahead(&mut self) -> u64 {
        std::mem::take(&mut self.reads_ahead)
    }

    /// The socket, to (de)register it with a reactor.
    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }
}

impl Read for ChunkedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(READ_CHUNK_BYTES);
        if self.tls.is_none() {
            if let Some(taken) = self.take_ahead(&mut buf[..len]) {
                return taken;
            }
        }
        let mut socket = StampedSocket {
            tcp: &mut self.tcp,
            stamps: &mut self.stamps,
        };
        match self.tls.as_mut() {
            None if self.drained => {
                self.reads_spared += 1;
                Err(ErrorKind::WouldBlock.into())
            }
            None => {
                let count = socket.read(&mut buf[..len])?;
                // Zero is the peer's close: reported on every read, never spared.
                self.drained = self.in_poll && count > 0 && count < len;
                Ok(count)
            }
            Some(tls) => rustls::Stream::new(tls.as_mut(), &mut socket).read(&mut buf[..len]),
        }
    }
}

impl Write for ChunkedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut socket = StampedSocket {
            tcp: &mut self.tcp,
            stamps: &mut self.stamps,
        };
        match self.tls.as_mut() {
            None => socket.write(buf),
            Some(tls) => rustls::Stream::new(tls.as_mut(), &mut socket).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut socket = StampedSocket {
            tcp: &mut self.tcp,
            stamps: &mut self.stamps,
        };
        match self.tls.as_mut() {
            None => socket.flush(),
            Some(tls) => rustls::Stream::new(tls.as_mut(), &mut socket).flush(),
        }
    }
}
