//! How the simulator's thread waits when it has nothing to do: blocked in
//! `ppoll` on the sockets it serves (FIX, and the ITCH and WebSocket
//! servers' as they list them, [`WaitFor`]) and on a [`Doorbell`], until
//! one is readable (or writable, where output waits) or the next timer is due.
//! Level-triggered, so a socket left unread by a bounded read is seen again
//! at once, and a descriptor list rebuilt before each wait needs no
//! registration as connections come and go.
//!
//! Owning thread: the simulator's ([`Readiness`]); a [`Doorbell`] is rung
//! from any thread.
//!
//! Invariants: a ring before or during a wait ends it (the eventfd counts
//! until drained); a wait with no descriptor and no timeout is refused (it
//! would never end).

// eventfd(2), read/write(2) on it, and ppoll(2): system calls std has no
// wrapper for; each block says what it relies on.
#![allow(unsafe_code)]

use genesis_io::net::WaitFor;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// An eventfd other threads ring to end the simulator's wait (a command
/// queued, the market released, the stop).
#[derive(Debug)]
pub struct Doorbell {
    fd: OwnedFd,
}

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new
        // descriptor that nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned here alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Doorbell { fd })
    }

    /// Ends the current or the next wait.
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. A
        // full counter (EAGAIN) means it is rung already.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Clears the rings so far (the waiting thread, after it woke).
    pub fn clear(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN when not rung.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The descriptors of one wait (capacity kept between waits).
#[derive(Default)]
pub struct Readiness {
    fds: Vec<libc::pollfd>,
}

impl Readiness {
    /// Starts a new list of descriptors.
    pub fn clear(&mut self) {
        self.fds.clear();
    }

    /// Wake when `fd` is readable (a listener: a connection to accept).
    pub fn readable(&mut self, fd: RawFd) {
        self.push(fd, libc::POLLIN);
    }

    /// Wake when `fd` is readable, or writable too while `output_waits`.
    pub fn readable_or_writable(&mut self, fd: RawFd, output_waits: bool) {
        let events = if output_waits {
            libc::POLLIN | libc::POLLOUT
        } else {
            libc::POLLIN
        };
        self.push(fd, events);
    }

    /// Wake as a market-data server asks for `fd` ([`WaitFor`]).
    pub fn wait_for(&mut self, fd: RawFd, wait_for: WaitFor) {
        let events = match wait_for {
            WaitFor::Readable => libc::POLLIN,
            WaitFor::Writable => libc::POLLOUT,
            WaitFor::ReadableOrWritable => libc::POLLIN | libc::POLLOUT,
        };
        self.push(fd, events);
    }

    fn push(&mut self, fd: RawFd, events: libc::c_short) {
        self.fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
    }

    /// Descriptors listed for this wait.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// Blocks until a listed descriptor is ready or `timeout` passes (none:
    /// no timeout). Returns whether a descriptor was ready (false: the
    /// timeout, or a signal).
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        assert!(
            timeout.is_some() || !self.fds.is_empty(),
            "a wait with nothing to wake it would never end"
        );
        let spec = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs() as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let spec_ptr = spec
            .as_ref()
            .map_or(std::ptr::null(), |s| s as *const libc::timespec);
        // SAFETY: the pointer and length describe `self.fds`, alive and not
        // moved during the call; `spec_ptr` is null or points at `spec`.
        let ready = unsafe {
            libc::ppoll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                spec_ptr,
                std::ptr::null(),
            )
        };
        match ready {
            n if n > 0 => Ok(true),
            0 => Ok(false),
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_ring_from_another_thread_ends_a_wait_without_timeout() {
        let bell = Arc::new(Doorbell::new().unwrap());
        let ringer = Arc::clone(&bell);
        let handle = std::thread::spawn(move || ringer.ring());
        let mut readiness = Readiness::default();
        readiness.readable(bell.fd());
        assert!(readiness.wait(None).unwrap(), "the ring woke the wait");
        handle.join().unwrap();
        bell.clear();
        readiness.clear();
        readiness.readable(bell.fd());
        assert!(
            !readiness.wait(Some(Duration::ZERO)).unwrap(),
            "a cleared bell does not wake the next wait"
        );
    }

    #[test]
    fn a_ring_before_the_wait_is_not_lost() {
        let bell = Doorbell::new().unwrap();
        bell.ring();
        bell.ring();
        let mut readiness = Readiness::default();
        readiness.readable(bell.fd());
        assert!(readiness.wait(Some(Duration::from_secs(10))).unwrap());
    }
}
