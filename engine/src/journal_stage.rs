//! The journal stage: the last stage, appending every event with all its
//! decisions to the segmented journal (`genesis_journal::Writer`), and the
//! readers that turn a journal folder back into events.
//!
//! Owned by the thread its core runs. Write-behind: orders may leave before
//! the event that caused them is on disk; the durability policy decides when
//! records are forced to disk, and the writer publishes the durable sequence
//! (see `docs/restart.md`). A journal that cannot be written or synced stops
//! the engine with the error: a possibly lost write is never retried over.
//! Invariant, asserted in debug builds: the journal's sequence rises by one
//! per record and equals the sequence ingest gave the event.

use crate::config::{JournalClosedCheck, JournalConfig, JournalDurability, JournalWriteMode};
use crate::event::{DecodeError, Event, EVENT_BYTES};
use genesis_journal::{Durability, JournalError, RangeReader, RecoveryReport, Writer};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub struct JournalStage {
    writer: Writer,
    sync_on_exit: bool,
    /// Only the `batch` policy does anything at the end of a batch; the
    /// others hand records to the page cache when the buffer fills or the
    /// thread runs dry, not with a system call per poll.
    sync_each_batch: bool,
    pub records: u64,
}

impl JournalStage {
    /// Opens (or creates) the journal in `config.dir`, recovering a torn
    /// tail; appends resume at `RecoveryReport::seq_next`.
    pub fn open(config: &JournalConfig) -> Result<(JournalStage, RecoveryReport), JournalError> {
        let mut options = genesis_journal::JournalConfig::new(&config.dir, EVENT_BYTES);
        options.segment_size_bytes = config.segment_size_mib.max(1) << 20;
        options.durability = match config.durability {
            JournalDurability::None => Durability::None,
            JournalDurability::Group => Durability::Group {
                records: config.group_records,
                interval_us: config.group_interval_us,
            },
            JournalDurability::Batch => Durability::Batch,
        };
        options.write_mode = match config.write_mode {
            JournalWriteMode::Mmap => genesis_journal::WriteMode::Mmap,
            JournalWriteMode::Pwrite => genesis_journal::WriteMode::Pwrite,
        };
        options.write_buffer_bytes = config.buffer_bytes;
        if config.write_thread {
            options.write_thread_buffers = genesis_journal::WRITE_THREAD_BUFFERS_DEFAULT;
        }
        options.closed_check = match config.closed_check {
            JournalClosedCheck::Full => genesis_journal::ClosedCheck::Full,
            JournalClosedCheck::Seals => genesis_journal::ClosedCheck::Seals,
        };
        let (writer, recovery) = Writer::open(&options)?;
        let stage = JournalStage {
            writer,
            sync_on_exit: config.sync_on_exit,
            sync_each_batch: config.durability == JournalDurability::Batch,
            records: 0,
        };
        Ok((stage, recovery))
    }

    /// Appends the event, encoded straight into its frame (no copy), the
    /// record's size known at compile time (`Writer::append_record`; the
    /// journal was opened with `EVENT_BYTES` records in `open`).
    #[inline]
    pub fn on_event(&mut self, ev: &Event) -> Result<(), JournalError> {
        let seq_expected = self.writer.seq_next();
        let seq = self
            .writer
            .append_record(|slot: &mut [u8; EVENT_BYTES]| ev.encode(slot))?;
        debug_assert_eq!(seq, seq_expected, "the journal's sequence rises by one");
        debug_assert_eq!(seq, ev.seq, "the journal's sequence is ingest's");
        self.records += 1;
        Ok(())
    }

    /// The end of a batch of events: the `batch` policy syncs here.
    pub fn end_of_batch(&mut self) -> Result<(), JournalError> {
        if self.sync_each_batch {
            self.writer.end_of_batch()
        } else {
            Ok(())
        }
    }

    /// The thread ran dry: hand buffered records to the page cache.
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

