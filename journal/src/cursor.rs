//! A read position in a journal folder that walks across segments: the
//! shared engine of the range reader and the tailer.
//!
//! Owned by one reader thread. It reads whole frames (with `pread`, or
//! through a decompressor for a segment `archive` compressed) into one
//! buffer of bounded size, judges the frame at its position, and moves to
//! the next segment by name when a segment's last slot is passed. It never
//! maps files, so a writer's segments are never held mapped by readers.
//! When the segment it needs is not there but a later one is, the
//! sequences between are missing: that is an error naming the gap, never
//! the quiet end of the log.

use crate::crc::FrameCrc;
use crate::layout::Layout;
use crate::naming::{self, SegmentFile};
use crate::scan;
use crate::segment::{self, OpenSegment};
use crate::slot::{self, SlotDamage, SlotState};
use crate::source::ReadAt;
use crate::{JournalError, Record};
use std::path::{Path, PathBuf};

/// What is at the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A valid record; take it with [`Cursor::take_record`].
    Record,
    /// The slot is all zero: nothing written there (yet).
    Empty,
    /// The slot holds something that is not the expected record.
    Damaged(SlotDamage),
    /// The segment that would hold the next sequence does not exist (yet).
    SegmentMissing,
}

pub(crate) struct Cursor {
    dir: PathBuf,
    layout: Option<Layout>,
    segment: Option<OpenSegment>,
    /// First sequence of the segment to open when `segment` is `None`.
    seq_first_wanted: u64,
    seq_next: u64,
    buffer: Vec<u8>,
    buffer_bytes_max: usize,
    /// Slot of the first frame in `buffer`, and how many frames it holds.
    buffer_slot_first: u64,
    buffer_frames: u64,
    /// The frame CRC's CPU features, looked at once at open.
    frame_crc: FrameCrc,
}

