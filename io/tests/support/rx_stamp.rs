//! Helpers of the receive-stamp tests: wait for data without touching it,
//! hold kernel stamping live, busy work while data waits in a socket, and
//! the check that a stamp was taken on arrival. Included with `#[path]`.
//!
//! Linux turns arrival stamping on system-wide when the first socket asks
//! for it, in a deferred work item; until that has run, UDP data is
//! stamped at the read and TCP data not at all. [`kernel_stamping_live`]
//! holds a stamping socket open and waits (a condition with a deadline)
//! until a probe datagram comes back stamped on arrival.
#![allow(dead_code)]

use genesis_io::net::{enable_rx_stamps, realtime_ns, recv_stamped, RX_STAMP_OFFSET_ERROR_NS_MAX};
use mio::event::Source;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use std::time::{Duration, Instant};

pub const BUSY_NS: u64 = 2_000_000;
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Spin on the clock for `BUSY_NS`: the data waits in the socket meanwhile.
pub fn busy_work() -> u64 {
    let start = realtime_ns();
    let mut now = start;
    while now < start + BUSY_NS {
        std::hint::spin_loop();
        now = realtime_ns();
    }
    now
}

/// Wait until `ready()`, failing after the deadline.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not arrive");
    }
}

/// Epoll readiness of one socket, without touching its data.
pub struct Readiness {
    pub poll: Poll,
    pub events: Events,
}

impl Readiness {
    pub fn new(source: &mut impl Source) -> Readiness {
        let poll = Poll::new().unwrap();
        poll.registry()
            .register(source, Token(0), Interest::READABLE)
            .unwrap();
        Readiness {
            poll,
            events: Events::with_capacity(4),
        }
    }

    /// Block (at most 100 ms a try, 10 s in all) until new data is readable.
    pub fn wait(&mut self, what: &str) {
        wait_until(what, || {
            self.poll
                .poll(&mut self.events, Some(Duration::from_millis(100)))
                .unwrap();
            !self.events.is_empty()
        });
    }
}

/// Hold stamping on and wait until the kernel stamps arrivals: a probe
/// datagram to itself must come back stamped before it was seen waiting.
/// Keep the returned socket alive for the test.
pub fn kernel_stamping_live() -> UdpSocket {
    let mut socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let stamping = enable_rx_stamps(&socket);
    assert!(stamping.is_kernel(), "kernel refused stamps: {stamping:?}");
    let addr = socket.local_addr().unwrap();
    let mut readiness = Readiness::new(&mut socket);
    let mut buffer = [0u8; 16];
    wait_until("arrival stamping", || {
        socket.send_to(b"probe", addr).unwrap();
        readiness.wait("the probe");
        let seen_ns = realtime_ns();
        while realtime_ns() < seen_ns + 100_000 {
            std::hint::spin_loop();
        }
        let (_, stamp) = recv_stamped(&socket, &mut buffer).unwrap();
        stamp.is_some_and(|stamp| stamp <= seen_ns)
    });
    socket
}

/// The same for a stamp converted to the caller's clock (a WebSocket
/// client's): the conversion's offset may err low by up to
/// [`RX_STAMP_OFFSET_ERROR_NS_MAX`], so the stamp may read that much
/// before the send.
pub fn assert_converted_stamp(stamp: u64, sent_ns: u64, seen_ns: u64, read_ns: u64) {
    let sent_ns = sent_ns.saturating_sub(RX_STAMP_OFFSET_ERROR_NS_MAX);
    assert_kernel_stamp(stamp, sent_ns, seen_ns, read_ns);
}

pub fn assert_kernel_stamp(stamp: u64, sent_ns: u64, seen_ns: u64, read_ns: u64) {
    assert!(stamp >= sent_ns, "stamp {stamp} before the send {sent_ns}");
    assert!(
        stamp <= seen_ns,
        "stamp {stamp} after the data was seen waiting at {seen_ns}"
    );
    assert!(
        read_ns - stamp >= BUSY_NS,
        "stamp {stamp} is not earlier than the read {read_ns} by the wait"
    );
}
