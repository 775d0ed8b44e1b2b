//! The subscriber side of a MoldUDP64 stream: reads datagrams into one
//! preallocated buffer, stamps each with the receive time as soon as it is
//! read, hands it to [`ItchFeed::on_datagram`], and sends the feed's
//! retransmission requests to the venue's request port.
//!
//! Owning thread: the ingest thread, which calls [`MoldReceiver::poll`] on
//! every loop iteration (whether or not the reactor reported readiness:
//! reads stop at a budget, and edge-triggered readiness would not fire
//! again for datagrams left queued).
//!
//! Two sockets: the feed socket (bound to the stream's port) and the
//! request socket (an ephemeral port that sends requests and receives the
//! retransmitted packets, which the venue sends back to the requester).
//! The request socket is drained first, so retransmissions that close a gap
//! are applied before newer feed packets (which the tracker would otherwise
//! drop as beyond the gap and need again).
//!
//! Invariants: no allocation per datagram (the buffer is 64 KiB, larger
//! than any UDP payload, so nothing is truncated); the clock is read once
//! per datagram, right after `recv_from` returns.
//!
//! Bad-input and error policy: malformed datagrams, gaps, duplicates and
//! other sessions follow [`ItchFeed`]'s policy (skip, count, re-request).
//! A receive error other than `WouldBlock` (e.g. `ECONNREFUSED` echoed by an
//! ICMP error after a request was sent to a closed port) is counted and the
//! socket is read again next poll. A request the socket refuses is counted;
//! the feed repeats it after its retry interval.

use super::error::NetError;
use super::options::{OptionsReport, SocketOptions};
use super::reactor::bind_udp;
use crate::itch::{ItchFeed, ItchMessage, PacketOutcome};
use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use std::net::SocketAddr;

/// Larger than the largest UDP payload (65507 bytes over IPv4).
const RECV_BUFFER_BYTES: usize = 64 * 1024;

/// How to build a [`MoldReceiver`].
#[derive(Clone, Copy, Debug)]
pub struct MoldReceiverConfig {
    /// Address the feed socket binds (the stream's port).
    pub feed_bind_addr: SocketAddr,
    /// Address the request socket binds (usually port 0).
    pub request_bind_addr: SocketAddr,
    /// The venue's request (retransmission) port.
    pub request_server_addr: SocketAddr,
    /// Options for both sockets.
    pub options: SocketOptions,
    /// Most datagrams read per socket per poll, so one busy feed cannot
    /// starve the rest of the ingest loop.
    pub datagrams_per_poll_max: usize,
}

/// Counters of the receiver (the feed keeps its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Datagrams read from the feed socket.
    pub feed_datagrams: u64,
    /// Datagrams read from the request socket (retransmissions).
    pub retransmit_datagrams: u64,
    /// Bytes read from both sockets.
    pub bytes_received: u64,
    /// Receive errors other than `WouldBlock`.
    pub recv_errors: u64,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests the socket refused.
    pub request_send_errors: u64,
    /// Polls that stopped at the datagram budget.
    pub polls_at_budget: u64,
}

/// What one [`MoldReceiver::poll`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceivePoll {
    /// Datagrams read.
    pub datagram_count: usize,
    /// A datagram opened a gap (books are stale).
    pub gap_seen: bool,
    /// A datagram closed the gap (books are live again).
    pub gap_closed: bool,
    /// A request was sent.
    pub request_sent: bool,
}

/// MoldUDP64 subscriber: feed socket plus request socket.
#[derive(Debug)]
pub struct MoldReceiver {
    feed_socket: UdpSocket,
    request_socket: UdpSocket,
    request_server_addr: SocketAddr,
    buffer: Box<[u8]>,
    datagrams_per_poll_max: usize,
    reports: [OptionsReport; 2],
    stats: ReceiverStats,
}

#[derive(Clone, Copy)]
enum Which {
    Request,
    Feed,
}

