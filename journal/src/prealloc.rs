//! Preparing the next segment ahead of need, on a helper thread.
//!
//! The helper creates the segment under a temporary dot-name, reserves its
//! full size (`fallocate`, and with `zero_fill` real zeros, so later
//! `fdatasync`s need no extent conversion), writes and syncs its header, and in `Mmap` mode
//! maps it with its pages faulted in. The writer asks for segment `k+1` as
//! soon as it moves into segment `k`, so at rollover it normally finds it
//! ready and only renames it. The helper also unmaps retired segments, so
//! `munmap` never runs on the writer's thread.
//!
//! Channels are bounded and allocated once: no allocation per record, and
//! none per rollover on the writer's side beyond the file name.

use crate::durability::SyncTarget;
use crate::layout::Layout;
use crate::naming;
use crate::sys;
use crate::JournalError;
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
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
    pub map: Option<MmapMut>,
}

/// Creates, preallocates and (optionally) maps the segment starting at `seq_first`.
pub(crate) fn prepare_segment(
    dir: &Path,
    layout: &Layout,
    seq_first: u64,
    map: bool,
    zero_fill: bool,
) -> Result<Prepared, JournalError> {
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
    if zero_fill {
        write_zeros(&file, layout.segment_size_bytes).map_err(io("zero-fill segment"))?;
    }
    let header = layout.header_for(seq_first).encode();
    file.write_all_at(&header, 0)
        .map_err(io("write segment header"))?;
    file.sync_data().map_err(io("fdatasync new segment"))?;
    let map = if map {
        Some(
            sys::map::map_segment(&file, layout.segment_size_bytes as usize)
                .map_err(io("map segment"))?,
        )
    } else {
        None
    };
    Ok(Prepared {
        seq_first,
        tmp_path,
        target: Arc::new(SyncTarget {
            seq_first,
            file,
            path: naming::segment_path(dir, seq_first),
        }),
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
    Retire(MmapMut),
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
        layout: Layout,
        map: bool,
        zero_fill: bool,
    ) -> Result<Preallocator, JournalError> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(4);
        let (ready_tx, ready) = mpsc::sync_channel(2);
        let helper_dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("journal-prealloc".into())
            .spawn(move || {
                for job in job_rx {
                    match job {
                        Job::Prepare(seq_first) => {
                            let prepared =
                                prepare_segment(&helper_dir, &layout, seq_first, map, zero_fill);
                            if ready_tx.send(prepared).is_err() {
                                return;
                            }
                        }
                        Job::Retire(map) => drop(map),
                    }
                }
            })
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
            source: std::io::Error::other("the preallocating thread has stopped"),
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

    /// Hands a mapping of a closed segment over to be unmapped off this thread.
    pub fn retire(&self, map: MmapMut) -> Result<(), JournalError> {
        self.send(Job::Retire(map))
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
            source: std::io::Error::other("the preallocating thread has stopped"),
        }
    }

    /// Stops the helper and removes segments it prepared that were never used.
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
