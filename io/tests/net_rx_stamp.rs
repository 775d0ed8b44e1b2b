//! Kernel receive stamps: for UDP, for TCP, and through `MoldReceiver`, a
//! datagram that waited in the socket is stamped when the kernel received
//! it, not when user space read it. Each case sends, waits until epoll says
//! the data is there (a condition, not a sleep; never `MSG_PEEK`, which
//! would itself stamp an unstamped datagram), then does 2 ms of busy work before
//! reading: the stamp must lie between the send and the moment the data
//! was seen waiting, so at least 2 ms before the read. A user-space stamp
//! could only be later than the busy work, so these fail without kernel
//! stamps (and the kernel on Linux gives them for loopback).
//!
//! Linux turns arrival stamping on system-wide when the first socket asks
//! for it, in a deferred work item; until that has run, UDP data is
//! stamped at the read and TCP data not at all. Each test therefore first
//! holds a stamping socket open and waits (a condition with a deadline)
//! until a probe datagram comes back stamped on arrival.

#[path = "support/itch_venue.rs"]
mod itch_venue;
#[path = "support/rx_stamp.rs"]
mod rx_stamp;

use genesis_io::itch::{
    AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader, Price4, Session,
    StockSymbol,
};
use genesis_io::net::{
    enable_rx_stamps, realtime_ns, recv_stamped, PollMode, Reactor, SocketOptions,
};
use itch_venue::{loopback_publisher, loopback_receiver};
use mio::net::{TcpListener, TcpStream, UdpSocket};
use rx_stamp::{assert_kernel_stamp, busy_work, kernel_stamping_live, wait_until, Readiness};
use std::time::Duration;

// A UDP datagram is stamped on arrival.
#[test]
fn udp_datagram_stamped_by_the_kernel() {
    let _live = kernel_stamping_live();
    let mut receiver = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let stamping = enable_rx_stamps(&receiver);
    assert!(stamping.is_kernel(), "kernel refused stamps: {stamping:?}");
    let mut readiness = Readiness::new(&mut receiver);
    let sent_ns = realtime_ns();
    sender
        .send_to(b"datagram", receiver.local_addr().unwrap())
        .unwrap();
    readiness.wait("the datagram");
    let seen_ns = realtime_ns();
    busy_work();
    let mut buffer = [0u8; 64];
    let (count, stamp) = recv_stamped(&receiver, &mut buffer).unwrap();
    let read_ns = realtime_ns();
    assert_eq!(&buffer[..count], b"datagram");
    assert_kernel_stamp(stamp.expect("a kernel stamp"), sent_ns, seen_ns, read_ns);
}

// TCP bytes are stamped on arrival too (the same call reads a stream).
#[test]
fn tcp_bytes_stamped_by_the_kernel() {
    let _live = kernel_stamping_live();
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let mut server: Option<TcpStream> = None;
    wait_until("the connection", || {
        server = listener.accept().ok().map(|(stream, _)| stream);
        server.is_some()
    });
    let mut server = server.unwrap();
    assert!(enable_rx_stamps(&server).is_kernel());
    let mut readiness = Readiness::new(&mut server);
    let sent_ns = realtime_ns();
    std::io::Write::write_all(&mut client, b"segment").unwrap();
    readiness.wait("the segment");
    let seen_ns = realtime_ns();
    busy_work();
    let mut buffer = [0u8; 64];
    let (count, stamp) = recv_stamped(&server, &mut buffer).unwrap();
    let read_ns = realtime_ns();
    assert_eq!(&buffer[..count], b"segment");
    assert_kernel_stamp(stamp.expect("a kernel stamp"), sent_ns, seen_ns, read_ns);
}

// MoldReceiver hands every message the kernel stamp of its datagram.
#[test]
fn mold_receiver_uses_kernel_stamps() {
    let _live = kernel_stamping_live();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let discard = "127.0.0.1:9".parse().unwrap();
    let mut receiver = loopback_receiver(loopback, discard, SocketOptions::default());
    assert!(receiver.rx_stamping().iter().all(|s| s.is_kernel()));
    let mut reactor = Reactor::new(
        PollMode::Wait {
            timeout: Duration::from_millis(100),
        },
        8,
    )
    .unwrap();
    receiver
        .register(reactor.registry(), mio::Token(0), mio::Token(1))
        .unwrap();
    let session = Session(*b"STAMPTEST1");
    let mut publisher = loopback_publisher(session, receiver.feed_local_addr().unwrap(), 8);
    let stock = StockSymbol::from_str_padded("S").unwrap();
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![stock],
        orders_max: 8,
        levels_max: 8,
        next_sequence: Some(1),
        request_retry_ns: u64::MAX,
        request_count_max: 1,
    });
    feed.bind_locate(1, 0);
    let sent_ns = realtime_ns();
    publisher.push(&ItchMessage::AddOrder(AddOrder {
        header: MessageHeader {
            stock_locate: 1,
            tracking_number: 0,
            timestamp_ns: 1,
        },
        order_ref: 1,
        side: BuySell::Buy,
        shares: 1,
        stock,
        price: Price4(100),
        attribution: None,
    }));
    publisher.flush();
    wait_until("readiness", || !reactor.poll().unwrap().is_empty());
    let seen_ns = realtime_ns();
    busy_work();
    let mut stamps = Vec::new();
    let read_ns = realtime_ns();
    receiver.poll(&mut feed, &mut realtime_ns, |ts_recv_ns, _, _| {
        stamps.push(ts_recv_ns)
    });
    assert_eq!(stamps.len(), 1);
    assert_kernel_stamp(stamps[0], sent_ns, seen_ns, read_ns);
    assert_eq!(receiver.stats().datagrams_stamped_user, 0);
}
