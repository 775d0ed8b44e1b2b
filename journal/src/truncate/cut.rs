//! Executing a truncate plan: see the parent module for the order of the
//! steps and why. Takes the folder lock; runs on the caller's thread.

use super::{context, plan_truncate, Context, TruncatePlan, TruncateReport};
use crate::lock;
use crate::naming;
use crate::open_check;
use crate::scan;
use crate::seal::{self, Loaded, Seal};
use crate::segment;
use crate::source::ReadAt;
use crate::sys;
use crate::JournalError;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Executes `plan` (from [`plan_truncate`]) on the journal in `dir`: takes
/// the folder lock, refuses if the journal no longer gives the same plan,
/// and cuts as the module comment says.
pub fn truncate(dir: &Path, plan: &TruncatePlan) -> Result<TruncateReport, JournalError> {
    let _lock = lock::lock_folder(dir)?;
    let fresh = plan_truncate(dir, plan.at)?;
    if fresh != *plan {
        return Err(JournalError::Layout {
            path: dir.to_path_buf(),
            reason: format!(
                "the journal changed since the cut was planned; plan again (now: {fresh})"
            ),
        });
    }
    if plan.nothing_to_cut {
        return Ok(TruncateReport {
            plan: fresh,
            aside_dir: None,
        });
    }
    let ctx = context(dir)?;
    let holder = plan.seq_cut - (plan.seq_cut - ctx.seq_origin) % ctx.layout.slots_per_segment;
    let tmp = write_cut_segment(&ctx, plan, holder)?;
    let aside = aside_dir(dir, plan.seq_cut)?;
    if let Some(before) = &plan.segment_before {
        let copy = aside.join(before.file_name().unwrap_or_default());
        std::fs::copy(before, &copy).map_err(JournalError::io(&copy, "copy cut segment aside"))?;
    }
    keep_seals_before(&ctx, holder)?;
    for later in plan.later_segments.iter().rev() {
        let moved = aside.join(later.file_name().unwrap_or_default());
        std::fs::rename(later, &moved).map_err(JournalError::io(later, "move segment aside"))?;
    }
    std::fs::rename(&tmp, &plan.segment).map_err(JournalError::io(
        &plan.segment,
        "rename cut segment into place",
    ))?;
    if let Some(before) = plan.segment_before.as_ref().filter(|b| **b != plan.segment) {
        std::fs::remove_file(before)
            .map_err(JournalError::io(before, "remove compressed original"))?;
    }
    sync_dir(&aside)?;
    sync_dir(dir)?;
    Ok(TruncateReport {
        plan: fresh,
        aside_dir: Some(aside),
    })
}

/// Writes the new segment holding the cut under a temporary name: the
/// original header and records before the cut (or a fresh header when
/// nothing before the cut is kept), zeros to the full size; synced.
fn write_cut_segment(
    ctx: &Context,
    plan: &TruncatePlan,
    holder: u64,
) -> Result<PathBuf, JournalError> {
    let dir = &ctx.folder.dir;
    let tmp = dir.join(format!(".truncate-{holder:020}.tmp"));
    let io = |op| JournalError::io(&tmp, op);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io("create cut segment"))?;
    sys::fs::preallocate(&file, ctx.layout.segment_size_bytes)
        .map_err(io("preallocate cut segment"))?;
    match (&plan.segment_before, plan.seq_cut > holder) {
        (Some(_), true) => {
            let listed = ctx
                .folder
                .segments
                .iter()
                .find(|s| s.seq_first == holder)
                .expect("the plan names it");
            copy_prefix(listed, &file, &tmp, plan.offset)?;
        }
        _ => {
            let header = ctx.layout.header_for(holder, ctx.seq_origin).encode();
            file.write_all_at(&header, 0).map_err(io("write header"))?;
        }
    }
    file.sync_all().map_err(io("fsync cut segment"))?;
    Ok(tmp)
}

/// Copies bytes `0..len` of a segment (plain or compressed) into `out`.
fn copy_prefix(
    listed: &naming::SegmentFile,
    out: &File,
    out_path: &Path,
    len: u64,
) -> Result<(), JournalError> {
    let mut open = segment::open_listed(listed)?;
    let mut chunk = vec![0u8; scan::SCAN_CHUNK_BYTES];
    let mut offset = 0u64;
    while offset < len {
        let want = chunk.len().min((len - offset) as usize);
        let got = open
            .source
            .read_up_to_at(&mut chunk[..want], offset)
            .map_err(JournalError::io(&listed.path, "read segment"))?;
        if got < want {
            return Err(JournalError::Layout {
                path: listed.path.clone(),
                reason: format!(
                    "ends at byte {}, before the cut at {len}",
                    offset + got as u64
                ),
            });
        }
        out.write_all_at(&chunk[..want], offset)
            .map_err(JournalError::io(out_path, "write cut segment"))?;
        offset += want as u64;
    }
    Ok(())
}

/// Rewrites the seal log with the seals of segments before `holder` only.
fn keep_seals_before(ctx: &Context, holder: u64) -> Result<(), JournalError> {
    let kept: Vec<Seal> = match &ctx.folder.seals {
        Loaded::Found(log) => log.seals.range(..holder).map(|(_, s)| *s).collect(),
        _ => Vec::new(),
    };
    let header = open_check::seal_log_header(&ctx.layout, ctx.seq_origin);
    seal::rewrite(&ctx.folder.dir, &header, kept.iter())
}

/// A new folder `DIR/truncated-<seq>-<n>` for what is cut off.
fn aside_dir(dir: &Path, seq_cut: u64) -> Result<PathBuf, JournalError> {
    for n in 1.. {
        let aside = dir.join(format!("truncated-{seq_cut}-{n}"));
        match std::fs::create_dir(&aside) {
            Ok(()) => return Ok(aside),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(JournalError::io(&aside, "create aside folder")(e)),
        }
    }
    unreachable!("some n is free")
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io(dir, "fsync folder"))
}
