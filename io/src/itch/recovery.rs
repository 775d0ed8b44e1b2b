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
//! - `Retransmitting`: messages are missing; later live datagrams are
//!   buffered, and every hole between `next` and the end of what the
//!   stream announced (before, between and after the buffered datagrams)
//!   is asked for in one pass: one request per contiguous range of at
//!   most `request_count_max` messages, sent back to back, at most
//!   `request_ranges_per_pass_max` ranges, passes no closer than
//!   `request_interval_min_ns`, each range asked again after
//!   `request_retry_ns` without an answer (`RequestPlan`). Answers for
//!   the first hole are applied at once; answers for later holes wait in a
//!   second buffer until the stream reaches them, so several holes heal in
//!   one round trip. No progress for `retransmit_timeout_ns` hands the gap
//!   to a snapshot.
//! - `CatchingUp`: the buffered datagrams (live, and answers to later
//!   holes) continue the stream; they are replayed in sequence order, a
//!   budget per poll, and holes still open are asked for meanwhile.
//! - `SnapshotWanted`: a snapshot is needed; the next attempt starts at its
//!   time (at once, or after the backoff of a failure).
//! - `SnapshotLoading`: a snapshot session runs; every datagram is buffered.
//!
//! Delivery: every message reaches the caller once, as soon as it is here.
//! A live datagram past a gap is handed on when it arrives (the books are
//! stale then; it is not applied yet) and applied later without a second
//! delivery; missing messages are handed on when their retransmission is
//! applied (an answer kept for a later hole, when it is replayed); a
//! snapshot hands on its messages as it rebuilds the books. When a
//! recovery completes, the books may have changed through such silent
//! replays: the caller should republish every book it shows. Two rare
//! cases are applied but not handed on (never handed on twice): a datagram
//! that arrives out of order past a gap, and, without a snapshot source,
//! messages retransmitted after the buffer overflowed that had arrived
//! live before.
//!
//! Invariants: messages reach the books in sequence order, each once (a
//! snapshot replaces the messages before its sequence); the
//! buffers are preallocated and bounded (a live overflow clears them,
//! counts, and restarts the snapshot; an answer that finds no room, or
//! arrives out of order behind a kept one, is dropped, counted and asked
//! for again); the kept answers are in sequence order; the books are stale exactly while an episode
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
use super::request_plan::{PassInput, RequestPlan};
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

/// The recovery state machine of one feed (see the module docs).
#[derive(Debug)]
pub struct Recovery {
    config: RecoveryConfig,
    snapshot_enabled: bool,
    phase: Phase,
    ring: DatagramRing,
    /// Retransmitted datagrams past `next` (answers for later holes), in
    /// sequence order, until the stream reaches them.
    answers: DatagramRing,
    /// One past the last message of the newest kept answer.
    answers_end: u64,
    backoff: JitteredBackoff,
    session: Option<Session>,
    /// One past the highest sequence any datagram announced.
    seen_end: u64,
    /// One past the highest sequence handed to the caller ahead of a gap.
    delivered_end: u64,
    /// Retransmitted messages below this were handed on already (set when
    /// a buffer overflow without a snapshot source drops delivered data).
    silent_below: u64,
    requests: RequestPlan,
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
            answers: DatagramRing::new(config.buffer_bytes_max, config.buffer_datagrams_max),
            answers_end: 0,
            requests: RequestPlan::new(
                config.request_ranges_per_pass_max,
                config.request_interval_min_ns,
            ),
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

    /// Live datagrams waiting in the buffer.
    pub fn buffered_len(&self) -> usize {
        self.ring.len()
    }

