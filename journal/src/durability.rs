//! Making records durable: the `fdatasync` step shared by every policy, the
//! published durable sequence, and the group-commit thread.
//!
//! Threads: the writer publishes `written_seq` (last sequence in the page
//! cache) and registers each segment it moves into; whoever syncs (the group
//! thread, or the writer itself under `Batch` or an explicit `sync`) holds
//! `sync_lock`, syncs every registered segment that may hold unsynced
//! records, the folder if a segment was renamed into it, and only then
//! raises `durable_seq`.
//!
//! Invariants: `durable_seq <= written_seq`; `durable_seq` never falls. After
//! one failed `fdatasync` the state is failed for good: nothing syncs again
//! (a retry could report success over pages the kernel already dropped) and
//! the writer returns `SyncFailed` from every call.

use crate::JournalError;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// A segment file the syncer may have to `fdatasync`.
pub(crate) struct SyncTarget {
    pub seq_first: u64,
    pub file: File,
    pub path: PathBuf,
    /// The CRC32C of the body's bytes written so far, from its first
    /// byte, when every write since the segment was made went on where the
    /// last one ended: what the seal needs, without reading the closed
    /// segment back ([`SyncTarget::body_crc_if_whole`]).
    body: Mutex<BodyCrc>,
}

/// The body written so far: its CRC and where the next write must start
/// for the CRC to go on (`UNKNOWN`: not from the start, or not in order).
#[derive(Clone, Copy)]
struct BodyCrc {
    next_offset: u64,
    crc: u32,
}

impl BodyCrc {
    const UNKNOWN: u64 = u64::MAX;
}

/// Zeros for the body's unwritten tail (past the last slot).
static ZEROS: [u8; 4096] = [0; 4096];

impl SyncTarget {
    /// A segment made empty here: its body's CRC is followed from
    /// `body_offset`, its first byte.
    pub fn fresh(seq_first: u64, file: File, path: PathBuf, body_offset: u64) -> SyncTarget {
        SyncTarget::with_body(seq_first, file, path, body_offset)
    }

    /// A segment that already holds records (reopened): its seal reads it.
    pub fn existing(seq_first: u64, file: File, path: PathBuf) -> SyncTarget {
        SyncTarget::with_body(seq_first, file, path, BodyCrc::UNKNOWN)
    }

    fn with_body(seq_first: u64, file: File, path: PathBuf, next_offset: u64) -> SyncTarget {
        SyncTarget {
            seq_first,
            file,
            path,
            body: Mutex::new(BodyCrc {
                next_offset,
                crc: 0,
            }),
        }
    }

    /// `bytes` were written at `offset`: the body's CRC goes on if they
    /// start where the last write ended, and is given up otherwise.
    pub fn note_written(&self, offset: u64, bytes: &[u8]) {
        let mut body = self.body.lock().unwrap_or_else(|p| p.into_inner());
        if body.next_offset == offset {
            body.crc = crc32c::crc32c_append(body.crc, bytes);
            body.next_offset += bytes.len() as u64;
        } else {
            body.next_offset = BodyCrc::UNKNOWN;
        }
    }

    /// The CRC32C of the whole body (`body_offset..segment_bytes`, as
    /// `scan::body_crc` reads it) when the writes covered it in order from
    /// its start up to `written_end` (the end of the last slot); the bytes
    /// past that were never written and read as zeros. `None` otherwise.
    pub fn body_crc_if_whole(&self, written_end: u64, segment_bytes: u64) -> Option<u32> {
        let body = *self.body.lock().unwrap_or_else(|p| p.into_inner());
        if body.next_offset != written_end || written_end > segment_bytes {
            return None;
        }
        let mut crc = body.crc;
        let mut tail = segment_bytes - written_end;
        while tail > 0 {
            let len = tail.min(ZEROS.len() as u64) as usize;
            crc = crc32c::crc32c_append(crc, &ZEROS[..len]);
            tail -= len as u64;
        }
        Some(crc)
    }
}

struct Registered {
    segments: Vec<Arc<SyncTarget>>,
    dir_dirty: bool,
}

/// The function that forces a file's data to disk (replaceable in tests).
pub(crate) type SyncDataFn = fn(&File) -> std::io::Result<()>;

