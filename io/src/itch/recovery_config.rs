//! The recovery's configuration, counters and failure reasons: plain
//! `Copy` values the engine reads per source and exports.
//!
//! Owning thread: any (values). Invariant: every threshold carries its
//! unit in its name.

use super::error::SoupError;
use super::soup::LoginRejectReason;

/// Thresholds and sizes of the recovery; units are in the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// A gap of more missing messages than this (or a first datagram this
    /// far past the expected sequence) is healed from a snapshot when a
    /// snapshot source is configured; smaller ones by retransmission.
    pub snapshot_gap_messages_min: u64,
    /// A retransmission that makes no progress for this long hands the gap
    /// to a snapshot (when a snapshot source is configured).
    pub retransmit_timeout_ns: u64,
    /// Smallest interval between two passes of retransmission requests
    /// (a pass asks for every hole at once).
    pub request_interval_min_ns: u64,
    /// Most ranges one pass asks for (one request each; later holes wait
    /// for a later pass).
    pub request_ranges_per_pass_max: usize,
    /// Bytes of live datagrams the buffer holds.
    pub buffer_bytes_max: usize,
    /// Live datagrams the buffer holds.
    pub buffer_datagrams_max: usize,
    /// Buffered datagrams replayed per poll (bounds the work of one poll).
    pub replay_datagrams_per_poll_max: usize,
    /// Delay before retrying the first failed snapshot; doubles per failure.
    pub snapshot_backoff_initial_ns: u64,
    /// Longest delay between snapshot attempts.
    pub snapshot_backoff_max_ns: u64,
    /// Seed of the backoff's jitter (deterministic tests).
    pub snapshot_backoff_seed: u64,
}

impl Default for RecoveryConfig {
    /// Snapshot past 4,096 missing messages or 50 ms without retransmission
    /// progress; a pass of requests (up to 32 ranges) at most every 1 ms;
    /// 4 MiB / 4,096 datagrams of buffer (about a second of a 100k
    /// messages/s feed), as much again for answers to later holes; 64
    /// replayed per poll; snapshot retries from 10 ms doubling to 2 s.
    fn default() -> RecoveryConfig {
        RecoveryConfig {
            snapshot_gap_messages_min: 4_096,
            retransmit_timeout_ns: 50_000_000,
            request_interval_min_ns: 1_000_000,
            request_ranges_per_pass_max: 32,
            buffer_bytes_max: 4 << 20,
            buffer_datagrams_max: 4_096,
            replay_datagrams_per_poll_max: 64,
            snapshot_backoff_initial_ns: 10_000_000,
            snapshot_backoff_max_ns: 2_000_000_000,
            snapshot_backoff_seed: 0x5EED,
        }
    }
}

/// Why a snapshot attempt failed (it is retried after the backoff).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotFailure {
    /// The connection could not be made (refused, unreachable); raw errno.
    ConnectFailed {
        /// OS error number (0 if unknown).
        errno: i32,
    },
    /// The connection did not complete in time.
    ConnectTimeout,
    /// Nothing arrived for too long.
    IdleTimeout,
    /// The server closed the connection before End of Snapshot.
    Closed,
    /// Reading or writing the socket failed; raw errno.
    Io {
        /// OS error number (0 if unknown).
        errno: i32,
    },
    /// A packet or End of Snapshot that cannot be decoded.
    BadFrame(SoupError),
    /// A packet that has no place at this point of the session.
    UnexpectedPacket {
        /// Its type byte.
        packet_type: u8,
    },
    /// The server refused the login.
    LoginRejected(LoginRejectReason),
    /// End of Session came before End of Snapshot.
    EndOfSession,
    /// Live datagrams overflowed the buffer while the snapshot loaded.
    BufferOverflow,
}

/// Counters of the recovery, read by the engine per source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// Gaps detected (the stream jumped past the next expected message).
    pub gaps: u64,
    /// Recoveries that began before any live message was applied (a late
    /// join), or by joining without a known sequence.
    pub late_joins: u64,
    /// Retransmission requests produced.
    pub requests_sent: u64,
    /// Messages applied from retransmitted datagrams.
    pub messages_recovered_retransmit: u64,
    /// Retransmitted datagrams kept for a later hole until the stream
    /// reached them.
    pub retransmissions_kept: u64,
    /// Retransmitted datagrams past the next hole that could not be kept
    /// (out of order behind a kept one, a duplicate, or no room); their
    /// ranges are asked for again.
    pub retransmissions_dropped: u64,
    /// Gaps handed to a snapshot because retransmission stalled.
    pub retransmit_timeouts: u64,
    /// Snapshot attempts started.
    pub snapshots_requested: u64,
    /// Snapshots applied to the books.
    pub snapshots_applied: u64,
    /// Snapshot attempts that failed (see `snapshot_failure_last`).
    pub snapshots_failed: u64,
    /// Messages applied from snapshots.
    pub snapshot_messages_applied: u64,
    /// Live datagrams put in the buffer.
    pub datagrams_buffered: u64,
    /// Times the buffer overflowed (it is cleared, the snapshot restarted).
    pub buffer_overflows: u64,
    /// Datagrams of another session, dropped.
    pub datagrams_wrong_session: u64,
    /// Recoveries completed: the books were stale and are fresh again.
    pub resyncs: u64,
    /// Caller's clock at the last datagram received (0 before any).
    pub datagram_last_ns: u64,
    /// Caller's clock when the open recovery began (0 when fresh).
    pub stale_since_ns: u64,
    /// How long the last completed recovery took (gap seen to caught up).
    pub recovery_last_ns: u64,
    /// Why the last snapshot attempt failed.
    pub snapshot_failure_last: Option<SnapshotFailure>,
}

/// One datagram as it was read.
#[derive(Clone, Copy, Debug)]
pub struct Arrival<'a> {
    /// The datagram.
    pub bytes: &'a [u8],
    /// Its receive stamp (kernel, or the caller's clock).
    pub ts_recv_ns: u64,
    /// Which socket it came from.
    pub source: DatagramSource,
}

/// Where a datagram came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatagramSource {
    /// The live feed.
    Live,
    /// The request port (an answer to a retransmission request).
    Retransmission,
}
