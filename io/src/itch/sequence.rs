//! MoldUDP64 sequence tracking: decides, per packet header, which messages
//! to apply, detects gaps and produces retransmission requests until the gap
//! is filled.
//!
//! Owning thread: the ingest thread. It reads no clock: the caller passes
//! the receive time to [`SequenceTracker::poll_request`].
//!
//! Invariants: messages are applied strictly in sequence order, each once;
//! `next_sequence <= seen_end`; the stream is "in a gap" exactly when
//! `next_sequence < seen_end`, i.e. a packet or heartbeat announced messages
//! that have not been applied. While in a gap, packets beyond
//! `next_sequence` are dropped (counted) rather than buffered, and the
//! request covers everything from `next_sequence` to `seen_end`, so the
//! retransmissions alone bring the stream back in order.

use super::mold::{MoldHeader, MoldRequest, Session};

/// What to do with one downstream packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketVerdict {
    /// Apply the packet's messages from index `skip_count` on; the earlier
    /// ones were applied before. `gap_closed` is true when this packet
    /// filled the last missing message.
    Apply {
        /// Messages at the start of the packet to skip.
        skip_count: u16,
        /// The outstanding gap is now filled.
        gap_closed: bool,
    },
    /// Every message in the packet was applied already.
    Duplicate,
    /// Messages before this packet are missing: nothing applied. `gap_opened`
    /// is true when the stream was in sequence until now.
    Gap {
        /// First packet to reveal the current gap.
        gap_opened: bool,
    },
    /// A heartbeat in sequence.
    Heartbeat,
    /// End of session in sequence: no more messages in this session.
    EndOfSession,
    /// A packet from another session, dropped.
    WrongSession,
}

/// Counters kept by the tracker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceStats {
    /// Gaps opened (stream went from in-sequence to missing messages).
    pub gaps_opened: u64,
    /// Gaps fully filled.
    pub gaps_closed: u64,
    /// Packets whose messages had all been applied already.
    pub packets_duplicate: u64,
    /// Packets dropped because they lay beyond a gap.
    pub packets_beyond_gap: u64,
    /// Packets from another session.
    pub packets_wrong_session: u64,
    /// Retransmission requests produced.
    pub requests_sent: u64,
}

/// Per-stream sequence state.
#[derive(Clone, Debug)]
pub struct SequenceTracker {
    session: Option<Session>,
    /// `None` until the first packet when joining mid-stream.
    next_sequence: Option<u64>,
    seen_end: u64,
    request_sent_ns: Option<u64>,
    request_end: u64,
    request_retry_ns: u64,
    request_count_max: u16,
    stats: SequenceStats,
}

impl SequenceTracker {
    /// Track a stream from `next_sequence` (1 at the start of a session).
    /// Requests ask for at most `request_count_max` messages and are repeated
    /// every `request_retry_ns` until answered.
    pub fn new(next_sequence: u64, request_retry_ns: u64, request_count_max: u16) -> Self {
        assert!(
            request_count_max > 0,
            "a request must ask for at least one message"
        );
        SequenceTracker {
            session: None,
            next_sequence: Some(next_sequence),
            seen_end: next_sequence,
            request_sent_ns: None,
            request_end: 0,
            request_retry_ns,
            request_count_max,
            stats: SequenceStats::default(),
        }
    }

    /// Join a stream mid-session: the first packet's sequence is taken as the
    /// start (the books then need a snapshot for what came before).
    pub fn joining(request_retry_ns: u64, request_count_max: u16) -> Self {
        let mut tracker = SequenceTracker::new(0, request_retry_ns, request_count_max);
        tracker.next_sequence = None;
        tracker
    }

    /// The next sequence number to apply, once known.
    pub fn next_sequence(&self) -> Option<u64> {
        self.next_sequence
    }

    /// The session, once a packet has been seen.
    pub fn session(&self) -> Option<Session> {
        self.session
    }

    /// Whether announced messages are missing.
    pub fn in_gap(&self) -> bool {
        self.next_sequence.is_some_and(|next| next < self.seen_end)
    }

    /// The missing range `[first, end)`, if any.
    pub fn gap(&self) -> Option<(u64, u64)> {
        let next = self.next_sequence?;
        (next < self.seen_end).then_some((next, self.seen_end))
    }

    /// `(request_retry_ns, request_count_max)` as configured.
    pub fn request_settings(&self) -> (u64, u16) {
        (self.request_retry_ns, self.request_count_max)
    }

    /// Counters.
    pub fn stats(&self) -> &SequenceStats {
        &self.stats
    }

    /// Classify one packet header and advance the sequence when it is applied.
    pub fn on_packet(&mut self, header: &MoldHeader) -> PacketVerdict {
        match self.session {
            None => self.session = Some(header.session),
            Some(session) if session != header.session => {
                self.stats.packets_wrong_session += 1;
                return PacketVerdict::WrongSession;
            }
            Some(_) => {}
        }
        let next = *self.next_sequence.get_or_insert(header.sequence_number);
        if self.seen_end < next {
            self.seen_end = next;
        }
        if header.sequence_number > next {
            return self.beyond_gap(header);
        }
        if header.is_heartbeat() {
            return PacketVerdict::Heartbeat;
        }
        if header.is_end_of_session() {
            return PacketVerdict::EndOfSession;
        }
        let end = header.sequence_end();
        if end <= next {
            self.stats.packets_duplicate += 1;
            return PacketVerdict::Duplicate;
        }
        let was_in_gap = self.in_gap();
        let skip_count = (next - header.sequence_number) as u16;
        self.next_sequence = Some(end);
        self.seen_end = self.seen_end.max(end);
        let gap_closed = was_in_gap && !self.in_gap();
        if gap_closed {
            self.stats.gaps_closed += 1;
            self.request_sent_ns = None;
        }
        PacketVerdict::Apply {
            skip_count,
            gap_closed,
        }
    }

