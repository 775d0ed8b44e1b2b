//! Checking a whole journal folder: every segment header and every record.
//!
//! Runs on the caller's thread with one 4 MiB read buffer, whether or not a
//! writer is live (a live writer's newest segment may show a torn tail).
//! Verify never stops at the first problem: because slot `i` of a segment
//! must hold `seq_first + i`, every slot can be judged on its own, and every
//! damage is listed (the first `DAMAGES_LISTED_MAX`, then counted).
//!
//! Per segment it checks: the header (magic, version, CRC, sizes), that the
//! header's first sequence matches the file name and follows the previous
//! segment, that the file has its full size, and every slot. Every segment
//! but the newest must be full. In the newest, the log ends at the first
//! slot that is not a valid record; a damaged frame there followed only by
//! zeros is a torn tail (reported apart: it is what a crash leaves, and
//! recovery cuts it); any other non-zero byte after the end is damage.

use crate::layout::Layout;
use crate::naming::{self, SegmentFile};
use crate::range::TornTail;
use crate::scan;
use crate::segment;
use crate::slot::SlotState;
use crate::JournalError;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Damages listed in full in a report; more are only counted.
pub const DAMAGES_LISTED_MAX: usize = 1000;

/// One problem verify found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub path: PathBuf,
    /// Byte offset in the file, when the damage is a slot.
    pub offset: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(
                f,
                "{} at byte offset {offset}: {}",
                self.path.display(),
                self.reason
            ),
            None => write!(f, "{}: {}", self.path.display(), self.reason),
        }
    }
}

/// What verify found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: usize,
    /// Valid records.
    pub records: u64,
    /// First and last valid sequence.
    pub seq_first: Option<u64>,
    pub seq_last: Option<u64>,
    /// A torn frame at the very end (not counted as damage).
    pub torn_tail: Option<TornTail>,
    pub damages: Vec<Damage>,
    /// Damages found beyond the first `DAMAGES_LISTED_MAX`.
    pub damages_unlisted: u64,
}

impl VerifyReport {
    /// True when no damage was found (a torn tail alone is clean).
    pub fn is_clean(&self) -> bool {
        self.damages.is_empty()
    }

    fn damage(&mut self, path: &Path, offset: Option<u64>, reason: String) {
        if self.damages.len() < DAMAGES_LISTED_MAX {
            self.damages.push(Damage {
                path: path.to_path_buf(),
                offset,
                reason,
            });
        } else {
            self.damages_unlisted += 1;
        }
    }

    fn record(&mut self, seq: u64) {
        self.records += 1;
        self.seq_first.get_or_insert(seq);
        self.seq_last = Some(seq);
    }
}

/// Checks every segment and record in `dir`. `Err` only when the folder
/// cannot be listed; everything wrong inside it is in the report.
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    let segments = naming::list_segments(dir)?;
    let mut report = VerifyReport {
        segments: segments.len(),
        ..VerifyReport::default()
    };
    let mut layout: Option<Layout> = None;
    let mut seq_first_expected: Option<u64> = None;
    let mut buffer = Vec::new();
    for (index, named) in segments.iter().enumerate() {
        let is_newest = index + 1 == segments.len();
        if let Some(expected) = seq_first_expected {
            if named.seq_first != expected {
                report.damage(
                    &named.path,
                    None,
                    format!("segment starts at sequence {}, the previous segment ends before {expected}: sequences missing or overlapping", named.seq_first),
                );
            }
        }
        let open = match segment::open_segment(&named.path, named.seq_first, false) {
            Ok(open) => open,
            Err(err) => {
                report.damage(&named.path, None, err.to_string());
                seq_first_expected = None;
                continue;
            }
        };
        let segment_layout = match layout {
            Some(layout) => match layout.check_header(&open.header, &open.path) {
                Ok(()) => layout,
                Err(err) => {
                    report.damage(&named.path, None, err.to_string());
                    continue;
                }
            },
            None => match Layout::of_header(&open.header, &open.path) {
                Ok(found) => *layout.insert(found),
                Err(err) => {
                    report.damage(&named.path, None, err.to_string());
                    continue;
                }
            },
        };
        seq_first_expected = Some(named.seq_first + segment_layout.slots_per_segment);
        verify_slots(
            &mut report,
            &open,
            named,
            &segment_layout,
            is_newest,
            &mut buffer,
        )?;
    }
    Ok(report)
}

/// Judges every slot of one segment and adds what it finds to `report`.
fn verify_slots(
    report: &mut VerifyReport,
    open: &segment::OpenSegment,
    named: &SegmentFile,
    layout: &Layout,
    is_newest: bool,
    buffer: &mut Vec<u8>,
) -> Result<(), JournalError> {
    let path = &named.path;
    // Slots that are not valid, in order: damaged ones one by one, empty ones as runs.
    let mut damaged: Vec<(u64, String)> = Vec::new();
    let mut empty_runs: Vec<(u64, u64)> = Vec::new();
    let mut last_valid: Option<u64> = None;
    let read = scan::for_each_slot(
        &open.file,
        path,
        layout,
        named.seq_first,
        0..layout.slots_per_segment,
        buffer,
        |slot_index, state, _| {
            match state {
                SlotState::Valid => {
                    report.record(named.seq_first + slot_index);
                    last_valid = Some(slot_index);
                }
                SlotState::Empty => match empty_runs.last_mut() {
                    Some((_, end)) if *end == slot_index => *end += 1,
                    _ => empty_runs.push((slot_index, slot_index + 1)),
                },
                SlotState::Damaged(damage) => {
                    if damaged.len() <= DAMAGES_LISTED_MAX {
                        damaged.push((slot_index, damage.to_string()));
                    }
                }
            }
            ControlFlow::Continue(())
        },
    );
    if let Err(err) = read {
        report.damage(path, None, err.to_string());
        return Ok(());
    }
    // Everything after the last valid record is the end of the log (newest segment only).
    let end_slot = match (is_newest, last_valid) {
        (false, _) => 0,
        (true, Some(slot)) => slot + 1,
        (true, None) => 0,
    };
    let seq_at = |slot: u64| named.seq_first + slot;
    for &(start, end) in &empty_runs {
        if !is_newest || end <= end_slot {
            report.damage(
                path,
                Some(layout.slot_offset(start)),
                format!(
                    "records {}..={} missing (zero bytes)",
                    seq_at(start),
                    seq_at(end - 1)
                ),
            );
        }
    }
    for (index, (slot, reason)) in damaged.iter().enumerate() {
        let offset = layout.slot_offset(*slot);
        let torn = is_newest && index + 1 == damaged.len() && *slot == end_slot;
        if torn {
            report.torn_tail = Some(TornTail {
                path: path.clone(),
                offset,
                seq: seq_at(*slot),
                reason: reason.clone(),
            });
        } else {
            report.damage(
                path,
                Some(offset),
                format!("sequence {}: {reason}", seq_at(*slot)),
            );
        }
    }
    Ok(())
}
