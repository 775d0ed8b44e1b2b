//! Where things are in a segment: fixed-size slots after the header.
//!
//! Every frame has the same size, so slot `i` of a segment starts at
//! `SEGMENT_HEADER_BYTES + i * frame_bytes` and holds sequence
//! `seq_first + i`. Position implies sequence: readers seek in O(1), and a
//! verifier can keep checking after damage. Bytes after the last whole slot
//! stay zero.

use crate::frame::FRAME_PREFIX_BYTES;
use crate::segment_header::{SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::JournalError;
use std::path::Path;

/// The geometry shared by every segment of one journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub record_size_bytes: usize,
    pub frame_bytes: usize,
    pub segment_size_bytes: u64,
    pub slots_per_segment: u64,
}

impl Layout {
    /// Checks that a segment of `segment_size_bytes` holds at least one record.
    pub fn new(
        record_size_bytes: usize,
        segment_size_bytes: u64,
        path: &Path,
    ) -> Result<Layout, JournalError> {
        let bad = |reason: String| JournalError::Config {
            path: path.to_path_buf(),
            reason,
        };
        if record_size_bytes == 0 || u32::try_from(record_size_bytes).is_err() {
            return Err(bad(format!(
                "record size {record_size_bytes} bytes is not in 1..=u32::MAX"
            )));
        }
        let frame_bytes = FRAME_PREFIX_BYTES + record_size_bytes;
        let room_bytes = segment_size_bytes.saturating_sub(SEGMENT_HEADER_BYTES as u64);
        let slots_per_segment = room_bytes / frame_bytes as u64;
        if slots_per_segment == 0 {
            return Err(bad(format!(
                "segment size {segment_size_bytes} bytes holds no {frame_bytes}-byte frame"
            )));
        }
        if usize::try_from(segment_size_bytes).is_err() {
            return Err(bad(format!(
                "segment size {segment_size_bytes} bytes does not fit in memory"
            )));
        }
        Ok(Layout {
            record_size_bytes,
            frame_bytes,
            segment_size_bytes,
            slots_per_segment,
        })
    }

    /// The layout a segment header describes.
    pub fn of_header(header: &SegmentHeader, path: &Path) -> Result<Layout, JournalError> {
        Layout::new(
            header.record_size_bytes as usize,
            header.segment_size_bytes,
            path,
        )
    }

    /// Byte offset of slot `slot_index` in its segment.
    #[inline]
    pub fn slot_offset(&self, slot_index: u64) -> u64 {
        SEGMENT_HEADER_BYTES as u64 + slot_index * self.frame_bytes as u64
    }

    /// The header a segment whose first record is `seq_first` starts with,
    /// in a journal whose first sequence is `seq_origin`.
    pub fn header_for(&self, seq_first: u64, seq_origin: u64) -> SegmentHeader {
        SegmentHeader::new(
            self.record_size_bytes as u32,
            seq_first,
            self.segment_size_bytes,
            seq_origin,
        )
    }

    /// Bytes after the header: every slot and the zero remainder. A seal's
    /// CRC covers exactly these.
    pub fn body_bytes(&self) -> u64 {
        self.segment_size_bytes - SEGMENT_HEADER_BYTES as u64
    }

    /// Checks that `header` describes this layout.
    pub fn check_header(&self, header: &SegmentHeader, path: &Path) -> Result<(), JournalError> {
        if header.record_size_bytes as usize != self.record_size_bytes
            || header.segment_size_bytes != self.segment_size_bytes
        {
            return Err(JournalError::Layout {
                path: path.to_path_buf(),
                reason: format!(
                    "segment holds {}-byte records in {}-byte segments, the journal holds {}-byte records in {}-byte segments",
                    header.record_size_bytes,
                    header.segment_size_bytes,
                    self.record_size_bytes,
                    self.segment_size_bytes
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slots follow the header back to back and the remainder is left over.
    #[test]
    fn slots_follow_the_header() {
        let layout = Layout::new(128, 64 + 144 * 3 + 100, Path::new("x")).unwrap();
        assert_eq!(layout.slots_per_segment, 3);
        assert_eq!(layout.slot_offset(0), 64);
        assert_eq!(layout.slot_offset(2), 64 + 288);
    }

    // A segment too small for one frame is a configuration error, not a panic.
    #[test]
    fn tiny_segment_is_refused() {
        let err = Layout::new(128, 100, Path::new("cfg")).unwrap_err();
        assert!(err.to_string().contains("holds no"), "{err}");
    }
}
