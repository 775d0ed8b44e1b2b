//! The `journal-write` thread (`WriteMode::Pwrite` with
//! `write_thread_buffers > 0`): it `pwrite`s the writer's full buffers, so
//! the copy into the page cache and the file system's block work leave the
//! writer's thread.
//!
//! Threads: the writer owns [`WriteThread`] and fills one buffer at a time;
//! a full buffer (or a partial one at `flush`) goes to the thread through a
//! bounded channel of `buffers` jobs, and comes back empty through another.
//! `buffers` buffers exist, allocated at open, so a hand-over moves a box
//! and allocates nothing; the writer's side is a store into a preallocated
//! channel slot, plus a futex wake only when the thread sleeps. When no
//! buffer is free the writer parks until the thread gives one back
//! (backpressure, counted); its own park protocol ([`Parking`]) rather than
//! the channel's blocking `recv`, whose first wait on a thread allocates.
//!
//! Invariants: jobs are written in the order they were handed over, so the
//! file gets the records in order; `SyncShared::written_seq` is raised by
//! this thread only after a job's `pwrite` returned, so the syncer never
//! makes durable what is not written; after a failed `pwrite` the journal
//! is stopped (`SyncShared::stop`, naming the file), nothing more is
//! written, and the buffers still come back so the writer never waits
//! forever. The writer drains (waits for every buffer back) before a
//! rollover seals the closed segment, before a `Batch` or explicit sync,
//! and at close.

use crate::durability::{SyncShared, SyncTarget};
use crate::JournalError;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};

/// Smallest page size: one store per page faults a buffer in.
const PAGE_BYTES: usize = 4096;

/// A buffer to write: `bytes[..len]` at `offset` of `target`, whose last
/// record is `seq_last`.
struct Job {
    bytes: Box<[u8]>,
    len: usize,
    offset: u64,
    seq_last: u64,
    target: Arc<SyncTarget>,
}

/// What the hand-overs cost the writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteThreadStats {
    /// Buffers handed to the thread.
    pub hand_overs: u64,
    /// Hand-overs that found no free buffer and waited for one.
    pub full_waits: u64,
    /// Drains (rollover, batch or explicit sync, close) that found buffers
    /// still in flight and waited for them.
    pub drain_waits: u64,
}

/// The writer's side of the `journal-write` thread.
pub(crate) struct WriteThread {
    jobs: Option<SyncSender<Job>>,
    free: Receiver<Box<[u8]>>,
    /// Free buffers the writer holds (capacity `buffers`, never grows).
    spare: Vec<Box<[u8]>>,
    /// Buffers handed over and not yet back.
    in_flight: usize,
    handle: Option<JoinHandle<()>>,
    parking: Arc<Parking>,
    shared: Arc<SyncShared>,
    dir: PathBuf,
    pub stats: WriteThreadStats,
}

/// The writer waiting for a free buffer: it raises `writer_waiting`, looks
/// at the channel once more, and parks; the thread, after giving a buffer
/// back, unparks it if the flag is up. Both sides put a `SeqCst` fence
/// between their store and their load, so either the writer sees the
/// buffer or the thread sees the flag.
#[derive(Default)]
struct Parking {
    writer_waiting: AtomicBool,
    /// The thread that waits (set at its first wait; the writer may move).
    writer: Mutex<Option<Thread>>,
}

impl Parking {
    fn wake_writer(&self) {
        fence(Ordering::SeqCst);
        if self.writer_waiting.load(Ordering::Relaxed) {
            let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(thread) = writer.as_ref() {
                thread.unpark();
            }
        }
    }
}

/// Who to wake after records are written: the group-commit thread, every `records`.
pub(crate) struct SyncNudge {
    pub thread: Option<Thread>,
    pub records: u64,
}

