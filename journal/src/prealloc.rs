//! Preparing the next segment ahead of need, and sealing closed ones, on a
//! helper thread.
//!
//! The helper creates the segment under a temporary dot-name, reserves its
//! full size (`fallocate`, and with `zero_fill` real zeros, so later
//! `fdatasync`s need no extent conversion), writes and syncs its header, and in `Mmap` mode
//! maps it and write-faults its first pages (the rest are write-faulted
//! ahead of the writer by the map window, see [`crate::window`]). The writer asks for segment `k+1` as
//! soon as it moves into segment `k`, so at rollover it normally finds it
//! ready and only renames it.
//!
//! After each rollover the writer hands the closed segment back: the helper
//! unmaps it (so `munmap` never runs on the writer's thread), syncs its
//! data and the folder (so the successor's name is on disk), takes the
//! CRC32C of its body and appends its seal to the seal log (see
//! [`crate::seal`]). A failure there stops the journal, as a failed
//! `fdatasync` does. Sealing costs the writer nothing per record.
//!
//! Channels are bounded and allocated once: no allocation per record, and
//! none per rollover on the writer's side. The helper is joined when the
//! writer closes, after it has finished every job handed to it; only a
//! writer holding the folder lock ever runs one, so no other helper can
//! touch this one's temporary files.

use crate::durability::{SyncShared, SyncTarget};
use crate::layout::Layout;
use crate::naming;
use crate::scan;
use crate::seal::{self, Seal};
use crate::segment_header::SEGMENT_HEADER_BYTES;
use crate::sys;
use crate::sys::map::{MapWriter, SegmentMap};
use crate::window;
use crate::JournalError;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A segment ready to be renamed into place and written. Everything the
/// writer needs at rollover — the final path, the shared sync target — is
/// built here, on the helper thread, so that rollover allocates nothing.
pub(crate) struct Prepared {
    pub seq_first: u64,
    pub tmp_path: PathBuf,
    pub target: Arc<SyncTarget>,
    pub map: Option<MapWriter>,
    /// Bytes from the start of `map` already write-faulted.
    pub populated_bytes: usize,
}

/// What the helper needs to prepare segments of one journal.
#[derive(Clone, Copy)]
pub(crate) struct SegmentSpec {
    pub layout: Layout,
    /// First sequence of the journal, written into every header.
    pub seq_origin: u64,
    pub map: bool,
    /// `Mmap` mode: bytes the map window keeps write-faulted ahead of the writer.
    pub map_ahead_bytes: usize,
    pub zero_fill: bool,
}

/// Creates, preallocates and (optionally) maps the segment starting at `seq_first`.
pub(crate) fn prepare_segment(
    dir: &Path,
    spec: &SegmentSpec,
    seq_first: u64,
) -> Result<Prepared, JournalError> {
    let layout = &spec.layout;
    let tmp_path = naming::prealloc_path(dir, seq_first);
    let io = |op| JournalError::io(&tmp_path, op);
    match std::fs::remove_file(&tmp_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove stale preallocated segment")(e)),
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .map_err(io("create segment"))?;
    sys::fs::preallocate(&file, layout.segment_size_bytes).map_err(io("preallocate segment"))?;
    if spec.zero_fill {
        write_zeros(&file, layout.segment_size_bytes).map_err(io("zero-fill segment"))?;
    }
    let header = layout.header_for(seq_first, spec.seq_origin).encode();
    file.write_all_at(&header, 0)
        .map_err(io("write segment header"))?;
    file.sync_data().map_err(io("fdatasync new segment"))?;
    let (map, populated_bytes) = if spec.map {
        let map = SegmentMap::new(&file, layout.segment_size_bytes as usize)
            .map_err(io("map segment"))?;
        let populated_bytes = window::populate_head(&map, spec.map_ahead_bytes);
        (Some(MapWriter::new(map)), populated_bytes)
    } else {
        (None, 0)
    };
    Ok(Prepared {
        seq_first,
        tmp_path,
        populated_bytes,
        target: Arc::new(SyncTarget::fresh(
            seq_first,
            file,
            naming::segment_path(dir, seq_first),
            SEGMENT_HEADER_BYTES as u64,
        )),
        map,
    })
}

/// Writes zeros over `len_bytes` from the start (1 MiB at a time).
fn write_zeros(file: &File, len_bytes: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < len_bytes {
        let len = zeros.len().min((len_bytes - offset) as usize);
        file.write_all_at(&zeros[..len], offset)?;
        offset += len as u64;
    }
    Ok(())
}

enum Job {
    Prepare(u64),
    /// A segment the writer moved out of: unmap it, then seal it.
    Seal {
        target: Arc<SyncTarget>,
        map: Option<MapWriter>,
    },
}

/// The helper's side of sealing: the seal log and a read buffer, opened once.
/// The sealer's read size: big enough that a read is cheap next to the
/// CRC of what it brings in, small enough to stay out of the way.
const SEAL_CHUNK_BYTES: usize = 256 << 10;

/// A buffer of `len` bytes whose pages are all resident.
fn touched(len: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; len];
    buffer.fill(0xA5);
    buffer
}

