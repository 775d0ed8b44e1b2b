//! The segmented journal writer: appends, rollover, durability policy.
//!
//! Owned by one thread (the journal stage's). `append` encodes one frame
//! straight into the active segment's memory map (`WriteMode::Mmap`) or into
//! a preallocated buffer written with `pwrite` (`WriteMode::Pwrite`); it
//! never allocates and never makes a system call in `Mmap` mode. Two helper
//! threads keep slow work off this one: `journal-prealloc` prepares the
//! next segment and unmaps closed ones (see [`crate::prealloc`]), and under
//! `Durability::Group` `journal-sync` runs `fdatasync` (see
//! [`crate::durability`]).
//!
//! Invariants: records carry consecutive sequences; slot `i` of a segment
//! holds `seq_first + i`; only the newest named segment is ever written; the
//! durable sequence never passes what was handed to the page cache.

use crate::config::{Durability, JournalConfig, WriteMode};
use crate::durability::{self, SyncShared, SyncTarget};
use crate::frame;
use crate::layout::Layout;
use crate::naming;
use crate::prealloc::{self, Preallocator};
use crate::recovery::{self, RecoveryReport};
use crate::segment;
use crate::sys;
use crate::JournalError;
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// The segment being written.
struct Active {
    target: Arc<SyncTarget>,
    map: Option<MmapMut>,
}

/// Appends records to a segmented journal folder. See the module comment.
pub struct Writer {
    dir: PathBuf,
    layout: Layout,
    durability: Durability,
    active: Active,
    /// Next slot to write in the active segment.
    slot_index: u64,
    seq_next: u64,
    /// `Pwrite` mode: frames not yet written, for slots just before `slot_index`.
    buffer: Vec<u8>,
    shared: Arc<SyncShared>,
    syncer: Option<(JoinHandle<()>, Thread)>,
    /// Group commit: records after which to wake the sync thread.
    group_records: u64,
    seq_nudged: u64,
    prealloc: Preallocator,
    _lock: File,
    closed: bool,
}

impl Writer {
    /// Opens (or creates) the journal in `config.dir`, recovers its newest
    /// segment, and gets ready to append after its last good record.
    pub fn open(config: &JournalConfig) -> Result<(Writer, RecoveryReport), JournalError> {
        let dir = config.dir.as_path();
        let layout = Layout::new(config.record_size_bytes, config.segment_size_bytes, dir)?;
        check_config(config)?;
        std::fs::create_dir_all(dir).map_err(JournalError::io(dir, "create folder"))?;
        let lock = lock_folder(dir)?;
        let mut prealloc_removed = 0;
        for stale in naming::list_prealloc(dir)? {
            std::fs::remove_file(&stale).map_err(JournalError::io(&stale, "remove"))?;
            prealloc_removed += 1;
        }
        let mapped = config.write_mode == WriteMode::Mmap;
        let (active, slot_index, mut report) = match naming::list_segments(dir)?.pop() {
            None => create_first(dir, &layout, config.seq_first, mapped, config.zero_fill())?,
            Some(newest) => reopen_newest(&newest, &layout, mapped)?,
        };
        report.prealloc_removed = prealloc_removed;
        let durable = report.seq_next - 1;
        let shared = Arc::new(SyncShared::new(dir, durable, |f| f.sync_data())?);
        shared.register(active.target.clone(), false);
        let prealloc = Preallocator::spawn(dir, layout, mapped, config.zero_fill())?;
        prealloc.request(active.target.seq_first + layout.slots_per_segment)?;
        let (syncer, group_records) = match config.durability {
            Durability::Group {
                records,
                interval_us,
            } => {
                let thread = spawn_syncer(dir, &shared, records, interval_us)?;
                (Some(thread), records)
            }
            _ => (None, u64::MAX),
        };
        let buffer_frames = match (config.write_mode, config.durability) {
            (WriteMode::Mmap, _) => 0,
            (WriteMode::Pwrite, Durability::Group { records, .. }) => {
                (config.write_buffer_bytes / layout.frame_bytes).clamp(1, records as usize)
            }
            (WriteMode::Pwrite, _) => (config.write_buffer_bytes / layout.frame_bytes).max(1),
        };
        let writer = Writer {
            dir: dir.to_path_buf(),
            layout,
            durability: config.durability,
            active,
            slot_index,
            seq_next: report.seq_next,
            buffer: Vec::with_capacity(buffer_frames * layout.frame_bytes),
            shared,
            syncer,
            group_records,
            seq_nudged: durable,
            prealloc,
            _lock: lock,
            closed: false,
        };
        Ok((writer, report))
    }

