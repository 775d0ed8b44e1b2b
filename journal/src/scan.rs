//! Reading one segment front to back in large chunks: judging every slot,
//! or taking the CRC32C of its whole body for a seal.
//!
//! Used by recovery (the newest segment), the check of closed segments at
//! open, verify, truncate and the sealing helper. Runs on the caller's
//! thread; the chunk buffer is the caller's, so memory stays bounded by one
//! chunk whatever the segment size.

use crate::crc::FrameCrc;
use crate::layout::Layout;
use crate::segment_header::{SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::slot::{self, SlotState};
use crate::source::ReadAt;
use crate::JournalError;
use std::ops::ControlFlow;
use std::path::Path;

/// Bytes read per `pread` when scanning (rounded down to whole frames).
pub const SCAN_CHUNK_BYTES: usize = 4 << 20;

/// Reads and decodes the header of an open segment.
pub(crate) fn read_header(
    mut source: impl ReadAt,
    path: &Path,
) -> Result<SegmentHeader, JournalError> {
    let mut bytes = [0u8; SEGMENT_HEADER_BYTES];
    let got = source
        .read_up_to_at(&mut bytes, 0)
        .map_err(JournalError::io(path, "read header"))?;
    SegmentHeader::decode(&bytes[..got], path)
}

/// CRC32C of a segment's body (every byte after the header), read in
/// chunks into `buffer` (sized here to [`SCAN_CHUNK_BYTES`] when empty; a
/// caller that sized it keeps its size); `Ok(None)` when the segment is
/// shorter than its layout says.
pub(crate) fn body_crc(
    mut source: impl ReadAt,
    path: &Path,
    layout: &Layout,
    buffer: &mut Vec<u8>,
) -> Result<Option<u32>, JournalError> {
    let body_bytes = layout.body_bytes();
    if buffer.is_empty() {
        buffer.resize(SCAN_CHUNK_BYTES.min(body_bytes as usize), 0);
    }
    let mut crc = 0u32;
    let mut read_bytes = 0u64;
    while read_bytes < body_bytes {
        let len = buffer.len().min((body_bytes - read_bytes) as usize);
        let chunk = &mut buffer[..len];
        let offset = SEGMENT_HEADER_BYTES as u64 + read_bytes;
        let got = source
            .read_up_to_at(chunk, offset)
            .map_err(JournalError::io(path, "read segment"))?;
        if got < len {
            return Ok(None);
        }
        crc = crc32c::crc32c_append(crc, chunk);
        read_bytes += len as u64;
    }
    Ok(Some(crc))
}

/// Calls `on_slot(slot_index, state, frame)` for slots `slot_from..slot_end` in
/// order, stopping early when it breaks. `seq_first` is the segment's. Bytes
/// past the end of a short source read as zero.
pub(crate) fn for_each_slot(
    mut source: impl ReadAt,
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
    let frame_crc = FrameCrc::detect();
    let mut slot_index = slot_range.start;
    while slot_index < slot_range.end {
        let frames = chunk_frames.min((slot_range.end - slot_index) as usize);
        let chunk = &mut buffer[..frames * frame_bytes];
        let got = source
            .read_up_to_at(chunk, layout.slot_offset(slot_index))
            .map_err(JournalError::io(path, "read segment"))?;
        chunk[got..].fill(0);
        for frame in chunk.chunks_exact(frame_bytes) {
            let state = slot::judge_by(frame_crc, frame, seq_first + slot_index);
            if on_slot(slot_index, state, frame).is_break() {
                return Ok(());
            }
            slot_index += 1;
        }
    }
    Ok(())
}

/// The first slot of a segment that is not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FirstInvalid {
    pub slot_index: u64,
    pub state: SlotState,
    /// The first later slot that is not empty (data after the end), if any.
    pub slot_data_after: Option<u64>,
}

/// Finds the first slot of the segment at `path` (starting at `seq_first`)
/// that is not a valid record, and whether anything but zeros follows it;
/// `None` when every slot is valid (the segment is full).
pub(crate) fn first_invalid(
    source: impl ReadAt,
    path: &Path,
    seq_first: u64,
    layout: &Layout,
    buffer: &mut Vec<u8>,
) -> Result<Option<FirstInvalid>, JournalError> {
    let mut first: Option<FirstInvalid> = None;
    for_each_slot(
        source,
        path,
        layout,
        seq_first,
        0..layout.slots_per_segment,
        buffer,
        |slot_index, state, _| {
            match (&mut first, state) {
                (None, SlotState::Valid) => {}
                (None, state) => {
                    first = Some(FirstInvalid {
                        slot_index,
                        state,
                        slot_data_after: None,
                    })
                }
                (Some(_), SlotState::Empty) => {}
                (Some(found), _) => {
                    found.slot_data_after = Some(slot_index);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    Ok(first)
}