    /// The last sequence known to be on disk, shared with readers.
    pub fn seq_durable_handle(&self) -> Arc<AtomicU64> {
        self.writer.seq_durable_handle()
    }

    /// Sequence the next append gets.
    pub fn seq_next(&self) -> u64 {
        self.writer.seq_next()
    }

    pub fn dir(&self) -> &Path {
        self.writer.dir()
    }

    pub fn segment_path(&self) -> &Path {
        self.writer.segment_path()
    }
}

/// A journal record that could not be read as an event.
#[derive(Debug, thiserror::Error)]
pub enum EventReadError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("journal {dir}: record {seq}: {source}")]
    Decode {
        dir: PathBuf,
        seq: u64,
        #[source]
        source: DecodeError,
    },
    #[error("journal {dir}: record {seq} is {got} bytes, events are {EVENT_BYTES}")]
    RecordSize { dir: PathBuf, seq: u64, got: usize },
}

/// Reads the events `seq_from..=seq_to` of a journal folder, in order, in bounded memory.
pub struct EventReader {
    dir: PathBuf,
    reader: RangeReader,
}

impl EventReader {
    pub fn open(dir: &Path, seq_from: u64, seq_to: u64) -> Result<EventReader, EventReadError> {
        Ok(EventReader {
            dir: dir.to_path_buf(),
            reader: RangeReader::open(dir, seq_from, seq_to)?,
        })
    }

    /// The next event, or `None` at the end of the range or the log.
    pub fn next_event(&mut self) -> Result<Option<Event>, EventReadError> {
        let Some(record) = self.reader.next_record()? else {
            return Ok(None);
        };
        decode_record(&self.dir, record.seq, record.payload).map(Some)
    }

    /// Where reading stopped at a torn last record, if it did.
    pub fn torn_tail(&self) -> Option<&genesis_journal::TornTail> {
        self.reader.torn_tail.as_ref()
    }

    /// Every event of a journal folder: for tests and small journals.
    pub fn read_all(dir: &Path) -> Result<Vec<Event>, EventReadError> {
        let mut reader = EventReader::open(dir, 1, u64::MAX)?;
        let mut events = Vec::new();
        while let Some(event) = reader.next_event()? {
            events.push(event);
        }
        Ok(events)
    }
}

/// Every event a live journal holds so far, read as a tailer reads it: a
/// record the writer is still writing is waited for, never taken as damage.
pub fn read_available(dir: &Path) -> Result<Vec<Event>, EventReadError> {
    let mut tailer = genesis_journal::Tailer::open(dir, 1, 1 << 20)?;
    let mut events = Vec::new();
    while let Some(record) = tailer.poll()? {
        events.push(decode_record(dir, record.seq, record.payload)?);
    }
    Ok(events)
}

/// One journal record as an event, or what is wrong with it.
fn decode_record(dir: &Path, seq: u64, payload: &[u8]) -> Result<Event, EventReadError> {
    let bytes: &[u8; EVENT_BYTES] = payload.try_into().map_err(|_| EventReadError::RecordSize {
        dir: dir.to_path_buf(),
        seq,
        got: payload.len(),
    })?;
    Event::decode(bytes).map_err(|source| EventReadError::Decode {
        dir: dir.to_path_buf(),
        seq,
        source,
    })
}

/// `DIR/config-<seq_first, 20 digits>.toml`: the config of the run whose
/// first event is `seq_first`, so replay runs each run with its own config.
pub fn run_config_path(dir: &Path, seq_first: u64) -> PathBuf {
    dir.join(format!("config-{seq_first:020}.toml"))
}

/// The runs recorded in a journal folder: (first sequence, config file), in order.
pub fn list_runs(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(digits) = name
            .strip_prefix("config-")
            .and_then(|n| n.strip_suffix(".toml"))
        else {
            continue;
        };
        if let Ok(seq_first) = digits.parse::<u64>() {
            runs.push((seq_first, path));
        }
    }
    runs.sort();
    Ok(runs)
}
