//! Checking a whole journal folder: every segment header and every record.
//!
//! Runs on the caller's thread with one 4 MiB read buffer, whether or not a
//! writer is live (a live writer's newest segment may show a torn tail).
//! Verify never stops at the first problem: because slot `i` of a segment
//! must hold `seq_first + i`, every slot can be judged on its own, and every
//! damage is listed (the first `DAMAGES_LISTED_MAX`, then counted).
//!
//! Per segment, plain or compressed, it checks: the header (magic, version,
//! CRC, sizes), that the header's first sequence matches the file name,
//! that the file has its full size, every slot, and a closed segment's seal
//! (CRC32C of its body). Every segment but the newest must be full. In the
//! newest, the log ends at the first slot that is not a valid record; a
//! damaged frame there followed only by zeros is a torn tail (reported
//! apart: it is what a crash leaves, and recovery cuts it); any other
//! non-zero byte after the end is damage. Then the chain: no segment
//! missing from the journal's first sequence (or the archive boundary) to
//! the newest, and the newest neither sealed nor compressed (else a later
//! one is missing).
//!
//! A folder with no journal in it (none of these files) is not "clean":
//! it is the `NoJournal` error.

use crate::chain::Folder;
use crate::layout::Layout;
use crate::naming::SegmentFile;
use crate::range::TornTail;
use crate::scan;
use crate::seal::Seal;
use crate::segment::{self, OpenSegment};
use crate::slot::SlotState;
use crate::source::ReadAt;
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
    /// Segments found, plain and compressed.
    pub segments: usize,
    /// Of which compressed (`.gjseg.gz`).
    pub compressed: usize,
    /// Closed segments whose body matched their seal.
    pub seals_checked: usize,
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

/// Checks every segment (plain and compressed) and record in `dir`, the
/// chain of segments and every seal. `Err(NoJournal)` when the folder does
/// not exist or holds no journal at all; `Err` otherwise only when the
/// folder cannot be listed. Everything wrong inside it is in the report.
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    let folder = load_folder(dir)?;
    let segments = &folder.segments;
    let mut report = VerifyReport {
        segments: segments.len(),
        compressed: segments.iter().filter(|s| s.compressed).count(),
        ..VerifyReport::default()
    };
    if segments.is_empty() {
        report.damage(
            dir,
            None,
            "the folder holds no segment, but its seal log or archive boundary says segments were written: they were removed".into(),
        );
        return Ok(report);
    }
    let mut layout: Option<Layout> = None;
    let mut buffer = Vec::new();
    for (index, listed) in segments.iter().enumerate() {
        let is_newest = index + 1 == segments.len();
        let mut open = match segment::open_listed(listed) {
            Ok(open) => open,
            Err(err) => {
                report.damage(&listed.path, None, err.to_string());
                continue;
            }
        };
        let checked = match layout {
            Some(layout) => layout
                .check_header(&open.header, &open.path)
                .map(|()| layout),
            None => Layout::of_header(&open.header, &open.path),
        };
        let segment_layout = match checked {
            Ok(found) => *layout.get_or_insert(found),
            Err(err) => {
                report.damage(&listed.path, None, err.to_string());
                continue;
            }
        };
        let seal = (!is_newest)
            .then(|| folder.seal_of(listed.seq_first))
            .flatten();
        verify_segment(
            &mut report,
            &mut open,
            listed,
            &segment_layout,
            is_newest,
            seal,
            &mut buffer,
        )?;
    }
    if let (Some(layout), Some(seq_origin)) = (layout, folder.seq_origin()) {
        for problem in folder.chain_problems(layout.slots_per_segment, seq_origin) {
            report.damage(&problem.path, None, problem.reason);
        }
    }
    Ok(report)
}

/// The folder's contents; `NoJournal` when there is no journal to verify.
fn load_folder(dir: &Path) -> Result<Folder, JournalError> {
    let no_journal = |reason: &str| JournalError::NoJournal {
        path: dir.to_path_buf(),
        reason: reason.to_string(),
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(no_journal("the folder does not exist"))
        }
        Ok(meta) if !meta.is_dir() => return Err(no_journal("it is not a folder")),
        _ => {}
    }
    let folder = Folder::load(dir)?;
    if folder.segments.is_empty() && !folder.remembers_segments() {
        return Err(no_journal(
            "the folder holds no segment file (*.gjseg, or *.gjseg.gz compressed by archive)",
        ));
    }
    Ok(folder)
}