    /// Retransmitted datagrams kept for later holes.
    pub fn answers_len(&self) -> usize {
        self.answers.len()
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
        self.requests.mark_changed();
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
            // An answer for a later hole: kept until the stream reaches it.
            self.keep_answer(header, arrival, now_ns);
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

    /// Keep a retransmitted datagram that lies past `next` for its replay,
    /// if it follows the kept ones; otherwise (out of order, a duplicate,
    /// no room, or nothing is missing) it is dropped and counted, and its
    /// range is asked for again when its retry comes.
    fn keep_answer(&mut self, header: &MoldHeader, arrival: Arrival<'_>, now_ns: u64) {
        if self.phase == Phase::Live || header.messages_carried() == 0 {
            return;
        }
        let in_order = self.answers.is_empty() || header.sequence_number >= self.answers_end;
        if !in_order || !self.answers.push(arrival.bytes, arrival.ts_recv_ns) {
            self.stats.retransmissions_dropped += 1;
            return;
        }
        self.answers_end = header.sequence_end();
        self.stats.retransmissions_kept += 1;
        if let Phase::Retransmitting { progress_ns } = &mut self.phase {
            *progress_ns = now_ns;
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
        self.answers.clear();
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
    /// `replay_datagrams_per_poll_max`), in sequence order: live ones
    /// silently (they were handed on when they arrived), kept answers
    /// handing their messages to `on_message` (they were not); then settle
    /// the phase: caught up closes the recovery; a hole goes back to
    /// retransmission.
    pub fn replay<F>(&mut self, feed: &mut ItchFeed, now_ns: u64, on_message: &mut F)
    where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        if !matches!(self.phase, Phase::Retransmitting { .. } | Phase::CatchingUp) {
            return;
        }
        let mut applied_count = 0;
        for _ in 0..self.config.replay_datagrams_per_poll_max {
            let Some(next) = feed.tracker().next_sequence() else {
                break;
            };
            let live_head = self.ring_head_sequence();
            if live_head.is_some_and(|head| head <= next) {
                if let Some((datagram, _)) = self.ring.front() {
                    feed.on_datagram_delivering(datagram, 0..0, |_, _| {});
                }
                self.ring.pop_front();
            } else if head_sequence(&self.answers).is_some_and(|head| head <= next) {
                self.apply_answer(feed, live_head, on_message);
            } else {
                break;
            }
            applied_count += 1;
        }
        if applied_count > 0 {
            self.requests.mark_changed();
        }
        self.settle(feed, now_ns, applied_count > 0);
    }

    /// Apply the oldest kept answer (the stream has reached it), handing on
    /// its messages below the live buffer's head (those at or past it came
    /// live and were handed on then), and drop it.
    fn apply_answer<F>(&mut self, feed: &mut ItchFeed, live_head: Option<u64>, on_message: &mut F)
    where
        F: FnMut(u64, Option<usize>, &ItchMessage),
    {
        let deliver = self.silent_below..live_head.unwrap_or(u64::MAX);
        if let Some((datagram, ts_recv_ns)) = self.answers.front() {
            let outcome = feed.on_datagram_delivering(datagram, deliver, |book_index, message| {
                on_message(ts_recv_ns, book_index, message)
            });
            if let PacketOutcome::Applied { message_count, .. } = outcome {
                self.messages_applied_any = true;
                self.stats.messages_recovered_retransmit += u64::from(message_count);
            }
        }
        self.answers.pop_front();
    }

    /// After a replay: caught up closes the recovery; a head (live or a
    /// kept answer) that fits continues the catch-up; otherwise a hole
    /// waits for retransmission (a new gap when this replay had moved the
    /// stream up to it).
    fn settle(&mut self, feed: &mut ItchFeed, now_ns: u64, replayed: bool) {
        let next = feed.tracker().next_sequence().unwrap_or(0);
        let head = match (self.ring_head_sequence(), head_sequence(&self.answers)) {
            (Some(live), Some(answer)) => Some(live.min(answer)),
            (live, answer) => live.or(answer),
        };
        match head {
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

    /// Time-driven work: a stalled retransmission goes to a snapshot; the
    /// retransmission requests of a pass are returned when one is due (to
    /// be sent back to back, in order; empty when none is).
    pub fn poll(&mut self, feed: &mut ItchFeed, now_ns: u64) -> &[MoldRequest] {
        self.ensure_started(feed, now_ns);
        match self.phase {
            Phase::Retransmitting { progress_ns }
                if self.snapshot_enabled
                    && now_ns.saturating_sub(progress_ns) >= self.config.retransmit_timeout_ns =>
            {
                self.stats.retransmit_timeouts += 1;
                self.phase = Phase::SnapshotWanted {
                    start_at_ns: now_ns,
                };
                &[]
            }
            Phase::Retransmitting { .. } | Phase::CatchingUp => self.request_pass(feed, now_ns),
            _ => &[],
        }
    }

    /// A pass over every hole of `[next, seen_end)` that the buffered
    /// datagrams (live and kept answers) leave, if one is due.
    fn request_pass(&mut self, feed: &ItchFeed, now_ns: u64) -> &[MoldRequest] {
        let (Some(next), Some(session)) = (feed.tracker().next_sequence(), self.session) else {
            return &[];
        };
        let (retry_ns, count_max) = feed.tracker().request_settings();
        if next >= self.seen_end || !self.requests.due(now_ns, retry_ns) {
            return &[];
        }
        let input = PassInput {
            session,
            next,
            end: self.seen_end,
            retry_ns,
            count_max,
            now_ns,
        };
        let covered = merged_by_first(ranges_of(&self.ring), ranges_of(&self.answers));
        let sent = self.requests.pass(input, covered);
        self.stats.requests_sent += sent.len() as u64;
        sent
    }

    /// Sequence number of the oldest buffered live datagram.
    fn ring_head_sequence(&self) -> Option<u64> {
        head_sequence(&self.ring)
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
        self.answers.clear();
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
                self.requests.reset(true);
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
        self.requests.reset(false);
        feed.mark_stale_all(StaleFlags::GAP);
    }

    fn close_episode(&mut self, feed: &mut ItchFeed, now_ns: u64) {
        debug_assert!(self.ring.is_empty(), "caught up means nothing buffered");
        if let Some(started_ns) = self.episode_started_ns.take() {
            self.stats.resyncs += 1;
            self.stats.recovery_last_ns = now_ns.saturating_sub(started_ns);
        }
        self.stats.stale_since_ns = 0;
        self.answers.clear();
        self.requests.reset(false);
        self.phase = Phase::Live;
        feed.clear_stale_all(StaleFlags::GAP | StaleFlags::NOT_SYNCED);
    }
}

/// Sequence number of a buffer's oldest datagram.
fn head_sequence(ring: &DatagramRing) -> Option<u64> {
    let (datagram, _) = ring.front()?;
    MoldHeader::parse(datagram).ok().map(|h| h.sequence_number)
}

/// The messages `[first, end)` each buffered datagram carries, oldest first.
fn ranges_of(ring: &DatagramRing) -> impl Iterator<Item = (u64, u64)> + '_ {
    ring.iter()
        .filter_map(|(datagram, _)| MoldHeader::parse(datagram).ok())
        .map(|header| (header.sequence_number, header.sequence_end()))
}

/// Two runs of ranges, each ordered by first message, as one such run.
fn merged_by_first(
    a: impl Iterator<Item = (u64, u64)>,
    b: impl Iterator<Item = (u64, u64)>,
) -> impl Iterator<Item = (u64, u64)> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y.0 < x.0 => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}