pub(crate) struct SyncShared {
    /// Last sequence handed to the page cache (0: none).
    pub written_seq: AtomicU64,
    /// Last sequence known to be on disk (0: none). Readable by anyone.
    pub durable_seq: Arc<AtomicU64>,
    /// Set by the writer when it closes; the group thread syncs once more and exits.
    pub stop: AtomicBool,
    /// Last sequence of the newest sealed segment (0: none sealed by this
    /// writer yet). Raised by the preallocating helper after each seal.
    pub sealed_seq: AtomicU64,
    /// Seals whose body CRC was read back from the closed segment, not
    /// followed as the write thread wrote it (no write thread, a memory
    /// map, a reopened segment).
    pub seals_read_back: AtomicU64,
    /// Returns from the group-commit thread's park (timeouts and unparks).
    pub sync_wakeups: AtomicU64,
    /// Successful syncs so far. Each one's writeback write-protected the
    /// pages of a mapped segment, so the map window populates them again.
    pub sync_epoch: AtomicU64,
    /// A sync is writing back (set around the `fdatasync` calls).
    pub syncing: AtomicBool,
    /// The map window's thread (`WriteMode::Mmap`), woken after each sync.
    window: OnceLock<Thread>,
    failed: AtomicBool,
    failure: Mutex<Option<(PathBuf, String)>>,
    registered: Mutex<Registered>,
    /// Held for a whole sync; holds the scratch list of segments to sync.
    sync_lock: Mutex<Vec<Arc<SyncTarget>>>,
    dir: File,
    dir_path: PathBuf,
    sync_data: SyncDataFn,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SyncShared {
    pub fn new(
        dir_path: &Path,
        durable: u64,
        sync_data: SyncDataFn,
    ) -> Result<SyncShared, JournalError> {
        let dir = File::open(dir_path).map_err(JournalError::io(dir_path, "open folder"))?;
        Ok(SyncShared {
            written_seq: AtomicU64::new(durable),
            durable_seq: Arc::new(AtomicU64::new(durable)),
            stop: AtomicBool::new(false),
            sealed_seq: AtomicU64::new(0),
            seals_read_back: AtomicU64::new(0),
            sync_wakeups: AtomicU64::new(0),
            sync_epoch: AtomicU64::new(0),
            syncing: AtomicBool::new(false),
            window: OnceLock::new(),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            registered: Mutex::new(Registered {
                segments: Vec::with_capacity(8),
                dir_dirty: false,
            }),
            sync_lock: Mutex::new(Vec::with_capacity(8)),
            dir,
            dir_path: dir_path.to_path_buf(),
            sync_data,
        })
    }

    /// The writer moved into a new segment (just renamed into the folder).
    pub fn register(&self, target: Arc<SyncTarget>, renamed: bool) {
        let mut registered = lock(&self.registered);
        registered.segments.push(target);
        registered.dir_dirty |= renamed;
    }

    /// The map window's thread, to wake after every sync (set once).
    pub fn set_window(&self, thread: Thread) {
        let _ = self.window.set(thread);
    }

    /// `Err(SyncFailed)` once any `fdatasync` has failed. One relaxed load when healthy.
    #[inline]
    pub fn check(&self) -> Result<(), JournalError> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(self.failure_error());
        }
        Ok(())
    }

    fn failure_error(&self) -> JournalError {
        let (path, reason) = lock(&self.failure)
            .clone()
            .unwrap_or_else(|| (self.dir_path.clone(), "unknown".into()));
        JournalError::SyncFailed {
            path,
            seq_durable: self.durable_seq.load(Ordering::Acquire),
            reason,
        }
    }

    fn fail(&self, path: &Path, err: &std::io::Error) -> JournalError {
        self.stop(path, format!("fdatasync failed: {err}"))
    }

    /// Stops the journal for good: every later writer call returns
    /// `SyncFailed` with `reason`. The first reason given is kept.
    pub fn stop(&self, path: &Path, reason: String) -> JournalError {
        lock(&self.failure).get_or_insert_with(|| (path.to_path_buf(), reason));
        self.failed.store(true, Ordering::Release);
        self.failure_error()
    }

    /// `fdatasync` of every segment in `segments`, then of the folder if dirty.
    fn sync_files(
        &self,
        segments: &[Arc<SyncTarget>],
        dir_dirty: bool,
    ) -> Result<(), JournalError> {
        for target in segments {
            (self.sync_data)(&target.file).map_err(|e| self.fail(&target.path, &e))?;
        }
        if dir_dirty {
            self.dir
                .sync_all()
                .map_err(|e| self.fail(&self.dir_path, &e))?;
        }
        Ok(())
    }

    /// A sync starts or ends: its writeback write-protects the mapped
    /// segment's pages as it cleans them, so the map window populates them
    /// again while it runs and once after.
    fn writeback(&self, running: bool) {
        self.syncing.store(running, Ordering::Release);
        if !running {
            self.sync_epoch.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(window) = self.window.get() {
            window.unpark();
        }
    }

    /// Forces every record up to `seq_target` (already in the page cache) to
    /// disk, then publishes it as durable.
    pub fn sync_through(&self, seq_target: u64) -> Result<(), JournalError> {
        let mut scratch = lock(&self.sync_lock);
        self.check()?;
        if seq_target <= self.durable_seq.load(Ordering::Acquire) {
            return Ok(());
        }
        let dir_dirty = {
            let mut registered = lock(&self.registered);
            scratch.clear();
            scratch.extend(
                registered
                    .segments
                    .iter()
                    .filter(|s| s.seq_first <= seq_target)
                    .cloned(),
            );
            std::mem::take(&mut registered.dir_dirty)
        };
        self.writeback(true);
        let synced = self.sync_files(&scratch, dir_dirty);
        self.writeback(false);
        synced?;
        scratch.clear();
        self.durable_seq.fetch_max(seq_target, Ordering::AcqRel);
        let mut registered = lock(&self.registered);
        while registered.segments.len() >= 2 && registered.segments[1].seq_first <= seq_target + 1 {
            registered.segments.remove(0);
        }
        Ok(())
    }
}

