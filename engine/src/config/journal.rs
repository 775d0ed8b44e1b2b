//! `[journal]`: where the journal is, how records reach the disk, and
//! how big its segments are.

use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// When journaled events are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalDurability {
    /// Page cache only: the kernel writes back when it likes.
    None,
    /// fdatasync every `group_records` records or `group_interval_us`, whichever first, off the writer's thread.
    Group,
    /// fdatasync at the end of every batch, on the journal's thread.
    Batch,
}

/// How records reach the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalWriteMode {
    /// Straight into a memory map of the preallocated segment.
    Mmap,
    /// Through a buffer written with pwrite.
    Pwrite,
}

/// How much of the closed segments `genesis run` reads at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalClosedCheck {
    /// Every byte of every closed segment against its seal (one sequential
    /// read of the folder): any changed byte refuses the start.
    #[default]
    Full,
    /// Headers, sizes, seals and the chain only (two small reads a
    /// segment); a flipped bit inside a record is found by readers and
    /// `genesis journal verify`, not at start.
    Seals,
}

/// `journal.idle_flush_us` by default: half the default group-commit
/// interval, so under group commit a record waits at most one and a half
/// intervals (plus the `fdatasync`) to be durable; see
/// [`JournalConfig::idle_flush_us`] and docs/journal-format.md.
pub const IDLE_FLUSH_US_DEFAULT: u64 = 500;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Folder of the journal: preallocated segments named by their first
    /// sequence; a restart resumes after the last record.
    pub dir: PathBuf,
    pub durability: JournalDurability,
    pub group_records: u64,
    pub group_interval_us: u64,
    /// Size of each preallocated segment file.
    pub segment_size_mib: u64,
    pub write_mode: JournalWriteMode,
    /// Buffer for `write_mode = "pwrite"`.
    pub buffer_bytes: usize,
    /// `write_mode = "pwrite"`: a `journal-write` thread writes full
    /// buffers (four of `buffer_bytes`), so the journal stage's thread makes
    /// no `pwrite`; a crash can then lose up to four buffers more. Off by
    /// default: it widens that loss five-fold, wants a core the pinned
    /// stages leave free, spends more CPU in all, and showed no paced p99
    /// gain; it helps an unpaced fused run (the race turns it on). See
    /// docs/journal-format.md, "The write thread as the engine's default".
    pub write_thread: bool,
    /// `write_mode = "pwrite"`, on a thread that spins when idle
    /// (`spin-hint`, `busy-spin`): when it runs dry, buffered records are
    /// handed to the page cache (or the write thread) only once the oldest
    /// of them was received this long ago, so a paced feed's bursts share a
    /// `pwrite` instead of making one each; the thread looks again on its
    /// next round of idle work. 0 flushes at every idle moment. A thread
    /// that sleeps, yields or parks when idle flushes before it does,
    /// whatever this says; the engine's stop, a sync and a full buffer
    /// flush at once. A process crash loses at most one buffer, and in
    /// time the records received in the last `idle_flush_us` (plus one
    /// round of idle polls); group commit's durable lag grows by as much.
    pub idle_flush_us: u64,
    /// `fdatasync` the journal when the engine stops.
    pub sync_on_exit: bool,
    /// What the start-up check of closed segments reads.
    pub closed_check: JournalClosedCheck,
}

impl Default for JournalConfig {
    fn default() -> JournalConfig {
        JournalConfig {
            dir: PathBuf::from("genesis-data/journal"),
            durability: JournalDurability::Group,
            group_records: 4_096,
            group_interval_us: 1_000,
            segment_size_mib: 64,
            write_mode: JournalWriteMode::Pwrite,
            buffer_bytes: 256 << 10,
            write_thread: false,
            idle_flush_us: IDLE_FLUSH_US_DEFAULT,
            sync_on_exit: true,
            closed_check: JournalClosedCheck::Full,
        }
    }
}

impl JournalConfig {
    /// A folder, a usable buffer and segment size, and group-commit bounds when grouping.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(invalid(
                "journal.dir",
                "must name a folder, such as \"genesis-data/journal\"".into(),
            ));
        }
        if self.buffer_bytes < 4096 {
            return Err(invalid(
                "journal.buffer_bytes",
                format!("{} is below 4096", self.buffer_bytes),
            ));
        }
        if self.write_thread && self.write_mode != JournalWriteMode::Pwrite {
            return Err(invalid(
                "journal.write_thread",
                "needs write_mode = \"pwrite\" (the map mode has no writes to move)".into(),
            ));
        }
        if self.segment_size_mib == 0 || self.segment_size_mib > 4096 {
            return Err(invalid(
                "journal.segment_size_mib",
                format!("{} is not within 1..=4096", self.segment_size_mib),
            ));
        }
        if self.durability == JournalDurability::Group
            && (self.group_records == 0 || self.group_interval_us == 0)
        {
            return Err(invalid(
                "journal.group_records",
                "group_records and group_interval_us must be positive with durability = \"group\""
                    .into(),
            ));
        }
        Ok(())
    }
}
