//! The only `libc` call of the FIX module: `flock` on the sequence-number
//! store's lock file, so that a reset never rewrites the numbers of a
//! running session.
//!
//! Owning thread: any (a system call on a borrowed descriptor).
//! Invariant: the lock belongs to the open file and ends when it is closed,
//! also when the process dies (SIGKILL included), so a crash never leaves a
//! stale lock behind.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// How a lock is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Many holders at once (running sessions).
    Shared,
    /// One holder and no shared one (a reset).
    Exclusive,
}

/// Takes `mode` on `file` without waiting: `Ok(true)` when taken,
/// `Ok(false)` when a conflicting lock is held elsewhere.
pub(crate) fn try_lock(file: &File, mode: LockMode) -> io::Result<bool> {
    let operation = match mode {
        LockMode::Shared => libc::LOCK_SH,
        LockMode::Exclusive => libc::LOCK_EX,
    } | libc::LOCK_NB;
    // SAFETY: the descriptor is owned by `file`, which outlives the call;
    // `flock` takes no pointers, so no memory is read or written.
    let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
    if rc == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(error)
    }
}
