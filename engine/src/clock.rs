//! The engine's clock: a calibrated TSC read (`quanta`) anchored to the Unix
//! epoch at start-up. Reading it costs a few nanoseconds, so every stage can
//! time every event. Only thread wrappers and I/O (ingest's sources) read it;
//! stage logic takes time from the event.
//!
//! Kernel receive stamps are CLOCK_REALTIME, a different clock: NTP slews
//! it, and the TSC's calibration drifts from it over a run. Every latency
//! is measured on this clock, so a source converts each kernel stamp with a
//! [`RealtimeBridge`] measured after its reads: the offset between the two
//! clocks read back to back, so a stamp lands on this clock no later than
//! the moment of the conversion (never in the future, so a latency taken
//! from it is never negative), and the drift never accumulates (the
//! offset is measured afresh every poll). The offset is read between two
//! readings of this clock and measured again, up to three times, when
//! they are more than `RX_STAMP_OFFSET_ERROR_NS_MAX` (1 µs) apart: a
//! thread that lost its CPU between the reads would otherwise take an
//! offset off by as long as it waited, and every stamp converted with it
//! (receive stamps, the FIX client's send stamps) would err as much.
//!
//! Every `EpochClock` of a process shares one anchor (taken by the first
//! one made), so stamps read on different threads' clocks (ingest's receive
//! and read stamps, execution's gateway's decision stamp, the FIX client's
//! send stamp) subtract exactly, with no anchor error between them.

// The one module that reads clocks for the engine (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use genesis_io::net::measure_realtime_offset;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The process's anchor: a raw reading and the Unix time read beside it.
static ANCHOR: OnceLock<(quanta::Clock, u64, u64)> = OnceLock::new();

#[derive(Clone, Debug)]
pub struct EpochClock {
    clock: quanta::Clock,
    base_raw: u64,
    base_epoch_ns: u64,
}

impl EpochClock {
    /// The process's clock: the first call anchors it, later ones share the anchor.
    pub fn new() -> EpochClock {
        let (clock, base_raw, base_epoch_ns) = ANCHOR.get_or_init(|| {
            let clock = quanta::Clock::new();
            let base_raw = clock.raw();
            let base_epoch_ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            (clock, base_raw, base_epoch_ns)
        });
        EpochClock {
            clock: clock.clone(),
            base_raw: *base_raw,
            base_epoch_ns: *base_epoch_ns,
        }
    }

    /// A raw counter reading; convert with `epoch_ns` or `delta_ns`.
    #[inline]
    pub fn raw(&self) -> u64 {
        self.clock.raw()
    }

    /// Nanoseconds since the Unix epoch at a raw reading.
    #[inline]
    pub fn epoch_ns(&self, raw: u64) -> u64 {
        self.base_epoch_ns + self.clock.delta_as_nanos(self.base_raw, raw)
    }

    /// Nanoseconds since the Unix epoch, now.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.epoch_ns(self.raw())
    }

    /// Nanoseconds between two raw readings (zero if `end` is earlier).
    #[inline]
    pub fn delta_ns(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        self.clock.delta_as_nanos(start, end)
    }
}

/// Converts CLOCK_REALTIME stamps (the kernel's receive stamps) to an
/// [`EpochClock`]'s epoch ns, with the offset measured at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealtimeBridge {
    /// The epoch clock's reading when the offset was measured.
    now_ns: u64,
    /// That reading minus CLOCK_REALTIME read right after it.
    offset_ns: i64,
}

impl RealtimeBridge {
    /// The bridge of readings taken together: `now_ns` on the epoch clock,
    /// then `realtime_ns` on CLOCK_REALTIME.
    pub fn new(now_ns: u64, realtime_ns: u64) -> RealtimeBridge {
        RealtimeBridge::with_offset(now_ns, i128::from(now_ns) - i128::from(realtime_ns))
    }

    /// Measures a bridge with `clock` (epoch ns): `clock`, CLOCK_REALTIME,
    /// `clock` again, and again up to three times while the two readings
    /// of `clock` are more than `RX_STAMP_OFFSET_ERROR_NS_MAX` apart (the
    /// thread lost its CPU between them); the offset comes from the
    /// narrowest bracket's start, so it errs low (a stamp converts early,
    /// never late) by at most that bracket's width. The bridge's instant
    /// is `clock`'s last reading.
    pub fn measure(clock: &mut impl FnMut() -> u64) -> RealtimeBridge {
        let before_ns = clock();
        let mut now_ns = before_ns;
        let offset_ns = measure_realtime_offset(before_ns, &mut || {
            now_ns = clock();
            now_ns
        });
        RealtimeBridge::with_offset(now_ns, offset_ns)
    }

