//! The chain of segments: what a journal folder holds (segments plain and
//! compressed, the seal log, the archive boundary), whether its segments
//! follow each other without a gap from the journal's first sequence, and
//! whether a closed segment is still what it was when it was sealed.
//!
//! Shared by `Writer::open` (which refuses the first problem), `verify`
//! (which lists them all) and `truncate` (which cuts before them). Runs on
//! the caller's thread and only reads.
//!
//! The rules: the first live segment starts at the journal's first
//! sequence, or at the archive boundary once `archive` moved older ones
//! out; each next segment starts exactly `slots_per_segment` after the one
//! before; every segment but the newest is full and sealed; the newest is
//! never sealed (a seal is written only once its successor exists) and
//! never compressed.

use crate::boundary;
use crate::layout::Layout;
use crate::naming::{self, SegmentFile};
use crate::scan;
use crate::seal::{self, Loaded, Seal};
use crate::segment;
use crate::slot::SlotState;
use crate::source::ReadAt;
use crate::JournalError;
use std::path::{Path, PathBuf};

/// Everything a journal folder says about its own extent.
pub(crate) struct Folder {
    pub dir: PathBuf,
    pub segments: Vec<SegmentFile>,
    pub seals: Loaded,
    /// First sequence left live by `archive`, if it moved segments out.
    pub boundary: Option<u64>,
}

/// Whether cutting the journal can get past a problem, or only restoring files can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fix {
    /// Restore the file, or cut the journal before the problem.
    RestoreOrCut,
    /// The journal's beginning is gone: only restoring files helps.
    RestoreOnly,
}

/// One thing wrong with the chain or a closed segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: PathBuf,
    pub reason: String,
    pub fix: Fix,
}

impl Problem {
    fn new(path: PathBuf, reason: String, fix: Fix) -> Problem {
        Problem { path, reason, fix }
    }

    /// The error `Writer::open` refuses with: the file, what is wrong, and the remedy.
    pub fn into_error(self, dir: &Path) -> JournalError {
        let dir = dir.display();
        let file = self.path.display();
        let remedy = match self.fix {
            Fix::RestoreOrCut => format!(
                "list every damage with `genesis journal verify {dir}`; then restore {file} from a backup, or cut the journal at its first damage with `genesis journal truncate {dir} --first-damage` (every record from there on is discarded)"
            ),
            Fix::RestoreOnly => format!(
                "restore the missing segment(s) into {dir} from a backup or the archive folder; `genesis journal archive` records what it moves out in {dir}/ARCHIVED, segments removed by hand are not recorded"
            ),
        };
        JournalError::Damaged {
            path: self.path,
            reason: self.reason,
            remedy,
        }
    }
}

impl Folder {
    /// Reads the folder in the order that keeps a live writer and a
    /// concurrent `archive` from making a clean journal look damaged: the
    /// seals before the listing (a seal is appended only after its segment's
    /// successor exists, so a segment sealed in between still shows its
    /// successor), the archive boundary after it (the boundary is raised
    /// before a segment moves out, so one moved in between is covered).
    pub fn load(dir: &Path) -> Result<Folder, JournalError> {
        let seals = seal::load(dir)?;
        let segments = naming::list_all_segments(dir)?;
        let boundary = boundary::load(dir)?;
        Ok(Folder {
            dir: dir.to_path_buf(),
            segments,
            seals,
            boundary,
        })
    }

    /// The seals, when the seal log is readable.
    pub fn seal_of(&self, seq_first: u64) -> Option<&Seal> {
        match &self.seals {
            Loaded::Found(log) => log.seals.get(&seq_first),
            _ => None,
        }
    }

    /// Whether any file says segments existed (seals, archive boundary).
    pub fn remembers_segments(&self) -> bool {
        self.boundary.is_some()
            || matches!(&self.seals, Loaded::Found(log) if !log.seals.is_empty())
    }

    /// The journal's first sequence: from the seal log, else the first
    /// version-3 segment header, else (a journal written before seals) the
    /// first segment present.
    pub fn seq_origin(&self) -> Option<u64> {
        if let Loaded::Found(log) = &self.seals {
            return Some(log.header.seq_origin);
        }
        let from_header = self.segments.iter().find_map(|listed| {
            let open = segment::open_listed(listed).ok()?;
            (open.header.seq_origin != 0).then_some(open.header.seq_origin)
        });
        from_header.or_else(|| self.segments.first().map(|s| s.seq_first))
    }

