//! Which MoldUDP64 retransmission requests to send: every hole between the
//! next expected message and the end of what the stream has announced, one
//! request per contiguous range (split at the request's message-count
//! limit), sent back to back in one pass, so several holes heal in one
//! round trip; each range is asked for again only when its own retry timer
//! runs out.
//!
//! Owning thread: the ingest thread (inside [`super::Recovery`]). It reads
//! no clock and holds no socket: the recovery hands it the covered ranges
//! (what is buffered) and `now_ns`, and sends the requests it returns.
//!
//! Invariants: a pass asks for no message that lies in a covered range or
//! below `next`; each request asks for at least one and at most
//! `count_max` messages; at most `ranges_per_pass_max` ranges are tracked
//! (the first ones from `next`; later holes wait for a later pass); a
//! range asked for less than `retry_ns` ago is not asked for again; passes
//! are at least `interval_min_ns` apart and run only when the holes may
//! have changed or a retry is due. Everything is allocated in
//! [`RequestPlan::new`].

use super::mold::{MoldRequest, Session};

/// One request in flight: the messages `[first, end)` it asked for, and when.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct InFlight {
    first: u64,
    end: u64,
    sent_ns: u64,
}

/// The retransmission requests of one feed (see the module docs).
#[derive(Debug)]
pub(crate) struct RequestPlan {
    in_flight: Box<[InFlight]>,
    in_flight_len: usize,
    /// The next pass's table, built beside the current one.
    scratch: Box<[InFlight]>,
    /// The requests the last pass produced.
    out: Box<[MoldRequest]>,
    out_len: usize,
    interval_min_ns: u64,
    /// When the last pass ran.
    last_pass_ns: Option<u64>,
    /// The holes may have changed since the last pass.
    changed: bool,
}

/// What one pass needs besides the covered ranges.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PassInput {
    pub session: Session,
    /// The next message the books need.
    pub next: u64,
    /// One past the last message the stream announced.
    pub end: u64,
    pub retry_ns: u64,
    pub count_max: u16,
    pub now_ns: u64,
}

impl RequestPlan {
    /// A plan tracking at most `ranges_per_pass_max` ranges, with passes at
    /// least `interval_min_ns` apart.
    pub(crate) fn new(ranges_per_pass_max: usize, interval_min_ns: u64) -> RequestPlan {
        assert!(
            ranges_per_pass_max > 0,
            "a pass asks for at least one range"
        );
        let placeholder = MoldRequest {
            session: Session::default(),
            sequence_number: 0,
            message_count: 0,
        };
        RequestPlan {
            in_flight: vec![InFlight::default(); ranges_per_pass_max].into_boxed_slice(),
            in_flight_len: 0,
            scratch: vec![InFlight::default(); ranges_per_pass_max].into_boxed_slice(),
            out: vec![placeholder; ranges_per_pass_max].into_boxed_slice(),
            out_len: 0,
            interval_min_ns,
            last_pass_ns: None,
            changed: true,
        }
    }

    /// Forget the requests in flight (a new episode, or a snapshot that
    /// replaced the stream); the pass spacing is kept unless `spacing`.
    pub(crate) fn reset(&mut self, spacing: bool) {
        self.in_flight_len = 0;
        self.out_len = 0;
        self.changed = true;
        if spacing {
            self.last_pass_ns = None;
        }
    }

    /// The holes may have changed (a datagram arrived or was applied).
    pub(crate) fn mark_changed(&mut self) {
        self.changed = true;
    }

    /// Ranges in flight now.
    #[cfg(test)]
    pub(crate) fn in_flight_len(&self) -> usize {
        self.in_flight_len
    }

    /// Whether a pass should run at `now_ns`: spaced from the last one, and
    /// the holes may have changed or a range's retry is due.
    pub(crate) fn due(&self, now_ns: u64, retry_ns: u64) -> bool {
        let spaced = self
            .last_pass_ns
            .is_none_or(|last_ns| now_ns.saturating_sub(last_ns) >= self.interval_min_ns);
        let retry_due = self.in_flight[..self.in_flight_len]
            .iter()
            .any(|f| now_ns.saturating_sub(f.sent_ns) >= retry_ns);
        spaced && (self.changed || retry_due)
    }

