//! Bad input from a feed, logged once per interval: a market-data source
//! hands its cumulative bad-input counters (malformed datagrams, gaps,
//! invalid JSON, off-grid prices, disconnects, ...) to [`BadInputLog::check`]
//! on every poll, and at most once per `metrics.interval_ms` one
//! `tracing::warn!` line names the source and the counters that grew since
//! the last line, with their deltas. Nothing is logged while the feed is clean.
//!
//! Owning thread: the ingest thread, inside its source. Time comes from the
//! `EpochClock` the source is polled with; this type reads no clock.
//!
//! Invariants: no allocation when no counter grew (the clean path is covered
//! by the engine's zero-allocation test); the counters are cumulative and
//! never decrease (a source whose underlying counters restart, such as a
//! Binance book rebuilt on reconnect, accumulates them itself first). A
//! counter that does go down is taken as restarted and logged from zero.

use std::fmt;

/// Remembers what was last logged for `N` named counters of one source.
#[derive(Debug)]
pub struct BadInputLog<const N: usize> {
    source: &'static str,
    names: [&'static str; N],
    logged: [u64; N],
    interval_ns: u64,
    /// No line before this time; 0 until the first line.
    quiet_until_ns: u64,
    lines: u64,
}

impl<const N: usize> BadInputLog<N> {
    /// `source` names the feed in the log line ("itch", "binance-ws", ...);
    /// `names[i]` names counter `i`; lines are at least `interval_ms` apart.
    pub fn new(source: &'static str, names: [&'static str; N], interval_ms: u64) -> Self {
        assert!(
            interval_ms > 0,
            "the bad-input interval is validated positive"
        );
        BadInputLog {
            source,
            names,
            logged: [0; N],
            interval_ns: interval_ms.saturating_mul(1_000_000),
            quiet_until_ns: 0,
            lines: 0,
        }
    }

    /// Compares the counters with what was last logged and, when at least
    /// one grew and no line went out in the last interval, logs one line
    /// with the deltas. `counters` is only called when a line may go out.
    /// Returns the deltas logged, or `None` when nothing was logged.
    #[inline]
    pub fn check(&mut self, now_ns: u64, counters: impl FnOnce() -> [u64; N]) -> Option<[u64; N]> {
        if now_ns < self.quiet_until_ns {
            return None;
        }
        let values = counters();
        let deltas = self.take_deltas(values)?;
        self.quiet_until_ns = now_ns.saturating_add(self.interval_ns);
        self.lines += 1;
        tracing::warn!(
            source = self.source,
            "bad input from the market-data feed since the last report: {}",
            Deltas {
                names: &self.names,
                deltas: &deltas,
            }
        );
        Some(deltas)
    }

    /// How many lines were logged.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The deltas since the last line, if any counter grew; remembers `values`.
    fn take_deltas(&mut self, values: [u64; N]) -> Option<[u64; N]> {
        let mut deltas = [0u64; N];
        let mut grew = false;
        for (index, &value) in values.iter().enumerate() {
            let logged = self.logged[index];
            // A counter that went down restarted: all of its value is new.
            deltas[index] = if value >= logged {
                value - logged
            } else {
                value
            };
            grew |= deltas[index] > 0;
        }
        if !grew {
            return None;
        }
        self.logged = values;
        Some(deltas)
    }
}

/// `name=+delta` for each counter that grew, space separated.
struct Deltas<'a, const N: usize> {
    names: &'a [&'static str; N],
    deltas: &'a [u64; N],
}

impl<const N: usize> fmt::Display for Deltas<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, delta) in self.names.iter().zip(self.deltas) {
            if *delta == 0 {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{name}=+{delta}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn log() -> BadInputLog<3> {
        BadInputLog::new("test", ["gaps", "invalid_json", "off_grid"], 1_000)
    }

    // A clean feed logs nothing, however often it is checked.
    #[test]
    fn silent_when_clean() {
        let mut log = log();
        for step in 0..10 {
            assert_eq!(log.check(step * 500 * MS, || [0, 0, 0]), None);
        }
        assert_eq!(log.lines(), 0);
    }

    // Only the counters that grew are reported, by how much they grew.
    #[test]
    fn reports_deltas_of_grown_counters() {
        let mut log = log();
        assert_eq!(log.check(MS, || [2, 0, 5]), Some([2, 0, 5]));
        assert_eq!(log.check(2_000 * MS, || [3, 0, 5]), Some([1, 0, 0]));
        assert_eq!(log.check(4_000 * MS, || [3, 0, 5]), None, "nothing grew");
        assert_eq!(log.check(5_000 * MS, || [3, 7, 6]), Some([0, 7, 1]));
        let deltas = [0, 7, 1];
        let line = Deltas {
            names: &["gaps", "invalid_json", "off_grid"],
            deltas: &deltas,
        }
        .to_string();
        assert_eq!(line, "invalid_json=+7 off_grid=+1");
    }

    // Growth within an interval of the last line waits for the interval to
    // end and is then reported in one line, nothing lost.
    #[test]
    fn at_most_once_per_interval() {
        let mut log = log();
        assert!(log.check(10 * MS, || [1, 0, 0]).is_some());
        let mut read = false;
        let inside = log.check(500 * MS, || {
            read = true;
            [2, 0, 0]
        });
        assert_eq!(inside, None);
        assert!(!read, "counters are not even read inside the interval");
        assert_eq!(log.check(1_009 * MS, || [3, 0, 0]), None);
        assert_eq!(log.check(1_010 * MS, || [4, 1, 0]), Some([3, 1, 0]));
        assert_eq!(log.lines(), 2);
    }

    // A counter that went down restarted: its whole value is new.
    #[test]
    fn restarted_counter_counts_from_zero() {
        let mut log = log();
        assert!(log.check(MS, || [5, 0, 0]).is_some());
        assert_eq!(log.check(2_000 * MS, || [2, 0, 0]), Some([2, 0, 0]));
    }
}
