//! The segmented journal writer: appends, rollover, durability policy.
//!
//! Owned by one thread (the journal stage's). `append` encodes one frame
//! straight into the active segment's memory map (`WriteMode::Mmap`) or into
//! a preallocated buffer written with `pwrite` (`WriteMode::Pwrite`); it
//! never allocates and never makes a system call in `Mmap` mode (but one
//! `unpark` of the window thread per `map_ahead_bytes / 4` written). Helper
//! threads keep slow work off this one: `journal-prealloc` prepares the
//! next segment and unmaps closed ones (see [`crate::prealloc`]),
//! `journal-window` (`Mmap` mode) write-faults pages ahead of the writer so
//! its stores take no page fault, and drops written pages from the map
//! (see [`crate::window`]), and under `Durability::Group` `journal-sync`
//! runs `fdatasync` (see [`crate::durability`]). In `Pwrite` mode with
//! `write_thread_buffers > 0` the `pwrite`s themselves run on
//! `journal-write` (see [`crate::write_thread`]): a full buffer is handed
//! over without a system call and the writer goes on in a free one.
//!
//! Invariants: records carry consecutive sequences; slot `i` of a segment
//! holds `seq_first + i`; only the newest named segment is ever written; the
//! durable sequence never passes what was handed to the page cache; one
//! writer per folder (an exclusive `flock` on `LOCK`, which names its
//! holder), so no other writer or helper ever touches this one's files.

use crate::config::{Durability, JournalConfig, WriteMode};
use crate::crc;
use crate::durability::{self, SyncShared, SyncTarget};
use crate::frame::{self, FRAME_PREFIX_BYTES};
use crate::layout::Layout;
use crate::lock;
use crate::naming;
use crate::open_check::{self, ClosedCheckReport};
use crate::prealloc::{self, Preallocator, Sealer, SegmentSpec};
use crate::recovery::{self, RecoveryReport};
use crate::segment;
use crate::sys;
use crate::sys::map::{MapWriter, SegmentMap};
use crate::window::{self, MapWindow, WindowStats};
use crate::write_thread::{SyncNudge, WriteThread, WriteThreadStats};
use crate::JournalError;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How far past the buffer's end of data the writer asks for lines to
/// write (about seven 144-byte frames).
const PREFETCH_AHEAD_BYTES: usize = 1024;
/// Lines asked for per frame: three lines cover any 144-byte frame's.
const PREFETCH_LINES: usize = 3;
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// The segment being written.
struct Active {
    target: Arc<SyncTarget>,
    map: Option<MapWriter>,
}

/// Appends records to a segmented journal folder. See the module comment.
pub struct Writer {
    dir: PathBuf,
    /// Device and inode of `dir` at open, to tell a removed or replaced folder.
    dir_id: (u64, u64),
    layout: Layout,
    durability: Durability,
    active: Active,
    /// The next record's sequence; its slot in the active segment is
    /// `seq_next - active.target.seq_first` ([`Writer::slot_index`]).
    seq_next: u64,
    /// `Pwrite` mode: frames not yet written, for the slots just before
    /// the next one, in `buffer[..buffer_len]`. Sized (and zeroed) once at
    /// open, so a frame is encoded in place with no fill or copy.
    buffer: Box<[u8]>,
    buffer_len: usize,
    /// Appends left before the slow path ([`Writer::make_room`]) must run:
    /// at most the active segment's free slots and, in `Pwrite` mode, the
    /// buffer's free frames. It never exceeds either (each append takes one,
    /// and only `make_room` and `flush` raise it, recounting both), so an
    /// append with `room > 0` needs neither a rollover nor a flush. Zero at
    /// open: the first append counts it.
    room: u64,
    shared: Arc<SyncShared>,
    syncer: Option<(JoinHandle<()>, Thread)>,
    /// Group commit: records after which to wake the sync thread.
    group_records: u64,
    seq_nudged: u64,
    prealloc: Preallocator,
    /// `Mmap` mode with `map_ahead_bytes > 0`: the map window's thread.
    window: Option<MapWindow>,
    /// `Pwrite` mode with `write_thread_buffers > 0`: the thread that
    /// writes `buffer` once handed over (`buffer` is then one of its ring).
    write_thread: Option<WriteThread>,
    /// The CRC of a record, its CPU feature decided once at open.
    frame_crc: crc::FrameCrc,
    _lock: File,
    closed: bool,
}

