//! Writable shared memory maps of segment files.
//!
//! Created by the preallocating helper thread, written only by the writer
//! thread, unmapped by the helper (so `munmap` never stalls the writer).
//!
//! Soundness rests on one rule the journal keeps: a mapped segment is never
//! truncated or resized while mapped. Segments have their full size before
//! they are mapped, only the writer holding the folder's lock maps them, and
//! nothing in this crate ever shrinks a segment file. Readers use `pread`,
//! never a map. An outside process truncating a live segment would make a
//! later write fault (SIGBUS); that is operator damage the crate cannot
//! prevent, as with any memory-mapped log.
#![allow(unsafe_code)]

use memmap2::{MmapMut, MmapOptions};
use std::fs::File;
use std::io;

/// Maps the first `len_bytes` of `file` shared and writable, faulting its
/// pages in now (MAP_POPULATE) so the writer takes fewer faults later.
pub fn map_segment(file: &File, len_bytes: usize) -> io::Result<MmapMut> {
    // SAFETY: the file was preallocated to at least `len_bytes` before this
    // call and no code path truncates a segment (see the module comment), so
    // every byte of the mapping stays backed by the file while it lives.
    unsafe { MmapOptions::new().len(len_bytes).populate().map_mut(file) }
}