/// Judges every slot of one segment and checks a closed one against its seal.
fn verify_segment(
    report: &mut VerifyReport,
    open: &mut OpenSegment,
    listed: &SegmentFile,
    layout: &Layout,
    is_newest: bool,
    seal: Option<&Seal>,
    buffer: &mut Vec<u8>,
) -> Result<(), JournalError> {
    let damages_before = report.damages.len() as u64 + report.damages_unlisted;
    let body_crc = verify_slots(report, open, listed, layout, is_newest, buffer);
    let damaged = report.damages.len() as u64 + report.damages_unlisted > damages_before;
    let (Some(seal), Some(body_crc), false) = (seal, body_crc, damaged) else {
        return Ok(());
    };
    report.seals_checked += 1;
    let expected = Seal::of_full_segment(layout, listed.seq_first, open.header.crc(), body_crc);
    if *seal != expected {
        report.damage(
            &listed.path,
            None,
            format!(
                "the segment does not match its seal (sealed body CRC32C {:#010x}, header CRC32C {:#010x}; found {body_crc:#010x}, {:#010x}): it changed after it was closed",
                seal.body_crc,
                seal.header_crc,
                open.header.crc()
            ),
        );
    }
    Ok(())
}

/// What one pass over a segment's slots found (valid records go straight
/// into the report).
struct SlotScan {
    /// Slots that are not valid, in order: damaged ones one by one, empty ones as runs.
    damaged: Vec<(u64, String)>,
    empty_runs: Vec<(u64, u64)>,
    last_valid: Option<u64>,
    /// CRC32C of every byte after the header, for the seal.
    body_crc: u32,
}

fn scan_slots(
    report: &mut VerifyReport,
    open: &mut OpenSegment,
    listed: &SegmentFile,
    layout: &Layout,
    buffer: &mut Vec<u8>,
) -> Result<SlotScan, JournalError> {
    let mut scan = SlotScan {
        damaged: Vec::new(),
        empty_runs: Vec::new(),
        last_valid: None,
        body_crc: 0,
    };
    scan::for_each_slot(
        &mut open.source,
        &listed.path,
        layout,
        listed.seq_first,
        0..layout.slots_per_segment,
        buffer,
        |slot_index, state, frame| {
            scan.body_crc = crc32c::crc32c_append(scan.body_crc, frame);
            match state {
                SlotState::Valid => {
                    report.record(listed.seq_first + slot_index);
                    scan.last_valid = Some(slot_index);
                }
                SlotState::Empty => match scan.empty_runs.last_mut() {
                    Some((_, end)) if *end == slot_index => *end += 1,
                    _ => scan.empty_runs.push((slot_index, slot_index + 1)),
                },
                SlotState::Damaged(damage) => {
                    if scan.damaged.len() <= DAMAGES_LISTED_MAX {
                        scan.damaged.push((slot_index, damage.to_string()));
                    }
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    // The bytes after the last whole slot belong to the body too.
    let remainder_offset = layout.slot_offset(layout.slots_per_segment);
    let mut remainder = vec![0u8; (layout.segment_size_bytes - remainder_offset) as usize];
    let got = open
        .source
        .read_up_to_at(&mut remainder, remainder_offset)
        .map_err(JournalError::io(&listed.path, "read segment"))?;
    remainder[got..].fill(0);
    scan.body_crc = crc32c::crc32c_append(scan.body_crc, &remainder);
    Ok(scan)
}

/// Judges every slot of one segment and adds what it finds to `report`;
/// returns the CRC32C of the body when the segment could be read.
fn verify_slots(
    report: &mut VerifyReport,
    open: &mut OpenSegment,
    listed: &SegmentFile,
    layout: &Layout,
    is_newest: bool,
    buffer: &mut Vec<u8>,
) -> Option<u32> {
    let path = &listed.path;
    let scan = match scan_slots(report, open, listed, layout, buffer) {
        Ok(scan) => scan,
        Err(err) => {
            report.damage(path, None, err.to_string());
            return None;
        }
    };
    // Everything after the last valid record is the end of the log (newest segment only).
    let end_slot = match (is_newest, scan.last_valid) {
        (false, _) => 0,
        (true, Some(slot)) => slot + 1,
        (true, None) => 0,
    };
    let seq_at = |slot: u64| listed.seq_first + slot;
    for &(start, end) in &scan.empty_runs {
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
    for (index, (slot, reason)) in scan.damaged.iter().enumerate() {
        let offset = layout.slot_offset(*slot);
        let torn = is_newest && index + 1 == scan.damaged.len() && *slot == end_slot;
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
    Some(scan.body_crc)
}