impl Writer {
    /// Opens (or creates) the journal in `config.dir`: takes the folder
    /// lock, checks the chain of segments and every closed segment (see
    /// [`ClosedCheck`](crate::config::ClosedCheck)), recovers the newest
    /// segment, and gets ready to append after its last good record. Damage
    /// anywhere is refused with an error naming the file and the remedy,
    /// and nothing is changed.
    pub fn open(config: &JournalConfig) -> Result<(Writer, RecoveryReport), JournalError> {
        let dir = config.dir.as_path();
        let layout = Layout::new(config.record_size_bytes, config.segment_size_bytes, dir)?;
        check_config(config)?;
        std::fs::create_dir_all(dir).map_err(JournalError::io(dir, "create folder"))?;
        let lock = lock::lock_folder(dir)?;
        let dir_id = folder_id(dir)?;
        let prealloc_removed = remove_stale_prealloc(dir)?;
        let checked = open_check::check(dir, &layout, config.seq_first, config.closed_check)?;
        let spec = SegmentSpec {
            layout,
            seq_origin: checked.seq_origin,
            map: config.write_mode == WriteMode::Mmap,
            map_ahead_bytes: config.map_ahead_bytes,
            zero_fill: config.zero_fill(),
        };
        let (active, slot_index, populated_bytes, mut report) = match &checked.newest {
            None => create_first(dir, &spec, config.seq_first)?,
            Some(newest) => reopen_newest(newest, &spec)?,
        };
        debug_assert_eq!(
            report.seq_next - active.target.seq_first,
            slot_index,
            "the next slot follows from the next sequence"
        );
        report.prealloc_removed = prealloc_removed;
        report.closed = checked.report;
        let durable = report.seq_next - 1;
        let shared = Arc::new(SyncShared::new(dir, durable, |f| f.sync_data())?);
        shared.register(active.target.clone(), false);
        let window = match &active.map {
            Some(map) if config.map_ahead_bytes > 0 => {
                let mut window = MapWindow::spawn(
                    dir,
                    layout,
                    config.map_ahead_bytes,
                    shared.clone(),
                    window::populate_write,
                )?;
                let previous = window.switch(
                    map.shared(),
                    active.target.seq_first,
                    populated_bytes,
                    report.seq_next,
                );
                debug_assert!(previous.is_none(), "the first map");
                Some(window)
            }
            _ => None,
        };
        let sealer = Sealer::open(dir, layout, config.durability != Durability::None)?;
        let prealloc = Preallocator::spawn(dir, spec, sealer, shared.clone())?;
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
        let buffer_bytes = buffer_frames(config, &layout) * layout.frame_bytes;
        let (write_thread, buffer) = if config.write_thread_buffers > 0 {
            let nudge = SyncNudge {
                thread: syncer.as_ref().map(|(_, thread)| thread.clone()),
                records: group_records,
            };
            let (thread, first) = WriteThread::spawn(
                dir,
                config.write_thread_buffers,
                buffer_bytes,
                shared.clone(),
                nudge,
            )?;
            (Some(thread), first)
        } else {
            (None, vec![0; buffer_bytes].into_boxed_slice())
        };
        let writer = Writer {
            dir: dir.to_path_buf(),
            dir_id,
            layout,
            durability: config.durability,
            active,
            seq_next: report.seq_next,
            buffer,
            buffer_len: 0,
            room: 0,
            shared,
            syncer,
            group_records,
            seq_nudged: durable,
            prealloc,
            window,
            write_thread,
            _lock: lock,
            frame_crc: crc::FrameCrc::detect(),
            closed: false,
        };
        Ok((writer, report))
    }