pub(crate) struct Sealer {
    layout: Layout,
    /// Sync the segment, the folder and the seal log (every policy but
    /// `Durability::None`, under which nothing is promised after a power loss).
    sync: bool,
    dir: File,
    dir_path: PathBuf,
    seals: File,
    seals_path: PathBuf,
    buffer: Vec<u8>,
    /// Seals that read their segment's body back.
    read_back: u64,
}

impl Sealer {
    /// Opens the folder and the seal log (which `Writer::open` made sound).
    pub fn open(dir: &Path, layout: Layout, sync: bool) -> Result<Sealer, JournalError> {
        Ok(Sealer {
            layout,
            sync,
            dir: File::open(dir).map_err(JournalError::io(dir, "open folder"))?,
            dir_path: dir.to_path_buf(),
            seals: seal::open_for_append(dir)?,
            seals_path: seal::seals_path(dir),
            // Allocated and touched here, at open: the first seal comes
            // minutes into a run, and a 4 MiB buffer taken then showed up
            // as resident-memory growth in the soak.
            buffer: touched(SEAL_CHUNK_BYTES),
            read_back: 0,
        })
    }

    /// Seals a closed (full) segment. Unless durability is `None`, its data
    /// and the folder are synced first, so a seal on disk always describes
    /// data on disk, and a successor whose name is on disk; the seal itself
    /// is synced after.
    fn seal(&mut self, target: &SyncTarget) -> Result<u64, JournalError> {
        let path = &target.path;
        if self.sync {
            target
                .file
                .sync_data()
                .map_err(JournalError::io(path, "fdatasync closed segment"))?;
            self.dir
                .sync_all()
                .map_err(JournalError::io(&self.dir_path, "fsync folder"))?;
        }
        let header = scan::read_header(&target.file, path)?;
        // Followed as the write thread wrote the segment (every `pwrite`
        // in order, the whole body): no read of the closed segment.
        // Otherwise (no write thread, a memory map, a segment reopened
        // part-written) it is read back.
        let written_end = self.layout.slot_offset(self.layout.slots_per_segment);
        let followed = target.body_crc_if_whole(written_end, self.layout.segment_size_bytes);
        let body_crc = match followed {
            Some(crc) => crc,
            None => {
                self.read_back += 1;
                scan::body_crc(&target.file, path, &self.layout, &mut self.buffer)?.ok_or_else(
                    || JournalError::Layout {
                        path: path.clone(),
                        reason: "the closed segment is shorter than its header says".into(),
                    },
                )?
            }
        };
        let seal = Seal::of_full_segment(&self.layout, target.seq_first, header.crc(), body_crc);
        seal::append(&mut self.seals, &self.seals_path, &seal, self.sync)?;
        Ok(seal.seq_last)
    }
}

