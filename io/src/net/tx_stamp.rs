//! Kernel transmit stamps for order bytes: the moment the kernel handed a
//! send's last byte to the device (a `SO_TIMESTAMPING` TX software stamp),
//! instead of the moment `write` returned, which on loopback includes the
//! receiving side's TCP input run inside the sender's system call.
//!
//! Owning thread: whoever owns the socket. Policy: [`enable_tx_stamps`]
//! asks, on a connected TCP socket, for `SOF_TIMESTAMPING_TX_SOFTWARE |
//! SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
//! SOF_TIMESTAMPING_OPT_TSONLY`: one stamp per send, queued on the socket's
//! error queue without the payload, keyed by a byte counter that starts at
//! the next byte written. If the kernel refuses, the owner stamps at
//! `write` return and says so ([`TxStamping::SendReturn`]).
//!
//! Reading: [`drain_tx_stamps`] reads the error queue until it is empty
//! (the last `recvmsg` finds nothing); [`drain_tx_stamps_until`] stops at
//! the stamp of the owner's last write, so an owner that reads after each
//! write makes one `recvmsg` per write, not two.
//!
//! Invariants: reading never blocks and never allocates; a stamp's key is
//! the offset (from the enabling, modulo 2^32) of the last byte its send
//! carried, so an order whose bytes end at offset `end` (exclusive) is on
//! the wire once a stamp with key ≥ `end - 1` has come ([`TxKey::covers`]);
//! stamps are CLOCK_REALTIME (as receive stamps).

use super::sys;
use std::os::fd::AsRawFd;

/// How a socket's send times are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStamping {
    /// The kernel's TX software stamp, read from the error queue.
    KernelTxSoftware,
    /// The kernel refused (raw errno): the clock when `write` returned.
    SendReturn {
        /// OS error number of the refusal (0: not asked for).
        errno: i32,
    },
}

impl TxStamping {
    /// Whether the kernel stamps sends.
    pub fn is_kernel(self) -> bool {
        self == TxStamping::KernelTxSoftware
    }

    /// The name reports and metrics use: `tx_software` or `send_return`.
    pub fn name(self) -> &'static str {
        match self {
            TxStamping::KernelTxSoftware => "tx_software",
            TxStamping::SendReturn { .. } => "send_return",
        }
    }
}

/// Turns on TX software stamps for a connected TCP `socket` (see the
/// module docs). Call before the first write: the key counts bytes from here.
pub fn enable_tx_stamps(socket: &impl AsRawFd) -> TxStamping {
    let flags = libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_ID
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    match sys::set_int_option(
        socket,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPING,
        flags as i32,
    ) {
        Ok(()) => TxStamping::KernelTxSoftware,
        Err(error) => TxStamping::SendReturn {
            errno: error.raw_os_error().unwrap_or(0),
        },
    }
}

/// One send stamp: the key of the send and its CLOCK_REALTIME nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxStamp {
    /// The `SOF_TIMESTAMPING_OPT_ID` key: offset of the send's last byte.
    pub key: TxKey,
    /// When the kernel handed it to the device, CLOCK_REALTIME ns.
    pub realtime_ns: u64,
}

/// A TCP send key: a byte offset from the enabling, modulo 2^32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxKey(pub u32);

impl TxKey {
    /// Whether the stamped send carried the byte before `end_offset` (the
    /// end, exclusive, of a message, counted from the enabling): sends are
    /// stamped in order, so every byte before it was sent too. Compared
    /// modulo 2^32 (orders are far fewer than 2 GiB apart).
    #[inline]
    pub fn covers(self, end_offset: u64) -> bool {
        let last_byte = end_offset.wrapping_sub(1) as u32;
        (self.0.wrapping_sub(last_byte) as i32) >= 0
    }
}

/// Takes the stamps waiting on `socket`'s error queue, in order, without
/// blocking, up to `stamps_max`; returns how many (fewer than `stamps_max`:
/// the queue is empty now). Messages that are not send stamps are skipped.
pub fn drain_tx_stamps(
    socket: &impl AsRawFd,
    stamps_max: usize,
    on_stamp: impl FnMut(TxStamp),
) -> std::io::Result<usize> {
    take_tx_stamps(socket, stamps_max, None, on_stamp).map(|taken| taken.count)
}

/// What [`drain_tx_stamps_until`] took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDrain {
    /// Stamps taken.
    pub count: usize,
    /// The last one taken covers the end offset asked for.
    pub covered: bool,
}

/// As [`drain_tx_stamps`], but stops after the stamp that covers
/// `end_offset` (the end, exclusive, of everything written so far): sends
/// are stamped in order, so no newer stamp can wait behind it, and the
/// `recvmsg` that would only find the queue empty is spared. A stamp
/// left behind anyway (a later duplicate) is read on the next drain.
/// `count < stamps_max` with `covered` false: the queue is empty now.
pub fn drain_tx_stamps_until(
    socket: &impl AsRawFd,
    end_offset: u64,
    stamps_max: usize,
    on_stamp: impl FnMut(TxStamp),
) -> std::io::Result<TxDrain> {
    take_tx_stamps(socket, stamps_max, Some(end_offset), on_stamp)
}

