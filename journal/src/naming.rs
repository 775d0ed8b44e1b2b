//! Segment file names and listing the segments of a journal folder.
//!
//! A segment is named by its first sequence number, zero-padded to 20 digits
//! so names sort like numbers: `00000000000000000001.gjseg`. A segment being
//! preallocated has a dot-prefixed temporary name that no listing matches;
//! it gets its final name only when the writer moves into it, so every named
//! segment but the newest is full.

use crate::JournalError;
use std::path::{Path, PathBuf};

/// File extension of a live segment.
pub const SEGMENT_EXTENSION: &str = "gjseg";
/// File extension of a compressed segment (gzip of the segment file).
pub const COMPRESSED_EXTENSION: &str = "gjseg.gz";
/// Prefix of a segment still being preallocated.
pub const PREALLOC_PREFIX: &str = ".prealloc-";
/// Name of the writer's lock file.
pub const LOCK_FILE_NAME: &str = "LOCK";
/// Name of the seal log: one seal per closed segment (see `crate::seal`).
pub const SEALS_FILE_NAME: &str = "SEALS";
/// Name of the archive boundary: segments before it were moved out on purpose.
pub const ARCHIVED_FILE_NAME: &str = "ARCHIVED";

/// `DIR/<seq_first, 20 digits>.gjseg`.
pub fn segment_path(dir: &Path, seq_first: u64) -> PathBuf {
    dir.join(format!("{seq_first:020}.{SEGMENT_EXTENSION}"))
}

/// `DIR/<seq_first, 20 digits>.gjseg.gz`: a segment compressed by `archive`.
pub fn compressed_path(dir: &Path, seq_first: u64) -> PathBuf {
    dir.join(format!("{seq_first:020}.{COMPRESSED_EXTENSION}"))
}

/// `DIR/.prealloc-<seq_first>.tmp`: a segment being prepared.
pub fn prealloc_path(dir: &Path, seq_first: u64) -> PathBuf {
    dir.join(format!("{PREALLOC_PREFIX}{seq_first:020}.tmp"))
}

/// The first sequence a file name claims, if it is a name of `extension` files.
pub fn parse_seq_first(file_name: &str, extension: &str) -> Option<u64> {
    let digits = file_name.strip_suffix(extension)?.strip_suffix('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One segment file found in a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFile {
    pub seq_first: u64,
    pub path: PathBuf,
    /// A `.gjseg.gz` written by `archive` (read through a decompressor).
    pub compressed: bool,
}

/// Files of `extension` in `dir`, sorted by first sequence.
pub fn list_files(dir: &Path, extension: &str) -> Result<Vec<SegmentFile>, JournalError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(JournalError::io(dir, "list folder"))?;
    for entry in entries {
        let entry = entry.map_err(JournalError::io(dir, "list folder"))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq_first) = parse_seq_first(name, extension) {
            found.push(SegmentFile {
                seq_first,
                path: entry.path(),
                compressed: extension == COMPRESSED_EXTENSION,
            });
        }
    }
    found.sort_by_key(|segment| segment.seq_first);
    Ok(found)
}

/// Every segment of `dir`, plain or compressed, sorted by first sequence.
/// When both forms of one segment exist (`archive` stopped between writing
/// the compressed copy and removing the original), the plain one is listed.
pub fn list_all_segments(dir: &Path) -> Result<Vec<SegmentFile>, JournalError> {
    let mut all = list_segments(dir)?;
    let compressed = list_files(dir, COMPRESSED_EXTENSION)?;
    let plain_count = all.len();
    for segment in compressed {
        let plain = &all[..plain_count];
        if plain
            .binary_search_by_key(&segment.seq_first, |s| s.seq_first)
            .is_err()
        {
            all.push(segment);
        }
    }
    all.sort_by_key(|segment| segment.seq_first);
    Ok(all)
}

/// Live segments of `dir`, sorted by first sequence.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, JournalError> {
    list_files(dir, SEGMENT_EXTENSION)
}

/// Leftover preallocated segments in `dir` (from a writer that stopped).
pub fn list_prealloc(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(JournalError::io(dir, "list folder"))?;
    for entry in entries {
        let entry = entry.map_err(JournalError::io(dir, "list folder"))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(PREALLOC_PREFIX))
        {
            found.push(entry.path());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Plain and compressed segments list together by first sequence; a
    // segment present in both forms is listed once, plain.
    #[test]
    fn all_segments_prefer_plain() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "00000000000000000001.gjseg.gz",
            "00000000000000000011.gjseg.gz",
            "00000000000000000011.gjseg",
            "00000000000000000021.gjseg",
            ".prealloc-00000000000000000031.tmp",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let all = list_all_segments(dir.path()).unwrap();
        let seen: Vec<(u64, bool)> = all.iter().map(|s| (s.seq_first, s.compressed)).collect();
        assert_eq!(seen, [(1, true), (11, false), (21, false)]);
    }

    // A segment name parses back to its first sequence; other names do not parse.
    #[test]
    fn names_round_trip() {
        let path = segment_path(Path::new("/j"), 42);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000000042.gjseg");
        assert_eq!(parse_seq_first(name, SEGMENT_EXTENSION), Some(42));
        assert_eq!(parse_seq_first("42.gjseg", SEGMENT_EXTENSION), None);
        assert_eq!(
            parse_seq_first(".prealloc-00000000000000000042.tmp", SEGMENT_EXTENSION),
            None
        );
        assert_eq!(
            parse_seq_first("00000000000000000042.gjseg.gz", COMPRESSED_EXTENSION),
            Some(42)
        );
    }
}
