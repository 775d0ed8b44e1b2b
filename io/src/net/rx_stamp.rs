//! Kernel receive stamps for market data: `ts_recv_ns` is when the kernel
//! received the datagram (or TCP segment), not when user space got round to
//! reading it, so the time data waits in the socket is visible.
//!
//! Owning thread: whoever owns the socket. Policy: [`enable_rx_stamps`]
//! asks for `SO_TIMESTAMPNS` and, if the kernel refuses, software
//! `SO_TIMESTAMPING` (`SOF_TIMESTAMPING_RX_SOFTWARE |
//! SOF_TIMESTAMPING_SOFTWARE`); if both are refused the owner stamps in user
//! space after the read and reports [`RxStamping::UserSpace`] once (the
//! receivers keep the outcome for the caller to log). Stamps are
//! CLOCK_REALTIME nanoseconds since the Unix epoch ([`realtime_ns`] reads
//! the same clock). Reading never allocates.
//!
//! Start-up caveat: Linux turns arrival stamping on system-wide when the
//! first socket asks, in a deferred work item. Until it has run (micro- to
//! milliseconds), a UDP datagram is stamped when it is read and TCP data
//! comes without a stamp (the owner then uses its clock and counts it).

use super::sys;
use std::os::fd::AsRawFd;

/// How a socket's receive times are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxStamping {
    /// `SO_TIMESTAMPNS`: the kernel stamps every arrival.
    KernelTimestampNs,
    /// `SO_TIMESTAMPING` with receive software stamps.
    KernelTimestamping,
    /// The kernel refused both (raw errno of the last refusal): stamps are
    /// read from the caller's clock right after each read.
    UserSpace {
        /// OS error number of the refusal.
        errno: i32,
    },
}

impl RxStamping {
    /// Whether the kernel stamps arrivals.
    pub fn is_kernel(self) -> bool {
        !matches!(self, RxStamping::UserSpace { .. })
    }
}

/// Turn on kernel receive stamps for `socket` (see the module docs).
pub fn enable_rx_stamps(socket: &impl AsRawFd) -> RxStamping {
    if sys::set_int_option(socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1).is_ok() {
        return RxStamping::KernelTimestampNs;
    }
    let flags = (libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE) as i32;
    match sys::set_int_option(socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags) {
        Ok(()) => RxStamping::KernelTimestamping,
        Err(error) => RxStamping::UserSpace {
            errno: error.raw_os_error().unwrap_or(0),
        },
    }
}

/// Read what is waiting (one datagram, or stream bytes) without blocking:
/// the byte count and the kernel's stamp, `None` when the kernel attached
/// none (stamps off, or refused). `WouldBlock` when nothing is waiting.
pub fn recv_stamped(
    socket: &impl AsRawFd,
    buffer: &mut [u8],
) -> std::io::Result<(usize, Option<u64>)> {
    sys::recv_with_stamp(socket, buffer)
}

/// CLOCK_REALTIME now, in nanoseconds since the Unix epoch: the clock of
/// the kernel's stamps (for comparisons and user-space fallback).
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