impl WriteThread {
    /// Starts the thread with `buffers` buffers of `buffer_bytes` (zeroed),
    /// and returns the first one for the writer to fill.
    pub fn spawn(
        dir: &Path,
        buffers: usize,
        buffer_bytes: usize,
        shared: Arc<SyncShared>,
        nudge: SyncNudge,
    ) -> Result<(WriteThread, Box<[u8]>), JournalError> {
        assert!(buffers >= 1, "checked by the config");
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Job>(buffers);
        let (free_tx, free_rx) = mpsc::sync_channel::<Box<[u8]>>(buffers);
        let mut spare = Vec::with_capacity(buffers);
        for _ in 0..buffers {
            let mut buffer = vec![0u8; buffer_bytes].into_boxed_slice();
            // Fault the zeroed pages in here, at open, not on the writer's
            // thread at its first pass through each buffer.
            for byte in buffer.iter_mut().step_by(PAGE_BYTES) {
                *byte = std::hint::black_box(0);
            }
            spare.push(buffer);
        }
        let first = spare.pop().expect("at least one buffer");
        let thread_shared = shared.clone();
        let parking = Arc::new(Parking::default());
        let thread_parking = parking.clone();
        let handle = std::thread::Builder::new()
            .name("journal-write".into())
            .spawn(move || {
                write_loop(&jobs_rx, &free_tx, &thread_shared, &thread_parking, nudge);
                // Gone: a writer waiting for a buffer sees the disconnection.
                drop(free_tx);
                thread_parking.wake_writer();
            })
            .map_err(JournalError::io(dir, "spawn write thread"))?;
        let thread = WriteThread {
            jobs: Some(jobs_tx),
            free: free_rx,
            spare,
            in_flight: 0,
            handle: Some(handle),
            parking,
            shared,
            dir: dir.to_path_buf(),
            stats: WriteThreadStats::default(),
        };
        Ok((thread, first))
    }

