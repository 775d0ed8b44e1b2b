//! The only `libc` calls of the transports: `setsockopt`/`getsockopt` on
//! integer options.
//!
//! Owning thread: any (pure system calls on a borrowed descriptor).
//! Invariant: every `unsafe` block passes a pointer to a live, correctly
//! sized `c_int` and its exact length, so the kernel never reads or writes
//! outside it. Errors come back as `io::Error` with the errno kept.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// `setsockopt(fd, level, name, &value, sizeof(int))`.
pub fn set_int_option(fd: &impl AsRawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    let raw: RawFd = fd.as_raw_fd();
    let value: libc::c_int = value;
    // SAFETY: `raw` is a descriptor owned by `fd`, alive for this call;
    // `&value` points to a live `c_int` and the length passed is exactly its
    // size, so the kernel reads only those bytes.
    let rc = unsafe {
        libc::setsockopt(
            raw,
            level,
            name,
            (&value as *const libc::c_int).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `getsockopt(fd, level, name, &value, &len)` for an integer option.
pub fn get_int_option(fd: &impl AsRawFd, level: i32, name: i32) -> io::Result<i32> {
    let raw: RawFd = fd.as_raw_fd();
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `raw` is a live descriptor owned by `fd`; `&mut value` is a
    // live `c_int` and `len` holds its exact size, so the kernel writes at
    // most that many bytes and updates `len` in place.
    let rc = unsafe {
        libc::getsockopt(
            raw,
            level,
            name,
            (&mut value as *mut libc::c_int).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}