/// The helper thread's loop: jobs in order until the writer hangs up.
fn helper_loop(
    dir: &Path,
    spec: &SegmentSpec,
    jobs: Receiver<Job>,
    ready: SyncSender<Result<Prepared, JournalError>>,
    mut sealer: Sealer,
    shared: &SyncShared,
) {
    for job in jobs {
        match job {
            Job::Prepare(seq_first) => {
                if ready.send(prepare_segment(dir, spec, seq_first)).is_err() {
                    return;
                }
            }
            Job::Seal { target, map } => {
                drop(map);
                let sealed = sealer.seal(&target);
                shared
                    .seals_read_back
                    .store(sealer.read_back, Ordering::Relaxed);
                match sealed {
                    Ok(seq_last) => shared.sealed_seq.store(seq_last, Ordering::Release),
                    Err(err) => {
                        shared.stop(
                            &target.path,
                            format!("sealing the closed segment failed: {err}"),
                        );
                    }
                }
            }
        }
    }
}

/// The writer's handle on the helper thread.
pub(crate) struct Preallocator {
    jobs: Option<SyncSender<Job>>,
    ready: Receiver<Result<Prepared, JournalError>>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
    /// Rollovers that found the next segment not yet ready and had to wait.
    pub rollover_waits: u64,
}

impl Preallocator {
    pub fn spawn(
        dir: &Path,
        spec: SegmentSpec,
        sealer: Sealer,
        shared: Arc<SyncShared>,
    ) -> Result<Preallocator, JournalError> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(8);
        let (ready_tx, ready) = mpsc::sync_channel(2);
        let helper_dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("journal-prealloc".into())
            .spawn(move || helper_loop(&helper_dir, &spec, job_rx, ready_tx, sealer, &shared))
            .map_err(JournalError::io(dir, "spawn preallocating thread"))?;
        Ok(Preallocator {
            jobs: Some(jobs),
            ready,
            thread: Some(thread),
            dir: dir.to_path_buf(),
            rollover_waits: 0,
        })
    }

    fn send(&self, job: Job) -> Result<(), JournalError> {
        let stopped = || JournalError::Io {
            path: self.dir.clone(),
            op: "hand work to the preallocating thread",
            error: std::io::Error::other("the preallocating thread has stopped"),
        };
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())
    }

    /// Starts preparing the segment whose first record is `seq_first`.
    pub fn request(&self, seq_first: u64) -> Result<(), JournalError> {
        self.send(Job::Prepare(seq_first))
    }

    /// Hands a closed segment over to be unmapped (if mapped) and sealed off this thread.
    pub fn seal(
        &self,
        target: Arc<SyncTarget>,
        map: Option<MapWriter>,
    ) -> Result<(), JournalError> {
        self.send(Job::Seal { target, map })
    }

    /// The segment asked for last; waits only if the helper is behind.
    pub fn take(&mut self, seq_first: u64) -> Result<Prepared, JournalError> {
        let prepared = match self.ready.try_recv() {
            Ok(prepared) => prepared,
            Err(TryRecvError::Empty) => {
                self.rollover_waits += 1;
                self.ready.recv().map_err(|_| self.helper_gone())?
            }
            Err(TryRecvError::Disconnected) => return Err(self.helper_gone()),
        }?;
        assert_eq!(
            prepared.seq_first, seq_first,
            "segments are prepared in order"
        );
        Ok(prepared)
    }

    fn helper_gone(&self) -> JournalError {
        JournalError::Io {
            path: self.dir.clone(),
            op: "wait for the next segment",
            error: std::io::Error::other("the preallocating thread has stopped"),
        }
    }

    /// Stops the helper once it has done every job handed to it (seals
    /// included), and removes segments it prepared that were never used.
    pub fn shutdown(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        while let Ok(prepared) = self.ready.try_recv() {
            if let Ok(prepared) = prepared {
                drop(prepared.map);
                let _ = std::fs::remove_file(&prepared.tmp_path);
            }
        }
    }
}

impl Drop for Preallocator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