    /// Problems with which segments are present: a missing beginning, a
    /// gap, a misplaced segment, a newest segment that was sealed or
    /// compressed (so segments after it are missing). In sequence order.
    pub fn chain_problems(&self, slots_per_segment: u64, seq_origin: u64) -> Vec<Problem> {
        let mut problems = Vec::new();
        let Some(first) = self.segments.first() else {
            return problems;
        };
        let seq_first_expected = self.boundary.map_or(seq_origin, |b| b.max(seq_origin));
        if first.seq_first > seq_first_expected {
            problems.push(Problem::new(
                first.path.clone(),
                format!(
                    "sequences {seq_first_expected}..={} are missing: the journal starts at sequence {seq_origin}{}, but its first segment starts at {}: segment(s) before it were removed",
                    first.seq_first - 1,
                    self.boundary.map_or(String::new(), |b| format!(" (segments before {b} were archived)")),
                    first.seq_first
                ),
                Fix::RestoreOnly,
            ));
        }
        let misplaced = |seq_first: u64| {
            seq_first < seq_origin || !(seq_first - seq_origin).is_multiple_of(slots_per_segment)
        };
        for pair in self.segments.windows(2) {
            let (prev, next) = (&pair[0], &pair[1]);
            let seq_expected = prev.seq_first + slots_per_segment;
            if misplaced(next.seq_first) || next.seq_first < seq_expected {
                problems.push(Problem::new(
                    next.path.clone(),
                    format!(
                        "segment starts at sequence {}, not on the journal's {slots_per_segment}-record grid from {seq_origin}: it overlaps {}",
                        next.seq_first,
                        prev.path.display()
                    ),
                    Fix::RestoreOrCut,
                ));
            } else if next.seq_first > seq_expected {
                problems.push(Problem::new(
                    naming::segment_path(&self.dir, seq_expected),
                    format!(
                        "sequences {seq_expected}..={} are missing: the segment after {} is not in the folder (the next one present is {})",
                        next.seq_first - 1,
                        prev.path.display(),
                        next.path.display()
                    ),
                    Fix::RestoreOrCut,
                ));
            }
        }
        self.newest_problem(slots_per_segment, &mut problems);
        problems
    }

    /// A sealed or compressed newest segment: its successor existed and is gone.
    fn newest_problem(&self, slots_per_segment: u64, problems: &mut Vec<Problem>) {
        let Some(newest) = self.segments.last() else {
            return;
        };
        let why = if self.seal_of(newest.seq_first).is_some() {
            "is sealed"
        } else if newest.compressed {
            "is compressed"
        } else {
            return;
        };
        let seq_missing = newest.seq_first + slots_per_segment;
        problems.push(Problem::new(
            naming::segment_path(&self.dir, seq_missing),
            format!(
                "the newest segment {} {why}, so a segment after it was written, and it is missing (sequences from {seq_missing} on)",
                newest.path.display()
            ),
            Fix::RestoreOrCut,
        ));
    }
}

/// Checks one closed segment: against its seal when it has one (the header
/// CRC and record count, and with `read_body` the CRC32C of every byte
/// after the header), or record by record when it has none. Returns the
/// seal an unsealed segment earns when every record is valid.
pub(crate) fn check_closed(
    listed: &SegmentFile,
    layout: &Layout,
    seq_origin: u64,
    seal: Option<&Seal>,
    read_body: bool,
    buffer: &mut Vec<u8>,
) -> Result<Option<Seal>, Problem> {
    let damaged = |reason: String| Problem::new(listed.path.clone(), reason, Fix::RestoreOrCut);
    let mut open = segment::open_listed(listed).map_err(|e| damaged(e.to_string()))?;
    layout
        .check_header(&open.header, &open.path)
        .map_err(|e| damaged(e.to_string()))?;
    if open.header.seq_origin != 0 && open.header.seq_origin != seq_origin {
        return Err(damaged(format!(
            "the header says the journal starts at sequence {}, this journal starts at {seq_origin}: the segment belongs to another journal",
            open.header.seq_origin
        )));
    }
    let header_crc = open.header.crc();
    let Some(seal) = seal else {
        check_every_slot(&mut open.source, listed, layout, buffer).map_err(damaged)?;
        let body_crc = body_crc(&mut open.source, listed, layout, buffer).map_err(damaged)?;
        return Ok(Some(Seal::of_full_segment(
            layout,
            listed.seq_first,
            header_crc,
            body_crc,
        )));
    };
    let expected = Seal::of_full_segment(layout, listed.seq_first, header_crc, seal.body_crc);
    if *seal != expected {
        return Err(damaged(format!(
            "the segment does not match its seal: sealed with header CRC32C {:#010x} and records {}..={} ({}), found header CRC32C {header_crc:#010x} and records {}..={}",
            seal.header_crc,
            seal.seq_first,
            seal.seq_last,
            seal.records,
            expected.seq_first,
            expected.seq_last
        )));
    }
    if read_body && !listed.compressed {
        let body_crc = body_crc(&mut open.source, listed, layout, buffer).map_err(damaged)?;
        if body_crc != seal.body_crc {
            return Err(damaged(format!(
                "the CRC32C of its body is {body_crc:#010x}, it was sealed as {:#010x}: the segment changed after it was closed",
                seal.body_crc
            )));
        }
    }
    Ok(None)
}

fn body_crc(
    source: impl ReadAt,
    listed: &SegmentFile,
    layout: &Layout,
    buffer: &mut Vec<u8>,
) -> Result<u32, String> {
    match scan::body_crc(source, &listed.path, layout, buffer) {
        Ok(Some(crc)) => Ok(crc),
        Ok(None) => Err("the segment is shorter than its header says".into()),
        Err(err) => Err(err.to_string()),
    }
}

/// Every slot of a closed segment must hold its record.
fn check_every_slot(
    source: impl ReadAt,
    listed: &SegmentFile,
    layout: &Layout,
    buffer: &mut Vec<u8>,
) -> Result<(), String> {
    let first = scan::first_invalid(source, &listed.path, listed.seq_first, layout, buffer)
        .map_err(|e| e.to_string())?;
    let Some(first) = first else {
        return Ok(());
    };
    let what = match first.state {
        SlotState::Damaged(damage) => damage.to_string(),
        _ => "record missing (zero bytes), but a closed segment is full".into(),
    };
    Err(format!(
        "sequence {} at byte offset {}: {what}",
        listed.seq_first + first.slot_index,
        layout.slot_offset(first.slot_index)
    ))
}
