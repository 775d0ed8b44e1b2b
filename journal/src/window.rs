//! The write window of a memory-mapped segment (`WriteMode::Mmap`): pages
//! are write-faulted ahead of the writer and dropped from the map behind
//! it, on a helper thread, so the writer's stores take no page fault and
//! the map's resident pages stay bounded.
//!
//! Why: a page of a shared file map is write-protected until a write fault
//! marks it dirty (the file system reserves its block in `page_mkwrite`),
//! and again after every writeback cleans it. Left to the writer, that is
//! one fault per 4 KiB written (about one every 28 engine events), on the
//! hot thread. Here the `journal-window` thread takes those faults with
//! `MADV_POPULATE_WRITE` on `ahead_bytes` past the writer's position, and
//! releases (`MADV_DONTNEED`) every whole page behind it: written pages stay
//! in the page cache, dirty until written back, but leave the process's
//! resident set.
//!
//! Threads: the writer publishes its position as the last written sequence
//! (`SyncShared::written_seq`, which it stores anyway) and wakes this
//! thread once per `ahead_bytes / 4` written (one `unpark`, no other system
//! call) and at rollover, when it installs the next segment's map. A sync
//! wakes this thread as it starts and when it ends (`SyncShared::syncing`,
//! `sync_epoch`): its writeback write-protects the pages it cleans, those
//! populated ahead of the writer too, so while it runs the window is
//! populated again every 50 µs, and once more after. Those pages, zeros
//! not yet written, are then written back again by the next sync: under
//! group commit the map writes up to `ahead_bytes` more per sync than
//! `pwrite`. Where the kernel refuses `MADV_POPULATE_WRITE` (before Linux
//! 5.14), the window only releases pages behind the writer, which then
//! takes its faults as it did before.
//!
//! Invariants: only whole pages strictly behind the page holding the
//! writer's next byte are released; the map is shared (`Arc`), so it is
//! never unmapped while this thread advises it.

use crate::durability::SyncShared;
use crate::layout::Layout;
use crate::sys::map::{self, SegmentMap};
use crate::JournalError;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// 1 MiB ahead of the writer (about 7,000 engine events).
pub const MAP_AHEAD_BYTES_DEFAULT: usize = 1 << 20;

/// The function that write-faults a range of a map (replaceable in tests).
pub(crate) type PopulateFn = fn(&SegmentMap, usize, usize) -> std::io::Result<()>;

pub(crate) fn populate_write(map: &SegmentMap, offset: usize, len: usize) -> std::io::Result<()> {
    map.populate_write(offset, len)
}

/// What to do with a map when the writer's next byte is at a position.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Steps {
    pub populate: Range<usize>,
    pub release: Range<usize>,
}

/// Which pages of one segment's map are populated and released. Plain
/// bookkeeping: the thread does what [`WindowPlan::advance`] says.
#[derive(Debug)]
pub(crate) struct WindowPlan {
    map_len: usize,
    page: usize,
    ahead: usize,
    /// Pages before this were write-faulted (and not cleaned since).
    populated_end: usize,
    /// Pages before this were released.
    released_end: usize,
}

impl WindowPlan {
    /// A map of `map_len` bytes whose first `populated_end` bytes are
    /// already populated (by the helper that prepared it).
    pub fn new(map_len: usize, page: usize, ahead: usize, populated_end: usize) -> WindowPlan {
        assert!(page.is_power_of_two(), "page size is a power of two");
        WindowPlan {
            map_len,
            page,
            ahead,
            populated_end: populated_end.min(map_len),
            released_end: 0,
        }
    }

    /// The writer's next byte is at `position`: populate up to `ahead`
    /// bytes past it (whole pages, within the map), from the page holding
    /// it or where population stopped, whichever is later; release every
    /// whole page before the page holding it not released yet.
    pub fn advance(&mut self, position: usize) -> Steps {
        let position = position.min(self.map_len);
        let page_start = position & !(self.page - 1);
        let release = self.released_end..page_start.max(self.released_end);
        self.released_end = release.end;
        let end = (position + self.ahead)
            .next_multiple_of(self.page)
            .min(self.map_len);
        let from = self.populated_end.max(page_start);
        let populate = from..end.max(from);
        self.populated_end = populate.end;
        debug_assert!(release.end <= page_start && page_start <= populate.start.max(page_start));
        Steps { populate, release }
    }

    /// Writeback cleaned the map's pages (a sync): they are write-protected
    /// again, so the next [`WindowPlan::advance`] populates from the
    /// writer's page on.
    pub fn cleaned(&mut self) {
        self.populated_end = 0;
    }
}

