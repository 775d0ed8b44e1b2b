//! Market-data recovery for a MoldUDP64 ITCH feed, the way Nasdaq feed
//! handlers do it: small gaps are refilled through the request port while
//! live datagrams wait in a bounded buffer; a large gap, a late join or a
//! retransmission that does not come is healed from a GLIMPSE snapshot,
//! after which the buffered datagrams past the snapshot's sequence are
//! applied. From the first missing message until the books have caught up
//! with the live stream, every book is stale.
//!
//! Owning thread: the ingest thread. [`Recovery`] holds no socket and
//! reads no clock: the receiver hands it datagrams, snapshot messages and
//! `now_ns`, and sends the requests it returns and runs the snapshot
//! session it asks for (see `net::MoldReceiver`).
//!
//! Phases:
//! - `Live`: in sequence; datagrams are applied as they come.
//! - `Retransmitting`: messages are missing; requests go to the request
//!   port for `[next, first buffered)`, at most `request_count_max` a time,
//!   no two closer than `request_interval_min_ns`, repeated after
//!   `request_retry_ns`; later live datagrams are buffered. No progress for
//!   `retransmit_timeout_ns` hands the gap to a snapshot.
//! - `CatchingUp`: the buffered datagrams continue the stream; they are
//!   replayed, a budget per poll.
//! - `SnapshotWanted`: a snapshot is needed; the next attempt starts at its
//!   time (at once, or after the backoff of a failure).
//! - `SnapshotLoading`: a snapshot session runs; every datagram is buffered.
//!
//! Delivery: every message reaches the caller once, as soon as it is here.
//! A live datagram past a gap is handed on when it arrives (the books are
//! stale then; it is not applied yet) and applied later without a second
//! delivery; missing messages are handed on when their retransmission is
//! applied; a snapshot hands on its messages as it rebuilds the books. When
//! a recovery completes, the books may have changed through such silent
//! replays: the caller should republish every book it shows. Two rare
//! cases are applied but not handed on (never handed on twice): a datagram
//! that arrives out of order past a gap, and, without a snapshot source,
//! messages retransmitted after the buffer overflowed that had arrived
//! live before.
//!
//! Invariants: messages reach the books in sequence order, each once (a
//! snapshot replaces the messages before its sequence); the
//! buffer is preallocated and bounded (an overflow clears it, counts, and
//! restarts the snapshot); the books are stale exactly while an episode
//! (first gap to caught up) is open; nothing here allocates after
//! [`Recovery::new`].

use super::datagram_ring::DatagramRing;
use super::feed::{ItchFeed, PacketOutcome};
use super::glimpse::{parse_glimpse_message, GlimpseMessage};
use super::message::ItchMessage;
use super::mold::{MoldHeader, MoldPacket, MoldRequest, Session};
use super::recovery_config::{
    Arrival, DatagramSource, RecoveryConfig, RecoveryStats, SnapshotFailure,
};
use crate::book::StaleFlags;
use crate::net::JitteredBackoff;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Live,
    Retransmitting { progress_ns: u64 },
    CatchingUp,
    SnapshotWanted { start_at_ns: u64 },
    SnapshotLoading,
}

#[derive(Clone, Copy, Debug, Default)]
struct RequestState {
    /// When the outstanding request went out (`None`: none outstanding).
    sent_ns: Option<u64>,
    /// When any request last went out (rate bound).
    last_ns: Option<u64>,
    /// One past the last message the outstanding request asked for.
    end: u64,
}

/// The recovery state machine of one feed (see the module docs).
#[derive(Debug)]
pub struct Recovery {
    config: RecoveryConfig,
    snapshot_enabled: bool,
    phase: Phase,
    ring: DatagramRing,
    backoff: JitteredBackoff,
    session: Option<Session>,
    /// One past the highest sequence any datagram announced.
    seen_end: u64,
    /// One past the highest sequence handed to the caller ahead of a gap.
    delivered_end: u64,
    /// Retransmitted messages below this were handed on already (set when
    /// a buffer overflow without a snapshot source drops delivered data).
    silent_below: u64,
    request: RequestState,
    episode_started_ns: Option<u64>,
    started: bool,
    messages_applied_any: bool,
    stats: RecoveryStats,
}

