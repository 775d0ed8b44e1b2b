//! Reading one segment front to back in large chunks and judging every slot.
//!
//! Used by recovery (the newest segment) and verify (every segment). Runs on
//! the caller's thread; the chunk buffer is the caller's, so memory stays
//! bounded by one chunk whatever the segment size.

use crate::layout::Layout;
use crate::segment_header::{SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::slot::{self, SlotState};
use crate::JournalError;
use std::fs::File;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes read per `pread` when scanning (rounded down to whole frames).
pub const SCAN_CHUNK_BYTES: usize = 4 << 20;

/// Reads and decodes the header of an open segment.
pub fn read_header(file: &File, path: &Path) -> Result<SegmentHeader, JournalError> {
    let mut bytes = [0u8; SEGMENT_HEADER_BYTES];
    let got = read_up_to_at(file, &mut bytes, 0).map_err(JournalError::io(path, "read header"))?;
    SegmentHeader::decode(&bytes[..got], path)
}

/// Reads until `buf` is full or the file ends; returns the byte count.
pub fn read_up_to_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Calls `on_slot(slot_index, state, frame)` for slots `slot_from..slot_end` in
/// order, stopping early when it breaks. `seq_first` is the segment's.
pub fn for_each_slot(
    file: &File,
    path: &Path,
    layout: &Layout,
    seq_first: u64,
    slot_range: std::ops::Range<u64>,
    buffer: &mut Vec<u8>,
    mut on_slot: impl FnMut(u64, SlotState, &[u8]) -> ControlFlow<()>,
) -> Result<(), JournalError> {
    let frame_bytes = layout.frame_bytes;
    let slots_wanted = slot_range.end.saturating_sub(slot_range.start);
    let chunk_frames = (SCAN_CHUNK_BYTES / frame_bytes).clamp(1, slots_wanted.max(1) as usize);
    buffer.resize(chunk_frames * frame_bytes, 0);
    let mut slot_index = slot_range.start;
    while slot_index < slot_range.end {
        let frames = chunk_frames.min((slot_range.end - slot_index) as usize);
        let chunk = &mut buffer[..frames * frame_bytes];
        let got = read_up_to_at(file, chunk, layout.slot_offset(slot_index))
            .map_err(JournalError::io(path, "read segment"))?;
        chunk[got..].fill(0);
        for frame in chunk.chunks_exact(frame_bytes) {
            let state = slot::judge(frame, seq_first + slot_index);
            if on_slot(slot_index, state, frame).is_break() {
                return Ok(());
            }
            slot_index += 1;
        }
    }
    Ok(())
}
