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
    /// Not asked for (configuration): stamps are read from the caller's
    /// clock right after each read.
    NotRequested,
}

impl RxStamping {
    /// Whether the kernel stamps arrivals.
    pub fn is_kernel(self) -> bool {
        !matches!(
            self,
            RxStamping::UserSpace { .. } | RxStamping::NotRequested
        )
    }
}

/// What a new TCP socket would get from [`enable_rx_stamps`]: asked of a
/// fresh, unconnected socket, so a client can report it at start-up,
/// before its first connection exists.
pub fn probe_tcp_rx_stamps() -> RxStamping {
    match sys::tcp_socket() {
        Ok(socket) => enable_rx_stamps(&socket),
        Err(error) => RxStamping::UserSpace {
            errno: error.raw_os_error().unwrap_or(0),
        },
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

/// The widest bracket the caller-clock offset is taken from when it can
/// be helped: the caller's clock, CLOCK_REALTIME, the caller's clock again,
/// read back to back, take tens to a few hundred ns; a wider one means the
/// thread was interrupted, preempted or descheduled by the hypervisor
/// between the reads, and the offset taken from it would err by that long
/// (microseconds to milliseconds on a loaded host), so it is measured again.
/// A converted stamp errs low by at most this much, unless every one of
/// [`OFFSET_ATTEMPTS`] brackets was wider (then by the narrowest).
pub const RX_STAMP_OFFSET_ERROR_NS_MAX: u64 = 1_000;

/// Brackets tried per measurement of the offset, at most.
const OFFSET_ATTEMPTS: usize = 3;

/// Converts kernel stamps (CLOCK_REALTIME) to a caller's clock, with the
/// offset between the two measured at the first conversion after each
/// [`CallerClockBridge::reset`] (once per poll: the clocks do not drift
/// apart measurably within one). A converted stamp is never later than
/// the caller's reading it is converted beside, so a latency taken from it
/// is never negative, and errs low by at most
/// [`RX_STAMP_OFFSET_ERROR_NS_MAX`] (see there); a stamp from before the
/// caller's epoch clamps to 0.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CallerClockBridge {
    /// Caller's clock minus CLOCK_REALTIME, once measured.
    offset_ns: Option<i128>,
}

impl CallerClockBridge {
    /// Forget the offset (call at the start of each poll).
    pub(crate) fn reset(&mut self) {
        self.offset_ns = None;
    }

    /// `kernel_ns` on the caller's clock, given `read_ns`, the caller's
    /// clock read after the read that delivered the stamped bytes, and that
    /// clock (read again to measure the offset, once per poll).
    pub(crate) fn convert(
        &mut self,
        kernel_ns: u64,
        read_ns: u64,
        clock: &mut impl FnMut() -> u64,
    ) -> u64 {
        let offset = match self.offset_ns {
            Some(offset) => offset,
            None => *self
                .offset_ns
                .insert(measure_realtime_offset(read_ns, clock)),
        };
        (i128::from(kernel_ns) + offset).clamp(0, i128::from(read_ns)) as u64
    }
}

/// The caller's clock minus CLOCK_REALTIME, from the narrowest of up to
/// [`OFFSET_ATTEMPTS`] brackets (`before_ns`, CLOCK_REALTIME, the caller's
/// clock after), stopping at the first no wider than
/// [`RX_STAMP_OFFSET_ERROR_NS_MAX`]. Taken from the bracket's start, the
/// offset errs low by at most its width: never into the future. Every
/// reading of `clock` is at or after `before_ns`, so the caller may keep
/// its last reading as "now" for the offset (a CLOCK_REALTIME stamp taken
/// before the call then converts to no later than that).
pub fn measure_realtime_offset(mut before_ns: u64, clock: &mut impl FnMut() -> u64) -> i128 {
    let mut narrowest: Option<(u64, i128)> = None;
    for _ in 0..OFFSET_ATTEMPTS {
        let realtime = realtime_ns();
        let after_ns = clock();
        let width_ns = after_ns.saturating_sub(before_ns);
        let offset = i128::from(before_ns) - i128::from(realtime);
        if narrowest.is_none_or(|(narrowest_ns, _)| width_ns < narrowest_ns) {
            narrowest = Some((width_ns, offset));
        }
        if width_ns <= RX_STAMP_OFFSET_ERROR_NS_MAX {
            break;
        }
        before_ns = after_ns;
    }
    narrowest.map_or(0, |(_, offset)| offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A stamp taken just before converts to just before the caller's
    // reading, whatever the caller's clock's origin; one from before the
    // caller's epoch clamps to 0 and one "from the future" to the reading.
    #[test]
    fn bridge_converts_into_the_callers_clock() {
        let mut bridge = CallerClockBridge::default();
        let kernel_ns = realtime_ns();
        let read_ns = 5_000_000_000;
        let mut clock = || read_ns;
        let converted = bridge.convert(kernel_ns, read_ns, &mut clock);
        assert!(converted <= read_ns);
        assert!(read_ns - converted < 50_000_000, "{converted}");
        assert_eq!(
            bridge.convert(kernel_ns - 10_000_000_000, read_ns, &mut clock),
            0
        );
        assert_eq!(
            bridge.convert(kernel_ns + 1_000_000_000, read_ns, &mut clock),
            read_ns
        );
        bridge.reset();
        assert_eq!(bridge.convert(realtime_ns(), 0, &mut || 0), 0);
    }

    // The first bracket was interrupted (10 s between the caller's read and
    // CLOCK_REALTIME's, as a preempted thread sees it): it is measured
    // again, and the offset comes from a later bracket, not 10 s low.
    #[test]
    fn an_interrupted_offset_bracket_is_measured_again() {
        const SHIFT_NS: u64 = 7_000_000_000;
        let mut clock = || realtime_ns() + SHIFT_NS;
        let before_ns = clock() - 10_000_000_000;
        let offset = measure_realtime_offset(before_ns, &mut clock);
        let error_ns = i128::from(SHIFT_NS) - offset;
        assert!(error_ns >= 0, "the offset errs low, never high: {error_ns}");
        assert!(
            error_ns < 1_000_000_000,
            "measured again: {error_ns} ns low"
        );
    }

    // A fresh TCP socket takes kernel stamps on Linux.
    #[test]
    fn a_tcp_socket_takes_kernel_stamps() {
        assert!(probe_tcp_rx_stamps().is_kernel());
    }
}
