//! Recovery on open: find where the newest segment's log ends, cut a torn
//! tail, refuse mid-log damage.
//!
//! Runs once on the thread calling `Writer::open`, before any append. Every
//! segment but the newest is full by construction (a segment gets its name
//! only when the writer moves into it, after filling the one before), so
//! only the newest is scanned.
//!
//! Rules, with `k` the first slot that is not a valid record:
//! - no such slot: the segment is full;
//! - slot `k` and every later slot are all zero: the clean end;
//! - slot `k` is damaged and every later slot is all zero: a torn tail,
//!   the normal result of a crash mid-write. It is zeroed (so the slot reads
//!   as the clean end again), synced, and reported;
//! - anything non-zero after slot `k`: mid-log damage. Recovery refuses,
//!   naming the file and the byte offset of slot `k`: records past it exist
//!   but the log cannot be trusted across the gap.

use crate::layout::Layout;
use crate::open_check::ClosedCheckReport;
use crate::scan;
use crate::slot::{SlotDamage, SlotState};
use crate::JournalError;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A torn tail that recovery cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    /// Byte offset of the torn frame in its segment.
    pub offset: u64,
    /// The sequence the torn frame would have held (the next append gets it).
    pub seq_lost: u64,
    /// Bytes zeroed (one frame).
    pub bytes_cleared: u64,
    pub damage: SlotDamage,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "journal {}: torn tail at byte offset {} (sequence {}: {}); {} bytes cleared, appending resumes at sequence {}",
            self.path.display(),
            self.offset,
            self.seq_lost,
            self.damage,
            self.bytes_cleared,
            self.seq_lost
        )
    }
}

/// What `Writer::open` found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The segment appends resume in.
    pub segment_path: PathBuf,
    /// Sequence of the next append.
    pub seq_next: u64,
    /// The torn tail cut off, if there was one.
    pub truncation: Option<Truncation>,
    /// Preallocated segments left by an earlier writer and removed.
    pub prealloc_removed: usize,
    /// True when the folder held no segment and a first one was created.
    pub created: bool,
    /// What the check of every closed segment did.
    pub closed: ClosedCheckReport,
}

/// Where the log in a segment ends, and the torn tail if one was cut.
pub(crate) struct SegmentEnd {
    /// Slots holding valid records (the next append goes to this slot).
    pub slot_end: u64,
    pub truncation: Option<Truncation>,
}

/// Scans the newest segment (open read-write) and cuts a torn tail.
pub(crate) fn recover_segment(
    file: &File,
    path: &Path,
    layout: &Layout,
    seq_first: u64,
) -> Result<SegmentEnd, JournalError> {
    let mut buffer = Vec::new();
    let Some(first) = scan::first_invalid(file, path, seq_first, layout, &mut buffer)? else {
        return Ok(SegmentEnd {
            slot_end: layout.slots_per_segment,
            truncation: None,
        });
    };
    let slot_end = first.slot_index;
    let offset = layout.slot_offset(slot_end);
    let seq_expected = seq_first + slot_end;
    if let Some(later_slot) = first.slot_data_after {
        let reason = match first.state {
            SlotState::Damaged(damage) => damage.to_string(),
            _ => "record missing (zero bytes)".to_string(),
        };
        let dir = path.parent().unwrap_or(Path::new(".")).display();
        return Err(JournalError::Corrupt {
            path: path.to_path_buf(),
            offset,
            seq_expected,
            reason: format!(
                "{reason}, and more data follows at byte offset {}: mid-log damage, refusing to truncate by itself. Remedy: see it with `genesis journal verify {dir}`, then cut the journal there with `genesis journal truncate {dir} --first-damage` (records from sequence {seq_expected} on are discarded)",
                layout.slot_offset(later_slot)
            ),
        });
    }
    let truncation = match first.state {
        SlotState::Damaged(damage) => {
            let zeros = vec![0u8; layout.frame_bytes];
            file.write_all_at(&zeros, offset)
                .map_err(JournalError::io(path, "clear torn tail"))?;
            file.sync_data()
                .map_err(JournalError::io(path, "fdatasync after clearing torn tail"))?;
            Some(Truncation {
                path: path.to_path_buf(),
                offset,
                seq_lost: seq_expected,
                bytes_cleared: layout.frame_bytes as u64,
                damage,
            })
        }
        _ => None,
    };
    Ok(SegmentEnd {
        slot_end,
        truncation,
    })
}
