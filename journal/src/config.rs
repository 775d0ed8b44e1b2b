//! How a journal is opened: folder, record and segment size, durability
//! policy and write path. Plain data, checked by `Writer::open`.

use std::path::PathBuf;

/// When appended records are forced to disk (`fdatasync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Page cache only: the kernel writes back when it likes. The durable
    /// sequence moves only on an explicit `Writer::sync` or on close.
    None,
    /// Group commit on a background thread: `fdatasync` once `records`
    /// records are pending or `interval_us` microseconds have passed since
    /// the last one, whichever comes first. The writer never waits for it.
    Group { records: u64, interval_us: u64 },
    /// `fdatasync` on the writer's thread at every `Writer::end_of_batch`.
    Batch,
}

/// How records travel from the writer to the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Frames are encoded straight into a shared memory map of the segment:
    /// no system call and no second copy per batch, and live readers see
    /// each record as soon as it is appended.
    Mmap,
    /// Frames are encoded into a buffer that goes to the file with `pwrite`
    /// when full or at `flush`/`end_of_batch`.
    Pwrite,
}

/// How a new segment's disk space is reserved before it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preallocate {
    /// `fallocate`: instant, but the blocks are "unwritten" extents, so the
    /// first `fdatasync` after writing into them must also commit the
    /// file-system journal to convert them.
    Fallocate,
    /// `fallocate`, then write zeros over the whole segment and sync them on
    /// the helper thread: later `fdatasync`s write data only. Costs one extra
    /// write of every segment, off the writer's thread.
    ZeroFill,
}

/// How much of each closed segment `Writer::open` reads before it appends.
///
/// Either way the open checks the chain of segments (none missing from the
/// journal's first sequence or the archive boundary, none misplaced), each
/// closed segment's header and size, and that its seal matches its header;
/// a closed segment without a seal is read record by record and sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosedCheck {
    /// Also read every byte of every uncompressed closed segment and compare
    /// its CRC32C with the seal: any changed byte is found at open. Costs one
    /// sequential read of the live folder (measured: 10 M records, 1.4 GB,
    /// in about 0.4 s from the page cache; see `docs/journal-format.md`).
    Full,
    /// Trust sealed segments whose header, size and seal agree, without
    /// reading their records: opening costs two small reads per segment
    /// whatever the folder's size. A flipped bit inside a record is then
    /// found by readers (every record's CRC is checked as it is read) and
    /// by `verify`, not at open.
    Seals,
}

/// Everything `Writer::open` needs.
#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// Folder holding the segments (created if missing).
    pub dir: PathBuf,
    /// Size of every payload.
    pub record_size_bytes: usize,
    /// Size of every segment file, header included.
    pub segment_size_bytes: u64,
    /// Sequence of the first record when the folder holds no segment yet (at least 1).
    pub seq_first: u64,
    pub durability: Durability,
    pub write_mode: WriteMode,
    /// Buffer size in `WriteMode::Pwrite` (rounded down to whole frames).
    pub write_buffer_bytes: usize,
    /// `WriteMode::Mmap`: bytes of the segment kept write-faulted ahead of
    /// the writer by the `journal-window` thread (whole pages; the pages
    /// behind the writer leave the map). 0 turns the window off: the writer
    /// takes a page fault per page written, and the map stays resident.
    pub map_ahead_bytes: usize,
    pub preallocate: Preallocate,
    /// `WriteMode::Pwrite`: buffers of `write_buffer_bytes` that a
    /// `journal-write` thread writes, so the writer's thread makes no
    /// `pwrite` (0: the writer writes its one buffer itself). A full buffer
    /// is handed over and the writer fills the next free one, waiting when
    /// all are in flight. Records handed over and not yet written are lost
    /// if the process dies, as the synchronous path loses its unwritten
    /// buffer: up to this many buffers more (see `docs/journal-format.md`).
    pub write_thread_buffers: usize,
    /// How closed segments are checked at open (default `Full`).
    pub closed_check: ClosedCheck,
}

/// 64 MiB: about 466 k engine events, a rollover every ~60 ms at 8 M records/s.
pub const SEGMENT_SIZE_BYTES_DEFAULT: u64 = 64 << 20;
/// Buffers of a write thread when one is asked for (1 MiB of 256 KiB buffers).
pub const WRITE_THREAD_BUFFERS_DEFAULT: usize = 4;
/// 256 KiB of frames per `pwrite`.
pub const WRITE_BUFFER_BYTES_DEFAULT: usize = 256 << 10;

impl JournalConfig {
    /// A journal of `record_size_bytes` records in `dir` with the defaults:
    /// 64 MiB segments, first sequence 1, no fsync, `pwrite` (measured: as
    /// fast as the map with no fsync, far lower durable lag under group
    /// commit; see `docs/journal-format.md`), `fallocate`d segments, every
    /// closed segment read against its seal at open.
    pub fn new(dir: impl Into<PathBuf>, record_size_bytes: usize) -> JournalConfig {
        JournalConfig {
            dir: dir.into(),
            record_size_bytes,
            segment_size_bytes: SEGMENT_SIZE_BYTES_DEFAULT,
            seq_first: 1,
            durability: Durability::None,
            write_mode: WriteMode::Pwrite,
            write_buffer_bytes: WRITE_BUFFER_BYTES_DEFAULT,
            map_ahead_bytes: crate::window::MAP_AHEAD_BYTES_DEFAULT,
            preallocate: Preallocate::Fallocate,
            write_thread_buffers: 0,
            closed_check: ClosedCheck::Full,
        }
    }

    /// Whether new segments are zero-filled.
    pub fn zero_fill(&self) -> bool {
        self.preallocate == Preallocate::ZeroFill
    }
}
