//! The check `Writer::open` makes of everything before the newest segment,
//! before it appends anything: the chain of segments and every closed
//! segment against its seal. The first problem refuses the open, naming the
//! file and the remedy; nothing is changed.
//!
//! Runs once on the thread calling `Writer::open`, under the folder lock.
//! Closed segments without a seal (written before seals existed, or closed
//! just before a crash that came before their seal) are checked record by
//! record and sealed now. The seal log is rewritten whole when it is
//! missing, torn or damaged (it only ever summarises segments that are
//! checked here again, so rebuilding it loses nothing), else appended to.

use crate::chain::{self, Folder};
use crate::config::ClosedCheck;
use crate::layout::Layout;
use crate::naming::SegmentFile;
use crate::seal::{self, Loaded, Seal, SealLogHeader};
use crate::JournalError;
use std::path::Path;

/// What the check of closed segments did at open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClosedCheckReport {
    /// Closed segments checked (plain and compressed).
    pub segments_checked: usize,
    /// Closed segments whose body was read (CRC32C against the seal, or
    /// record by record when unsealed).
    pub segments_read: usize,
    /// Closed segments that had no seal, were checked record by record, and were sealed.
    pub sealed_now: usize,
    /// Why the seal log was rewritten, if it was (missing, torn, damaged).
    pub seal_log_rebuilt: Option<String>,
}

/// The journal as `Writer::open` found it.
pub(crate) struct Checked {
    /// The segment appends resume in (`None`: an empty folder).
    pub newest: Option<SegmentFile>,
    pub seq_origin: u64,
    pub report: ClosedCheckReport,
}

/// Checks the journal in `dir` before the writer opens it; `seq_first_new`
/// is where a new journal starts.
pub(crate) fn check(
    dir: &Path,
    layout: &Layout,
    seq_first_new: u64,
    mode: ClosedCheck,
) -> Result<Checked, JournalError> {
    let folder = Folder::load(dir)?;
    if folder.segments.is_empty() {
        return start_new(dir, &folder, layout, seq_first_new);
    }
    let seq_origin = folder.seq_origin().expect("segments are present");
    if let Some(problem) = folder
        .chain_problems(layout.slots_per_segment, seq_origin)
        .into_iter()
        .next()
    {
        return Err(problem.into_error(dir));
    }
    let (newest, closed) = folder.segments.split_last().expect("a segment");
    let mut report = ClosedCheckReport::default();
    let mut sealed_now = Vec::new();
    let mut buffer = Vec::new();
    for listed in closed {
        let seal = folder.seal_of(listed.seq_first);
        let read_body = mode == ClosedCheck::Full && !listed.compressed;
        match chain::check_closed(listed, layout, seq_origin, seal, read_body, &mut buffer) {
            Ok(Some(new_seal)) => sealed_now.push(new_seal),
            Ok(None) => {}
            Err(problem) => return Err(problem.into_error(dir)),
        }
        report.segments_checked += 1;
        report.segments_read += usize::from(read_body || seal.is_none());
    }
    report.sealed_now = sealed_now.len();
    report.seal_log_rebuilt = keep_seal_log(dir, &folder, layout, seq_origin, &sealed_now)?;
    Ok(Checked {
        newest: Some(newest.clone()),
        seq_origin,
        report,
    })
}

/// An empty folder: a new journal, unless files say segments existed.
fn start_new(
    dir: &Path,
    folder: &Folder,
    layout: &Layout,
    seq_first_new: u64,
) -> Result<Checked, JournalError> {
    if folder.remembers_segments() {
        let problem = chain::Problem {
            path: dir.to_path_buf(),
            reason: "the folder holds no segment, but its seal log or archive boundary says segments were written: they were removed".into(),
            fix: chain::Fix::RestoreOnly,
        };
        return Err(problem.into_error(dir));
    }
    let header = seal_log_header(layout, seq_first_new);
    seal::rewrite(dir, &header, std::iter::empty())?;
    Ok(Checked {
        newest: None,
        seq_origin: seq_first_new,
        report: ClosedCheckReport::default(),
    })
}

pub(crate) fn seal_log_header(layout: &Layout, seq_origin: u64) -> SealLogHeader {
    SealLogHeader {
        record_size_bytes: layout.record_size_bytes as u32,
        segment_size_bytes: layout.segment_size_bytes,
        seq_origin,
    }
}

/// Appends the new seals to a sound seal log, or rewrites it whole; returns
/// why it was rewritten, if it was.
fn keep_seal_log(
    dir: &Path,
    folder: &Folder,
    layout: &Layout,
    seq_origin: u64,
    sealed_now: &[Seal],
) -> Result<Option<String>, JournalError> {
    let header = seal_log_header(layout, seq_origin);
    let (kept, rebuild_reason) = match &folder.seals {
        Loaded::Missing => (None, Some("there was none".to_string())),
        Loaded::Damaged(reason) => (None, Some(format!("it was damaged ({reason})"))),
        Loaded::Found(log) if log.header != header => (
            None,
            Some(format!(
                "it described another journal ({:?}, this one is {header:?})",
                log.header
            )),
        ),
        Loaded::Found(log) if log.torn => (
            Some(log),
            Some("its last entry was torn by a crash".to_string()),
        ),
        Loaded::Found(log) => (Some(log), None),
    };
    let appendable = kept.is_some_and(|log| {
        let last = log.seals.keys().next_back().copied().unwrap_or(0);
        sealed_now.iter().all(|s| s.seq_first > last)
    });
    if rebuild_reason.is_none() && appendable {
        if !sealed_now.is_empty() {
            let path = seal::seals_path(dir);
            let mut file = seal::open_for_append(dir)?;
            for new_seal in sealed_now {
                seal::append(&mut file, &path, new_seal, true)?;
            }
        }
        return Ok(None);
    }
    let mut seals: Vec<Seal> = kept.map_or(Vec::new(), |log| log.seals.values().copied().collect());
    seals.extend_from_slice(sealed_now);
    seals.sort_by_key(|s| s.seq_first);
    seals.dedup_by_key(|s| s.seq_first);
    seal::rewrite(dir, &header, seals.iter())?;
    Ok(Some(
        rebuild_reason.unwrap_or_else(|| "seals were added out of order".into()),
    ))
}
