//! `DrainOptions`: chunk size, timeouts, backoff and what to register, shared
//! by the offline and the live drain. Plain data, set once at start-up.

use crate::loader::FaultInjection;
use crate::schema::InstrumentRow;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct DrainOptions {
    /// Events per chunk (one transaction each).
    pub chunk_events: usize,
    pub connect_timeout: Duration,
    /// How long the live drain sleeps when the journal has nothing new.
    pub poll_interval: Duration,
    /// First wait after a failed connection or chunk; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Partitions created ahead of today, at connect and each new day.
    pub partitions_ahead_days: u32,
    /// Written to `instruments` at connect (from config: `InstrumentRow::from_config`).
    pub instruments: Vec<InstrumentRow>,
    /// Tests only: abort one chunk's COPY part way.
    pub fault: Option<FaultInjection>,
}

/// Default events per chunk.
pub const CHUNK_EVENTS_DEFAULT: usize = 10_000;

impl Default for DrainOptions {
    fn default() -> DrainOptions {
        DrainOptions {
            chunk_events: CHUNK_EVENTS_DEFAULT,
            connect_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            partitions_ahead_days: 3,
            instruments: Vec::new(),
            fault: None,
        }
    }
}
