//! The simulator's calls into the operating system through `libc`: the
//! kernel's receive stamp of a TCP read (SO_TIMESTAMPNS), so a simulator
//! thread that sleeps between polls does not add its sleep to the
//! tick-to-trade it measures. Each call is wrapped in a safe function.
#![allow(unsafe_code)]

use std::io;

/// Asks the kernel to stamp every segment this socket receives
/// (SO_TIMESTAMPNS), read back with [`recv_with_timestamp`].
pub fn enable_receive_timestamps(socket: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` outlives the call and its size is passed; the fd is open (borrowed from a live socket).
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads into `buffer` without blocking (MSG_DONTWAIT); returns the byte count
/// and the kernel's receive time (Unix ns) when the socket stamps it.
pub fn recv_with_timestamp(
    socket: &impl std::os::fd::AsRawFd,
    buffer: &mut [u8],
) -> io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    // Room for one timespec control message, aligned as cmsghdr needs.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast();
    header.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: every pointer in `header` points at a live local for the whole
    // call, with its true length; the fd is open.
    let count = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut header, libc::MSG_DONTWAIT) };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG macros walk the control buffer the kernel just filled,
    // within `msg_controllen`; a timestamp message's data is one timespec.
    unsafe {
        let mut message = libc::CMSG_FIRSTHDR(&header);
        while !message.is_null() {
            if (*message).cmsg_level == libc::SOL_SOCKET
                && (*message).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let time: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(message).cast());
                stamp = Some(time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64);
            }
            message = libc::CMSG_NXTHDR(&header, message);
        }
    }
    Ok((count as usize, stamp))
}