    /// One pass: walks the holes of `[input.next, input.end)` that
    /// `covered` (ranges `[first, end)` sorted by `first`) leaves, and
    /// returns a request for each range not already in flight within its
    /// retry time, in sequence order.
    pub(crate) fn pass(
        &mut self,
        input: PassInput,
        covered: impl Iterator<Item = (u64, u64)>,
    ) -> &[MoldRequest] {
        debug_assert!(input.count_max > 0, "a request asks for a message");
        self.last_pass_ns = Some(input.now_ns);
        self.changed = false;
        self.out_len = 0;
        let mut table_len = 0;
        let mut from = input.next;
        let mut covered = covered.peekable();
        while from < input.end && table_len < self.scratch.len() {
            // Skip what is covered up to `from`; the next hole ends where
            // the next covered range starts.
            while let Some(&(first, end)) = covered.peek() {
                if first > from {
                    break;
                }
                from = from.max(end);
                covered.next();
            }
            if from >= input.end {
                break;
            }
            let hole_end = covered
                .peek()
                .map_or(input.end, |&(first, _)| first.min(input.end));
            from = self.plan_range(from, hole_end, &input, &mut table_len);
        }
        std::mem::swap(&mut self.in_flight, &mut self.scratch);
        self.in_flight_len = table_len;
        &self.out[..self.out_len]
    }

