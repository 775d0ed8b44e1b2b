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
    fn release(&mut self, now_ns: u64, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let mut emitted = 0;
        while emitted < budget {
            let Some(due_ns) = self.schedule.take_due(now_ns) else {
                break;
            };
            let mut event = self.feed.next_event();
            event.ts_recv_ns = due_ns;
            event.ts_venue_ns = due_ns;
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

impl Source for ScheduledSource {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        self.release(clock.now_ns(), budget, emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            source.release(now_ns, 64, &mut |event: Event| times.push(event.ts_recv_ns))
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

    // Unpaced, every call is due at the time it is asked.
    #[test]
    fn unpaced_is_always_due() {
        let mut schedule = Schedule::new(0);
        assert!(!schedule.is_paced());
        assert_eq!(schedule.take_due(5), Some(5));
        assert_eq!(schedule.take_due(5), Some(5));
    }
}