    /// Hands `bytes[..len]` (records up to `seq_last`, at `offset` of
    /// `target`) to the thread and returns a free buffer to fill next,
    /// waiting for one if all are in flight.
    #[inline]
    pub fn hand_over(
        &mut self,
        bytes: Box<[u8]>,
        len: usize,
        offset: u64,
        seq_last: u64,
        target: &Arc<SyncTarget>,
    ) -> Result<Box<[u8]>, JournalError> {
        let job = Job {
            bytes,
            len,
            offset,
            seq_last,
            target: target.clone(),
        };
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.thread_gone());
        }
        self.in_flight += 1;
        self.stats.hand_overs += 1;
        if let Some(free) = self.spare.pop() {
            return Ok(free);
        }
        match self.free.try_recv() {
            Ok(free) => {
                self.in_flight -= 1;
                Ok(free)
            }
            Err(TryRecvError::Empty) => {
                self.stats.full_waits += 1;
                self.receive()
            }
            Err(TryRecvError::Disconnected) => Err(self.thread_gone()),
        }
    }

    /// Waits until every buffer handed over is written (or dropped after a
    /// write error: the caller checks the shared state).
    pub fn drain(&mut self) -> Result<(), JournalError> {
        if self.in_flight > 0 {
            self.stats.drain_waits += 1;
        }
        while self.in_flight > 0 {
            let free = self.receive()?;
            self.spare.push(free);
        }
        Ok(())
    }

    /// Waits for the next buffer the thread gives back.
    #[cold]
    fn receive(&mut self) -> Result<Box<[u8]>, JournalError> {
        self.note_waiting_thread();
        let waiting = &self.parking.writer_waiting;
        let received = loop {
            match self.free.try_recv() {
                Err(TryRecvError::Empty) => {}
                done => break done,
            }
            waiting.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            match self.free.try_recv() {
                Err(TryRecvError::Empty) => std::thread::park(),
                done => break done,
            }
            waiting.store(false, Ordering::Relaxed);
        };
        waiting.store(false, Ordering::Relaxed);
        match received {
            Ok(free) => {
                self.in_flight -= 1;
                Ok(free)
            }
            Err(_) => Err(self.thread_gone()),
        }
    }

    /// Records which thread the write thread unparks (the writer may have
    /// moved since the last wait).
    fn note_waiting_thread(&self) {
        let current = std::thread::current();
        let mut writer = self
            .parking
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if writer.as_ref().map(Thread::id) != Some(current.id()) {
            *writer = Some(current);
        }
    }

    /// The thread exited before the writer stopped it (it panicked).
    #[cold]
    fn thread_gone(&self) -> JournalError {
        self.shared.stop(
            &self.dir,
            "the journal-write thread stopped: records handed to it may not be written".into(),
        )
    }

    /// Stops the thread after it wrote every job handed over. Idempotent.
    pub fn shutdown(&mut self) {
        drop(self.jobs.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for WriteThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The thread: write each job in order, publish what is written, give the
/// buffer back; until the writer drops its sender.
fn write_loop(
    jobs: &Receiver<Job>,
    free: &SyncSender<Box<[u8]>>,
    shared: &SyncShared,
    parking: &Parking,
    nudge: SyncNudge,
) {
    let mut seq_nudged = shared.written_seq.load(Ordering::Acquire);
    while let Ok(job) = jobs.recv() {
        if shared.check().is_ok() {
            match job
                .target
                .file
                .write_all_at(&job.bytes[..job.len], job.offset)
            {
                Ok(()) => {
                    job.target.note_written(job.offset, &job.bytes[..job.len]);
                    shared.written_seq.store(job.seq_last, Ordering::Release);
                    if job.seq_last - seq_nudged >= nudge.records {
                        seq_nudged = job.seq_last;
                        if let Some(thread) = &nudge.thread {
                            thread.unpark();
                        }
                    }
                }
                Err(error) => {
                    // The writer returns this from its next call.
                    shared.stop(&job.target.path, format!("write failed: {error}"));
                }
            }
        }
        let Job { bytes, target, .. } = job;
        drop(target);
        if free.send(bytes).is_err() {
            return;
        }
        parking.wake_writer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn shared(dir: &Path) -> Arc<SyncShared> {
        Arc::new(SyncShared::new(dir, 0, |f| f.sync_data()).unwrap())
    }

    fn no_nudge() -> SyncNudge {
        SyncNudge {
            thread: None,
            records: u64::MAX,
        }
    }

    // Buffers are written in hand-over order at their offsets, and
    // written_seq rises to the last one only once it is written.
    #[test]
    fn writes_in_order_and_publishes_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let target = Arc::new(SyncTarget::existing(
            1,
            File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .unwrap(),
            path.clone(),
        ));
        let shared = shared(dir.path());
        let (mut thread, mut buffer) =
            WriteThread::spawn(dir.path(), 2, 4, shared.clone(), no_nudge()).unwrap();
        for index in 0..10u8 {
            buffer.fill(index + 1);
            buffer = thread
                .hand_over(
                    buffer,
                    4,
                    u64::from(index) * 4,
                    u64::from(index) + 1,
                    &target,
                )
                .unwrap();
        }
        thread.drain().unwrap();
        assert_eq!(shared.written_seq.load(Ordering::Acquire), 10);
        assert_eq!(thread.stats.hand_overs, 10);
        let bytes = std::fs::read(&path).unwrap();
        let expected: Vec<u8> = (1..=10u8).flat_map(|b| [b; 4]).collect();
        assert_eq!(bytes, expected);
        thread.shutdown();
    }

    // A failed pwrite stops the journal naming the file; written_seq stays,
    // and the buffers still come back so the writer's drain returns.
    #[test]
    fn write_error_stops_the_journal_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-only.seg");
        std::fs::write(&path, b"").unwrap();
        let target = Arc::new(SyncTarget::existing(
            1,
            File::open(&path).unwrap(),
            path.clone(),
        ));
        let shared = shared(dir.path());
        let (mut thread, mut buffer) =
            WriteThread::spawn(dir.path(), 2, 8, shared.clone(), no_nudge()).unwrap();
        for seq in 1..=3 {
            buffer = thread.hand_over(buffer, 8, seq * 8, seq, &target).unwrap();
        }
        thread.drain().unwrap();
        let err = shared.check().unwrap_err().to_string();
        assert!(err.contains("write failed"), "{err}");
        assert!(err.contains("read-only.seg"), "{err}");
        assert_eq!(shared.written_seq.load(Ordering::Acquire), 0);
        thread.shutdown();
    }
}
