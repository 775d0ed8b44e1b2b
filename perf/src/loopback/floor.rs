//! The floor under the engine's own tick-to-trade, measured in the same
//! run: two plain threads doing the engine's I/O with no logic between.
//!
//! - The venue thread sends UDP datagrams on loopback at the row's rate
//!   and drains a TCP connection (the "orders"), waiting as the simulated
//!   venue does: between two sends it blocks in `ppoll` on the order socket
//!   until an order arrives or the next datagram is due
//!   ([`genesis_sim::wait::Readiness`]); no yields, no fixed sleeps.
//! - The reader thread busy-reads its UDP socket with `recvmsg(MSG_DONTWAIT)`
//!   and the kernel's receive stamp (`SO_TIMESTAMPNS`, as the engine's
//!   receiver asks), waiting between empty reads by the row's wait strategy;
//!   for every [`ORDER_EVERY`]th datagram it writes an order-sized message
//!   to the TCP connection (`TCP_NODELAY`, non-blocking, as the FIX client).
//!
//! The stamps are the engine's: the kernel's CLOCK_REALTIME stamp converted
//! to an [`EpochClock`] by a bridge measured right after the read (that
//! bridge's reading is the read stamp), the decision stamp before `write`,
//! the send stamp the kernel's TX software stamp of the order's last byte
//! (read from the error queue right after the write, converted the same
//! way; the clock at `write` return where the kernel gives none), and
//! decision → `write` returned beside it. So engine ÷ floor, part by part,
//! is what the engine adds to the machine's own cost of the same path.
//!
//! Owning thread: the caller's, which spawns the two and joins them; the
//! histograms are the reader's until it ends.

use anyhow::{Context, Result};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::WaitKind;
use genesis_engine::telemetry::metrics::new_histogram;
use genesis_engine::telemetry::tick_to_trade::{OrderStamps, SendStamp, T2tSplit, PARTS};
use genesis_engine::topology::wait::Wait;
use genesis_io::net::{drain_tx_stamps, enable_rx_stamps, enable_tx_stamps, recv_stamped};
use genesis_sim::wait::Readiness;
use hdrhistogram::Histogram;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One order per this many datagrams (the engine orders on about one update in fifty at 100k/s).
pub const ORDER_EVERY: u64 = 50;
/// A one-message ITCH datagram: a MoldUDP64 header and an Add Order.
const DATAGRAM_BYTES: usize = 20 + 2 + 36;
/// A NewOrderSingle's size on the wire.
const ORDER_BYTES: usize = 180;

/// Runs the floor at `rate` datagrams/s for `seconds`, the reader waiting
/// by `wait`; the split of its "tick-to-trade" in the engine's parts.
pub fn floor_row(rate: u64, wait: WaitKind, seconds: f64) -> Result<T2tSplit> {
    let reader_udp = UdpSocket::bind("127.0.0.1:0")?;
    anyhow::ensure!(
        enable_rx_stamps(&reader_udp).is_kernel(),
        "the kernel refused receive stamps on the floor's socket"
    );
    reader_udp.set_nonblocking(true)?;
    let venue_udp = UdpSocket::bind("127.0.0.1:0")?;
    venue_udp.connect(reader_udp.local_addr()?)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let order_out = TcpStream::connect(listener.local_addr()?)?;
    let (order_in, _) = listener.accept()?;
    for stream in [&order_out, &order_in] {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
    }
    let send_stamp = match enable_tx_stamps(&order_out).is_kernel() {
        true => SendStamp::TxSoftware,
        false => SendStamp::SendReturn,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let venue = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("floor-venue".into())
            .spawn(move || run_venue(&venue_udp, order_in, rate, &stop))
            .context("cannot start the floor's venue thread")?
    };
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("floor-reader".into())
            .spawn(move || {
                let wait = Wait::new(wait, 1);
                run_reader(&reader_udp, order_out, (wait, send_stamp), &stop)
            })
            .context("cannot start the floor's reader thread")?
    };
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Release);
    let sent = venue.join().expect("the floor's venue thread panicked");
    let histograms = reader.join().expect("the floor's reader thread panicked")?;
    anyhow::ensure!(sent > 0, "the floor's venue sent nothing");
    Ok(T2tSplit::of(&histograms, send_stamp))
}

