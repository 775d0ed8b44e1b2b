//! Compressing and archiving closed segments by age.
//!
//! Runs on whatever thread calls it (an operator command, a cron job), beside
//! a live writer or not. The newest segment is the active one and is never
//! touched; neither are preallocated files. Other segments are full and
//! never written again, so reading them while the writer runs is safe.
//!
//! Two ages, as in the original guide (compress after 7 days, archive after
//! 30): a closed segment older than `compress_after` is gzipped in place
//! (`<name>.gjseg.gz`, same modification time, then the original is
//! removed); a compressed segment older than `archive_after` moves to
//! `archive_dir`. Each step writes under a temporary name, syncs, renames,
//! and syncs the folder, so a crash leaves either the old or the new file,
//! never neither. Age comes from the file's modification time against the
//! `now` the caller passes (tests pass their own).

use crate::naming::{self, COMPRESSED_EXTENSION};
use crate::JournalError;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// When segments are compressed and moved out.
#[derive(Clone, Debug)]
pub struct ArchivePolicy {
    /// Closed segments older than this are gzipped in the live folder.
    pub compress_after: Duration,
    /// Compressed segments older than this move to `archive_dir`.
    pub archive_after: Duration,
    pub archive_dir: PathBuf,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl ArchivePolicy {
    /// The original guide's ages: compress after 7 days, archive after 30.
    pub fn guide_default(archive_dir: impl Into<PathBuf>) -> ArchivePolicy {
        ArchivePolicy {
            compress_after: 7 * DAY,
            archive_after: 30 * DAY,
            archive_dir: archive_dir.into(),
        }
    }

    /// Compress and archive together, after `days`.
    pub fn older_than_days(days: u64, archive_dir: impl Into<PathBuf>) -> ArchivePolicy {
        ArchivePolicy {
            compress_after: Duration::from_secs(days.saturating_mul(DAY.as_secs())),
            archive_after: Duration::from_secs(days.saturating_mul(DAY.as_secs())),
            archive_dir: archive_dir.into(),
        }
    }
}

/// What one archive run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Segments compressed (their new paths).
    pub compressed: Vec<PathBuf>,
    /// Compressed segments moved (their new paths in the archive folder).
    pub archived: Vec<PathBuf>,
    /// The active segment, left alone.
    pub active_segment: Option<PathBuf>,
    pub bytes_before_compression: u64,
    pub bytes_after_compression: u64,
}

/// Compresses and archives the closed segments of `dir` per `policy`.
pub fn archive(
    dir: &Path,
    policy: &ArchivePolicy,
    now: SystemTime,
) -> Result<ArchiveReport, JournalError> {
    let mut report = ArchiveReport::default();
    let mut segments = naming::list_segments(dir)?;
    // The newest segment is the one being written: never touched.
    report.active_segment = segments.pop().map(|s| s.path);
    for segment in &segments {
        let modified = modified(&segment.path)?;
        if age(now, modified) < policy.compress_after {
            continue;
        }
        let (compressed, before, after) = compress(&segment.path, modified)?;
        report.bytes_before_compression += before;
        report.bytes_after_compression += after;
        report.compressed.push(compressed);
    }
    for compressed in naming::list_files(dir, COMPRESSED_EXTENSION)? {
        if age(now, modified(&compressed.path)?) < policy.archive_after {
            continue;
        }
        report
            .archived
            .push(move_out(&compressed.path, &policy.archive_dir)?);
    }
    Ok(report)
}

fn age(now: SystemTime, modified: SystemTime) -> Duration {
    now.duration_since(modified).unwrap_or(Duration::ZERO)
}

fn modified(path: &Path) -> Result<SystemTime, JournalError> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(JournalError::io(path, "stat"))
}

fn sync_folder(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io(dir, "fsync folder"))
}

/// Gzips `path` to `path.gz`, keeping its modification time; removes the original.
fn compress(path: &Path, modified: SystemTime) -> Result<(PathBuf, u64, u64), JournalError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let final_path = PathBuf::from(format!("{}.gz", path.display()));
    let tmp_path = PathBuf::from(format!("{}.gz.tmp", path.display()));
    let mut input = File::open(path).map_err(JournalError::io(path, "open for compression"))?;
    let output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp_path)
        .map_err(JournalError::io(&tmp_path, "create"))?;
    let mut encoder = GzEncoder::new(std::io::BufWriter::new(output), Compression::default());
    let before =
        std::io::copy(&mut input, &mut encoder).map_err(JournalError::io(&tmp_path, "compress"))?;
    let output = encoder
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(JournalError::io(&tmp_path, "finish compression"))?;
    output
        .set_modified(modified)
        .map_err(JournalError::io(&tmp_path, "set modification time"))?;
    output
        .sync_all()
        .map_err(JournalError::io(&tmp_path, "fsync"))?;
    let after = output
        .metadata()
        .map_err(JournalError::io(&tmp_path, "stat"))?
        .len();
    std::fs::rename(&tmp_path, &final_path).map_err(JournalError::io(&final_path, "rename"))?;
    sync_folder(dir)?;
    std::fs::remove_file(path).map_err(JournalError::io(path, "remove after compression"))?;
    sync_folder(dir)?;
    Ok((final_path, before, after))
}

/// Moves `path` into `archive_dir` (rename, or copy and remove across file systems).
fn move_out(path: &Path, archive_dir: &Path) -> Result<PathBuf, JournalError> {
    std::fs::create_dir_all(archive_dir).map_err(JournalError::io(archive_dir, "create folder"))?;
    let name = path.file_name().unwrap_or_default();
    let target = archive_dir.join(name);
    if std::fs::rename(path, &target).is_err() {
        let tmp = archive_dir.join(format!("{}.tmp", name.to_string_lossy()));
        std::fs::copy(path, &tmp).map_err(JournalError::io(&tmp, "copy to archive"))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(JournalError::io(&tmp, "fsync"))?;
        std::fs::rename(&tmp, &target).map_err(JournalError::io(&target, "rename"))?;
        sync_folder(archive_dir)?;
        std::fs::remove_file(path).map_err(JournalError::io(path, "remove after archiving"))?;
    }
    sync_folder(archive_dir)?;
    sync_folder(path.parent().unwrap_or(Path::new(".")))?;
    Ok(target)
}
