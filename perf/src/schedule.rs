//! The load generator: a fixed-rate schedule, corrected for coordinated
//! omission, and the in-process source that feeds it to ingest.
//!
//! Every event is stamped with the time it was *scheduled* (`ts_recv_ns` and
//! `ts_venue_ns`), not the time it was produced, so every latency the stages
//! record counts from the schedule: an engine that falls behind is charged
//! for the wait of every event behind it. The schedule never restarts when it
//! is late (unlike the engine's own synthetic feed), for the same reason.
//!
//! The pipeline comparisons drive every variant in-process through
//! [`ScheduledSource`], so Genesis and the baselines get identical input and
//! no socket's noise; the engine's own socket path (ITCH over UDP, WebSocket,
//! FIX out) is measured beside them in the report's loopback section
//! (`crate::loopback`).

use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::event::Event;
use genesis_engine::ingest::synthetic::Synthetic;
use genesis_engine::ingest::Source;

/// When each message is due. A rate of zero means "as fast as taken".
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    interval_ns: u64,
    /// Due time of the next message; zero until the first `take_due`.
    due_ns: u64,
}

impl Schedule {
    pub fn new(rate_per_sec: u64) -> Schedule {
        Schedule {
            interval_ns: 1_000_000_000u64
                .checked_div(rate_per_sec)
                .map_or(0, |ns| ns.max(1)),
            due_ns: 0,
        }
    }

    pub fn is_paced(&self) -> bool {
        self.interval_ns > 0
    }

    /// The scheduled time of the next message if it is due by `now_ns`.
    /// The schedule starts at the first call; unpaced, every call is due now.
    #[inline]
    pub fn take_due(&mut self, now_ns: u64) -> Option<u64> {
        if self.interval_ns == 0 {
            return Some(now_ns);
        }
        if self.due_ns == 0 {
            self.due_ns = now_ns;
        }
        if self.due_ns > now_ns {
            return None;
        }
        let due_ns = self.due_ns;
        self.due_ns += self.interval_ns;
        Some(due_ns)
    }
}

/// Market data from the engine's synthetic random walk, released on a
/// [`Schedule`] and stamped with the scheduled time.
pub struct ScheduledSource {
    schedule: Schedule,
    feed: Synthetic,
}

impl ScheduledSource {
    /// Uses the config's instruments and seed; `rate_per_sec = 0` is unpaced.
    pub fn new(config: &Config, rate_per_sec: u64) -> ScheduledSource {
        let mut unpaced = config.clone();
        unpaced.market_data.rate_per_sec = 0;
        ScheduledSource {
            schedule: Schedule::new(rate_per_sec),
            feed: Synthetic::new(&unpaced),
        }
    }
}

impl ScheduledSource {
    /// Releases, at `now_ns`, up to `budget` messages due by then, oldest
    /// first, each stamped with its scheduled time. After a stall the
    /// backlog leaves at once, a budget per poll, in order.
    ///
    /// Each message is written into one slot on this frame and lent to
    /// `emit`: ingest, then a fused sink, work on it there, and the sink
    /// may leave its decisions in it, so the walk writes every field of
    /// the next one. Both `Source` polls take this path.
    #[inline(always)]
    fn release(&mut self, now_ns: u64, budget: usize, mut emit: impl FnMut(&mut Event)) -> usize {
        let mut event = Event::EMPTY;
        let mut emitted = 0;
        while emitted < budget {
            let Some(due_ns) = self.schedule.take_due(now_ns) else {
                break;
            };
            self.feed.fill_next(&mut event);
            event.ts_recv_ns = due_ns;
            event.ts_venue_ns = due_ns;
            emit(&mut event);
            emitted += 1;
        }
        emitted
    }
}

