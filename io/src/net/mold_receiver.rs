//! The subscriber side of a MoldUDP64 stream: reads datagrams, up to 16
//! per `recvmmsg` system call, into one preallocated buffer with the
//! kernel's receive stamps, hands them to the
//! feed's [`Recovery`] (which applies them to the [`ItchFeed`] in sequence
//! or buffers them past a gap), sends the retransmission requests it asks
//! for to the venue's request port (every hole at once, back to back), and
//! runs the GLIMPSE snapshot session it asks for over SoupBinTCP.
//!
//! Owning thread: the ingest thread, which calls [`MoldReceiver::poll`] on
//! every loop iteration (whether or not the reactor reported readiness:
//! reads stop at a budget, and edge-triggered readiness would not fire
//! again for datagrams left queued).
//!
//! Two sockets: the feed socket (bound to the stream's port) and the
//! request socket (an ephemeral port that sends requests and receives the
//! retransmitted packets, which the venue sends back to the requester).
//! While a recovery is open the request socket is drained first, so
//! retransmissions that close a gap are applied before newer feed packets
//! are looked at; otherwise (nothing was asked) it is read only on one poll
//! in [`REQUEST_DRAIN_EVERY_POLLS`], which keeps an empty `recvmsg` out of
//! every poll and so out of the market data's receive → read. A third, the
//! snapshot connection, exists only while a snapshot loads.
//!
//! Receive stamps: both sockets ask the kernel for `SO_TIMESTAMPNS` (or
//! software `SO_TIMESTAMPING`) at bind; `ts_recv_ns` is then when the
//! kernel received the datagram (CLOCK_REALTIME ns), so time spent waiting
//! in the socket counts. Where the kernel refuses, or a datagram comes
//! without a stamp, the caller's clock is read right after the read; how
//! each socket fared is in [`MoldReceiver::rx_stamping`] (log it once) and
//! unstamped datagrams are counted.
//!
//! Recovery (see [`Recovery`]): by default gaps are refilled through the
//! request port with live datagrams buffered meanwhile;
//! [`MoldReceiver::configure_recovery`] sets the thresholds and a snapshot
//! server, which large gaps, late joins and stalled retransmissions then
//! use. While recovering, every book is stale.
//!
//! One `recvmmsg` reads what is waiting: a poll that finds one datagram
//! makes one system call, not a `recvmsg` for it and a second that finds
//! the socket empty (the datagram's events wait for that second call
//! before ingest hands them on).
//!
//! Invariants: no allocation per datagram (the buffer is 16 slots of 64
//! KiB, each larger than any UDP payload, so nothing is truncated; the recovery buffer is
//! preallocated); the caller's clock is read once per poll for timeouts
//! (and per datagram only when the kernel gave no stamp).
//!
//! Bad-input and error policy: malformed datagrams, gaps, duplicates and
//! other sessions follow [`ItchFeed`]'s and [`Recovery`]'s policies (skip,
//! count, re-request). A receive error other than `WouldBlock` (e.g.
//! `ECONNREFUSED` echoed by an ICMP error after a request was sent to a
//! closed port) is counted and the socket is read again next poll. A
//! request the socket refuses is counted; it is repeated after the retry
//! interval. A snapshot session that fails is counted and retried with
//! backoff.

use super::error::NetError;
use super::options::{OptionsReport, SocketOptions};
use super::reactor::bind_udp;
use super::rx_stamp::{enable_rx_stamps, RxStamping};
use super::soup_client::{SoupClient, SoupClientConfig, SoupClientStats, SoupEvent};
use super::sys::{recv_batch_stamped, RECV_BATCH_MAX};
use crate::itch::{
    Arrival, DatagramSource, ItchFeed, ItchMessage, Recovery, RecoveryConfig, RecoveryStats,
    SnapshotFailure,
};
use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use std::net::SocketAddr;

/// Larger than the largest UDP payload (65507 bytes over IPv4).
const RECV_BUFFER_BYTES: usize = 64 * 1024;
/// Outside a recovery, the request socket is read on one poll in this many.
pub const REQUEST_DRAIN_EVERY_POLLS: u32 = 64;

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
    /// Datagrams the kernel did not stamp (stamped from the caller's clock).
    pub datagrams_stamped_user: u64,
}