    /// Appends one record and returns its sequence number.
    #[inline]
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() != self.layout.record_size_bytes {
            return Err(self.payload_size_error(payload.len()));
        }
        self.append_with(|slot| slot.copy_from_slice(payload))
    }

    /// Appends one record that `write_payload` writes in place, into the
    /// frame itself (handed exactly the record size's bytes, zeroed or
    /// stale: it must write every byte), and returns its sequence number.
    /// The same frame as [`Writer::append`] of those bytes, without a copy.
    #[inline(always)]
    pub fn append_with(
        &mut self,
        write_payload: impl FnOnce(&mut [u8]),
    ) -> Result<u64, JournalError> {
        let seq = self.slot_ready()?;
        let frame_bytes = self.layout.frame_bytes;
        let slot_index = self.slot_index();
        if let Some(map) = self.active.map.as_mut() {
            let start = self.layout.slot_offset(slot_index) as usize;
            let out = map.bytes_mut(start, frame_bytes);
            frame::encode_length_last_with(seq, out, write_payload);
            self.mapped(seq);
        } else {
            let out = &mut self.buffer[self.buffer_len..self.buffer_len + frame_bytes];
            frame::encode_length_last_with(seq, out, write_payload);
            self.buffered(frame_bytes);
        }
        Ok(seq)
    }

    /// [`Writer::append_with`] for a record size known at compile time, `N`,
    /// which must be the journal's (else [`JournalError::PayloadSize`]):
    /// the same frame, with the slot taken by one bounds check and split
    /// into prefix and payload with none, and the CRC's words unrolled
    /// ([`frame::encode_record_length_last`], the CRC's CPU feature decided
    /// at open). The engine's per-event path.
    #[inline(always)]
    pub fn append_record<const N: usize>(
        &mut self,
        write_payload: impl FnOnce(&mut [u8; N]),
    ) -> Result<u64, JournalError> {
        if N != self.layout.record_size_bytes {
            return Err(self.payload_size_error(N));
        }
        let seq = self.slot_ready()?;
        let frame_bytes = FRAME_PREFIX_BYTES + N;
        let slot_index = self.slot_index();
        if let Some(map) = self.active.map.as_mut() {
            let start = self.layout.slot_offset(slot_index) as usize;
            let (prefix, payload) = split_frame(map.bytes_mut(start, frame_bytes));
            frame::encode_record_length_last_by(
                self.frame_crc,
                seq,
                prefix,
                payload,
                write_payload,
            );
            self.mapped(seq);
        } else {
            let (prefix, payload) = split_frame(&mut self.buffer[self.buffer_len..][..frame_bytes]);
            frame::encode_record_length_last_by(
                self.frame_crc,
                seq,
                prefix,
                payload,
                write_payload,
            );
            self.buffered(frame_bytes);
        }
        Ok(seq)
    }

    /// Before an append: the sync side has not failed, and the active
    /// segment has a free slot and (`Pwrite` mode) the buffer room for a
    /// frame, one countdown telling both ([`Writer::make_room`] when it is
    /// out); returns the sequence the record gets, its slot taken.
    #[inline(always)]
    fn slot_ready(&mut self) -> Result<u64, JournalError> {
        self.shared.check()?;
        if self.room == 0 {
            self.make_room()?;
        }
        self.room -= 1;
        Ok(self.seq_next)
    }

    /// The countdown ran out: rolls over when the segment is full, flushes
    /// when the buffer has no room for a frame (in that order, as each
    /// append checked them before the countdown), and counts the room
    /// again. Never leaves `room` zero without an error.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self) -> Result<(), JournalError> {
        if self.slot_index() == self.layout.slots_per_segment {
            self.roll_over()?;
        }
        if self.active.map.is_none()
            && self.buffer.len() - self.buffer_len < self.layout.frame_bytes
        {
            self.flush()?;
        }
        self.room = self.free_room();
        if self.room == 0 {
            // Only after a failed hand-over left no buffer to write into.
            self.shared.check()?;
            return Err(JournalError::Io {
                path: self.active.target.path.clone(),
                op: "append (no buffer to write into: the write thread stopped)",
                error: std::io::Error::other("write thread gone"),
            });
        }
        Ok(())
    }

    /// Appends that need neither a rollover nor a flush from here: the
    /// active segment's free slots and, in `Pwrite` mode, the buffer's free
    /// frames, the fewer of the two.
    fn free_room(&self) -> u64 {
        let slots = self.layout.slots_per_segment - self.slot_index();
        if self.active.map.is_some() {
            return slots;
        }
        let frames = (self.buffer.len() - self.buffer_len) / self.layout.frame_bytes;
        slots.min(frames as u64)
    }

    /// After a frame was written into the map: the next slot, and the sync
    /// side and the map window told.
    #[inline(always)]
    fn mapped(&mut self, seq: u64) {
        self.seq_next += 1;
        self.published(seq);
        if let Some(window) = self.window.as_mut() {
            if seq >= window.seq_wake {
                window.wake_at(seq);
            }
        }
    }

    /// After a frame of `frame_bytes` was written into the `pwrite` buffer.
    #[inline(always)]
    fn buffered(&mut self, frame_bytes: usize) {
        self.buffer_len += frame_bytes;
        self.seq_next += 1;
        // The lines a frame a few records on will be written to: asked for
        // now, so that frame's stores do not wait for them (the buffer's
        // lines were last written a whole buffer cycle ago and are out of
        // the core's L2; the hardware prefetcher restarts at each page).
        let ahead = self
            .buffer
            .as_ptr()
            .wrapping_add(self.buffer_len + PREFETCH_AHEAD_BYTES);
        for line in 0..PREFETCH_LINES {
            sys::prefetch::prefetch(ahead.wrapping_add(line * 64));
        }
    }

    /// The next record's slot in the active segment (a rollover starts
    /// the next segment at the sequence after the full one's last).
    #[inline(always)]
    fn slot_index(&self) -> u64 {
        self.seq_next - self.active.target.seq_first
    }

    /// A payload of the wrong size (cold: the caller's bug or bad input).
    #[cold]
    #[inline(never)]
    fn payload_size_error(&self, got: usize) -> JournalError {
        JournalError::PayloadSize {
            path: self.active.target.path.clone(),
            got,
            expected: self.layout.record_size_bytes,
        }
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

    /// Hands buffered records to the page cache (`Pwrite` mode; a no-op
    /// with a map), or with a write thread, to the thread, which writes
    /// them shortly after ([`Writer::drain`] waits for that).
    pub fn flush(&mut self) -> Result<(), JournalError> {
        if self.buffer_len == 0 {
            return Ok(());
        }
        let frames = (self.buffer_len / self.layout.frame_bytes) as u64;
        let offset = self.layout.slot_offset(self.slot_index() - frames);
        let target = &self.active.target;
        if let Some(thread) = self.write_thread.as_mut() {
            self.shared.check()?;
            let full = std::mem::take(&mut self.buffer);
            let len = std::mem::take(&mut self.buffer_len);
            // No room until a buffer comes back: a failed hand-over leaves
            // none, and the next append must find that out in `make_room`
            // (an error), not write into the empty one.
            self.room = 0;
            self.buffer = thread.hand_over(full, len, offset, self.seq_next - 1, target)?;
            self.room = self.free_room();
            return Ok(());
        }
        target
            .file
            .write_all_at(&self.buffer[..self.buffer_len], offset)
            .map_err(JournalError::io(&target.path, "write"))?;
        // No `note_written` here: this is the writer's own thread (the
        // fused stage thread by default), where a CRC over the buffer would
        // cost the hot path what the sealer's read-back costs a helper; the
        // seal reads the segment back instead.
        self.buffer_len = 0;
        self.room = self.free_room();
        self.published(self.seq_next - 1);
        Ok(())
    }

    /// Flushes and, with a write thread, waits until it wrote every record
    /// appended so far (into the page cache). Without one, the same as
    /// [`Writer::flush`].
    pub fn drain(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        if let Some(thread) = self.write_thread.as_mut() {
            thread.drain()?;
        }
        self.shared.check()
    }

    /// The caller finished a batch: flush, and under `Batch` wait for
    /// `fdatasync` (with a write thread, for its writes first).
    pub fn end_of_batch(&mut self) -> Result<(), JournalError> {
        self.shared.check()?;
        if self.durability == Durability::Batch {
            self.drain()?;
            self.shared.sync_through(self.seq_next - 1)?;
        } else {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes and waits until every appended record is on disk, whatever the policy.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.drain()?;
        self.shared.sync_through(self.seq_next - 1)
    }

    /// Moves into the next segment, prepared ahead by the helper thread,
    /// and hands the closed one back to the helper to be sealed.
    fn roll_over(&mut self) -> Result<(), JournalError> {
        // With a write thread: nothing of the closed segment may be in
        // flight when it is sealed, nor the next segment's records written
        // before it is registered for syncing.
        self.drain()?;
        let seq_first = self.active.target.seq_first + self.layout.slots_per_segment;
        let prepared = match self.prealloc.take(seq_first) {
            Ok(prepared) => prepared,
            Err(err) => return Err(self.folder_changed(None).unwrap_or(err)),
        };
        let target = prepared.target;
        if let Err(error) = std::fs::rename(&prepared.tmp_path, &target.path) {
            return Err(self.folder_changed(Some(&prepared.tmp_path)).unwrap_or(
                JournalError::Io {
                    path: target.path.clone(),
                    op: "rename preallocated segment into place",
                    error,
                },
            ));
        }
        self.shared.register(target.clone(), true);
        if let (Some(window), Some(map)) = (self.window.as_mut(), prepared.map.as_ref()) {
            // The window's handle on the closed map goes now; the writer's
            // own goes to the helper below, so `munmap` never runs here.
            drop(window.switch(
                map.shared(),
                seq_first,
                prepared.populated_bytes,
                self.seq_next,
            ));
        }
        let closed = std::mem::replace(
            &mut self.active,
            Active {
                target,
                map: prepared.map,
            },
        );
        self.prealloc
            .request(seq_first + self.layout.slots_per_segment)?;
        self.prealloc.seal(closed.target, closed.map)?;
        Ok(())
    }

    /// After a failed rollover: the folder, or files in it, were removed or
    /// replaced under the writer (a test's temporary folder dropped while
    /// its writer thread still ran, an outside program cleaning the folder),
    /// said plainly. `None` when nothing of the kind is seen. Cold path.
    #[cold]
    fn folder_changed(&self, prepared: Option<&Path>) -> Option<JournalError> {
        let active = &self.active.target.path;
        let reason = match folder_id(&self.dir) {
            Err(_) => "it no longer exists: it was removed while the writer was running (records since the last rollover went to files that are gone)".to_string(),
            Ok(id) if id != self.dir_id => "another folder now has its name: it was moved or removed and recreated while the writer was running".to_string(),
            Ok(_) if !active.exists() => format!(
                "the segment being written, {}, is gone: the folder is being removed, or another program deletes files in it, while the writer runs",
                active.display()
            ),
            Ok(_) => match prepared.filter(|tmp| !tmp.exists()) {
                Some(tmp) => format!(
                    "the next segment, prepared as {}, was removed by another program while this writer held the folder lock",
                    tmp.display()
                ),
                None => return None,
            },
        };
        Some(JournalError::FolderChanged {
            path: self.dir.clone(),
            reason,
        })
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
        let synced = self.drain().and_then(|()| {
            self.shared.check()?;
            self.shared.sync_through(self.seq_next - 1)
        });
        if let Some(thread) = self.write_thread.as_mut() {
            thread.shutdown();
        }
        self.shared.stop.store(true, Ordering::Release);
        if let Some((handle, thread)) = self.syncer.take() {
            thread.unpark();
            let _ = handle.join();
        }
        if let Some(window) = self.window.as_mut() {
            window.shutdown();
        }
        self.prealloc.shutdown();
        // The helper sealed the last closed segments before it stopped.
        synced.and_then(|()| self.shared.check())
    }

    /// Records appended and not yet handed on by a flush (`Pwrite` mode;
    /// always 0 with a map, whose records are in the page cache as they
    /// are appended). With a write thread, records handed over and not yet
    /// written are not counted: they are on their way without the writer.
    pub fn buffered_records(&self) -> u64 {
        (self.buffer_len / self.layout.frame_bytes) as u64
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

    /// Last sequence of the newest segment this writer has sealed (0: none
    /// yet). Sealing runs on the helper thread just after each rollover.
    pub fn seq_sealed(&self) -> u64 {
        self.shared.sealed_seq.load(Ordering::Acquire)
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

    /// What the map window's thread did (`Mmap` mode with a window only).
    pub fn map_window_stats(&self) -> Option<Arc<WindowStats>> {
        self.window.as_ref().map(MapWindow::stats)
    }

    /// What the hand-overs to the write thread cost (a write thread only).
    pub fn write_thread_stats(&self) -> Option<WriteThreadStats> {
        self.write_thread.as_ref().map(|thread| thread.stats)
    }

    /// Rollovers that had to wait for the helper to finish the next segment.
    pub fn rollover_waits(&self) -> u64 {
        self.prealloc.rollover_waits
    }

    /// Seals so far whose body CRC was read back from the closed segment
    /// (no write thread, `WriteMode::Mmap`, or the segment open reopened
    /// part-written); with a write thread's `pwrite`s it is followed as the
    /// segment is written.
    pub fn seals_read_back(&self) -> u64 {
        self.shared.seals_read_back.load(Ordering::Relaxed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// A frame of a record of `N` bytes as its prefix and its payload. `frame`
/// is `FRAME_PREFIX_BYTES + N` long (the callers' slices, of that constant
/// length: the checks below compile away).
#[inline(always)]
fn split_frame<const N: usize>(frame: &mut [u8]) -> (&mut [u8; FRAME_PREFIX_BYTES], &mut [u8; N]) {
    let (prefix, payload) = frame
        .split_first_chunk_mut::<FRAME_PREFIX_BYTES>()
        .expect("a frame holds its prefix");
    (
        prefix,
        payload.try_into().expect("a frame holds its payload"),
    )
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
    if config.write_thread_buffers > 0 && config.write_mode != WriteMode::Pwrite {
        return Err(bad(
            "a write thread (write_thread_buffers > 0) needs the pwrite write mode",
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

/// Device and inode of a folder.
fn folder_id(dir: &Path) -> Result<(u64, u64), JournalError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(JournalError::io(dir, "stat folder"))?;
    Ok((meta.dev(), meta.ino()))
}

/// Removes preallocated segments a writer that stopped left behind. Only
/// under the folder lock: no live helper can be preparing one.
fn remove_stale_prealloc(dir: &Path) -> Result<usize, JournalError> {
    let mut removed = 0;
    for stale in naming::list_prealloc(dir)? {
        std::fs::remove_file(&stale).map_err(JournalError::io(&stale, "remove"))?;
        removed += 1;
    }
    Ok(removed)
}

/// Frames the `Pwrite` buffer holds (none with a map).
fn buffer_frames(config: &JournalConfig, layout: &Layout) -> usize {
    match (config.write_mode, config.durability) {
        (WriteMode::Mmap, _) => 0,
        (WriteMode::Pwrite, Durability::Group { records, .. }) => {
            (config.write_buffer_bytes / layout.frame_bytes).clamp(1, records as usize)
        }
        (WriteMode::Pwrite, _) => (config.write_buffer_bytes / layout.frame_bytes).max(1),
    }
}

/// An empty folder: the first segment is prepared here, synchronously.
fn create_first(
    dir: &Path,
    spec: &SegmentSpec,
    seq_first: u64,
) -> Result<(Active, u64, usize, RecoveryReport), JournalError> {
    let prepared = prealloc::prepare_segment(dir, spec, seq_first)?;
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
        closed: ClosedCheckReport::default(),
    };
    let active = Active {
        target: prepared.target,
        map: prepared.map,
    };
    Ok((active, 0, prepared.populated_bytes, report))
}

/// A folder with segments: recover the newest and resume after its last good record.
fn reopen_newest(
    newest: &naming::SegmentFile,
    spec: &SegmentSpec,
) -> Result<(Active, u64, usize, RecoveryReport), JournalError> {
    let layout = &spec.layout;
    let (file, header) = segment::open_plain(&newest.path, newest.seq_first, true)?;
    layout.check_header(&header, &newest.path)?;
    if header.seq_origin != 0 && header.seq_origin != spec.seq_origin {
        return Err(JournalError::Layout {
            path: newest.path.clone(),
            reason: format!(
                "the header says the journal starts at sequence {}, this journal starts at {}: the segment belongs to another journal",
                header.seq_origin, spec.seq_origin
            ),
        });
    }
    let end = recovery::recover_segment(&file, &newest.path, layout, newest.seq_first)?;
    // What recovery found is the log: make it durable before calling it so.
    file.sync_data()
        .map_err(JournalError::io(&newest.path, "fdatasync on open"))?;
    let map = if spec.map {
        let map = SegmentMap::new(&file, layout.segment_size_bytes as usize)
            .map_err(JournalError::io(&newest.path, "map segment"))?;
        Some(MapWriter::new(map))
    } else {
        None
    };
    let report = RecoveryReport {
        segment_path: newest.path.clone(),
        seq_next: newest.seq_first + end.slot_end,
        truncation: end.truncation,
        prealloc_removed: 0,
        created: false,
        closed: ClosedCheckReport::default(),
    };
    let active = Active {
        target: Arc::new(SyncTarget::existing(
            newest.seq_first,
            file,
            newest.path.clone(),
        )),
        map,
    };
    Ok((active, end.slot_end, 0, report))
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