impl Source for ScheduledSource {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        self.release(clock.now_ns(), budget, |event| emit(*event))
    }

    /// The path ingest takes: no copy of the event between the walk and
    /// the sink.
    fn poll_in_place(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        self.release(clock.now_ns(), budget, emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_engine::testing::scribble_every_field;
    use genesis_engine::EventKind;

    // A late poll gets every message it missed, each with its own scheduled time.
    #[test]
    fn late_messages_keep_their_scheduled_times() {
        let mut schedule = Schedule::new(1_000_000); // one per µs
        assert_eq!(schedule.take_due(10_000), Some(10_000));
        assert_eq!(schedule.take_due(10_000), None);
        assert_eq!(schedule.take_due(13_500), Some(11_000));
        assert_eq!(schedule.take_due(13_500), Some(12_000));
        assert_eq!(schedule.take_due(13_500), Some(13_000));
        assert_eq!(schedule.take_due(13_500), None);
    }

    // After a stall the source releases the whole backlog in schedule
    // order, a full budget per poll, none twice and none skipped, and once
    // caught up it releases nothing before its time: a late poll is never
    // slow to resume, and never runs ahead.
    #[test]
    fn a_stalled_source_releases_its_backlog_in_order_a_budget_per_poll() {
        let mut source = ScheduledSource::new(&Config::builtin(), 1_000_000); // one per µs
        let mut times = Vec::new();
        let mut take = |source: &mut ScheduledSource, now_ns: u64| {
            source.release(now_ns, 64, |event: &mut Event| times.push(event.ts_recv_ns))
        };
        assert_eq!(
            take(&mut source, 1_000_000),
            1,
            "the schedule starts at the first poll"
        );
        // A 300 µs stall: 300 messages are due, released 64, 64, 64, 64, 44.
        let polls: Vec<usize> = (0..6).map(|_| take(&mut source, 1_300_000)).collect();
        assert_eq!(polls, vec![64, 64, 64, 64, 44, 0]);
        assert_eq!(take(&mut source, 1_300_999), 0, "nothing before its time");
        assert_eq!(take(&mut source, 1_301_000), 1);
        let expected: Vec<u64> = (0..=301).map(|k| 1_000_000 + k * 1_000).collect();
        assert_eq!(times, expected);
    }

    /// The events a source gives over these polls (`now_ns` of each), as
    /// the in-place path lends them (read, then scribbled over).
    fn lent(source: &mut ScheduledSource, polls_ns: &[u64]) -> Vec<Event> {
        let mut events = Vec::new();
        for &now_ns in polls_ns {
            source.release(now_ns, 64, |event: &mut Event| {
                events.push(*event);
                scribble_every_field(event);
            });
        }
        events
    }

    // The in-place path gives the events the by-value path gave before it
    // (the walk's `next_event`, stamped with the schedule's due times),
    // field by field, paced (with a stall and a backlog) and unpaced,
    // trade prints included, though the sink scribbles on every event it
    // is lent.
    #[test]
    fn the_in_place_path_gives_the_by_value_events() {
        let polls_ns: Vec<u64> = [1_000_000, 1_000_500, 1_300_000, 1_300_000, 1_300_000]
            .into_iter()
            .chain((0..20).map(|k| 1_300_000 + k * 10_000))
            .collect();
        for rate_per_sec in [1_000_000, 0] {
            let config = Config::builtin();
            let mut source = ScheduledSource::new(&config, rate_per_sec);
            let events = lent(&mut source, &polls_ns);
            let mut unpaced = config.clone();
            unpaced.market_data.rate_per_sec = 0;
            let mut walk = Synthetic::new(&unpaced);
            let mut schedule = Schedule::new(rate_per_sec);
            let mut expected = Vec::new();
            for &now_ns in &polls_ns {
                for _ in 0..64 {
                    let Some(due_ns) = schedule.take_due(now_ns) else {
                        break;
                    };
                    let mut event = walk.next_event();
                    event.ts_recv_ns = due_ns;
                    event.ts_venue_ns = due_ns;
                    expected.push(event);
                }
            }
            assert!(
                expected.len() > 300,
                "{rate_per_sec}/s: the polls release a backlog"
            );
            let trades = expected
                .iter()
                .filter(|event| event.kind == EventKind::Trade)
                .count();
            assert!(
                trades > 30,
                "{rate_per_sec}/s: trade prints among them ({trades})"
            );
            assert_eq!(events.len(), expected.len(), "{rate_per_sec}/s");
            for (index, (event, expected)) in events.iter().zip(&expected).enumerate() {
                assert_eq!(event, expected, "{rate_per_sec}/s, event {index}");
            }
        }
    }

    // Through the `Source` trait, on the clock: `poll_in_place` and `poll`
    // give the same walk, in the same order, each stamped with its due
    // time (unpaced, the poll's read).
    #[test]
    fn poll_in_place_and_poll_give_the_same_walk() {
        let clock = EpochClock::new();
        let config = Config::builtin();
        let mut in_place = ScheduledSource::new(&config, 0);
        let mut by_value = ScheduledSource::new(&config, 0);
        let (mut lent, mut given) = (Vec::new(), Vec::new());
        for _ in 0..8 {
            in_place.poll_in_place(&clock, 64, &mut |event| {
                lent.push(*event);
                scribble_every_field(event);
            });
            by_value.poll(&clock, 64, &mut |event| given.push(event));
        }
        assert_eq!(lent.len(), 8 * 64);
        assert_eq!(given.len(), 8 * 64);
        for (index, (lent, given)) in lent.iter().zip(&given).enumerate() {
            assert_eq!(lent.ts_recv_ns, lent.ts_venue_ns, "event {index}");
            let unstamped = |event: &Event| Event {
                ts_recv_ns: 0,
                ts_venue_ns: 0,
                ..*event
            };
            assert_eq!(unstamped(lent), unstamped(given), "event {index}");
        }
    }

    // Unpaced, every call is due at the time it is asked.
    #[test]
    fn unpaced_is_always_due() {
        let mut schedule = Schedule::new(0);
        assert!(!schedule.is_paced());
        assert_eq!(schedule.take_due(5), Some(5));
        assert_eq!(schedule.take_due(5), Some(5));
    }
}