/// What one [`MoldReceiver::poll`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceivePoll {
    /// Datagrams read.
    pub datagram_count: usize,
    /// A gap was detected (books are stale).
    pub gap_seen: bool,
    /// A recovery completed: the books caught up and are fresh again.
    pub gap_closed: bool,
    /// Retransmission requests sent (one pass asks for every hole at once).
    pub requests_sent: usize,
    /// A snapshot was applied to the books.
    pub snapshot_applied: bool,
    /// A snapshot attempt failed (it is retried after the backoff).
    pub snapshot_failed: bool,
}

/// MoldUDP64 subscriber: feed socket, request socket, recovery.
#[derive(Debug)]
pub struct MoldReceiver {
    feed_socket: UdpSocket,
    request_socket: UdpSocket,
    request_server_addr: SocketAddr,
    buffer: Box<[u8]>,
    datagrams_per_poll_max: usize,
    reports: [OptionsReport; 2],
    stamping: [RxStamping; 2],
    stats: ReceiverStats,
    recovery: Recovery,
    snapshot: Option<SoupClient>,
    /// Polls since the request socket was last drained outside a recovery.
    polls_since_request_drain: u32,
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
        let stamping = [
            enable_rx_stamps(&feed_socket),
            enable_rx_stamps(&request_socket),
        ];
        Ok(MoldReceiver {
            feed_socket,
            request_socket,
            request_server_addr: config.request_server_addr,
            buffer: vec![0u8; RECV_BATCH_MAX * RECV_BUFFER_BYTES].into_boxed_slice(),
            datagrams_per_poll_max: config.datagrams_per_poll_max,
            reports: [feed_report, request_report],
            stamping,
            stats: ReceiverStats::default(),
            recovery: Recovery::new(RecoveryConfig::default(), false),
            snapshot: None,
            polls_since_request_drain: 0,
        })
    }

    /// Set the recovery thresholds and, with `snapshot`, the GLIMPSE
    /// server that heals large gaps, late joins and stalled
    /// retransmissions. Call before the first poll (it starts afresh).
    pub fn configure_recovery(
        &mut self,
        config: RecoveryConfig,
        snapshot: Option<SoupClientConfig>,
    ) {
        self.recovery = Recovery::new(config, snapshot.is_some());
        self.snapshot = snapshot.map(SoupClient::new);
    }

    /// Recovery counters (gaps, retransmission, snapshots, buffer, resyncs).
    pub fn recovery_stats(&self) -> &RecoveryStats {
        self.recovery.stats()
    }

    /// Whether a recovery is open (every book is stale).
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_recovering()
    }

    /// The snapshot client's counters, when a snapshot server is configured.
    pub fn snapshot_client_stats(&self) -> Option<&SoupClientStats> {
        self.snapshot.as_ref().map(SoupClient::stats)
    }

    /// How receive times are taken: `[feed, request]` (log once).
    pub fn rx_stamping(&self) -> [RxStamping; 2] {
        self.stamping
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

    /// Read what is waiting (retransmissions first, then the feed), pass
    /// it through the recovery to `feed`, run the snapshot session if one
    /// is due, replay buffered datagrams, then send a retransmission
    /// request if one is due. `on_message(ts_recv_ns, book_index, message)`
    /// sees every applied message once, in sequence order (snapshot
    /// messages in the snapshot's order); `clock` returns nanoseconds and
    /// is read once per poll for timeouts.
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
        let now_ns = clock();
        self.recovery.ensure_started(feed, now_ns);
        let before = *self.recovery.stats();
        let mut result = ReceivePoll::default();
        if self.request_drain_due() {
            self.drain(
                Which::Request,
                feed,
                now_ns,
                clock,
                &mut on_message,
                &mut result,
            );
        }
        self.drain(
            Which::Feed,
            feed,
            now_ns,
            clock,
            &mut on_message,
            &mut result,
        );
        self.poll_snapshot(feed, now_ns, clock, &mut on_message);
        self.recovery.replay(feed, now_ns, &mut on_message);
        result.requests_sent = self.send_requests_if_due(feed, now_ns);
        let after = self.recovery.stats();
        result.gap_seen = after.gaps > before.gaps;
        result.gap_closed = after.resyncs > before.resyncs;
        result.snapshot_applied = after.snapshots_applied > before.snapshots_applied;
        result.snapshot_failed = after.snapshots_failed > before.snapshots_failed;
        result
    }

    /// Whether this poll reads the request socket: always while a recovery
    /// is open (retransmissions then come first), otherwise every
    /// [`REQUEST_DRAIN_EVERY_POLLS`]th poll (late or stray answers), so a
    /// quiet feed's poll makes one `recvmsg`, not two.
    fn request_drain_due(&mut self) -> bool {
        self.polls_since_request_drain += 1;
        if self.recovery.is_recovering()
            || self.polls_since_request_drain >= REQUEST_DRAIN_EVERY_POLLS
        {
            self.polls_since_request_drain = 0;
            return true;
        }
        false
    }

    /// Send the recovery's retransmission requests if a pass is due at
    /// `now_ns`, back to back (one per hole); returns how many the socket took.
    pub fn send_requests_if_due(&mut self, feed: &mut ItchFeed, now_ns: u64) -> usize {
        let mut sent = 0;
        for request in self.recovery.poll(feed, now_ns) {
            match self
                .request_socket
                .send_to(&request.encode(), self.request_server_addr)
            {
                Ok(_) => {
                    self.stats.requests_sent += 1;
                    sent += 1;
                }
                Err(_) => self.stats.request_send_errors += 1,
            }
        }
        sent
    }

    /// Start, drive or end the snapshot session as the recovery wants.
    fn poll_snapshot<C, F>(
        &mut self,
        feed: &mut ItchFeed,
        now_ns: u64,
        clock: &mut C,
        on_message: &mut F,
    ) where
        C: FnMut() -> u64,
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        let Some(client) = self.snapshot.as_mut() else {
            return;
        };
        let recovery = &mut self.recovery;
        if !recovery.snapshot_loading() {
            // Ended by a buffer overflow (or done): stop the old session.
            if !client.is_idle() {
                client.close();
            }
            if !recovery.snapshot_due(now_ns) {
                return;
            }
            recovery.snapshot_started();
            if let Err(failure) = client.connect(now_ns) {
                recovery.snapshot_failed(failure, now_ns);
                return;
            }
        }
        let mut complete = false;
        let mut bad: Option<SnapshotFailure> = None;
        let failure = client.poll(now_ns, clock, |event| match event {
            SoupEvent::LoginAccepted { .. } => {
                recovery.snapshot_login_accepted(feed);
                true
            }
            SoupEvent::Sequenced {
                message,
                ts_recv_ns,
            } => match recovery.snapshot_message(feed, message, ts_recv_ns, on_message) {
                Ok(done) => {
                    complete = done;
                    !done
                }
                Err(failure) => {
                    bad = Some(failure);
                    false
                }
            },
        });
        if complete {
            client.logout();
        } else if let Some(failure) = bad.or(failure) {
            client.close();
            recovery.snapshot_failed(failure, now_ns);
        }
    }

    fn drain<C, F>(
        &mut self,
        which: Which,
        feed: &mut ItchFeed,
        now_ns: u64,
        clock: &mut C,
        on_message: &mut F,
        result: &mut ReceivePoll,
    ) where
        C: FnMut() -> u64,
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        let (socket, source) = match which {
            Which::Request => (&self.request_socket, DatagramSource::Retransmission),
            Which::Feed => (&self.feed_socket, DatagramSource::Live),
        };
        let mut remaining = self.datagrams_per_poll_max;
        while remaining > 0 {
            let mut received = [(0usize, None); RECV_BATCH_MAX];
            let batch = remaining.min(RECV_BATCH_MAX);
            let slots = (&mut self.buffer, RECV_BUFFER_BYTES);
            let count = match recv_batch_stamped(socket, slots.0, slots.1, &mut received[..batch]) {
                Ok(count) => count,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.stats.recv_errors += 1;
                    remaining -= 1;
                    continue;
                }
            };
            for (index, &(length, stamp)) in received[..count].iter().enumerate() {
                let ts_recv_ns = stamp.unwrap_or_else(|| {
                    self.stats.datagrams_stamped_user += 1;
                    clock()
                });
                match which {
                    Which::Request => self.stats.retransmit_datagrams += 1,
                    Which::Feed => self.stats.feed_datagrams += 1,
                }
                self.stats.bytes_received += length as u64;
                result.datagram_count += 1;
                let start = index * RECV_BUFFER_BYTES;
                let arrival = Arrival {
                    bytes: &self.buffer[start..start + length.min(RECV_BUFFER_BYTES)],
                    ts_recv_ns,
                    source,
                };
                self.recovery.on_datagram(feed, arrival, now_ns, on_message);
            }
            remaining -= count;
            if count < batch {
                return; // the socket had no more
            }
        }
        self.stats.polls_at_budget += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::{ItchFeedConfig, StockSymbol};
    use std::time::{Duration, Instant};

    fn receiver_and_feed() -> (MoldReceiver, ItchFeed) {
        let loopback: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
        let receiver = MoldReceiver::bind(MoldReceiverConfig {
            feed_bind_addr: loopback,
            request_bind_addr: loopback,
            request_server_addr: "127.0.0.1:9".parse().expect("literal address"),
            options: SocketOptions::default(),
            datagrams_per_poll_max: 64,
        })
        .expect("bound on loopback");
        let feed = ItchFeed::new(ItchFeedConfig {
            symbols: vec![StockSymbol::from_str_padded("TEST").expect("a valid symbol")],
            orders_max: 16,
            levels_max: 16,
            next_sequence: Some(1),
            request_retry_ns: u64::MAX,
            request_count_max: 1,
        });
        (receiver, feed)
    }

    // Outside a recovery the request socket is read on one poll in
    // REQUEST_DRAIN_EVERY_POLLS: a stray datagram there waits, and is
    // read (never lost) within that many polls.
    #[test]
    fn the_request_socket_is_read_now_and_then_outside_a_recovery() {
        let (mut receiver, mut feed) = receiver_and_feed();
        let mut clock = || 1_000_u64;
        receiver.poll(&mut feed, &mut clock, |_, _, _| {});
        assert!(!receiver.is_recovering(), "nothing was missed");
        let stray = std::net::UdpSocket::bind("127.0.0.1:0").expect("a sender");
        let target = receiver.request_socket.local_addr().expect("bound");
        stray.send_to(b"stray", target).expect("sent on loopback");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut byte = [0u8; 8];
        while receiver.request_socket.peek(&mut byte).is_err() {
            assert!(Instant::now() < deadline, "the datagram never arrived");
            std::thread::yield_now();
        }
        receiver.poll(&mut feed, &mut clock, |_, _, _| {});
        assert_eq!(receiver.stats().retransmit_datagrams, 0, "not read at once");
        for _ in 0..REQUEST_DRAIN_EVERY_POLLS {
            receiver.poll(&mut feed, &mut clock, |_, _, _| {});
        }
        assert_eq!(
            receiver.stats().retransmit_datagrams,
            1,
            "read within the period"
        );
    }

    // Forty datagrams waiting (more than two batches of RECV_BATCH_MAX)
    // are all read, every one whole and stamped by the kernel.
    #[test]
    fn waiting_datagrams_are_read_in_batches() {
        let (mut receiver, mut feed) = receiver_and_feed();
        let mut clock = || 1_000_u64;
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("a sender");
        let target = receiver.feed_socket.local_addr().expect("bound");
        let datagrams = 40u64;
        for index in 0..datagrams {
            let mut datagram = vec![0u8; 20 + index as usize];
            datagram[..10].copy_from_slice(b"SESSION001");
            datagram[10..18].copy_from_slice(&(1_000 + index).to_be_bytes());
            sender.send_to(&datagram, target).expect("sent on loopback");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut read = 0;
        while read < datagrams {
            assert!(
                Instant::now() < deadline,
                "{read} of {datagrams} datagrams read"
            );
            read += receiver
                .poll(&mut feed, &mut clock, |_, _, _| {})
                .datagram_count as u64;
            std::thread::yield_now();
        }
        let stats = receiver.stats();
        assert_eq!(stats.feed_datagrams, datagrams);
        let bytes: u64 = (0..datagrams).map(|index| 20 + index).sum();
        assert_eq!(stats.bytes_received, bytes, "every datagram whole");
        assert_eq!(stats.datagrams_stamped_user, 0, "every one kernel-stamped");
    }
}