/// What the window thread did, for tests and diagnostics.
#[derive(Debug, Default)]
pub struct WindowStats {
    /// Bytes write-faulted ahead of the writer.
    pub populated_bytes: AtomicU64,
    /// Bytes dropped from the map behind the writer.
    pub released_bytes: AtomicU64,
    /// Passes done (one per wake that found a map).
    pub passes: AtomicU64,
    /// Largest position (bytes into its segment) the thread has acted on.
    pub position_done: AtomicU64,
    /// The kernel refused `MADV_POPULATE_WRITE`: the window only releases.
    pub populate_refused: AtomicBool,
    /// Other failed `madvise` calls (the writer then faults, nothing is lost).
    pub advise_errors: AtomicU64,
}

/// The segment the writer is in.
struct Current {
    map: Arc<SegmentMap>,
    seq_first: u64,
    /// Bytes from the start already populated by the preparing helper.
    populated_end: usize,
    /// Changes with every segment, so the thread starts a new plan.
    generation: u64,
}

struct WindowShared {
    current: Mutex<Option<Current>>,
    stop: AtomicBool,
    stats: Arc<WindowStats>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The writer's handle on the window thread.
pub(crate) struct MapWindow {
    shared: Arc<WindowShared>,
    thread: Option<JoinHandle<()>>,
    wake: Thread,
    /// Records written between two wakes.
    step_records: u64,
    /// The writer wakes the thread once it has written this sequence.
    pub seq_wake: u64,
    generation: u64,
}

impl MapWindow {
    pub fn spawn(
        dir: &Path,
        layout: Layout,
        ahead_bytes: usize,
        sync: Arc<SyncShared>,
        populate: PopulateFn,
    ) -> Result<MapWindow, JournalError> {
        let shared = Arc::new(WindowShared {
            current: Mutex::new(None),
            stop: AtomicBool::new(false),
            stats: Arc::new(WindowStats::default()),
        });
        let thread_shared = shared.clone();
        let sync_for_thread = sync.clone();
        let handle = std::thread::Builder::new()
            .name("journal-window".into())
            .spawn(move || {
                window_loop(
                    &thread_shared,
                    &sync_for_thread,
                    layout,
                    ahead_bytes,
                    populate,
                );
            })
            .map_err(JournalError::io(dir, "spawn map window thread"))?;
        let wake = handle.thread().clone();
        sync.set_window(wake.clone());
        let step_bytes = (ahead_bytes / 4).max(map::page_size());
        Ok(MapWindow {
            shared,
            thread: Some(handle),
            wake,
            step_records: (step_bytes / layout.frame_bytes).max(1) as u64,
            seq_wake: 0,
            generation: 0,
        })
    }

    /// The writer moved into the segment mapped by `map` (first sequence
    /// `seq_first`, its first `populated_end` bytes populated already).
    /// Returns the previous map's handle, which the caller drops while it
    /// still holds its own reference (so `munmap` never runs here).
    pub fn switch(
        &mut self,
        map: Arc<SegmentMap>,
        seq_first: u64,
        populated_end: usize,
        seq_next: u64,
    ) -> Option<Arc<SegmentMap>> {
        self.generation += 1;
        let previous = lock(&self.shared.current).replace(Current {
            map,
            seq_first,
            populated_end,
            generation: self.generation,
        });
        self.wake_at(seq_next);
        previous.map(|current| current.map)
    }

    /// Wakes the thread and sets the next wake `step_records` after `seq`.
    #[cold]
    #[inline(never)]
    pub fn wake_at(&mut self, seq: u64) {
        self.seq_wake = seq + self.step_records;
        self.wake.unpark();
    }

    pub fn stats(&self) -> Arc<WindowStats> {
        self.shared.stats.clone()
    }

    /// Stops and joins the thread; it lets go of the last map it held.
    pub fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.wake.unpark();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        lock(&self.shared.current).take();
    }
}