    /// Appends one record and returns its sequence number.
    #[inline]
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() != self.layout.record_size_bytes {
            return Err(JournalError::PayloadSize {
                path: self.active.target.path.clone(),
                got: payload.len(),
                expected: self.layout.record_size_bytes,
            });
        }
        self.shared.check()?;
        if self.slot_index == self.layout.slots_per_segment {
            self.roll_over()?;
        }
        let seq = self.seq_next;
        let frame_bytes = self.layout.frame_bytes;
        if let Some(map) = self.active.map.as_mut() {
            let start = self.layout.slot_offset(self.slot_index) as usize;
            frame::encode_length_last(seq, payload, &mut map[start..start + frame_bytes]);
            self.slot_index += 1;
            self.seq_next += 1;
            self.published(seq);
        } else {
            if self.buffer.len() + frame_bytes > self.buffer.capacity() {
                self.flush()?;
            }
            // Within the capacity reserved at open: never reallocates.
            frame::append(seq, payload, &mut self.buffer);
            self.slot_index += 1;
            self.seq_next += 1;
        }
        Ok(seq)
    }

    /// Records up to `seq` are in the page cache: tell the sync side.
    #[inline]
    fn published(&mut self, seq: u64) {
        self.shared.written_seq.store(seq, Ordering::Release);
        if seq - self.seq_nudged >= self.group_records {
            self.seq_nudged = seq;
            if let Some((_, thread)) = &self.syncer {
                thread.unpark();
            }
        }
    }

    /// Hands buffered records to the page cache (`Pwrite` mode; a no-op with a map).
    pub fn flush(&mut self) -> Result<(), JournalError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let frames = (self.buffer.len() / self.layout.frame_bytes) as u64;
        let offset = self.layout.slot_offset(self.slot_index - frames);
        let target = &self.active.target;
        target
            .file
            .write_all_at(&self.buffer, offset)
            .map_err(JournalError::io(&target.path, "write"))?;
        self.buffer.clear();
        self.published(self.seq_next - 1);
        Ok(())
    }

    /// The caller finished a batch: flush, and under `Batch` wait for `fdatasync`.
    pub fn end_of_batch(&mut self) -> Result<(), JournalError> {
        self.shared.check()?;
        self.flush()?;
        if self.durability == Durability::Batch {
            self.shared.sync_through(self.seq_next - 1)?;
        }
        Ok(())
    }

    /// Flushes and waits until every appended record is on disk, whatever the policy.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        self.shared.sync_through(self.seq_next - 1)
    }

    /// Moves into the next segment, prepared ahead by the helper thread.
    fn roll_over(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        let seq_first = self.active.target.seq_first + self.layout.slots_per_segment;
        let prepared = self.prealloc.take(seq_first)?;
        let target = prepared.target;
        std::fs::rename(&prepared.tmp_path, &target.path).map_err(JournalError::io(
            &target.path,
            "rename preallocated segment into place",
        ))?;
        self.shared.register(target.clone(), true);
        let closed = std::mem::replace(
            &mut self.active,
            Active {
                target,
                map: prepared.map,
            },
        );
        if let Some(map) = closed.map {
            self.prealloc.retire(map)?;
        }
        self.prealloc
            .request(seq_first + self.layout.slots_per_segment)?;
        self.slot_index = 0;
        Ok(())
    }

    /// Flushes, syncs, stops the helper threads and removes the unused
    /// preallocated segment. Dropping the writer does the same, ignoring errors.
    pub fn close(mut self) -> Result<(), JournalError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), JournalError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let synced = self.flush().and_then(|()| {
            self.shared.check()?;
            self.shared.sync_through(self.seq_next - 1)
        });
        self.shared.stop.store(true, Ordering::Release);
        if let Some((handle, thread)) = self.syncer.take() {
            thread.unpark();
            let _ = handle.join();
        }
        self.prealloc.shutdown();
        synced
    }

    /// Sequence number the next append gets.
    pub fn seq_next(&self) -> u64 {
        self.seq_next
    }

    /// Last sequence known to be on disk (0: none yet).
    pub fn seq_durable(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// The durable sequence as a shared atomic that other threads can read.
    pub fn seq_durable_handle(&self) -> Arc<AtomicU64> {
        self.shared.durable_seq.clone()
    }

    /// The segment being written.
    pub fn segment_path(&self) -> &Path {
        &self.active.target.path
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Rollovers that had to wait for the helper to finish the next segment.
    pub fn rollover_waits(&self) -> u64 {
        self.prealloc.rollover_waits
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn check_config(config: &JournalConfig) -> Result<(), JournalError> {
    let bad = |reason: &str| JournalError::Config {
        path: config.dir.clone(),
        reason: reason.to_string(),
    };
    if config.seq_first == 0 {
        return Err(bad(
            "the first sequence must be at least 1 (0 means none durable)",
        ));
    }
    if let Durability::Group {
        records,
        interval_us,
    } = config.durability
    {
        if records == 0 || interval_us == 0 {
            return Err(bad("group commit needs records >= 1 and interval_us >= 1"));
        }
    }
    Ok(())
}

/// Takes the folder's writer lock: one writer per journal.
fn lock_folder(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(naming::LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(JournalError::io(&path, "open lock file"))?;
    match sys::fs::try_lock_exclusive(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(JournalError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(source) => Err(JournalError::Io {
            path,
            op: "lock",
            source,
        }),
    }
}

/// An empty folder: the first segment is prepared here, synchronously.
fn create_first(
    dir: &Path,
    layout: &Layout,
    seq_first: u64,
    mapped: bool,
    zero_fill: bool,
) -> Result<(Active, u64, RecoveryReport), JournalError> {
    let prepared = prealloc::prepare_segment(dir, layout, seq_first, mapped, zero_fill)?;
    let path = prepared.target.path.clone();
    std::fs::rename(&prepared.tmp_path, &path)
        .map_err(JournalError::io(&path, "rename new segment into place"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io(dir, "fsync folder"))?;
    let report = RecoveryReport {
        segment_path: path.clone(),
        seq_next: seq_first,
        truncation: None,
        prealloc_removed: 0,
        created: true,
    };
    let active = Active {
        target: prepared.target,
        map: prepared.map,
    };
    Ok((active, 0, report))
}

/// A folder with segments: recover the newest and resume after its last good record.
fn reopen_newest(
    newest: &naming::SegmentFile,
    layout: &Layout,
    mapped: bool,
) -> Result<(Active, u64, RecoveryReport), JournalError> {
    let open = segment::open_segment(&newest.path, newest.seq_first, true)?;
    layout.check_header(&open.header, &open.path)?;
    let end = recovery::recover_segment(&open.file, &open.path, layout, newest.seq_first)?;
    // What recovery found is the log: make it durable before calling it so.
    open.file
        .sync_data()
        .map_err(JournalError::io(&open.path, "fdatasync on open"))?;
    let map = if mapped {
        Some(
            sys::map::map_segment(&open.file, layout.segment_size_bytes as usize)
                .map_err(JournalError::io(&open.path, "map segment"))?,
        )
    } else {
        None
    };
    let report = RecoveryReport {
        segment_path: open.path.clone(),
        seq_next: newest.seq_first + end.slot_end,
        truncation: end.truncation,
        prealloc_removed: 0,
        created: false,
    };
    let active = Active {
        target: Arc::new(SyncTarget {
            seq_first: newest.seq_first,
            file: open.file,
            path: open.path,
        }),
        map,
    };
    Ok((active, end.slot_end, report))
}

fn spawn_syncer(
    dir: &Path,
    shared: &Arc<SyncShared>,
    records: u64,
    interval_us: u64,
) -> Result<(JoinHandle<()>, Thread), JournalError> {
    let shared = shared.clone();
    let handle = std::thread::Builder::new()
        .name("journal-sync".into())
        .spawn(move || {
            durability::group_commit_loop(&shared, records, Duration::from_micros(interval_us))
        })
        .map_err(JournalError::io(dir, "spawn sync thread"))?;
    let thread = handle.thread().clone();
    Ok((handle, thread))
}