    fn beyond_gap(&mut self, header: &MoldHeader) -> PacketVerdict {
        let gap_opened = !self.in_gap();
        if gap_opened {
            self.stats.gaps_opened += 1;
            self.request_sent_ns = None;
        }
        if !header.is_heartbeat() && !header.is_end_of_session() {
            self.stats.packets_beyond_gap += 1;
        }
        // Heartbeats and end of session carry the next expected number, so
        // everything before it is missing; a data packet adds its own messages.
        self.seen_end = self.seen_end.max(header.sequence_end());
        PacketVerdict::Gap { gap_opened }
    }

    /// The retransmission request to send now, if one is due: at once when a
    /// gap opens or the previous request was fully answered, then again every
    /// `request_retry_ns` until the gap is filled.
    pub fn poll_request(&mut self, now_ns: u64) -> Option<MoldRequest> {
        let (first, end) = self.gap()?;
        let session = self.session?;
        let answered = first >= self.request_end;
        let due = match self.request_sent_ns {
            None => true,
            Some(sent_ns) => answered || now_ns.saturating_sub(sent_ns) >= self.request_retry_ns,
        };
        if !due {
            return None;
        }
        let message_count = (end - first).min(u64::from(self.request_count_max)) as u16;
        self.request_sent_ns = Some(now_ns);
        self.request_end = first + u64::from(message_count);
        self.stats.requests_sent += 1;
        Some(MoldRequest {
            session,
            sequence_number: first,
            message_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Session = Session(*b"SESSION001");

    fn header(sequence_number: u64, message_count: u16) -> MoldHeader {
        MoldHeader {
            session: S,
            sequence_number,
            message_count,
        }
    }

    // In-order packets apply; a repeat is a duplicate; an overlap skips.
    #[test]
    fn in_order_duplicate_overlap() {
        let mut t = SequenceTracker::new(1, 1_000, 100);
        assert_eq!(
            t.on_packet(&header(1, 3)),
            PacketVerdict::Apply {
                skip_count: 0,
                gap_closed: false
            }
        );
        assert_eq!(t.on_packet(&header(1, 3)), PacketVerdict::Duplicate);
        assert_eq!(
            t.on_packet(&header(3, 3)),
            PacketVerdict::Apply {
                skip_count: 1,
                gap_closed: false
            }
        );
        assert_eq!(t.next_sequence(), Some(6));
    }

    // Messages 4..6 are lost: a request for 4..=7 goes out, retries after the
    // timeout, and the retransmission closes the gap.
    #[test]
    fn gap_request_and_recovery() {
        let mut t = SequenceTracker::new(1, 1_000, 100);
        t.on_packet(&header(1, 3));
        assert_eq!(
            t.on_packet(&header(6, 2)),
            PacketVerdict::Gap { gap_opened: true }
        );
        assert_eq!(t.gap(), Some((4, 8)));
        let r = t.poll_request(10).unwrap();
        assert_eq!((r.sequence_number, r.message_count), (4, 4));
        assert_eq!(t.poll_request(500), None);
        assert!(t.poll_request(1_010).is_some());
        assert_eq!(
            t.on_packet(&header(8, 1)),
            PacketVerdict::Gap { gap_opened: false }
        );
        assert_eq!(
            t.on_packet(&header(4, 5)),
            PacketVerdict::Apply {
                skip_count: 0,
                gap_closed: true
            }
        );
        assert!(!t.in_gap());
        assert_eq!(t.poll_request(5_000), None);
    }

    // A heartbeat ahead of the stream reveals lost messages.
    #[test]
    fn heartbeat_reveals_gap() {
        let mut t = SequenceTracker::new(1, 1_000, 2);
        assert_eq!(t.on_packet(&header(1, 0)), PacketVerdict::Heartbeat);
        assert_eq!(
            t.on_packet(&header(4, 0)),
            PacketVerdict::Gap { gap_opened: true }
        );
        let r = t.poll_request(0).unwrap();
        assert_eq!((r.sequence_number, r.message_count), (1, 2));
        // The first request was answered; the rest is requested at once.
        t.on_packet(&header(1, 2));
        let r = t.poll_request(1).unwrap();
        assert_eq!((r.sequence_number, r.message_count), (3, 1));
    }

    // Another session's packets are dropped.
    #[test]
    fn wrong_session_dropped() {
        let mut t = SequenceTracker::joining(1_000, 10);
        t.on_packet(&header(50, 1));
        let other = MoldHeader {
            session: Session(*b"OTHERSESSN"),
            ..header(51, 1)
        };
        assert_eq!(t.on_packet(&other), PacketVerdict::WrongSession);
        assert_eq!(t.next_sequence(), Some(51));
    }
}
