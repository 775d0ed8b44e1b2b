//! The only `libc` calls of the transports: `setsockopt`/`getsockopt` on
//! integer options, `recvmsg` (and `recvmmsg`, a batch) with the kernel's
//! receive stamp, `recvmsg`
//! of the error queue for transmit stamps, and `socket` for a probe socket.
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

/// `SCM_TSTAMP_SND`: the stamp taken as the bytes left for the device
/// (`linux/errqueue.h`).
const SCM_TSTAMP_SND: u32 = 0;

/// One transmit stamp from the socket's error queue:
/// `recvmsg(fd, MSG_ERRQUEUE | MSG_DONTWAIT)` with no payload
/// (`SOF_TIMESTAMPING_OPT_TSONLY`). `Ok(Some((key, ns)))` for a software
/// send stamp (`key` is the `SOF_TIMESTAMPING_OPT_ID` counter: for TCP, the
/// offset of the last byte the stamped send carried; `ns` CLOCK_REALTIME);
/// `Ok(None)` when the queue held a message that is not one (skipped);
/// `WouldBlock` when the queue is empty.
pub fn recv_tx_stamp(fd: &impl AsRawFd) -> io::Result<Option<(u32, u64)>> {
    // Room for SCM_TIMESTAMPING (three timespecs) and IP_RECVERR (a
    // `sock_extended_err` and the offender's address), aligned for `cmsghdr`.
    let mut control = [0u64; 24];
    // SAFETY: `msghdr` is plain old data; all-zero is a valid empty header
    // (no name, no iovec) that the lines below give a control buffer.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_control = control.as_mut_ptr().cast::<libc::c_void>();
    header.msg_controllen = std::mem::size_of_val(&control) as _;
    let flags = libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT;
    // SAFETY: `fd` is a live descriptor; `header` points at `control` with
    // its true length and names no iovec, so the kernel writes only the
    // control buffer (a payload, if any, is truncated).
    let count = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut header, flags) };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(control_tx_stamp(&header))
}

/// The software send stamp and its key among an error-queue message's
/// control messages, when it carries both.
fn control_tx_stamp(header: &libc::msghdr) -> Option<(u32, u64)> {
    let mut stamp_ns = None;
    let mut key = None;
    // SAFETY: `header` was just filled by `recvmsg`: `msg_control` points at
    // a live, aligned buffer and `msg_controllen` is the length the kernel
    // wrote, which bounds the CMSG walk; each payload is read unaligned, as
    // CMSG_DATA promises no alignment, and only when its level and type
    // say what it holds (three timespecs; a `sock_extended_err`).
    unsafe {
        let mut message = libc::CMSG_FIRSTHDR(header);
        while !message.is_null() {
            let (level, kind) = ((*message).cmsg_level, (*message).cmsg_type);
            let data = libc::CMSG_DATA(message);
            if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPING {
                let time: libc::timespec = std::ptr::read_unaligned(data.cast());
                stamp_ns = Some(timespec_ns(&time)).filter(|&ns| ns > 0);
            } else if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
                || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
            {
                let error: libc::sock_extended_err = std::ptr::read_unaligned(data.cast());
                let is_send_stamp = error.ee_errno == libc::ENOMSG as u32
                    && error.ee_origin == libc::SO_EE_ORIGIN_TIMESTAMPING
                    && error.ee_info == SCM_TSTAMP_SND;
                key = is_send_stamp.then_some(error.ee_data);
            }
            message = libc::CMSG_NXTHDR(header, message);
        }
    }
    Some((key?, stamp_ns?))
}

/// Datagrams one [`recv_batch_stamped`] call reads at most.
pub const RECV_BATCH_MAX: usize = 16;

/// Up to `received.len()` (at most [`RECV_BATCH_MAX`]) datagrams in one
/// `recvmmsg(fd, MSG_DONTWAIT)`: datagram `i` lands in
/// `buffer[i * slot_bytes..]`, and `received[i]` gets its length and the
/// kernel's receive stamp (as [`recv_with_stamp`]). Returns how many came;
/// fewer than asked means the socket had no more. `WouldBlock` when none.
pub fn recv_batch_stamped(
    fd: &impl AsRawFd,
    buffer: &mut [u8],
    slot_bytes: usize,
    received: &mut [(usize, Option<u64>)],
) -> io::Result<usize> {
    let batch = received
        .len()
        .min(RECV_BATCH_MAX)
        .min(buffer.len() / slot_bytes.max(1));
    let mut iovs = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; RECV_BATCH_MAX];
    let mut controls = [[0u64; 16]; RECV_BATCH_MAX];
    // SAFETY: `mmsghdr` is plain old data; all-zero is a valid empty header
    // that the loop below points at a slot, its iovec and its control buffer.
    let mut headers: [libc::mmsghdr; RECV_BATCH_MAX] = unsafe { std::mem::zeroed() };
    for (index, slot) in buffer.chunks_exact_mut(slot_bytes).take(batch).enumerate() {
        iovs[index] = libc::iovec {
            iov_base: slot.as_mut_ptr().cast::<libc::c_void>(),
            iov_len: slot.len(),
        };
        let header = &mut headers[index].msg_hdr;
        header.msg_iov = &mut iovs[index];
        header.msg_iovlen = 1;
        header.msg_control = controls[index].as_mut_ptr().cast::<libc::c_void>();
        header.msg_controllen = std::mem::size_of_val(&controls[index]) as _;
    }
    // SAFETY: `fd` is a live descriptor; the first `batch` headers point at
    // their own iovec (a disjoint `slot_bytes` slot of `buffer`) and control
    // buffer with true lengths, all alive for the call; the kernel fills at
    // most `batch` headers and writes only within those lengths.
    let count = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            headers.as_mut_ptr(),
            batch as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    let count = count as usize;
    for (out, header) in received.iter_mut().zip(&headers[..count]) {
        *out = (header.msg_len as usize, control_stamp(&header.msg_hdr));
    }
    Ok(count)
}