/// The group-commit loop, run on its own thread until `stop`.
///
/// Syncs when `records` are pending, or when records are pending and
/// `interval` has passed since the last sync; otherwise parks (the writer
/// unparks it when `records` accumulate). It never spins, and it wakes at
/// most once per `interval` on its own: with records pending, at the moment
/// they are due; with none, a whole `interval` later (a record written
/// meanwhile is then synced at once, so it waits at most `interval` plus
/// the `fdatasync`, as the policy promises). It used to re-check every
/// 50 µs while the journal was idle: 20,000 wake-ups a second, each one
/// taking a core from the pipeline on a host whose cores it fills.
pub(crate) fn group_commit_loop(shared: &SyncShared, records: u64, interval: Duration) {
    let mut last_sync_at = Instant::now();
    loop {
        let stop = shared.stop.load(Ordering::Acquire);
        let written = shared.written_seq.load(Ordering::Acquire);
        let durable = shared.durable_seq.load(Ordering::Acquire);
        let pending = written.saturating_sub(durable);
        let since_sync = last_sync_at.elapsed();
        if pending > 0 && (stop || pending >= records || since_sync >= interval) {
            if shared.sync_through(written).is_err() {
                return; // The writer sees the failure on its next call.
            }
            last_sync_at = Instant::now();
            continue;
        }
        if stop {
            return;
        }
        let park = if pending == 0 {
            interval
        } else {
            interval - since_sync
        };
        std::thread::park_timeout(park.max(PARK_MIN));
        shared.sync_wakeups.fetch_add(1, Ordering::Relaxed);
    }
}

/// Shortest park of the group-commit thread.
const PARK_MIN: Duration = Duration::from_micros(50);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static FAILING_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn failing_sync(_: &File) -> std::io::Result<()> {
        FAILING_CALLS.fetch_add(1, Ordering::SeqCst);
        Err(std::io::Error::from_raw_os_error(libc::EIO))
    }

    fn target(dir: &Path, seq_first: u64) -> Arc<SyncTarget> {
        let path = dir.join(format!("{seq_first}.seg"));
        Arc::new(SyncTarget::existing(
            seq_first,
            File::create(&path).unwrap(),
            path,
        ))
    }

    // A successful sync publishes the target and forgets segments wholly below it.
    #[test]
    fn sync_publishes_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let shared = SyncShared::new(dir.path(), 0, |f| f.sync_data()).unwrap();
        shared.register(target(dir.path(), 1), false);
        shared.register(target(dir.path(), 11), true);
        shared.written_seq.store(15, Ordering::Release);
        shared.sync_through(15).unwrap();
        assert_eq!(shared.durable_seq.load(Ordering::Acquire), 15);
        assert_eq!(lock(&shared.registered).segments.len(), 1);
    }

    // A failed fdatasync is fatal: the error names the file, durability stops, and it is never retried.
    #[test]
    fn failed_sync_is_fatal_and_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let shared = SyncShared::new(dir.path(), 4, failing_sync).unwrap();
        shared.register(target(dir.path(), 1), false);
        let err = shared.sync_through(9).unwrap_err().to_string();
        assert!(err.contains("fdatasync failed"), "{err}");
        assert!(err.contains("1.seg"), "{err}");
        assert!(err.contains("after sequence 4"), "{err}");
        assert_eq!(shared.durable_seq.load(Ordering::Acquire), 4);
        let calls = FAILING_CALLS.load(Ordering::SeqCst);
        assert!(shared.sync_through(10).is_err());
        assert!(shared.check().is_err());
        assert_eq!(FAILING_CALLS.load(Ordering::SeqCst), calls, "never retried");
    }

    // An idle journal's sync thread wakes once per interval, not on a short
    // re-check step; records written later are still synced.
    #[test]
    fn idle_sync_thread_wakes_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let shared = Arc::new(SyncShared::new(dir.path(), 0, |f| f.sync_data()).unwrap());
        shared.register(target(dir.path(), 1), false);
        let interval = Duration::from_millis(10);
        let thread_shared = Arc::clone(&shared);
        let started = Instant::now();
        let thread =
            std::thread::spawn(move || group_commit_loop(&thread_shared, u64::MAX, interval));
        // An idle window: nothing is written, so nothing is due.
        std::thread::sleep(Duration::from_millis(100));
        let wakeups = shared.sync_wakeups.load(Ordering::Relaxed);
        let window = started.elapsed();
        let bound = (window.as_micros() / interval.as_micros()) as u64 + 2;
        assert!(
            wakeups <= bound,
            "{wakeups} wake-ups in {window:?} idle (at most {bound}): the sync thread polls"
        );
        shared.written_seq.store(3, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(30);
        while shared.durable_seq.load(Ordering::Acquire) < 3 {
            assert!(
                Instant::now() < deadline,
                "a pending record was not synced in 30 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        shared.stop.store(true, Ordering::Release);
        thread.thread().unpark();
        thread.join().unwrap();
    }
}
