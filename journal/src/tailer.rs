//! Following a live journal as its writer appends, across segment rollover.
//!
//! Owned by the reading thread (the Postgres drain, a tool). `poll` returns
//! the next record if it is complete on disk, or `None` if the writer has
//! not written it yet; the caller decides how to wait (spin, sleep, park).
//! Memory is one read buffer of whole frames (64 KiB by default), fixed at
//! creation.
//!
//! A record is returned only once its frame passes its CRC with the right
//! sequence, so a frame caught mid-write is never returned: it reads as
//! empty or damaged and the next poll reads it again. Damage is reported as
//! corruption only once the writer has provably moved past it (the next
//! slot holds a valid record, or the next segment exists) and a fresh read
//! of the slot still fails. A missing segment with a later one present is
//! an error naming the gap; compressed segments read like plain ones.

use crate::cursor::{Cursor, Step};
use crate::{JournalError, Record};
use std::path::Path;

/// Default bytes per `pread` for a tailer.
pub const TAIL_BUFFER_BYTES_DEFAULT: usize = 64 << 10;

/// Follows a journal folder from a given sequence on.
pub struct Tailer {
    cursor: Cursor,
}

impl Tailer {
    /// A tailer whose first record will be `seq_from`, reading at most
    /// `buffer_bytes` per `pread`. An empty folder is fine: the tailer waits
    /// for a first segment starting at `seq_from`.
    pub fn open(dir: &Path, seq_from: u64, buffer_bytes: usize) -> Result<Tailer, JournalError> {
        Ok(Tailer {
            cursor: Cursor::open(dir, seq_from, buffer_bytes)?,
        })
    }

    /// The next record if it is on disk (in the page cache), else `None`.
    pub fn poll(&mut self) -> Result<Option<Record<'_>>, JournalError> {
        let mut step = self.cursor.step()?;
        if matches!(step, Step::Empty | Step::Damaged(_)) {
            if !self.cursor.writer_moved_past()? {
                self.cursor.invalidate();
                return Ok(None);
            }
            // The first read may have raced the writer: read the slot again.
            self.cursor.invalidate();
            step = self.cursor.step()?;
        }
        match step {
            Step::Record => Ok(Some(self.cursor.take_record())),
            // Not written yet, unless a later segment exists: then it never will be.
            Step::SegmentMissing => match self.cursor.gap()? {
                Some(gap) => Err(gap),
                None => Ok(None),
            },
            Step::Empty | Step::Damaged(_) => {
                if !self.cursor.writer_moved_past()? {
                    self.cursor.invalidate();
                    return Ok(None);
                }
                let reason = match step {
                    Step::Damaged(damage) => damage.to_string(),
                    _ => "record missing (zero bytes)".to_string(),
                };
                Err(JournalError::Corrupt {
                    path: self
                        .cursor
                        .segment_path()
                        .map(Path::to_path_buf)
                        .unwrap_or_default(),
                    offset: self.cursor.offset(),
                    seq_expected: self.cursor.seq_next(),
                    reason: format!("{reason}, but the writer has moved past it"),
                })
            }
        }
    }

    /// Sequence of the next record `poll` will return.
    pub fn seq_next(&self) -> u64 {
        self.cursor.seq_next()
    }
}
