//! The engine's clock: a calibrated TSC read (`quanta`) anchored to the Unix
//! epoch at start-up. Reading it costs a few nanoseconds, so every stage can
//! time every event. Only thread wrappers and I/O (ingest's sources) read it;
//! stage logic takes time from the event.

// The one module that reads clocks for the engine (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct EpochClock {
    clock: quanta::Clock,
    base_raw: u64,
    base_epoch_ns: u64,
}

impl EpochClock {
    pub fn new() -> EpochClock {
        let clock = quanta::Clock::new();
        let base_raw = clock.raw();
        let base_epoch_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        EpochClock {
            clock,
            base_raw,
            base_epoch_ns,
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

impl Default for EpochClock {
    fn default() -> EpochClock {
        EpochClock::new()
    }
}