    fn with_offset(now_ns: u64, offset_ns: i128) -> RealtimeBridge {
        RealtimeBridge {
            now_ns,
            offset_ns: offset_ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        }
    }

    /// A CLOCK_REALTIME stamp taken before the bridge was measured, on the
    /// epoch clock: never later than the bridge's instant (a stamp from a
    /// clock stepped backwards is clamped there).
    #[inline]
    pub fn epoch_ns(&self, realtime_ns: u64) -> u64 {
        let converted = i128::from(realtime_ns) + i128::from(self.offset_ns);
        converted.clamp(0, i128::from(self.now_ns)) as u64
    }

    /// The epoch clock's reading the bridge was measured at.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }
}

impl EpochClock {
    /// Measures a bridge now: this clock, then CLOCK_REALTIME, then this
    /// clock again, guarded against a preemption between the reads (see
    /// [`RealtimeBridge::measure`]; the order keeps a stamp read before the
    /// call at or before the returned now).
    #[inline]
    pub fn realtime_bridge(&self) -> RealtimeBridge {
        RealtimeBridge::measure(&mut || self.now_ns())
    }
}

/// CLOCK_REALTIME now, in ns since the Unix epoch (the kernel stamps' clock).
#[inline]
pub fn realtime_ns() -> u64 {
    genesis_io::net::realtime_ns()
}

impl Default for EpochClock {
    fn default() -> EpochClock {
        EpochClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Stamps convert by the measured offset; one later than the bridge's
    // instant (a clock stepped back) is clamped to it, so no latency taken
    // from a converted stamp is negative.
    #[test]
    fn bridge_converts_and_never_lands_in_the_future() {
        let bridge = RealtimeBridge::new(1_000_000, 5_000_000);
        assert_eq!(bridge.epoch_ns(4_990_000), 990_000);
        assert_eq!(bridge.epoch_ns(5_000_000), 1_000_000);
        assert_eq!(bridge.epoch_ns(6_000_000), 1_000_000, "clamped to now");
        assert_eq!(bridge.epoch_ns(0), 0, "clamped to the epoch");
        let ahead = RealtimeBridge::new(9_000, 1_000);
        assert_eq!(ahead.epoch_ns(900), 8_900);
    }

    // The thread loses its CPU for 10 s between the clock's first reading
    // and CLOCK_REALTIME's: the bracket is measured again, and the offset
    // comes from a narrow one (not 10 s low); it errs low, never high, and
    // a stamp taken before the bridge converts to no later than its now.
    #[test]
    fn a_preempted_bridge_measurement_is_taken_again() {
        const SHIFT_NS: u64 = 7_000_000_000;
        const PREEMPTED_NS: u64 = 10_000_000_000;
        let mut reads = 0;
        let mut clock = || {
            reads += 1;
            let now_ns = realtime_ns() + SHIFT_NS;
            if reads == 1 {
                now_ns - PREEMPTED_NS
            } else {
                now_ns
            }
        };
        let stamp = realtime_ns();
        let bridge = RealtimeBridge::measure(&mut clock);
        assert!(reads >= 3, "a second bracket was read: {reads} readings");
        let error_ns = i128::from(SHIFT_NS) - i128::from(bridge.offset_ns);
        assert!(error_ns >= 0, "the offset errs low, never high: {error_ns}");
        assert!(
            error_ns < 1_000_000_000,
            "measured again: {error_ns} ns low"
        );
        assert!(bridge.epoch_ns(stamp) <= bridge.now_ns());
        assert!(
            bridge.now_ns() >= stamp + SHIFT_NS,
            "now is the last reading"
        );
    }

    // Two clocks made at different times read the same instant alike:
    // they share the process's anchor.
    #[test]
    fn clocks_share_one_anchor() {
        let first = EpochClock::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = EpochClock::new();
        let raw = first.raw();
        assert_eq!(first.epoch_ns(raw), second.epoch_ns(raw));
    }

    // A kernel-like stamp taken just before the bridge converts to within a
    // few milliseconds before the clock's now, however far the two clocks
    // have drifted apart since the epoch clock was anchored.
    #[test]
    fn a_fresh_stamp_converts_to_just_before_now() {
        let clock = EpochClock::new();
        for _ in 0..1_000 {
            let stamp = realtime_ns();
            let bridge = clock.realtime_bridge();
            let converted = bridge.epoch_ns(stamp);
            let latency_ns = clock.now_ns() - converted;
            assert!(latency_ns < 50_000_000, "{latency_ns} ns");
            assert!(converted <= bridge.now_ns());
        }
    }
}