fn take_tx_stamps(
    socket: &impl AsRawFd,
    stamps_max: usize,
    end_offset: Option<u64>,
    mut on_stamp: impl FnMut(TxStamp),
) -> std::io::Result<TxDrain> {
    let mut count = 0;
    while count < stamps_max {
        match sys::recv_tx_stamp(socket) {
            Ok(Some((key, realtime_ns))) => {
                count += 1;
                let key = TxKey(key);
                on_stamp(TxStamp { key, realtime_ns });
                if end_offset.is_some_and(|end| key.covers(end)) {
                    return Ok(TxDrain {
                        count,
                        covered: true,
                    });
                }
            }
            Ok(None) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(TxDrain {
        count,
        covered: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    // A key covers the message whose last byte it names and every earlier
    // one, across the 2^32 wrap, and not a later one.
    #[test]
    fn keys_cover_earlier_bytes_only() {
        assert!(TxKey(99).covers(100));
        assert!(TxKey(150).covers(100));
        assert!(!TxKey(98).covers(100));
        let near_wrap = u64::from(u32::MAX) + 1;
        assert!(TxKey(5).covers(near_wrap));
        assert!(!TxKey(u32::MAX - 1).covers(near_wrap));
    }

    /// A loopback connection whose client side has TX stamps on: (client, server).
    fn stamped_loopback() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.set_nodelay(true).unwrap();
        assert_eq!(enable_tx_stamps(&client), TxStamping::KernelTxSoftware);
        (client, server)
    }

    // Each write on a stamped loopback socket leaves one stamp whose key
    // is the offset of the write's last byte.
    #[test]
    fn each_write_is_stamped_with_its_last_byte() {
        let (mut client, mut server) = stamped_loopback();
        let before_ns = super::super::realtime_ns();
        let mut stamps = Vec::new();
        for (index, length) in [10usize, 25, 7].into_iter().enumerate() {
            client.write_all(&vec![b'x'; length]).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while stamps.len() <= index {
                drain_tx_stamps(&client, 8, |s| stamps.push(s)).unwrap();
                assert!(
                    std::time::Instant::now() < deadline,
                    "no stamp for write {index}"
                );
                std::thread::yield_now();
            }
        }
        let keys: Vec<u32> = stamps.iter().map(|s| s.key.0).collect();
        assert_eq!(keys, [9, 34, 41]);
        assert!(stamps.iter().all(|s| s.realtime_ns >= before_ns));
        let mut received = [0u8; 42];
        server.read_exact(&mut received).unwrap();
    }

    /// Whether `socket`'s error queue holds a message (`POLLERR`), asked without waiting.
    #[allow(unsafe_code)] // poll(2)
    fn error_queue_ready(socket: &TcpStream) -> bool {
        use std::os::fd::AsRawFd;
        let mut poll = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid `pollfd` for a live descriptor, zero timeout.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready > 0 && poll.revents & libc::POLLERR != 0
    }

    /// Waits (with a deadline) until `socket`'s error queue holds a message.
    fn wait_error_queue(socket: &TcpStream) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !error_queue_ready(socket) {
            assert!(std::time::Instant::now() < deadline, "no stamp came");
            std::thread::yield_now();
        }
    }

    // Reading up to a write's own stamp stops there: the stamp of a later
    // write is left on the queue (no further `recvmsg` was made), and a
    // drain that finds no covering stamp says the queue is empty.
    #[test]
    fn a_drain_until_a_write_stops_at_its_stamp() {
        let (mut client, mut server) = stamped_loopback();
        client.write_all(&[b'x'; 10]).unwrap();
        wait_error_queue(&client);
        client.write_all(&[b'y'; 5]).unwrap();
        let mut keys = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let taken = loop {
            let taken = drain_tx_stamps_until(&client, 10, 8, |s| keys.push(s.key.0)).unwrap();
            if taken.covered {
                break taken;
            }
            assert!(std::time::Instant::now() < deadline, "no stamp for write 0");
        };
        assert_eq!((taken.count, keys.as_slice()), (1, &[9][..]));
        let mut rest = Vec::new();
        while rest.is_empty() {
            drain_tx_stamps(&client, 8, |s| rest.push(s.key.0)).unwrap();
            assert!(std::time::Instant::now() < deadline, "no stamp for write 1");
            std::thread::yield_now();
        }
        assert_eq!(rest, [14], "the second write's stamp was left unread");
        let none = drain_tx_stamps_until(&client, 15, 8, |_| {}).unwrap();
        assert_eq!(none, TxDrain::default());
        let mut received = [0u8; 15];
        server.read_exact(&mut received).unwrap();
    }
}