impl Cursor {
    /// A cursor at `seq`, reading at most `buffer_bytes_max` per `pread`.
    pub fn open(dir: &Path, seq: u64, buffer_bytes_max: usize) -> Result<Cursor, JournalError> {
        let mut cursor = Cursor {
            dir: dir.to_path_buf(),
            layout: None,
            segment: None,
            seq_first_wanted: seq,
            seq_next: seq,
            buffer: Vec::new(),
            buffer_bytes_max,
            buffer_slot_first: 0,
            buffer_frames: 0,
            frame_crc: FrameCrc::detect(),
        };
        let segments = naming::list_all_segments(dir)?;
        let holder = segments.iter().rev().find(|s| s.seq_first <= seq);
        match (holder, segments.first()) {
            (Some(holder), _) => {
                let open = segment::open_listed(holder)?;
                let layout = Layout::of_header(&open.header, &open.path)?;
                let slots = layout.slots_per_segment;
                cursor.seq_first_wanted =
                    holder.seq_first + (seq - holder.seq_first) / slots * slots;
                cursor.layout = Some(layout);
                if cursor.seq_first_wanted == holder.seq_first {
                    cursor.segment = Some(open);
                }
            }
            (None, Some(first)) => {
                return Err(JournalError::Layout {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "sequence {seq} precedes the first live segment {} (compressed, archived or never written)",
                        first.path.display()
                    ),
                });
            }
            // An empty folder: the first segment will start at `seq`.
            (None, None) => {}
        }
        Ok(cursor)
    }

    pub fn seq_next(&self) -> u64 {
        self.seq_next
    }

    /// Path of the segment being read, if one is open.
    pub fn segment_path(&self) -> Option<&Path> {
        self.segment.as_ref().map(|s| s.path.as_path())
    }

    /// Byte offset of the cursor's slot in its segment.
    pub fn offset(&self) -> u64 {
        match (&self.segment, self.layout) {
            (Some(open), Some(layout)) => layout.slot_offset(self.seq_next - open.header.seq_first),
            _ => 0,
        }
    }

    /// Judges what is at the cursor, reading from disk if needed.
    pub fn step(&mut self) -> Result<Step, JournalError> {
        loop {
            if self.segment.is_none() && !self.open_wanted()? {
                return Ok(Step::SegmentMissing);
            }
            let open = self.segment.as_ref().expect("opened above");
            let layout = self.layout.expect("set with the segment");
            let slot_index = self.seq_next - open.header.seq_first;
            if slot_index >= layout.slots_per_segment {
                self.seq_first_wanted = open.header.seq_first + layout.slots_per_segment;
                self.segment = None;
                self.invalidate();
                continue;
            }
            if !(self.buffer_slot_first..self.buffer_slot_first + self.buffer_frames)
                .contains(&slot_index)
            {
                self.fill(slot_index)?;
            }
            let frame = self.frame_at(slot_index);
            return Ok(match slot::judge_by(self.frame_crc, frame, self.seq_next) {
                SlotState::Valid => Step::Record,
                SlotState::Empty => Step::Empty,
                SlotState::Damaged(damage) => Step::Damaged(damage),
            });
        }
    }

    /// Moves past the record at the cursor and returns it; only after `step`
    /// returned `Step::Record`. The payload borrows the read buffer.
    pub fn take_record(&mut self) -> Record<'_> {
        self.seq_next += 1;
        let seq = self.seq_next - 1;
        let open = self.segment.as_ref().expect("step found a record");
        let frame = self.frame_at(seq - open.header.seq_first);
        Record {
            seq,
            payload: &frame[crate::FRAME_PREFIX_BYTES..],
        }
    }

    /// Forgets what was read, so the next `step` reads the disk again.
    pub fn invalidate(&mut self) {
        self.buffer_frames = 0;
    }

    /// Whether the slot after the cursor holds a valid record, or the cursor
    /// is at its segment's last slot and the next segment exists: either
    /// way the writer has moved past the cursor's slot.
    pub fn writer_moved_past(&mut self) -> Result<bool, JournalError> {
        let (Some(open), Some(layout)) = (&self.segment, self.layout) else {
            return Ok(false);
        };
        let slot_index = self.seq_next - open.header.seq_first;
        if slot_index + 1 >= layout.slots_per_segment {
            let next = open.header.seq_first + layout.slots_per_segment;
            return Ok(self.segment_exists(next));
        }
        if !(self.buffer_slot_first..self.buffer_slot_first + self.buffer_frames)
            .contains(&(slot_index + 1))
        {
            self.fill(slot_index)?;
        }
        if self.buffer_slot_first + self.buffer_frames <= slot_index + 1 {
            return Ok(false);
        }
        let frame = self.frame_at(slot_index + 1);
        Ok(slot::judge_by(self.frame_crc, frame, self.seq_next + 1) == SlotState::Valid)
    }

    /// Whether any byte after the cursor's slot, to the end of its segment,
    /// is non-zero, or a later segment exists.
    pub fn data_after(&mut self) -> Result<bool, JournalError> {
        let (Some(open), Some(layout)) = (&self.segment, self.layout) else {
            return Ok(false);
        };
        let next = open.header.seq_first + layout.slots_per_segment;
        if self.segment_exists(next) {
            return Ok(true);
        }
        let slot_from = self.seq_next - open.header.seq_first + 1;
        let mut found = false;
        let mut scratch = Vec::new();
        let open = self.segment.as_mut().expect("checked above");
        scan::for_each_slot(
            &mut open.source,
            &open.path,
            &layout,
            open.header.seq_first,
            slot_from..layout.slots_per_segment,
            &mut scratch,
            |_, state, _| {
                found = state != SlotState::Empty;
                if found {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            },
        )?;
        Ok(found)
    }

    /// Whether the segment starting at `seq_first` exists, plain or compressed.
    fn segment_exists(&self, seq_first: u64) -> bool {
        naming::segment_path(&self.dir, seq_first).exists()
            || naming::compressed_path(&self.dir, seq_first).exists()
    }

    fn frame_at(&self, slot_index: u64) -> &[u8] {
        let frame_bytes = self.layout.expect("layout known").frame_bytes;
        let start = (slot_index - self.buffer_slot_first) as usize * frame_bytes;
        &self.buffer[start..start + frame_bytes]
    }

    /// Reads frames from `slot_index` on, up to the buffer size or the segment's end.
    fn fill(&mut self, slot_index: u64) -> Result<(), JournalError> {
        let open = self.segment.as_mut().expect("segment open");
        let layout = self.layout.expect("layout known");
        let frames_max = (self.buffer_bytes_max / layout.frame_bytes).max(1) as u64;
        let frames = frames_max.min(layout.slots_per_segment - slot_index);
        let len = frames as usize * layout.frame_bytes;
        self.buffer.resize(len, 0);
        let got = open
            .source
            .read_up_to_at(&mut self.buffer, layout.slot_offset(slot_index))
            .map_err(JournalError::io(&open.path, "read segment"))?;
        self.buffer[got..].fill(0);
        self.buffer_slot_first = slot_index;
        self.buffer_frames = frames;
        Ok(())
    }

    /// Opens the segment starting at `seq_first_wanted`, plain or
    /// compressed; false if it does not exist (yet).
    fn open_wanted(&mut self) -> Result<bool, JournalError> {
        let plain = naming::segment_path(&self.dir, self.seq_first_wanted);
        let compressed = naming::compressed_path(&self.dir, self.seq_first_wanted);
        let listed = if plain.exists() {
            SegmentFile {
                seq_first: self.seq_first_wanted,
                path: plain,
                compressed: false,
            }
        } else if compressed.exists() {
            SegmentFile {
                seq_first: self.seq_first_wanted,
                path: compressed,
                compressed: true,
            }
        } else {
            return Ok(false);
        };
        let open = segment::open_listed(&listed)?;
        match self.layout {
            Some(layout) => layout.check_header(&open.header, &open.path)?,
            None => self.layout = Some(Layout::of_header(&open.header, &open.path)?),
        }
        self.segment = Some(open);
        self.invalidate();
        Ok(true)
    }

    /// After `Step::SegmentMissing`: the gap error if a later segment exists
    /// (the missing one will never come), `None` if the log simply ends here.
    pub fn gap(&self) -> Result<Option<JournalError>, JournalError> {
        let segments = naming::list_all_segments(&self.dir)?;
        let Some(next) = segments
            .iter()
            .find(|s| s.seq_first > self.seq_first_wanted)
        else {
            return Ok(None);
        };
        // The wanted segment may have appeared since `step` looked.
        if segments
            .iter()
            .any(|s| s.seq_first == self.seq_first_wanted)
        {
            return Ok(None);
        }
        Ok(Some(JournalError::Gap {
            dir: self.dir.clone(),
            seq_first_missing: self.seq_next,
            seq_last_missing: next.seq_first - 1,
            missing: naming::segment_path(&self.dir, self.seq_first_wanted),
            next: next.path.clone(),
        }))
    }
}