impl MoldReceiver {
    /// Bind both sockets and apply the options.
    pub fn bind(config: MoldReceiverConfig) -> Result<MoldReceiver, NetError> {
        if config.datagrams_per_poll_max == 0 {
            return Err(NetError::Config {
                field: "datagrams_per_poll_max",
                reason: "must be at least 1",
            });
        }
        let (feed_socket, feed_report) =
            bind_udp("mold feed", config.feed_bind_addr, &config.options)?;
        let (request_socket, request_report) =
            bind_udp("mold request", config.request_bind_addr, &config.options)?;
        Ok(MoldReceiver {
            feed_socket,
            request_socket,
            request_server_addr: config.request_server_addr,
            buffer: vec![0u8; RECV_BUFFER_BYTES].into_boxed_slice(),
            datagrams_per_poll_max: config.datagrams_per_poll_max,
            reports: [feed_report, request_report],
            stats: ReceiverStats::default(),
        })
    }

    /// The feed socket's address (publish to it).
    pub fn feed_local_addr(&self) -> Result<SocketAddr, NetError> {
        self.feed_socket
            .local_addr()
            .map_err(|source| NetError::LocalAddr {
                role: "mold feed",
                source,
            })
    }

    /// How the socket options fared: `[feed, request]`.
    pub fn options_reports(&self) -> &[OptionsReport; 2] {
        &self.reports
    }

    /// Counters.
    pub fn stats(&self) -> &ReceiverStats {
        &self.stats
    }

    /// Register both sockets for readability (dev mode: lets the reactor
    /// sleep until data arrives).
    pub fn register(
        &mut self,
        registry: &Registry,
        feed_token: Token,
        request_token: Token,
    ) -> Result<(), NetError> {
        registry
            .register(&mut self.feed_socket, feed_token, Interest::READABLE)
            .map_err(|source| NetError::Register {
                role: "mold feed",
                source,
            })?;
        registry
            .register(&mut self.request_socket, request_token, Interest::READABLE)
            .map_err(|source| NetError::Register {
                role: "mold request",
                source,
            })
    }

    /// Read what is waiting (retransmissions first, then the feed), feed it
    /// to `feed`, then send a retransmission request if one is due.
    /// `on_message(ts_recv_ns, book_index, message)` sees every decoded
    /// message in sequence order; `clock` returns nanoseconds.
    pub fn poll<C, F>(
        &mut self,
        feed: &mut ItchFeed,
        clock: &mut C,
        mut on_message: F,
    ) -> ReceivePoll
    where
        C: FnMut() -> u64,
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        let mut result = ReceivePoll::default();
        self.drain(Which::Request, feed, clock, &mut on_message, &mut result);
        self.drain(Which::Feed, feed, clock, &mut on_message, &mut result);
        result.request_sent = self.send_request_if_due(feed, clock());
        result
    }

    /// Send the feed's retransmission request if one is due at `now_ns`.
    pub fn send_request_if_due(&mut self, feed: &mut ItchFeed, now_ns: u64) -> bool {
        let Some(request) = feed.poll_request(now_ns) else {
            return false;
        };
        match self
            .request_socket
            .send_to(&request.encode(), self.request_server_addr)
        {
            Ok(_) => {
                self.stats.requests_sent += 1;
                true
            }
            Err(_) => {
                self.stats.request_send_errors += 1;
                false
            }
        }
    }

    fn drain<C, F>(
        &mut self,
        which: Which,
        feed: &mut ItchFeed,
        clock: &mut C,
        on_message: &mut F,
        result: &mut ReceivePoll,
    ) where
        C: FnMut() -> u64,
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        let socket = match which {
            Which::Request => &self.request_socket,
            Which::Feed => &self.feed_socket,
        };
        for _ in 0..self.datagrams_per_poll_max {
            let length = match socket.recv_from(&mut self.buffer) {
                Ok((length, _from)) => length,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.stats.recv_errors += 1;
                    continue;
                }
            };
            let ts_recv_ns = clock();
            match which {
                Which::Request => self.stats.retransmit_datagrams += 1,
                Which::Feed => self.stats.feed_datagrams += 1,
            }
            self.stats.bytes_received += length as u64;
            result.datagram_count += 1;
            let outcome = feed.on_datagram(&self.buffer[..length], |book_index, message| {
                on_message(ts_recv_ns, book_index, message)
            });
            match outcome {
                PacketOutcome::Gap => result.gap_seen = true,
                PacketOutcome::Applied {
                    gap_closed: true, ..
                } => result.gap_closed = true,
                _ => {}
            }
        }
        self.stats.polls_at_budget += 1;
    }
}
