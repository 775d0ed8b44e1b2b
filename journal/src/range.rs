//! Reading a range of sequences from a journal folder, across segments.
//!
//! Owned by the reading thread; memory is one read buffer (1 MiB by
//! default) whatever the range. Reading ends at the range's end or at the
//! log's end, whichever comes first. A damaged last frame (a torn tail not
//! yet recovered) ends reading and is reported in `torn_tail`; damage with
//! data after it is an error naming the file and byte offset; a missing
//! segment with later ones present is an error naming the gap. Compressed
//! segments read like plain ones.

use crate::cursor::{Cursor, Step};
use crate::{JournalError, Record};
use std::path::{Path, PathBuf};

/// Default bytes per `pread` for range reads.
pub const RANGE_BUFFER_BYTES_DEFAULT: usize = 1 << 20;

/// Where an unrecovered journal ends in a torn frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    pub offset: u64,
    pub seq: u64,
    pub reason: String,
}

/// A record with its own copy of the payload (what the `Iterator` yields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Reads records `seq_from..=seq_to` in order.
pub struct RangeReader {
    cursor: Cursor,
    seq_to: u64,
    done: bool,
    /// Set when reading stopped at a torn last frame.
    pub torn_tail: Option<TornTail>,
}

impl RangeReader {
    /// Reads `seq_from..=seq_to` (use `u64::MAX` for "to the end") from `dir`.
    pub fn open(dir: &Path, seq_from: u64, seq_to: u64) -> Result<RangeReader, JournalError> {
        Ok(RangeReader {
            cursor: Cursor::open(dir, seq_from, RANGE_BUFFER_BYTES_DEFAULT)?,
            seq_to,
            done: false,
            torn_tail: None,
        })
    }

    /// The next record, or `None` at the end of the range or of the log.
    /// The payload borrows the reader's buffer until the next call.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, JournalError> {
        if self.done || self.cursor.seq_next() > self.seq_to {
            return Ok(None);
        }
        let step = self.cursor.step()?;
        match step {
            Step::Record => Ok(Some(self.cursor.take_record())),
            Step::SegmentMissing => {
                self.done = true;
                match self.cursor.gap()? {
                    Some(gap) => Err(gap),
                    None => Ok(None),
                }
            }
            Step::Empty | Step::Damaged(_) => {
                self.done = true;
                let offset = self.cursor.offset();
                let path = self
                    .cursor
                    .segment_path()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let reason = match step {
                    Step::Damaged(damage) => damage.to_string(),
                    _ => "record missing (zero bytes)".to_string(),
                };
                if self.cursor.data_after()? {
                    return Err(JournalError::Corrupt {
                        path,
                        offset,
                        seq_expected: self.cursor.seq_next(),
                        reason: format!("{reason}, and more data follows: mid-log damage"),
                    });
                }
                if let Step::Damaged(_) = step {
                    self.torn_tail = Some(TornTail {
                        path,
                        offset,
                        seq: self.cursor.seq_next(),
                        reason,
                    });
                }
                Ok(None)
            }
        }
    }

    /// Sequence of the next record this reader would return.
    pub fn seq_next(&self) -> u64 {
        self.cursor.seq_next()
    }
}

impl Iterator for RangeReader {
    type Item = Result<OwnedRecord, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(OwnedRecord {
                seq: record.seq,
                payload: record.payload.to_vec(),
            })),
            Ok(None) => None,
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}
