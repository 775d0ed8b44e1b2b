//! The journal stage: the last stage, appending every event with all its
//! decisions to the journal file. Write-behind: orders may leave before the
//! event that caused them is on disk (see `docs/architecture.md`).
//!
//! Owned by the thread its core runs. Appends go to a preallocated buffer;
//! the buffer is written when full and whenever the thread runs dry.

use crate::event::{Event, EVENT_BYTES};
use genesis_journal::{FileWriter, JournalError};
use std::path::{Path, PathBuf};

pub struct JournalStage {
    writer: FileWriter,
    scratch: [u8; EVENT_BYTES],
    sync_on_exit: bool,
    pub records: u64,
}

impl JournalStage {
    /// Creates `dir` if needed and a new journal file in it for a run whose first event is `seq_first`.
    pub fn create(
        dir: &Path,
        seq_first: u64,
        buffer_bytes: usize,
        sync_on_exit: bool,
    ) -> Result<JournalStage, JournalError> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
            path: dir.to_path_buf(),
            op: "create folder",
            source,
        })?;
        let path = new_file_path(dir);
        let writer = FileWriter::create(&path, EVENT_BYTES, seq_first, buffer_bytes)?;
        Ok(JournalStage {
            writer,
            scratch: [0; EVENT_BYTES],
            sync_on_exit,
            records: 0,
        })
    }

    #[inline]
    pub fn on_event(&mut self, ev: &Event) -> Result<(), JournalError> {
        debug_assert_eq!(
            ev.seq,
            self.writer.seq_next(),
            "journal sequence follows ingest's"
        );
        ev.encode(&mut self.scratch);
        self.writer.append(&self.scratch)?;
        self.records += 1;
        Ok(())
    }

    /// The thread ran dry: hand the buffer to the page cache.
    pub fn on_idle(&mut self) -> Result<(), JournalError> {
        self.writer.flush()
    }

    /// The engine is stopping: flush, and sync if configured.
    pub fn finish(&mut self) -> Result<(), JournalError> {
        if self.sync_on_exit {
            self.writer.sync()
        } else {
            self.writer.flush()
        }
    }

    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    pub fn bytes_written(&self) -> u64 {
        self.writer.bytes_written()
    }
}

/// `run-<unix seconds>-<pid>[-n].gjnl`, never an existing name.
#[allow(clippy::disallowed_methods)] // naming a file, not a decision
fn new_file_path(dir: &Path) -> PathBuf {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let pid = std::process::id();
    let mut path = dir.join(format!("run-{seconds}-{pid}.gjnl"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("run-{seconds}-{pid}-{n}.gjnl"));
        n += 1;
    }
    path
}

/// Reads a journal file back as events, one at a time (bounded memory).
pub struct EventReader {
    reader: genesis_journal::FileReader,
    /// Where the file ended in a torn last record, if it did.
    pub torn_tail_offset: Option<u64>,
}

/// A journal record that is not a valid event.
#[derive(Debug, thiserror::Error)]
pub enum EventReadError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("journal {path}: record {seq}: {source}")]
    Decode {
        path: PathBuf,
        seq: u64,
        #[source]
        source: crate::event::DecodeError,
    },
    #[error("journal {path}: records are {got} bytes, events are {EVENT_BYTES}")]
    RecordSize { path: PathBuf, got: u32 },
}

impl EventReader {
    pub fn open(path: &Path) -> Result<EventReader, EventReadError> {
        let reader = genesis_journal::FileReader::open(path)?;
        let got = reader.header().record_size_bytes;
        if got as usize != EVENT_BYTES {
            return Err(EventReadError::RecordSize {
                path: path.to_path_buf(),
                got,
            });
        }
        Ok(EventReader {
            reader,
            torn_tail_offset: None,
        })
    }

    /// The next event, or `None` at the end (clean or torn: see `torn_tail_offset`).
    pub fn next_event(&mut self, path: &Path) -> Result<Option<Event>, EventReadError> {
        match self.reader.next_record()? {
            genesis_journal::ReadOutcome::Record(record) => {
                let bytes: &[u8; EVENT_BYTES] = record
                    .payload
                    .try_into()
                    .expect("record size checked at open");
                Event::decode(bytes)
                    .map(Some)
                    .map_err(|source| EventReadError::Decode {
                        path: path.to_path_buf(),
                        seq: record.seq,
                        source,
                    })
            }
            genesis_journal::ReadOutcome::End => Ok(None),
            genesis_journal::ReadOutcome::TornTail { offset, .. } => {
                self.torn_tail_offset = Some(offset);
                Ok(None)
            }
        }
    }

    /// Every event of a journal file: for tests and small files.
    pub fn read_all(path: &Path) -> Result<Vec<Event>, EventReadError> {
        let mut reader = EventReader::open(path)?;
        let mut events = Vec::new();
        while let Some(event) = reader.next_event(path)? {
            events.push(event);
        }
        Ok(events)
    }
}
