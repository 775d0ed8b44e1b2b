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

use crate::config::{
    JournalClosedCheck, JournalConfig, JournalDurability, JournalWriteMode, WaitKind,
};
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
    /// thread runs dry (see [`JournalStage::on_idle`]), not with a system
    /// call per poll.
    sync_each_batch: bool,
    /// Receipt time (`ts_recv_ns`) of the first record appended since the
    /// last flush this stage made; 0: none. A flush the writer made itself
    /// (a full buffer) leaves it older than the records still buffered,
    /// which only makes the next idle flush come sooner.
    unflushed_since_ns: u64,
    /// How old the oldest buffered record must be before an idle moment
    /// flushes it (`journal.idle_flush_us`); 0 when the thread does not
    /// spin when idle ([`JournalStage::set_thread_wait`]): it flushes at
    /// every idle moment, as it may sleep or park right after.
    idle_flush_ns: u64,
    /// `journal.idle_flush_us` in ns, applied when the thread spins.
    idle_flush_ns_spinning: u64,
    /// Flushes made on idle (for tests and reports).
    pub idle_flushes: u64,
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
            unflushed_since_ns: 0,
            idle_flush_ns: 0,
            idle_flush_ns_spinning: config.idle_flush_us.saturating_mul(1_000),
            idle_flushes: 0,
            records: 0,
        };
        Ok((stage, recovery))
    }

    /// Appends the event, encoded straight into its frame (no copy), the
    /// record's size known at compile time (`Writer::append_record`; the
    /// journal was opened with `EVENT_BYTES` records in `open`). Always
    /// inlined: out of line (as the inliner chose once the receipt time
    /// was noted here) the call cost the fused path 27 instructions per
    /// event under callgrind.
    #[inline(always)]
    pub fn on_event(&mut self, ev: &Event) -> Result<(), JournalError> {
        let seq_expected = self.writer.seq_next();
        let seq = self
            .writer
            .append_record(|slot: &mut [u8; EVENT_BYTES]| ev.encode(slot))?;
        debug_assert_eq!(seq, seq_expected, "the journal's sequence rises by one");
        debug_assert_eq!(seq, ev.seq, "the journal's sequence is ingest's");
        self.records += 1;
        if self.unflushed_since_ns == 0 {
            // A receipt time of 0 (a test's event) still marks the buffer.
            self.unflushed_since_ns = ev.ts_recv_ns.max(1);
        }
        Ok(())
    }

    /// The wait strategy of the stage's thread: only a thread that spins
    /// when idle (`spin-hint`, `busy-spin`) may leave records buffered over
    /// an idle moment for up to `journal.idle_flush_us`, since it looks
    /// again a round of idle polls later. One that sleeps, yields or parks
    /// (`sleep`, `yield`, `spin-park`), and a stage never told (the
    /// default), flushes at every idle moment, before it may block.
    pub fn set_thread_wait(&mut self, wait: WaitKind) {
        let spins = matches!(wait, WaitKind::SpinHint | WaitKind::BusySpin);
        self.idle_flush_ns = if spins {
            self.idle_flush_ns_spinning
        } else {
            0
        };
    }

    /// The end of a batch of events: the `batch` policy syncs here.
    pub fn end_of_batch(&mut self) -> Result<(), JournalError> {
        if self.sync_each_batch {
            self.writer.end_of_batch()
        } else {
            Ok(())
        }
    }

    /// The thread ran dry at `now_ns` (epoch ns, the clock `ts_recv_ns`
    /// is read from): hands buffered records to the page cache (or the
    /// write thread) once the oldest was received `journal.idle_flush_us`
    /// ago, at once if the thread does not spin when idle. A receipt time
    /// after `now_ns` (a tape's, another clock's) flushes at once too: the
    /// bound is never stretched by a time it cannot trust. True if it
    /// flushed.
    pub fn on_idle(&mut self, now_ns: u64) -> Result<bool, JournalError> {
        if self.unflushed_since_ns == 0 {
            return Ok(false);
        }
        if self.writer.buffered_records() == 0 {
            // Nothing buffered: a map (records are in the page cache as
            // they are appended), or `batch` wrote them at the batch's end.
            self.unflushed_since_ns = 0;
            return Ok(false);
        }
        let due = now_ns
            .checked_sub(self.unflushed_since_ns)
            .is_none_or(|waited_ns| waited_ns >= self.idle_flush_ns);
        if !due {
            return Ok(false);
        }
        self.flush()?;
        self.idle_flushes += 1;
        Ok(true)
    }

    /// Hands every buffered record to the page cache (or the write
    /// thread) now, whatever their age.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        self.writer.flush()?;
        self.unflushed_since_ns = 0;
        Ok(())
    }

    /// Records appended and not yet flushed (see `Writer::buffered_records`).
    pub fn buffered_records(&self) -> u64 {
        self.writer.buffered_records()
    }

    /// What the hand-overs to the write thread cost (`journal.write_thread` only).
    pub fn write_thread_stats(&self) -> Option<genesis_journal::WriteThreadStats> {
        self.writer.write_thread_stats()
    }

    /// The engine is stopping: flush, and sync if configured.
    pub fn finish(&mut self) -> Result<(), JournalError> {
        self.unflushed_since_ns = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 ms after the epoch: the receipt time of the tests' first event.
    const T0_NS: u64 = 1_000_000;
    const BOUND_US: u64 = 500;

    /// [`stage`] on a thread that spins when idle: the bound applies.
    fn spinning(dir: &Path, write_thread: bool) -> JournalStage {
        let mut stage = stage(dir, write_thread);
        stage.set_thread_wait(WaitKind::SpinHint);
        stage
    }

    fn stage(dir: &Path, write_thread: bool) -> JournalStage {
        let config = JournalConfig {
            dir: dir.to_path_buf(),
            durability: JournalDurability::None,
            idle_flush_us: BOUND_US,
            write_thread,
            sync_on_exit: false,
            ..JournalConfig::default()
        };
        JournalStage::open(&config).unwrap().0
    }

    fn quote(seq: u64, ts_recv_ns: u64) -> Event {
        let mut ev = Event::test_quote(seq);
        ev.ts_recv_ns = ts_recv_ns;
        ev
    }

    /// Appends `count` events received 1 µs apart from `ts_first_ns`.
    fn append(stage: &mut JournalStage, count: u64, ts_first_ns: u64) {
        for index in 0..count {
            let seq = stage.seq_next();
            stage
                .on_event(&quote(seq, ts_first_ns + index * 1_000))
                .unwrap();
        }
    }

    fn in_page_cache(stage: &JournalStage) -> usize {
        read_available(stage.dir()).unwrap().len()
    }

    // A spinning thread's idle moments leave a paced burst buffered until
    // its oldest record waited the bound, then flush it exactly once; the
    // records reach the page cache only then.
    #[test]
    fn a_spinning_thread_flushes_on_idle_once_the_oldest_record_waited_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = spinning(dir.path(), false);
        let bound_ns = BOUND_US * 1_000;
        append(&mut stage, 3, T0_NS);
        for now_ns in [
            T0_NS,
            T0_NS + 2_000,
            T0_NS + bound_ns / 2,
            T0_NS + bound_ns - 1,
        ] {
            assert!(!stage.on_idle(now_ns).unwrap(), "flushed at {now_ns}");
        }
        // A second burst joins the first, whose oldest record sets the time.
        append(&mut stage, 2, T0_NS + bound_ns / 2);
        assert_eq!((stage.buffered_records(), in_page_cache(&stage)), (5, 0));
        assert!(stage.on_idle(T0_NS + bound_ns).unwrap());
        assert_eq!((stage.buffered_records(), in_page_cache(&stage)), (0, 5));
        for now_ns in [T0_NS + bound_ns, T0_NS + 10 * bound_ns] {
            assert!(!stage.on_idle(now_ns).unwrap(), "nothing left to flush");
        }
        assert_eq!(stage.idle_flushes, 1);
        // The next burst waits its own bound, counted from its receipt.
        let t1_ns = T0_NS + 20 * bound_ns;
        append(&mut stage, 1, t1_ns);
        assert!(!stage.on_idle(t1_ns + bound_ns - 1).unwrap());
        assert!(stage.on_idle(t1_ns + bound_ns).unwrap());
        assert_eq!((stage.idle_flushes, in_page_cache(&stage)), (2, 6));
    }

    // A thread that sleeps, yields or parks when idle (the default) flushes
    // at every idle moment, before it may block.
    #[test]
    fn a_thread_that_may_block_flushes_at_every_idle_moment() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = stage(dir.path(), false);
        append(&mut stage, 2, T0_NS);
        assert!(stage.on_idle(T0_NS).unwrap());
        assert_eq!(in_page_cache(&stage), 2);
        // Every wait that may block the thread flushes at once; the two
        // that spin keep the records for the bound.
        let mut seen = 2;
        for (wait, defers) in [
            (WaitKind::Sleep, false),
            (WaitKind::Yield, false),
            (WaitKind::SpinPark, false),
            (WaitKind::SpinHint, true),
            (WaitKind::BusySpin, true),
        ] {
            stage.set_thread_wait(wait);
            let t_ns = T0_NS + seen * 1_000;
            append(&mut stage, 1, t_ns);
            assert_eq!(stage.on_idle(t_ns).unwrap(), !defers, "{wait:?}");
            stage.flush().unwrap();
            seen += 1;
            assert_eq!(in_page_cache(&stage) as u64, seen, "{wait:?}");
        }
        assert_eq!(stage.idle_flushes, 4);
    }

    // A receipt time after the idle moment's clock (a tape's, another
    // clock's) cannot stretch the bound: the records are flushed at once.
    #[test]
    fn a_receipt_time_in_the_future_flushes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = spinning(dir.path(), false);
        append(&mut stage, 2, T0_NS + 1_000_000_000);
        assert!(stage.on_idle(T0_NS).unwrap());
        assert_eq!(in_page_cache(&stage), 2);
    }

    // Records still inside the bound reach the page cache when the engine
    // stops (`finish`), and through an explicit flush.
    #[test]
    fn buffered_records_reach_the_page_cache_at_stop_and_on_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = spinning(dir.path(), false);
        append(&mut stage, 2, T0_NS);
        assert!(!stage.on_idle(T0_NS).unwrap());
        stage.flush().unwrap();
        assert_eq!(in_page_cache(&stage), 2);
        append(&mut stage, 3, T0_NS + 1_000);
        assert!(!stage.on_idle(T0_NS + 1_000).unwrap());
        stage.finish().unwrap();
        assert_eq!((stage.buffered_records(), in_page_cache(&stage)), (0, 5));
        assert!(!stage.on_idle(T0_NS + 1_000_000_000).unwrap());
        assert_eq!(stage.idle_flushes, 0);
    }

    // With the map, records are in the page cache as they are appended:
    // an idle moment finds nothing to flush, whatever their age.
    #[test]
    fn the_map_leaves_nothing_for_the_idle_flush() {
        let dir = tempfile::tempdir().unwrap();
        let config = JournalConfig {
            dir: dir.path().to_path_buf(),
            durability: JournalDurability::None,
            write_mode: JournalWriteMode::Mmap,
            sync_on_exit: false,
            ..JournalConfig::default()
        };
        let mut stage = JournalStage::open(&config).unwrap().0;
        stage.set_thread_wait(WaitKind::SpinHint);
        append(&mut stage, 3, T0_NS);
        assert_eq!((stage.buffered_records(), in_page_cache(&stage)), (0, 3));
        assert!(!stage.on_idle(T0_NS + 1_000_000_000).unwrap());
        assert_eq!(stage.idle_flushes, 0);
    }

    // With a write thread the same bound governs the partial buffer's
    // hand-over: none inside it, exactly one once it passed.
    #[test]
    fn the_write_thread_hand_over_waits_for_the_same_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut stage = spinning(dir.path(), true);
        let hand_overs = |stage: &JournalStage| stage.write_thread_stats().unwrap().hand_overs;
        append(&mut stage, 4, T0_NS);
        for now_ns in [T0_NS, T0_NS + BOUND_US * 1_000 - 1] {
            assert!(!stage.on_idle(now_ns).unwrap());
        }
        assert_eq!(hand_overs(&stage), 0);
        assert!(stage.on_idle(T0_NS + BOUND_US * 1_000).unwrap());
        assert!(!stage.on_idle(T0_NS + 10 * BOUND_US * 1_000).unwrap());
        assert_eq!(hand_overs(&stage), 1);
        stage.finish().unwrap();
        // Closing the writer waits for the thread's write.
        drop(stage);
        assert_eq!(read_available(dir.path()).unwrap().len(), 4);
    }
}
