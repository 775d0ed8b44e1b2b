//! The 32-byte header of a version-1 single-file journal: magic, format version, record size, first sequence.

use crate::JournalError;
use std::path::Path;

pub use crate::segment_header::MAGIC;
/// The frame and header layout this build writes and reads.
pub const FILE_FORMAT_VERSION: u32 = 1;
/// Size of the header in bytes.
pub const HEADER_BYTES: usize = 32;

/// What a journal file says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    pub format_version: u32,
    /// Size of every payload in the file.
    pub record_size_bytes: u32,
    /// Sequence number of the first record.
    pub seq_first: u64,
}

impl FileHeader {
    pub fn new(record_size_bytes: u32, seq_first: u64) -> FileHeader {
        FileHeader {
            format_version: FILE_FORMAT_VERSION,
            record_size_bytes,
            seq_first,
        }
    }

    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..16].copy_from_slice(&self.record_size_bytes.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq_first.to_le_bytes());
        out
    }

    /// Parses and checks a header; `path` only names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<FileHeader, JournalError> {
        let bad = |reason: String| JournalError::BadHeader {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < HEADER_BYTES {
            return Err(bad(format!(
                "file is {} bytes, shorter than the {HEADER_BYTES}-byte header",
                bytes.len()
            )));
        }
        if bytes[0..8] != MAGIC {
            return Err(bad("magic bytes do not match: not a Genesis journal".into()));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let format_version = u32_at(8);
        if format_version != FILE_FORMAT_VERSION {
            return Err(bad(format!(
                "format version {format_version} is unknown to this build (it reads version {FILE_FORMAT_VERSION})"
            )));
        }
        let record_size_bytes = u32_at(12);
        if record_size_bytes == 0 {
            return Err(bad("record size is zero".into()));
        }
        let seq_first = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
        Ok(FileHeader {
            format_version,
            record_size_bytes,
            seq_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A header encodes and decodes to itself.
    #[test]
    fn header_round_trips() {
        let header = FileHeader::new(128, 9);
        assert_eq!(
            FileHeader::decode(&header.encode(), Path::new("x")).unwrap(),
            header
        );
    }

    // A header from a future format version is refused with a message naming the version.
    #[test]
    fn unknown_version_is_refused() {
        let mut bytes = FileHeader::new(128, 1).encode();
        bytes[8] = 99;
        let err = FileHeader::decode(&bytes, Path::new("j.log"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("format version 99"), "{err}");
        assert!(err.contains("j.log"), "{err}");
    }
}
