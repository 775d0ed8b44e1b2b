//! Socket options from configuration, applied one by one with the outcome
//! of each reported rather than failing the socket.
//!
//! Owning thread: whoever opens the socket (start-up or reconnect, never the
//! receive path). Policy: an option the kernel refuses (`EPERM` without
//! `CAP_NET_ADMIN` for `SO_BUSY_POLL`, `ENOPROTOOPT` on a kernel without it,
//! a receive buffer above `net.core.rmem_max` silently clamped) is reported
//! in [`OptionsReport`] and the socket is still used: every option here is a
//! latency or loss tuning, never a correctness requirement. The engine logs
//! the report once at start-up; `tuning/check-host.sh` explains the sysctls.

use super::sys;
use std::os::fd::AsRawFd;

/// Options to apply to ingest sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_BUSY_POLL` in microseconds: the kernel busy-polls the device queue
    /// this long on a blocking read. `None` leaves the system default.
    pub busy_poll_us: Option<u32>,
    /// `SO_RCVBUF` in bytes (the kernel doubles it for bookkeeping and clamps
    /// it to `net.core.rmem_max`). `None` leaves the system default.
    pub recv_buffer_bytes: Option<u32>,
    /// `TCP_NODELAY` on TCP sockets (ignored for UDP).
    pub tcp_nodelay: bool,
}

impl Default for SocketOptions {
    /// No busy poll, system receive buffer, `TCP_NODELAY` on.
    fn default() -> SocketOptions {
        SocketOptions {
            busy_poll_us: None,
            recv_buffer_bytes: None,
            tcp_nodelay: true,
        }
    }
}

/// What happened to one option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionOutcome {
    /// Not asked for.
    NotRequested,
    /// Set.
    Applied,
    /// The kernel refused it; the errno is kept (`EPERM`, `ENOPROTOOPT`, ...).
    Refused {
        /// Raw OS error number.
        errno: i32,
    },
}

impl OptionOutcome {
    fn from_result(result: std::io::Result<()>) -> OptionOutcome {
        match result {
            Ok(()) => OptionOutcome::Applied,
            Err(error) => OptionOutcome::Refused {
                errno: error.raw_os_error().unwrap_or(0),
            },
        }
    }
}

/// The outcome of applying [`SocketOptions`] to one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionsReport {
    /// `SO_BUSY_POLL`.
    pub busy_poll: OptionOutcome,
    /// `SO_RCVBUF`.
    pub recv_buffer: OptionOutcome,
    /// The receive buffer the kernel reports after setting it (bytes,
    /// including its bookkeeping share), if it could be read.
    pub recv_buffer_bytes_effective: Option<u32>,
    /// `TCP_NODELAY` (always `NotRequested` on UDP).
    pub tcp_nodelay: OptionOutcome,
}

impl OptionsReport {
    /// Whether any requested option was refused.
    pub fn any_refused(&self) -> bool {
        [self.busy_poll, self.recv_buffer, self.tcp_nodelay]
            .iter()
            .any(|o| matches!(o, OptionOutcome::Refused { .. }))
    }
}

/// Apply the socket-level options (busy poll, receive buffer) to any socket.
pub fn apply_socket_options(socket: &impl AsRawFd, options: &SocketOptions) -> OptionsReport {
    let busy_poll = match options.busy_poll_us {
        None => OptionOutcome::NotRequested,
        Some(us) => OptionOutcome::from_result(set_busy_poll(socket, us)),
    };
    let recv_buffer = match options.recv_buffer_bytes {
        None => OptionOutcome::NotRequested,
        Some(bytes) => OptionOutcome::from_result(sys::set_int_option(
            socket,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            i32::try_from(bytes).unwrap_or(i32::MAX),
        )),
    };
    let recv_buffer_bytes_effective =
        sys::get_int_option(socket, libc::SOL_SOCKET, libc::SO_RCVBUF)
            .ok()
            .and_then(|bytes| u32::try_from(bytes).ok());
    OptionsReport {
        busy_poll,
        recv_buffer,
        recv_buffer_bytes_effective,
        tcp_nodelay: OptionOutcome::NotRequested,
    }
}

/// Apply all options to a TCP stream, `TCP_NODELAY` included.
pub fn apply_tcp_options(stream: &mio::net::TcpStream, options: &SocketOptions) -> OptionsReport {
    let mut report = apply_socket_options(stream, options);
    if options.tcp_nodelay {
        report.tcp_nodelay = OptionOutcome::from_result(stream.set_nodelay(true));
    }
    report
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_busy_poll(socket: &impl AsRawFd, us: u32) -> std::io::Result<()> {
    let us = i32::try_from(us).unwrap_or(i32::MAX);
    sys::set_int_option(socket, libc::SOL_SOCKET, libc::SO_BUSY_POLL, us)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_busy_poll(_socket: &impl AsRawFd, _us: u32) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOPROTOOPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A receive buffer request is applied and the kernel reports a size;
    // busy poll is either applied or refused with an errno, never a panic.
    #[test]
    fn udp_options_report() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let options = SocketOptions {
            busy_poll_us: Some(50),
            recv_buffer_bytes: Some(1 << 20),
            tcp_nodelay: true,
        };
        let report = apply_socket_options(&socket, &options);
        assert_eq!(report.recv_buffer, OptionOutcome::Applied);
        assert!(report.recv_buffer_bytes_effective.unwrap() > 0);
        assert_ne!(report.busy_poll, OptionOutcome::NotRequested);
        assert_eq!(report.tcp_nodelay, OptionOutcome::NotRequested);
    }
}
