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
//!
//! Three more rules keep the journal whole: a segment holding any sequence
//! at or above the caller's bound (the drain's loaded watermark + 1) is
//! never compressed, nor is one without a seal; a segment is compressed
//! only if its bytes still match its seal (checked on the way through the
//! compressor); and segments move out only as a prefix of the journal,
//! after `ARCHIVED` records the new first live sequence, so a reader or
//! `Writer::open` can tell archived segments from deleted ones.

use crate::boundary;
use crate::chain::Folder;
use crate::naming::SegmentFile;
use crate::seal::Seal;
use crate::segment_header::{SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::JournalError;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
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

/// A closed segment old enough to compress that was left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBack {
    pub path: PathBuf,
    pub reason: String,
}

/// What one archive run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Segments old enough to compress but left alone: they hold sequences
    /// at or above the bound, or are not sealed yet.
    pub held_back: Vec<HeldBack>,
    /// Segments compressed (their new paths).
    pub compressed: Vec<PathBuf>,
    /// Compressed segments moved (their new paths in the archive folder).
    pub archived: Vec<PathBuf>,
    /// The active segment, left alone.
    pub active_segment: Option<PathBuf>,
    pub bytes_before_compression: u64,
    pub bytes_after_compression: u64,
}

/// Compresses and archives the closed segments of `dir` per `policy`, with
/// no bound from a drain: every sealed closed segment may be compressed.
/// Prefer [`archive_bounded`] wherever a drain loads the journal.
pub fn archive(
    dir: &Path,
    policy: &ArchivePolicy,
    now: SystemTime,
) -> Result<ArchiveReport, JournalError> {
    archive_bounded(dir, policy, u64::MAX, now)
}

/// Compresses and archives the closed segments of `dir` per `policy`, but
/// never compresses a segment holding any sequence at or above
/// `seq_compress_limit` (pass the drain's loaded watermark + 1: what the
/// drain has not loaded stays plain and live).
pub fn archive_bounded(
    dir: &Path,
    policy: &ArchivePolicy,
    seq_compress_limit: u64,
    now: SystemTime,
) -> Result<ArchiveReport, JournalError> {
    let mut report = ArchiveReport::default();
    let folder = Folder::load(dir)?;
    let Some((newest, closed)) = folder.segments.split_last() else {
        return Ok(report);
    };
    // The newest segment is the one being written: never touched.
    report.active_segment = Some(newest.path.clone());
    for (index, segment) in closed.iter().enumerate() {
        if segment.compressed || age(now, modified(&segment.path)?) < policy.compress_after {
            continue;
        }
        let seq_last = folder.segments[index + 1].seq_first - 1;
        let held_back = |reason: String| HeldBack {
            path: segment.path.clone(),
            reason,
        };
        let Some(seal) = folder.seal_of(segment.seq_first) else {
            report.held_back.push(held_back("not sealed yet (the writer seals a segment just after it closes, and a journal written before seals at its next open)".into()));
            continue;
        };
        if seq_last >= seq_compress_limit {
            report.held_back.push(held_back(format!(
                "holds sequences up to {seq_last}, at or above {seq_compress_limit}, which the drain has not loaded"
            )));
            continue;
        }
        let modified = modified(&segment.path)?;
        let (compressed, before, after) = compress(&segment.path, modified, seal)?;
        report.bytes_before_compression += before;
        report.bytes_after_compression += after;
        report.compressed.push(compressed);
    }
    move_out_prefix(dir, policy, now, &mut report)?;
    Ok(report)
}

/// Moves compressed segments old enough out to the archive folder, from the
/// journal's first segment on, stopping at the first that is not both:
/// moving one from the middle would cut a hole readers could not cross.
fn move_out_prefix(
    dir: &Path,
    policy: &ArchivePolicy,
    now: SystemTime,
    report: &mut ArchiveReport,
) -> Result<(), JournalError> {
    let segments = crate::naming::list_all_segments(dir)?;
    for pair in segments.windows(2) {
        let (segment, next): (&SegmentFile, &SegmentFile) = (&pair[0], &pair[1]);
        if !segment.compressed || age(now, modified(&segment.path)?) < policy.archive_after {
            break;
        }
        boundary::raise(dir, next.seq_first)?;
        report
            .archived
            .push(move_out(&segment.path, &policy.archive_dir)?);
    }
    Ok(())
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

/// Reads through to an inner reader, keeping the CRC32C of what passed.
struct CrcReader<R> {
    inner: R,
    crc: u32,
}

impl<R: Read> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self.inner.read(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..got]);
        Ok(got)
    }
}

/// Gzips `path` to `path.gz`, keeping its modification time, if its bytes
/// still match `seal` (checked on the way through); removes the original.
fn compress(
    path: &Path,
    modified: SystemTime,
    seal: &Seal,
) -> Result<(PathBuf, u64, u64), JournalError> {
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
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    input
        .read_exact(&mut header)
        .and_then(|()| encoder.write_all(&header))
        .map_err(JournalError::io(&tmp_path, "compress"))?;
    let mut body = CrcReader {
        inner: input,
        crc: 0,
    };
    let body_bytes =
        std::io::copy(&mut body, &mut encoder).map_err(JournalError::io(&tmp_path, "compress"))?;
    let header_crc = SegmentHeader::decode(&header, path).map(|h| h.crc()).ok();
    if body.crc != seal.body_crc || header_crc != Some(seal.header_crc) {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(JournalError::Damaged {
            path: path.to_path_buf(),
            reason: format!(
                "refusing to compress: the segment no longer matches its seal (body CRC32C {:#010x}, sealed {:#010x})",
                body.crc, seal.body_crc
            ),
            remedy: format!(
                "list every damage with `genesis journal verify {}`, then restore the file from a backup or cut the journal before it with `genesis journal truncate`",
                dir.display()
            ),
        });
    }
    let before = SEGMENT_HEADER_BYTES as u64 + body_bytes;
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
