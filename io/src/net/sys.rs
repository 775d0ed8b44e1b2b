//! The only `libc` calls of the transports: `setsockopt`/`getsockopt` on
//! integer options, `recvmsg` with the kernel's receive stamp, and
//! `socket` for a probe socket.
//!
//! Owning thread: any (pure system calls on a borrowed descriptor).
//! Invariant: every `unsafe` block passes pointers to live locals or
//! borrowed buffers with their exact lengths, so the kernel never reads or
//! writes outside them; control messages are walked only with the `CMSG_*`
//! macros within the length the kernel returned. Errors come back as
//! `io::Error` with the errno kept.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A new, unconnected IPv4 TCP socket (close-on-exec), to ask the kernel
/// about options before any connection exists.
pub fn tcp_socket() -> io::Result<OwnedFd> {
    // SAFETY: `socket` takes no pointers; a non-negative result is a new
    // descriptor nobody else owns, which `OwnedFd` then closes on drop.
    unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(raw))
    }
}

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

/// Nanoseconds since the Unix epoch of a `timespec` (negative clamps to 0).
fn timespec_ns(time: &libc::timespec) -> u64 {
    let seconds = u64::try_from(time.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(time.tv_nsec).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// `recvmsg(fd, MSG_DONTWAIT)` into `buffer`: the byte count, and the
/// kernel's receive stamp (CLOCK_REALTIME ns) when the socket has
/// `SO_TIMESTAMPNS` or software `SO_TIMESTAMPING` on and the kernel
/// attached one. Works for UDP (one datagram) and TCP (stream bytes).
/// A datagram longer than `buffer` is truncated, as with `recv`.
pub fn recv_with_stamp(fd: &impl AsRawFd, buffer: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast::<libc::c_void>(),
        iov_len: buffer.len(),
    };
    // Room for SCM_TIMESTAMPING's three timespecs (the larger of the two
    // stamps), aligned as `cmsghdr` needs.
    let mut control = [0u64; 16];
    // SAFETY: `msghdr` is plain old data; all-zero is a valid empty header
    // (no name, no iovec, no control) that the lines below fill in.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast::<libc::c_void>();
    header.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `fd` is a live descriptor; `header` points at `iov` (which
    // points at `buffer` with its true length) and at `control` with its
    // true length, all alive for the whole call; the kernel writes only
    // within those lengths.
    let count = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut header, libc::MSG_DONTWAIT) };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((count as usize, control_stamp(&header)))
}

/// The receive stamp among the control messages `recvmsg` filled in.
fn control_stamp(header: &libc::msghdr) -> Option<u64> {
    let mut stamp = None;
    // SAFETY: `header` was just filled by `recvmsg`: `msg_control` points at
    // a live, aligned buffer and `msg_controllen` is the length the kernel
    // wrote, which bounds the CMSG walk; a stamp's data is one timespec
    // (SCM_TIMESTAMPNS) or three (SCM_TIMESTAMPING, software first), read
    // unaligned because CMSG_DATA promises no alignment for them.
    unsafe {
        let mut message = libc::CMSG_FIRSTHDR(header);
        while !message.is_null() {
            let level = (*message).cmsg_level;
            let kind = (*message).cmsg_type;
            if level == libc::SOL_SOCKET
                && (kind == libc::SCM_TIMESTAMPNS || kind == libc::SCM_TIMESTAMPING)
            {
                let time: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(message).cast::<libc::timespec>());
                let ns = timespec_ns(&time);
                if ns > 0 {
                    stamp = Some(ns);
                }
            }
            message = libc::CMSG_NXTHDR(header, message);
        }
    }
    stamp
}
