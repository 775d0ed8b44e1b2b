//! The 64-byte header at the start of every segment file (format version 3).
//!
//! Written once by the preallocating helper before a segment gets its final
//! name, never changed afterwards. It carries its own CRC32C so a damaged
//! header is told apart from a header of another format.
//!
//! Version 3 adds `seq_origin`, the first sequence of the whole journal,
//! copied into every segment: with it a journal whose first segment was
//! deleted is told apart from one that starts later. Version 2 segments
//! (written before closed segments were sealed) read the same, with
//! `seq_origin` 0 ("not recorded"); this build writes version 3 only.

use crate::JournalError;
use std::path::Path;

/// The first eight bytes of every journal file, version 1 and 2 alike.
pub const MAGIC: [u8; 8] = *b"GNSJRNL\0";
/// The segment format this build writes.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest segment format this build reads (no `seq_origin`, no seals).
pub const FORMAT_VERSION_UNSEALED: u32 = 2;
/// Size of a segment header in bytes; the first frame starts here.
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// Where the header CRC sits: the last four bytes, covering every byte before them.
const HEADER_CRC_OFFSET: usize = SEGMENT_HEADER_BYTES - 4;

/// What a segment says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub format_version: u32,
    /// Size of every payload in the segment.
    pub record_size_bytes: u32,
    /// Sequence number of the record in the first slot.
    pub seq_first: u64,
    /// Size of the segment file, header included.
    pub segment_size_bytes: u64,
    /// First sequence of the journal (its first segment ever); 0 in version 2.
    pub seq_origin: u64,
}

impl SegmentHeader {
    pub fn new(
        record_size_bytes: u32,
        seq_first: u64,
        segment_size_bytes: u64,
        seq_origin: u64,
    ) -> SegmentHeader {
        debug_assert!(seq_origin >= 1 && seq_origin <= seq_first);
        SegmentHeader {
            format_version: FORMAT_VERSION,
            record_size_bytes,
            seq_first,
            segment_size_bytes,
            seq_origin,
        }
    }

    /// The header's own CRC32C as stored in its last four bytes: a seal
    /// records it, tying the seal to this header.
    pub fn crc(&self) -> u32 {
        let bytes = self.encode();
        u32::from_le_bytes(bytes[HEADER_CRC_OFFSET..].try_into().expect("4 bytes"))
    }

    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut out = [0u8; SEGMENT_HEADER_BYTES];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..16].copy_from_slice(&self.record_size_bytes.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq_first.to_le_bytes());
        out[24..32].copy_from_slice(&self.segment_size_bytes.to_le_bytes());
        if self.format_version >= FORMAT_VERSION {
            out[32..40].copy_from_slice(&self.seq_origin.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out[..HEADER_CRC_OFFSET]);
        out[HEADER_CRC_OFFSET..HEADER_CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and checks a header; `path` only names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<SegmentHeader, JournalError> {
        let bad = |reason: String| JournalError::BadHeader {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < SEGMENT_HEADER_BYTES {
            return Err(bad(format!(
                "file is {} bytes, shorter than the {SEGMENT_HEADER_BYTES}-byte segment header",
                bytes.len()
            )));
        }
        if bytes[0..8] != MAGIC {
            return Err(bad("magic bytes do not match: not a Genesis journal".into()));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let format_version = u32_at(8);
        if format_version == 1 {
            return Err(bad(
                "format version 1 is the single-file run journal; this reader reads segmented version 2 (open it with FileReader)".into(),
            ));
        }
        if format_version != FORMAT_VERSION && format_version != FORMAT_VERSION_UNSEALED {
            return Err(bad(format!(
                "format version {format_version} is unknown to this build (it reads versions {FORMAT_VERSION_UNSEALED} and {FORMAT_VERSION})"
            )));
        }
        let crc_stored = u32_at(HEADER_CRC_OFFSET);
        let crc_computed = crc32c::crc32c(&bytes[..HEADER_CRC_OFFSET]);
        if crc_stored != crc_computed {
            return Err(bad(format!(
                "header CRC32C is {crc_stored:#010x}, the header bytes give {crc_computed:#010x}"
            )));
        }
        let header = SegmentHeader {
            format_version,
            record_size_bytes: u32_at(12),
            seq_first: u64_at(16),
            segment_size_bytes: u64_at(24),
            seq_origin: if format_version >= FORMAT_VERSION {
                u64_at(32)
            } else {
                0
            },
        };
        if header.record_size_bytes == 0 {
            return Err(bad("record size is zero".into()));
        }
        if header.seq_first == 0 {
            return Err(bad("first sequence is zero (sequences start at 1)".into()));
        }
        if format_version >= FORMAT_VERSION
            && (header.seq_origin == 0 || header.seq_origin > header.seq_first)
        {
            return Err(bad(format!(
                "the journal's first sequence {} is not in 1..={}",
                header.seq_origin, header.seq_first
            )));
        }
        let frame_bytes = crate::FRAME_PREFIX_BYTES as u64 + u64::from(header.record_size_bytes);
        if header.segment_size_bytes < SEGMENT_HEADER_BYTES as u64 + frame_bytes {
            return Err(bad(format!(
                "segment size {} bytes cannot hold one {frame_bytes}-byte frame",
                header.segment_size_bytes
            )));
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A header encodes and decodes to itself.
    #[test]
    fn header_round_trips() {
        let header = SegmentHeader::new(128, 9, 1 << 20, 3);
        assert_eq!(
            SegmentHeader::decode(&header.encode(), Path::new("x")).unwrap(),
            header
        );
    }

    // A header from a future format version is refused with a message naming the version and file.
    #[test]
    fn unknown_version_is_refused() {
        let mut bytes = SegmentHeader::new(128, 1, 1 << 20, 1).encode();
        bytes[8] = 99;
        let err = SegmentHeader::decode(&bytes, Path::new("j.seg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("format version 99"), "{err}");
        assert!(err.contains("j.seg"), "{err}");
    }

    // A version-2 header (no journal origin) still reads, with origin 0.
    #[test]
    fn version_2_header_reads_without_origin() {
        let mut bytes = SegmentHeader::new(128, 9, 1 << 20, 1).encode();
        bytes[8..12].copy_from_slice(&FORMAT_VERSION_UNSEALED.to_le_bytes());
        bytes[32..40].fill(0);
        let crc = crc32c::crc32c(&bytes[..HEADER_CRC_OFFSET]);
        bytes[HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        let header = SegmentHeader::decode(&bytes, Path::new("x")).unwrap();
        assert_eq!(header.format_version, 2);
        assert_eq!(header.seq_origin, 0);
        assert_eq!(header.seq_first, 9);
    }

    // A flipped bit in any header field is caught by the header CRC.
    #[test]
    fn flipped_header_bit_is_refused() {
        let clean = SegmentHeader::new(128, 7, 1 << 20, 1).encode();
        for byte in 12..SEGMENT_HEADER_BYTES {
            let mut bytes = clean;
            bytes[byte] ^= 0x10;
            assert!(
                SegmentHeader::decode(&bytes, Path::new("x")).is_err(),
                "byte {byte}"
            );
        }
    }
}