impl Recovery {
    /// Allocate the buffer. `snapshot_enabled`: a snapshot source exists,
    /// so large gaps and late joins go to it.
    pub fn new(config: RecoveryConfig, snapshot_enabled: bool) -> Recovery {
        assert!(
            config.replay_datagrams_per_poll_max > 0,
            "replay at least one datagram per poll"
        );
        Recovery {
            ring: DatagramRing::new(config.buffer_bytes_max, config.buffer_datagrams_max),
            backoff: JitteredBackoff::new(
                config.snapshot_backoff_initial_ns,
                config.snapshot_backoff_max_ns,
                config.snapshot_backoff_seed,
            ),
            config,
            snapshot_enabled,
            phase: Phase::Live,
            session: None,
            seen_end: 0,
            delivered_end: 0,
            silent_below: 0,
            request: RequestState::default(),
            episode_started_ns: None,
            started: false,
            messages_applied_any: false,
            stats: RecoveryStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &RecoveryStats {
        &self.stats
    }

    /// Whether a recovery is open (the books are stale).
    pub fn is_recovering(&self) -> bool {
        self.episode_started_ns.is_some()
    }

    /// Datagrams waiting in the buffer.
    pub fn buffered_len(&self) -> usize {
        self.ring.len()
    }

    /// On the first call: joining without a known sequence, with a
    /// snapshot source, opens a recovery at once (the books are unknown).
    /// Every entry point calls it; the receiver calls it first in each poll.
    pub fn ensure_started(&mut self, feed: &mut ItchFeed, now_ns: u64) {
        if self.started {
            return;
        }
        self.started = true;
        if self.snapshot_enabled && feed.tracker().next_sequence().is_none() {
            self.open_episode(feed, now_ns);
            self.stats.late_joins += 1;
            self.phase = Phase::SnapshotWanted {
                start_at_ns: now_ns,
            };
        }
    }

    /// Take one datagram. It is applied at once when it continues the
    /// stream, buffered when it lies beyond a gap or a snapshot is loading,
    /// and opens a recovery when it reveals a gap.
    pub fn on_datagram<F>(
        &mut self,
        feed: &mut ItchFeed,
        arrival: Arrival<'_>,
        now_ns: u64,
        on_message: &mut F,
    ) where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        self.ensure_started(feed, now_ns);
        self.stats.datagram_last_ns = now_ns;
        let Ok(packet) = MoldPacket::parse(arrival.bytes) else {
            // Counted as malformed by the feed, not sequenced.
            feed.on_datagram(arrival.bytes, |_, _| {});
            return;
        };
        let header = *packet.header();
        if *self.session.get_or_insert(header.session) != header.session {
            self.stats.datagrams_wrong_session += 1;
            return;
        }
        self.seen_end = self.seen_end.max(header.sequence_end());
        match self.phase {
            // Answers to requests made before the snapshot are older than it.
            Phase::SnapshotWanted { .. } | Phase::SnapshotLoading
                if arrival.source == DatagramSource::Retransmission => {}
            Phase::SnapshotWanted { .. } | Phase::SnapshotLoading => {
                self.buffer(feed, &header, arrival, now_ns, on_message);
            }
            Phase::Live | Phase::Retransmitting { .. } | Phase::CatchingUp => {
                self.sequence(feed, &header, arrival, now_ns, on_message)
            }
        }
    }

    fn sequence<F>(
        &mut self,
        feed: &mut ItchFeed,
        header: &MoldHeader,
        arrival: Arrival<'_>,
        now_ns: u64,
        on_message: &mut F,
    ) where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        let next = feed.tracker().next_sequence();
        if next.is_none_or(|next| header.sequence_number <= next) {
            self.apply(feed, arrival, now_ns, on_message);
            return;
        }
        if arrival.source == DatagramSource::Retransmission {
            // Beyond the gap on the request port: the request is repeated.
            return;
        }
        if self.phase == Phase::Live {
            self.open_gap(feed, header, next.unwrap_or(0), now_ns);
        }
        self.buffer(feed, header, arrival, now_ns, on_message);
    }