    /// Plans the range from `first` within a hole ending at `hole_end`,
    /// and returns where it ends: the in-flight request holding `first`
    /// is kept when its retry is not due (the range ends with it);
    /// otherwise a new request asks for up to `count_max` messages, ending
    /// before the next request still in flight.
    fn plan_range(
        &mut self,
        first: u64,
        hole_end: u64,
        input: &PassInput,
        table_len: &mut usize,
    ) -> u64 {
        debug_assert!(first < hole_end, "a hole holds a message");
        let waiting = |f: &&InFlight| input.now_ns.saturating_sub(f.sent_ns) < input.retry_ns;
        let in_flight = &self.in_flight[..self.in_flight_len];
        let (entry, end) = match in_flight
            .iter()
            .filter(waiting)
            .find(|f| f.first <= first && first < f.end)
        {
            Some(&kept) => (kept, hole_end.min(kept.end)),
            None => {
                let next_in_flight = in_flight
                    .iter()
                    .filter(waiting)
                    .filter(|f| f.first > first)
                    .map(|f| f.first)
                    .min()
                    .unwrap_or(u64::MAX);
                let end = hole_end
                    .min(first.saturating_add(u64::from(input.count_max)))
                    .min(next_in_flight);
                self.out[self.out_len] = MoldRequest {
                    session: input.session,
                    sequence_number: first,
                    message_count: (end - first) as u16,
                };
                self.out_len += 1;
                let sent = InFlight {
                    first,
                    end,
                    sent_ns: input.now_ns,
                };
                (sent, end)
            }
        };
        // A request whose range a late datagram split is kept once.
        if *table_len == 0 || self.scratch[*table_len - 1] != entry {
            self.scratch[*table_len] = entry;
            *table_len += 1;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Session = Session(*b"SESSION001");

    fn input(next: u64, end: u64, count_max: u16, now_ns: u64) -> PassInput {
        PassInput {
            session: S,
            next,
            end,
            retry_ns: 1_000,
            count_max,
            now_ns,
        }
    }

    fn ranges(requests: &[MoldRequest]) -> Vec<(u64, u16)> {
        requests
            .iter()
            .map(|r| (r.sequence_number, r.message_count))
            .collect()
    }

    // Three holes between buffered datagrams and one at the tail: one pass
    // asks for all four, back to back; the next pass (nothing changed, no
    // retry due) asks for nothing; after the retry time all four again.
    #[test]
    fn one_pass_asks_for_every_hole() {
        let mut plan = RequestPlan::new(16, 100);
        let covered = [(12, 20), (25, 30), (31, 40)];
        let sent = ranges(plan.pass(input(10, 45, 100, 0), covered.into_iter()));
        assert_eq!(sent, [(10, 2), (20, 5), (30, 1), (40, 5)]);
        assert!(!plan.due(500, 1_000), "nothing changed, no retry due");
        plan.mark_changed();
        assert!(!plan.due(50, 1_000), "within the pass interval");
        assert!(plan.due(500, 1_000));
        assert!(plan
            .pass(input(10, 45, 100, 500), covered.into_iter())
            .is_empty());
        assert!(plan.due(1_000, 1_000), "the retries are due");
        let again = ranges(plan.pass(input(10, 45, 100, 1_000), covered.into_iter()));
        assert_eq!(again, sent);
    }

    // A hole longer than the request limit is asked for in several
    // requests; a partial answer leaves the rest in flight, not re-asked.
    #[test]
    fn a_long_hole_is_split_at_the_count_limit() {
        let mut plan = RequestPlan::new(16, 0);
        let sent = ranges(plan.pass(input(1, 11, 4, 0), std::iter::empty()));
        assert_eq!(sent, [(1, 4), (5, 4), (9, 2)]);
        // Messages 1..3 arrived: the rest is still in flight, not asked again.
        let sent = plan.pass(input(3, 11, 4, 10), std::iter::empty());
        assert!(sent.is_empty(), "{sent:?}");
        assert_eq!(plan.in_flight_len(), 3);
    }

    // More holes than the cap: the first ones are asked for; the rest
    // wait for a later pass.
    #[test]
    fn a_pass_is_capped() {
        let mut plan = RequestPlan::new(2, 0);
        let covered = [(2, 3), (4, 5), (6, 7)];
        let sent = ranges(plan.pass(input(1, 8, 10, 0), covered.into_iter()));
        assert_eq!(sent, [(1, 1), (3, 1)]);
        assert_eq!(plan.in_flight_len(), 2);
        // The first hole was filled: the third one goes out now.
        let sent = ranges(plan.pass(input(2, 8, 10, 1), covered.into_iter()));
        assert_eq!(sent, [(5, 1)]);
    }

    proptest! {
        // With N holes open (any layout, any count limit), one pass sends
        // the requests of all of them: they cover exactly the missing
        // messages, each at most count_max long, in order, and the number
        // of requests is the number of holes' pieces.
        #[test]
        fn one_pass_covers_exactly_the_holes(
            present in proptest::collection::vec(any::<bool>(), 1..300),
            count_max in 1u16..20,
        ) {
            let next = 100u64;
            let end = next + present.len() as u64;
            // Covered ranges: runs of present messages.
            let mut covered = Vec::new();
            let mut index = 0;
            while index < present.len() {
                if present[index] {
                    let start = index;
                    while index < present.len() && present[index] {
                        index += 1;
                    }
                    covered.push((next + start as u64, next + index as u64));
                } else {
                    index += 1;
                }
            }
            let mut expected_requests = 0usize;
            let mut run = 0u64;
            for missing in present.iter().map(|p| !p).chain([false]) {
                if missing {
                    run += 1;
                } else if run > 0 {
                    expected_requests += run.div_ceil(u64::from(count_max)) as usize;
                    run = 0;
                }
            }
            let mut plan = RequestPlan::new(400, 0);
            let sent = plan.pass(input(next, end, count_max, 0), covered.iter().copied()).to_vec();
            prop_assert_eq!(sent.len(), expected_requests);
            let mut asked = vec![false; present.len()];
            let mut last_end = next;
            for request in &sent {
                prop_assert!(request.message_count >= 1 && request.message_count <= count_max);
                prop_assert!(request.sequence_number >= last_end, "in order, no overlap");
                last_end = request.sequence_number + u64::from(request.message_count);
                for sequence in request.sequence_number..last_end {
                    asked[(sequence - next) as usize] = true;
                }
            }
            let missing: Vec<bool> = present.iter().map(|p| !p).collect();
            prop_assert_eq!(asked, missing);
        }
    }
}
