//! File-system calls that std does not offer: `fallocate`, `flock` and
//! `posix_fadvise`.
//!
//! Called from the preallocating helper thread and from `Writer::open`,
//! never per record.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Reserves `len_bytes` of disk for `file`, zero-filled, so writing into it
/// later never fails for lack of space (which in a memory map would be a
/// SIGBUS). Falls back to `set_len` (a sparse file) where the file system
/// cannot preallocate.
pub fn preallocate(file: &File, len_bytes: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len_bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length exceeds off_t"))?;
    // SAFETY: `fallocate` only reads its integer arguments; the descriptor is
    // open for writing and owned by `file` for the duration of the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(len_bytes),
        _ => Err(err),
    }
}

/// Takes an exclusive advisory lock on `file` without waiting; `Ok(false)`
/// when another process or handle holds it. Released when the file closes.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: `flock` only reads its integer arguments; the descriptor is
    // open and owned by `file` for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(err)
}

/// Asks the kernel to read `offset..offset + len_bytes` of `file` into the
/// page cache now (`POSIX_FADV_WILLNEED`); for preallocated, never written
/// blocks that is zero-filling pages, no disk read.
pub fn will_need(file: &File, offset: u64, len_bytes: u64) -> io::Result<()> {
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset exceeds off_t"))?;
    let len = libc::off_t::try_from(len_bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length exceeds off_t"))?;
    // SAFETY: `posix_fadvise` only reads its integer arguments; the
    // descriptor is open and owned by `file` for the duration of the call.
    let rc =
        unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED) };
    if rc == 0 {
        return Ok(());
    }
    Err(io::Error::from_raw_os_error(rc))
}
