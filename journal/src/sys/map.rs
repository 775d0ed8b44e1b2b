//! Writable shared memory maps of segment files.
//!
//! Created by the preallocating helper thread, written only by the writer
//! thread, and shared (`Arc`) with the window thread (see
//! [`crate::window`]), which write-faults pages ahead of the writer and
//! drops written pages behind it. Whichever of them lets go last unmaps, so
//! an address is never reused while another thread may still advise it, and
//! the writer hands its reference to a helper at rollover so that `munmap`
//! never runs on its thread.
//!
//! Soundness rests on one rule the journal keeps: a mapped segment is never
//! truncated or resized while mapped. Segments have their full size before
//! they are mapped, only the writer holding the folder's lock maps them, and
//! nothing in this crate ever shrinks a segment file. Readers use `pread`,
//! never a map. An outside process truncating a live segment would make a
//! later write fault (SIGBUS); that is operator damage the crate cannot
//! prevent, as with any memory-mapped log.
#![allow(unsafe_code)]

use memmap2::{Advice, MmapOptions, MmapRaw, UncheckedAdvice};
use std::fs::File;
use std::io;
use std::sync::Arc;

/// A shared, writable map of the first `len()` bytes of a segment file, as
/// the window thread sees it: it can advise pages, not touch their bytes.
/// Only the one [`MapWriter`] made with it writes them.
pub struct SegmentMap {
    map: MmapRaw,
    /// The mapped file (a duplicate descriptor), to read pages ahead.
    file: File,
}

impl SegmentMap {
    /// Maps the first `len_bytes` of `file` shared and writable. No page is
    /// faulted in here: `MAP_POPULATE` on a shared map faults pages for
    /// reading only, leaving them write-protected for dirty tracking, so the
    /// writer would still take a fault on its first store to each page. The
    /// window thread write-faults them instead ([`SegmentMap::populate_write`]).
    ///
    /// The map is advised `MADV_RANDOM`: a fault reads in only its own
    /// page. Without it, a writer that outran the window read ahead (for a
    /// preallocated segment: zero-filled) some 32 pages per fault on its
    /// own thread; the window reads ahead with `posix_fadvise` instead.
    pub fn new(file: &File, len_bytes: usize) -> io::Result<SegmentMap> {
        let map = MmapOptions::new().len(len_bytes).map_raw(file)?;
        map.advise(Advice::Random)?;
        Ok(SegmentMap {
            map,
            file: file.try_clone()?,
        })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Write-faults the pages of `offset..offset + len` now
    /// (`MADV_POPULATE_WRITE`, Linux 5.14 and later), so that stores to them
    /// take no fault until writeback cleans them, after reading the range
    /// into the page cache in one go (`POSIX_FADV_WILLNEED`). Content is
    /// unchanged. Older kernels refuse the populate with `EINVAL`.
    pub fn populate_write(&self, offset: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        crate::sys::fs::will_need(&self.file, offset as u64, len as u64)?;
        self.map.advise_range(Advice::PopulateWrite, offset, len)
    }

    /// Drops the pages of `offset..offset + len` from the map
    /// (`MADV_DONTNEED`): they stop counting in the process's resident
    /// memory. In a shared file map nothing is lost: the pages stay in the
    /// page cache, dirty ones still to be written back, and a later access
    /// maps them again.
    pub fn release(&self, offset: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the map is a shared map of a file (`map_raw` maps
        // MAP_SHARED), for which MADV_DONTNEED only removes page-table
        // entries: the content lives in the page cache and reads back
        // unchanged, so no Rust reference into the map sees its bytes change.
        unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len)
        }
    }
}

/// The one handle that writes a segment map's bytes: not `Clone`, so
/// `&mut self` proves no other slice of the map is alive. Any number of
/// [`SegmentMap`] handles may advise its pages meanwhile.
pub struct MapWriter {
    map: Arc<SegmentMap>,
}

impl MapWriter {
    pub fn new(map: SegmentMap) -> MapWriter {
        MapWriter { map: Arc::new(map) }
    }

    /// A handle for advising the map's pages from another thread.
    pub fn shared(&self) -> Arc<SegmentMap> {
        self.map.clone()
    }

    /// The bytes `start..start + len` of the map, to write a frame into.
    #[inline(always)]
    pub fn bytes_mut(&mut self, start: usize, len: usize) -> &mut [u8] {
        let map = &self.map.map;
        assert!(
            start <= map.len() && len <= map.len() - start,
            "frame within the segment map"
        );
        // SAFETY: in bounds by the assert; the map lives as long as `self`
        // (the file was preallocated to its length and is never shrunk, see
        // the module comment). Exclusive: this handle is the only one that
        // hands out the map's bytes and `&mut self` allows one slice at a
        // time; `SegmentMap` handles only advise pages, which never changes
        // their content in a shared file map, and readers use `pread`.
        unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().add(start), len) }
    }
}

/// The size of a memory page.
pub fn page_size() -> usize {
    // SAFETY: `sysconf` only reads its integer argument.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|s| s.is_power_of_two())
        .unwrap_or(4096)
}