/// The venue side: a datagram at each due time, the order socket drained.
/// Returns the datagrams sent.
fn run_venue(socket: &UdpSocket, mut orders: TcpStream, rate: u64, stop: &AtomicBool) -> u64 {
    let clock = EpochClock::new();
    let period_ns = 1_000_000_000 / rate.max(1);
    let payload = [0x41u8; DATAGRAM_BYTES];
    let mut sink = [0u8; 64 * 1024];
    let mut readiness = Readiness::default();
    let (mut due_ns, mut sent, mut orders_open) = (clock.now_ns(), 0u64, true);
    while !stop.load(Ordering::Acquire) {
        let now_ns = clock.now_ns();
        let mut busy = false;
        if now_ns >= due_ns {
            // Behind by more than a period (a preemption): resume the pace, don't burst.
            due_ns = (due_ns + period_ns).max(now_ns);
            busy = socket.send(&payload).is_ok();
            sent += u64::from(busy);
        }
        match orders.read(&mut sink) {
            Ok(0) => orders_open = false,
            Ok(_) => busy = true,
            Err(_) => {}
        }
        if !busy {
            // Until an order arrives or the next datagram is due (bounded,
            // so the stop is seen within a period). A closed socket stays
            // readable: it is no longer waited on.
            readiness.clear();
            if orders_open {
                readiness.readable(orders.as_raw_fd());
            }
            let until_due = due_ns.saturating_sub(clock.now_ns());
            if readiness
                .wait(Some(Duration::from_nanos(until_due)))
                .is_err()
            {
                std::thread::sleep(Duration::from_nanos(until_due));
            }
        }
    }
    sent
}

/// The reader side: stamped reads, an order written on every
/// [`ORDER_EVERY`]th, each part recorded as the engine records it.
fn run_reader(
    socket: &UdpSocket,
    mut orders: TcpStream,
    (wait, send_stamp): (Wait, SendStamp),
    stop: &AtomicBool,
) -> Result<[Histogram<u64>; PARTS]> {
    let clock = EpochClock::new();
    let mut histograms: [Histogram<u64>; PARTS] = std::array::from_fn(|_| new_histogram());
    let mut buffer = [0u8; 64 * 1024];
    let order = [0x38u8; ORDER_BYTES];
    let (mut received, mut bytes_written) = (0u64, 0u64);
    while !stop.load(Ordering::Acquire) {
        let stamp = match recv_stamped(socket, &mut buffer) {
            Ok((_, stamp)) => stamp,
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                wait.idle();
                continue;
            }
            Err(error) => return Err(error).context("floor: recvmsg failed"),
        };
        let bridge = clock.realtime_bridge();
        received += 1;
        let Some(kernel_ns) = stamp else { continue };
        if !received.is_multiple_of(ORDER_EVERY) {
            continue;
        }
        let stamps = OrderStamps {
            recv_ns: bridge.epoch_ns(kernel_ns),
            read_ns: bridge.now_ns(),
            decided_ns: clock.now_ns(),
        };
        match orders.write(&order) {
            Ok(written) => bytes_written += written as u64,
            Err(error) if error.kind() == ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error).context("floor: order write failed"),
        }
        let returned_ns = clock.now_ns();
        let sent_ns = match send_stamp {
            SendStamp::TxSoftware => match tx_stamp_of(&orders, bytes_written, &clock)? {
                Some(sent_ns) => sent_ns,
                None => continue, // not stamped yet: not counted, as in the engine
            },
            SendStamp::SendReturn => returned_ns,
        };
        let parts = stamps.parts(sent_ns, returned_ns);
        for (histogram, value) in histograms.iter_mut().zip(parts) {
            histogram.saturating_record(value);
        }
    }
    Ok(histograms)
}

/// The TX stamp of the send that carried byte `bytes_written - 1`, on
/// `clock`, if the error queue holds it (older stamps are passed over).
fn tx_stamp_of(orders: &TcpStream, bytes_written: u64, clock: &EpochClock) -> Result<Option<u64>> {
    let mut found = None;
    loop {
        let count = drain_tx_stamps(orders, 16, |stamp| {
            if stamp.key.covers(bytes_written) {
                found = Some(stamp.realtime_ns);
            }
        })
        .context("floor: reading TX stamps failed")?;
        if count < 16 {
            break;
        }
    }
    let bridge = clock.realtime_bridge();
    Ok(found.map(|realtime_ns| bridge.epoch_ns(realtime_ns)))
}