    /// A live datagram (or heartbeat) beyond `next` while live.
    fn open_gap(&mut self, feed: &mut ItchFeed, header: &MoldHeader, next: u64, now_ns: u64) {
        debug_assert!(header.sequence_number > next, "a gap lies beyond next");
        let missing = header.sequence_number - next;
        self.stats.gaps += 1;
        if !self.messages_applied_any {
            self.stats.late_joins += 1;
        }
        self.open_episode(feed, now_ns);
        self.phase = if self.snapshot_enabled && missing > self.config.snapshot_gap_messages_min {
            Phase::SnapshotWanted {
                start_at_ns: now_ns,
            }
        } else {
            Phase::Retransmitting {
                progress_ns: now_ns,
            }
        };
    }

    fn apply<F>(
        &mut self,
        feed: &mut ItchFeed,
        arrival: Arrival<'_>,
        now_ns: u64,
        on_message: &mut F,
    ) where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        // Buffered datagrams were handed on when they arrived.
        let limit = self.ring_head_sequence().unwrap_or(u64::MAX);
        let deliver = self.silent_below..limit;
        let outcome = feed.on_datagram_delivering(arrival.bytes, deliver, |book_index, message| {
            on_message(arrival.ts_recv_ns, book_index, message)
        });
        if let PacketOutcome::Applied { message_count, .. } = outcome {
            self.messages_applied_any = true;
            if arrival.source == DatagramSource::Retransmission {
                self.stats.messages_recovered_retransmit += u64::from(message_count);
            }
            if let Phase::Retransmitting { progress_ns } = &mut self.phase {
                *progress_ns = now_ns;
            }
        }
    }

    /// Hand a live datagram's new messages to the caller now (stale) and
    /// keep it to apply later; heartbeats carry no messages and are not
    /// kept (their sequence is already in `seen_end`).
    fn buffer<F>(
        &mut self,
        feed: &ItchFeed,
        header: &MoldHeader,
        arrival: Arrival<'_>,
        now_ns: u64,
        on_message: &mut F,
    ) where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        if header.messages_carried() == 0 {
            return;
        }
        let deliver = self.delivered_end..u64::MAX;
        feed.deliver_unapplied(arrival.bytes, deliver, |book_index, message| {
            on_message(arrival.ts_recv_ns, book_index, message)
        });
        self.delivered_end = self.delivered_end.max(header.sequence_end());
        if !self.ring.push(arrival.bytes, arrival.ts_recv_ns) {
            self.overflow(now_ns);
            if !self.ring.push(arrival.bytes, arrival.ts_recv_ns) {
                // Larger than the whole buffer: lost here, re-requested
                // or covered by the snapshot like any other loss.
                return;
            }
        }
        self.stats.datagrams_buffered += 1;
    }

    fn overflow(&mut self, now_ns: u64) {
        self.stats.buffer_overflows += 1;
        self.ring.clear();
        match self.phase {
            Phase::SnapshotLoading => self.snapshot_failed(SnapshotFailure::BufferOverflow, now_ns),
            Phase::SnapshotWanted { .. } => {}
            Phase::Live | Phase::Retransmitting { .. } | Phase::CatchingUp => {
                if self.snapshot_enabled {
                    self.phase = Phase::SnapshotWanted {
                        start_at_ns: now_ns,
                    };
                } else {
                    // No snapshot: retransmission must cover everything,
                    // including what was handed on already.
                    self.silent_below = self.delivered_end;
                    self.phase = Phase::Retransmitting {
                        progress_ns: now_ns,
                    };
                }
            }
        }
    }

    /// Apply buffered datagrams that continue the stream (at most
    /// `replay_datagrams_per_poll_max`), silently (they were handed on when
    /// they arrived), then settle the phase: caught up closes the recovery;
    /// a hole goes back to retransmission.
    pub fn replay(&mut self, feed: &mut ItchFeed, now_ns: u64) {
        if !matches!(self.phase, Phase::Retransmitting { .. } | Phase::CatchingUp) {
            return;
        }
        let mut applied_count = 0;
        for _ in 0..self.config.replay_datagrams_per_poll_max {
            let (Some(next), Some(head)) =
                (feed.tracker().next_sequence(), self.ring_head_sequence())
            else {
                break;
            };
            if head > next {
                break;
            }
            if let Some((datagram, _)) = self.ring.front() {
                feed.on_datagram_delivering(datagram, 0..0, |_, _| {});
            }
            self.ring.pop_front();
            applied_count += 1;
        }
        self.settle(feed, now_ns, applied_count > 0);
    }

    /// After a replay: caught up closes the recovery; a head that fits
    /// continues the catch-up; otherwise a hole waits for retransmission
    /// (a new gap when this replay had moved the stream up to it).
    fn settle(&mut self, feed: &mut ItchFeed, now_ns: u64, replayed: bool) {
        let next = feed.tracker().next_sequence().unwrap_or(0);
        match self.ring_head_sequence() {
            None if next >= self.seen_end => self.close_episode(feed, now_ns),
            Some(head) if head <= next => self.phase = Phase::CatchingUp,
            _ => {
                if replayed || self.phase == Phase::CatchingUp {
                    self.stats.gaps += 1;
                    self.phase = Phase::Retransmitting {
                        progress_ns: now_ns,
                    };
                }
            }
        }
    }

    /// Time-driven work: a stalled retransmission goes to a snapshot; a
    /// retransmission request is returned when one is due.
    pub fn poll(&mut self, feed: &mut ItchFeed, now_ns: u64) -> Option<MoldRequest> {
        self.ensure_started(feed, now_ns);
        let Phase::Retransmitting { progress_ns } = self.phase else {
            return None;
        };
        if self.snapshot_enabled
            && now_ns.saturating_sub(progress_ns) >= self.config.retransmit_timeout_ns
        {
            self.stats.retransmit_timeouts += 1;
            self.phase = Phase::SnapshotWanted {
                start_at_ns: now_ns,
            };
            return None;
        }
        self.request_due(feed, now_ns)
    }

    fn request_due(&mut self, feed: &ItchFeed, now_ns: u64) -> Option<MoldRequest> {
        let first = feed.tracker().next_sequence()?;
        let session = self.session?;
        let end = self.ring_head_sequence().unwrap_or(self.seen_end);
        if first >= end {
            return None;
        }
        let (retry_ns, count_max) = feed.tracker().request_settings();
        let answered = first >= self.request.end;
        let due = match self.request.sent_ns {
            None => true,
            Some(sent_ns) => answered || now_ns.saturating_sub(sent_ns) >= retry_ns,
        };
        let spaced = self.request.last_ns.is_none_or(|last_ns| {
            now_ns.saturating_sub(last_ns) >= self.config.request_interval_min_ns
        });
        if !due || !spaced {
            return None;
        }
        let message_count = (end - first).min(u64::from(count_max)) as u16;
        self.request = RequestState {
            sent_ns: Some(now_ns),
            last_ns: Some(now_ns),
            end: first + u64::from(message_count),
        };
        self.stats.requests_sent += 1;
        Some(MoldRequest {
            session,
            sequence_number: first,
            message_count,
        })
    }

    /// Sequence number of the oldest buffered datagram.
    fn ring_head_sequence(&self) -> Option<u64> {
        let (datagram, _) = self.ring.front()?;
        MoldHeader::parse(datagram).ok().map(|h| h.sequence_number)
    }

    /// Whether a snapshot attempt should start now.
    pub fn snapshot_due(&self, now_ns: u64) -> bool {
        matches!(self.phase, Phase::SnapshotWanted { start_at_ns } if now_ns >= start_at_ns)
    }

    /// Whether a snapshot session should be running.
    pub fn snapshot_loading(&self) -> bool {
        self.phase == Phase::SnapshotLoading
    }

    /// A snapshot attempt starts (the receiver is connecting). Everything
    /// buffered so far was published before the snapshot is taken, so it
    /// is dropped: the buffer only needs what comes during the snapshot.
    pub fn snapshot_started(&mut self) {
        assert!(
            matches!(self.phase, Phase::SnapshotWanted { .. }),
            "a snapshot starts only when one is wanted"
        );
        self.ring.clear();
        self.phase = Phase::SnapshotLoading;
        self.stats.snapshots_requested += 1;
    }

    /// The snapshot server accepted the login: the books are rebuilt from here.
    pub fn snapshot_login_accepted(&mut self, feed: &mut ItchFeed) {
        debug_assert!(self.snapshot_loading(), "login accepted while loading");
        feed.begin_snapshot();
    }

    /// One sequenced message of the snapshot session: an ITCH message is
    /// applied to the books; End of Snapshot completes the snapshot
    /// (`Ok(true)`); an undecodable End of Snapshot fails it.
    pub fn snapshot_message<F>(
        &mut self,
        feed: &mut ItchFeed,
        message: &[u8],
        ts_recv_ns: u64,
        on_message: &mut F,
    ) -> Result<bool, SnapshotFailure>
    where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        debug_assert!(self.snapshot_loading(), "snapshot data while loading");
        match parse_glimpse_message(message).map_err(SnapshotFailure::BadFrame)? {
            GlimpseMessage::Itch(body) => {
                feed.apply_snapshot_message(body, |book_index, m| {
                    on_message(ts_recv_ns, book_index, m)
                });
                self.stats.snapshot_messages_applied += 1;
                Ok(false)
            }
            GlimpseMessage::EndOfSnapshot { next_sequence } => {
                feed.finish_snapshot(next_sequence);
                self.seen_end = self.seen_end.max(next_sequence);
                self.stats.snapshots_applied += 1;
                self.backoff.reset();
                self.request = RequestState::default();
                self.phase = Phase::CatchingUp;
                Ok(true)
            }
        }
    }

    /// The snapshot attempt failed: count it and retry after the backoff.
    /// The books stay stale (and may be half rebuilt) until a snapshot succeeds.
    pub fn snapshot_failed(&mut self, failure: SnapshotFailure, now_ns: u64) {
        self.stats.snapshots_failed += 1;
        self.stats.snapshot_failure_last = Some(failure);
        let delay_ns = self.backoff.next_delay_ns();
        self.phase = Phase::SnapshotWanted {
            start_at_ns: now_ns.saturating_add(delay_ns),
        };
    }

    fn open_episode(&mut self, feed: &mut ItchFeed, now_ns: u64) {
        if self.episode_started_ns.is_none() {
            self.episode_started_ns = Some(now_ns);
            self.stats.stale_since_ns = now_ns;
        }
        self.request = RequestState {
            last_ns: self.request.last_ns,
            ..RequestState::default()
        };
        feed.mark_stale_all(StaleFlags::GAP);
    }

    fn close_episode(&mut self, feed: &mut ItchFeed, now_ns: u64) {
        debug_assert!(self.ring.is_empty(), "caught up means nothing buffered");
        if let Some(started_ns) = self.episode_started_ns.take() {
            self.stats.resyncs += 1;
            self.stats.recovery_last_ns = now_ns.saturating_sub(started_ns);
        }
        self.stats.stale_since_ns = 0;
        self.request = RequestState {
            last_ns: self.request.last_ns,
            ..RequestState::default()
        };
        self.phase = Phase::Live;
        feed.clear_stale_all(StaleFlags::GAP | StaleFlags::NOT_SYNCED);
    }
}