impl Drop for MapWindow {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The thread's loop: on every wake, bring the current map's window to the
/// writer's position; park until the next wake; stop when told.
fn window_loop(
    shared: &WindowShared,
    sync: &SyncShared,
    layout: Layout,
    ahead: usize,
    populate: PopulateFn,
) {
    let page = map::page_size();
    let stats = &shared.stats;
    let mut plan: Option<(u64, WindowPlan)> = None;
    let mut epoch_seen = sync.sync_epoch.load(Ordering::Acquire);
    let mut syncing = false;
    while !shared.stop.load(Ordering::Acquire) {
        let current = lock(&shared.current)
            .as_ref()
            .map(|c| (c.map.clone(), c.seq_first, c.populated_end, c.generation));
        if let Some((map, seq_first, populated_end, generation)) = current {
            let plan = match &mut plan {
                Some((seen, plan)) if *seen == generation => plan,
                _ => {
                    let fresh = WindowPlan::new(map.len(), page, ahead, populated_end);
                    &mut plan.insert((generation, fresh)).1
                }
            };
            let epoch = sync.sync_epoch.load(Ordering::Acquire);
            syncing = sync.syncing.load(Ordering::Acquire);
            if epoch != epoch_seen || syncing {
                epoch_seen = epoch;
                plan.cleaned();
            }
            let written = sync.written_seq.load(Ordering::Acquire);
            let slot_next = (written + 1).saturating_sub(seq_first);
            let position = layout.slot_offset(slot_next) as usize;
            let steps = plan.advance(position);
            apply(&map, &steps, populate, stats);
            stats.passes.fetch_add(1, Ordering::Relaxed);
            stats
                .position_done
                .fetch_max(position.min(map.len()) as u64, Ordering::Release);
            // `map` may be the last reference to a closed segment's map:
            // unmapped here, off the writer's thread.
        }
        if syncing {
            // Writeback is cleaning pages ahead of the writer: populate
            // them again soon, not only when the sync ends.
            std::thread::park_timeout(SYNC_POLL);
        } else {
            std::thread::park();
        }
    }
}

/// How often the window is populated again while a sync runs.
const SYNC_POLL: Duration = Duration::from_micros(50);

/// Populates and releases what `steps` says, counting what was done.
fn apply(map: &SegmentMap, steps: &Steps, populate: PopulateFn, stats: &WindowStats) {
    let populate_len = steps.populate.len();
    if populate_len > 0 && !stats.populate_refused.load(Ordering::Relaxed) {
        match populate(map, steps.populate.start, populate_len) {
            Ok(()) => {
                stats
                    .populated_bytes
                    .fetch_add(populate_len as u64, Ordering::Relaxed);
            }
            Err(err) if refused(&err) => stats.populate_refused.store(true, Ordering::Relaxed),
            Err(_) => {
                stats.advise_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let release_len = steps.release.len();
    if release_len > 0 {
        match map.release(steps.release.start, release_len) {
            Ok(()) => {
                stats
                    .released_bytes
                    .fetch_add(release_len as u64, Ordering::Relaxed);
            }
            Err(_) => {
                stats.advise_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The kernel does not know `MADV_POPULATE_WRITE` (before 5.14: `EINVAL`).
fn refused(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
    )
}

/// Populates the first `ahead` bytes of a freshly prepared map (on the
/// preallocating thread); returns how many bytes are populated (0 where the
/// kernel refuses).
pub(crate) fn populate_head(map: &SegmentMap, ahead: usize) -> usize {
    let len = ahead.next_multiple_of(map::page_size()).min(map.len());
    match map.populate_write(0, len) {
        Ok(()) => len,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    const PAGE: usize = 4096;

    // The first pass populates `ahead` past the writer, rounded up to a page, and releases nothing.
    #[test]
    fn first_pass_populates_ahead_only() {
        let mut plan = WindowPlan::new(100 * PAGE, PAGE, 2 * PAGE, 0);
        let steps = plan.advance(100);
        assert_eq!(steps.populate, 0..3 * PAGE);
        assert_eq!(steps.release, 0..0);
    }

    // Moving on populates only what is new and releases the whole pages before the writer's page.
    #[test]
    fn later_passes_populate_new_pages_and_release_behind() {
        let mut plan = WindowPlan::new(100 * PAGE, PAGE, 2 * PAGE, 0);
        plan.advance(100);
        let steps = plan.advance(PAGE + 904);
        assert_eq!(steps.populate, 3 * PAGE..4 * PAGE);
        assert_eq!(steps.release, 0..PAGE);
        // The same position again: nothing to do.
        let steps = plan.advance(PAGE + 904);
        assert!(
            steps.populate.is_empty() && steps.release.is_empty(),
            "{steps:?}"
        );
        // A jump past the window: population starts at the writer's page.
        let steps = plan.advance(10 * PAGE + 1);
        assert_eq!(steps.populate, 10 * PAGE..13 * PAGE);
        assert_eq!(steps.release, PAGE..10 * PAGE);
    }

    // After a sync cleaned the pages, the window is populated again from the writer's page.
    #[test]
    fn cleaned_pages_are_populated_again() {
        let mut plan = WindowPlan::new(100 * PAGE, PAGE, 2 * PAGE, 0);
        plan.advance(PAGE + 1);
        plan.cleaned();
        let steps = plan.advance(PAGE + 2);
        assert_eq!(steps.populate, PAGE..4 * PAGE);
        assert!(steps.release.is_empty());
    }

    // Near the end of the segment nothing past the map is advised; a head
    // populated by the preparing helper is not populated again.
    #[test]
    fn window_stays_within_the_map_and_skips_a_populated_head() {
        let len = 5 * PAGE + 100;
        let mut plan = WindowPlan::new(len, PAGE, 2 * PAGE, 2 * PAGE);
        assert_eq!(plan.advance(0).populate, 2 * PAGE..2 * PAGE);
        assert_eq!(plan.advance(PAGE).populate, 2 * PAGE..3 * PAGE);
        let steps = plan.advance(len);
        assert_eq!(steps.populate, 5 * PAGE..len);
        assert_eq!(steps.release, PAGE..5 * PAGE);
        let steps = plan.advance(len + 10);
        assert!(
            steps.populate.is_empty() && steps.release.is_empty(),
            "{steps:?}"
        );
    }

    static REFUSED_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn refusing_populate(_: &SegmentMap, _: usize, _: usize) -> std::io::Result<()> {
        REFUSED_CALLS.fetch_add(1, Ordering::SeqCst);
        Err(std::io::Error::from_raw_os_error(libc::EINVAL))
    }

    /// A 64 KiB segment-sized file, mapped; its writer handle and a window.
    fn mapped(
        dir: &Path,
        populate: PopulateFn,
    ) -> (
        crate::sys::map::MapWriter,
        MapWindow,
        Arc<SyncShared>,
        Layout,
    ) {
        let layout = Layout::new(48, 64 << 10, dir).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("segment"))
            .unwrap();
        file.set_len(layout.segment_size_bytes).unwrap();
        let map = SegmentMap::new(&file, layout.segment_size_bytes as usize).unwrap();
        let sync = Arc::new(SyncShared::new(dir, 0, |f| f.sync_data()).unwrap());
        let window = MapWindow::spawn(dir, layout, 2 * PAGE, sync.clone(), populate).unwrap();
        (crate::sys::map::MapWriter::new(map), window, sync, layout)
    }

    /// Waits until the window thread has acted on `position`.
    fn wait_done(stats: &WindowStats, position: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while stats.position_done.load(Ordering::Acquire) < position {
            assert!(
                Instant::now() < deadline,
                "the window thread did not reach {position} in 30 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    // Where the kernel refuses MADV_POPULATE_WRITE, the window stops asking,
    // still releases pages behind the writer, and the bytes are intact.
    #[test]
    fn refused_populate_falls_back_to_release_only() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, mut window, sync, layout) = mapped(dir.path(), refusing_populate);
        let stats = window.stats();
        let frame = layout.frame_bytes;
        writer.bytes_mut(64, frame).fill(7);
        window.switch(writer.shared(), 1, 0, 1);
        // The writer is past slot 300, well into the segment's fifth page.
        sync.written_seq.store(300, Ordering::Release);
        window.wake_at(300);
        let position = layout.slot_offset(300);
        wait_done(&stats, position);
        assert!(stats.populate_refused.load(Ordering::Relaxed));
        assert_eq!(stats.populated_bytes.load(Ordering::Relaxed), 0);
        let page_start = position as usize / PAGE * PAGE;
        assert_eq!(
            stats.released_bytes.load(Ordering::Relaxed),
            page_start as u64
        );
        let calls = REFUSED_CALLS.load(Ordering::SeqCst);
        sync.written_seq.store(600, Ordering::Release);
        window.wake_at(600);
        wait_done(&stats, layout.slot_offset(600));
        assert_eq!(
            REFUSED_CALLS.load(Ordering::SeqCst),
            calls,
            "asked once only"
        );
        assert!(writer.bytes_mut(64, frame).iter().all(|&b| b == 7));
        window.shutdown();
    }

    // On this kernel the window populates ahead (or, on one before 5.14,
    // reports the refusal), releases behind, and leaves the bytes intact.
    #[test]
    fn window_populates_ahead_and_releases_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, mut window, sync, layout) = mapped(dir.path(), populate_write);
        let stats = window.stats();
        writer.bytes_mut(64, layout.frame_bytes).fill(9);
        window.switch(writer.shared(), 1, 0, 1);
        sync.written_seq.store(300, Ordering::Release);
        window.wake_at(300);
        let position = layout.slot_offset(300);
        wait_done(&stats, position);
        let populated = stats.populated_bytes.load(Ordering::Relaxed);
        let refused = stats.populate_refused.load(Ordering::Relaxed);
        assert!(populated > 0 || refused, "neither populated nor refused");
        assert_eq!(stats.advise_errors.load(Ordering::Relaxed), 0);
        assert!(stats.released_bytes.load(Ordering::Relaxed) >= 4 * PAGE as u64);
        assert!(writer
            .bytes_mut(64, layout.frame_bytes)
            .iter()
            .all(|&b| b == 9));
        window.shutdown();
    }
}
