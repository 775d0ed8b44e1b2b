//! `[snapshot]`: how often the snapshot thread writes the stages' state
//! beside the journal, and how many snapshots it keeps (see `snapshot`).

use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// Run the snapshot thread. Off, no snapshot is written; the ones
    /// already there are still used at start-up.
    pub enabled: bool,
    /// Write a snapshot once this many events were journaled since the last...
    pub events_between: u64,
    /// ...or once this much time passed with at least one new event.
    pub interval_ms: u64,
    /// Newest snapshots kept in `<journal>/snapshots`; older ones are removed.
    pub keep: usize,
}

impl Default for SnapshotConfig {
    fn default() -> SnapshotConfig {
        SnapshotConfig {
            enabled: true,
            // A crash leaves less than this to replay at start: about a quarter
            // second on a shared two-core host (perf/src/bin/restart.rs).
            events_between: 250_000,
            interval_ms: 60_000,
            keep: 3,
        }
    }
}

impl SnapshotConfig {
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        for (key, value) in [
            ("snapshot.events_between", self.events_between),
            ("snapshot.interval_ms", self.interval_ms),
            ("snapshot.keep", self.keep as u64),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        Ok(())
    }
}
