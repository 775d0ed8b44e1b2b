//! `JournalFeed`: the events of a segmented journal folder (what the engine
//! writes), read through `genesis_journal::Tailer`, as one stream.
//!
//! Owned by the drain thread. The journal's sequence runs on across runs,
//! so the whole folder is one stream (named by the caller; `genesis` uses
//! `JOURNAL_STREAM_DEFAULT`) and its watermark is simply the last sequence
//! loaded. The tailer returns a record only once its frame is complete and
//! its CRC checks, so following a journal being written is safe; reading
//! never blocks the writer. In `Finished` mode the feed ends when the tailer
//! has nothing more (a torn tail is the end); in `Follow` mode it waits.

use crate::error::FeedError;
use crate::feed::{Batch, EventFeed, Watermarks};
use crate::folder_feed::FolderMode;
use genesis_engine::event::{Event, EVENT_BYTES};
use genesis_journal::Tailer;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The stream name of the engine's journal in the database.
pub const JOURNAL_STREAM_DEFAULT: &str = "journal";

/// Bytes per read of the tailer.
const TAIL_BUFFER_BYTES: usize = 1 << 20;

pub struct JournalFeed {
    dir: PathBuf,
    stream: String,
    mode: FolderMode,
    tailer: Option<Tailer>,
    /// The writer's last sequence on disk, when the feed runs beside it.
    seq_written: Option<Arc<AtomicU64>>,
    finished: bool,
}

impl JournalFeed {
    pub fn new(dir: &Path, stream: &str, mode: FolderMode) -> JournalFeed {
        JournalFeed {
            dir: dir.to_path_buf(),
            stream: stream.to_string(),
            mode,
            tailer: None,
            seq_written: None,
            finished: false,
        }
    }

    /// Lets the feed tell its lag in events: `seq_written` is the writer's
    /// last sequence on disk (`JournalStage::seq_durable_handle`, or any
    /// counter of what was written).
    pub fn with_seq_written(mut self, seq_written: Arc<AtomicU64>) -> JournalFeed {
        self.seq_written = Some(seq_written);
        self
    }

    /// Whether `dir` holds a segmented journal.
    pub fn is_journal(dir: &Path) -> bool {
        genesis_journal::naming::list_segments(dir).is_ok_and(|segments| !segments.is_empty())
    }
}

impl EventFeed for JournalFeed {
    fn start_after(&mut self, marks: &Watermarks) -> Result<(), FeedError> {
        let seq_from = marks.get(&self.stream).map_or(1, |mark| mark.seq_last + 1);
        self.tailer = Some(Tailer::open(&self.dir, seq_from, TAIL_BUFFER_BYTES)?);
        Ok(())
    }

    fn next_batch(&mut self, max: usize, batch: &mut Batch) -> Result<(), FeedError> {
        batch.clear();
        batch.stream.clone_from(&self.stream);
        let Some(tailer) = self.tailer.as_mut() else {
            return Ok(());
        };
        while batch.events.len() < max {
            let Some(record) = tailer.poll()? else {
                self.finished = self.mode == FolderMode::Finished;
                break;
            };
            let bytes: &[u8; EVENT_BYTES] =
                record
                    .payload
                    .try_into()
                    .map_err(|_| FeedError::RecordSize {
                        path: self.dir.clone(),
                        got: record.payload.len(),
                        expected: EVENT_BYTES,
                    })?;
            let event = Event::decode(bytes).map_err(|source| FeedError::Decode {
                path: self.dir.clone(),
                seq: record.seq,
                source,
            })?;
            batch.events.push(event);
        }
        Ok(())
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn events_behind(&self) -> Option<u64> {
        let written = self.seq_written.as_ref()?.load(Ordering::Relaxed);
        let next = self.tailer.as_ref()?.seq_next();
        Some((written + 1).saturating_sub(next))
    }
}
