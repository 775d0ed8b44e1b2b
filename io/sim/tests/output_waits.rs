//! Output the socket could not take wakes the simulator's wait when the
//! socket has room: a WebSocket frame and a GLIMPSE snapshot too large for
//! the socket buffers are delivered whole by polls that only a wait on the
//! servers' listed descriptors ([`Readiness`]) starts, with nothing sent
//! in between (no input arrives, so only a writable socket can end such a
//! wait). The servers are driven as the venue's thread drives them; the
//! clients are read on the test's thread between the waits.

mod common;

use genesis_io::itch::{BuySell, ItchInstrument, Price4, SnapshotOrder, StockSymbol};
use genesis_io::net::{
    GlimpseServer, GlimpseServerConfig, WaitFor, WsClient, WsConfig, WsEndpoint, WsEvent, WsServer,
};
use genesis_sim::itch::SESSION;
use genesis_sim::wait::Readiness;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// How long a whole delivery may take on a loaded host.
const DEADLINE: Duration = Duration::from_secs(60);
/// One wait's bound: a wait that ends by it only lets the client read more.
const WAIT: Duration = Duration::from_millis(50);

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The descriptors a server lists, with what each waits for.
fn listed(list_fds: impl Fn(&mut dyn FnMut(RawFd, WaitFor))) -> Vec<(RawFd, WaitFor)> {
    let mut fds = Vec::new();
    list_fds(&mut |fd, wait_for| fds.push((fd, wait_for)));
    fds
}

/// Waits on the listed descriptors for at most [`WAIT`]; whether one was ready.
fn wait_on(fds: &[(RawFd, WaitFor)]) -> bool {
    let mut readiness = Readiness::default();
    for &(fd, wait_for) in fds {
        readiness.wait_for(fd, wait_for);
    }
    readiness.wait(Some(WAIT)).unwrap()
}

fn output_waits(fds: &[(RawFd, WaitFor)]) -> bool {
    fds.iter()
        .any(|&(_, wait_for)| wait_for == WaitFor::ReadableOrWritable)
}

// Messages of 1 MiB are broadcast to a client that does not read until one
// no longer fits; then nothing more is sent, and the client reads while
// the server polls only when a wait on its descriptors ends: every message
// arrives (the old server wrote a blocked frame's rest only at its next
// send, and gave no descriptor to wait on).
#[test]
fn a_blocked_websocket_frame_goes_out_when_the_socket_has_room() {
    let mut server = WsServer::bind(any(), 4 << 20).unwrap();
    let addr = server.local_addr().unwrap();
    let mut client = WsClient::new(
        WsEndpoint {
            addr,
            url: format!("ws://{addr}/stream"),
        },
        WsConfig {
            message_bytes_max: 4 << 20,
            ..WsConfig::default()
        },
    );
    let started = Instant::now();
    let mut clock = || started.elapsed().as_nanos() as u64;
    while !(client.is_open() && server.open_count() == 1) {
        assert!(started.elapsed() < DEADLINE, "no connection");
        server.poll(|_, _| {});
        client.poll(&mut clock, |_| {});
        std::thread::yield_now();
    }

    let text = "x".repeat(1 << 20);
    let mut sent = 0u64;
    while !output_waits(&listed(|list| server.list_fds(list))) {
        assert!(sent < 256, "{sent} MiB sent and none waits for room");
        assert_eq!(server.broadcast_text(&text), 1, "the connection took it");
        sent += 1;
        server.poll(|_, _| {});
    }
    let listener_only = listed(|list| server.list_fds(list)).len() == 1;
    assert!(!listener_only, "the open connection is listed");

    let mut received = 0u64;
    while received < sent {
        assert!(
            started.elapsed() < DEADLINE,
            "{received} of {sent} messages arrived: {:?}",
            server.stats()
        );
        // Everything complete in the client's socket, read.
        while client.poll(&mut clock, |event| {
            if let WsEvent::Text { bytes, .. } = event {
                assert_eq!(bytes.len(), text.len(), "a whole message");
                received += 1;
            }
        }) > 0
        {}
        if wait_on(&listed(|list| server.list_fds(list))) {
            server.poll(|_, _| {});
        }
    }
    assert_eq!(server.stats().messages_sent, sent);
    assert!(
        !output_waits(&listed(|list| server.list_fds(list))),
        "nothing waits once all is written"
    );
}

/// Resting orders in the snapshot: ~39 bytes each framed, about 20 MB,
/// more than the socket buffers hold.
const SNAPSHOT_ORDERS: u64 = 500_000;

// A client logs in for a snapshot larger than the socket buffers and reads
// only between waits; the server polls only when a wait on its descriptors
// ends: the whole snapshot arrives, End of Session last, and the server
// closes the connection.
#[test]
fn a_blocked_snapshot_goes_out_when_the_socket_has_room() {
    let mut server = GlimpseServer::bind(GlimpseServerConfig {
        bind_addr: any(),
        session: SESSION,
        credentials: None,
        instruments: vec![ItchInstrument {
            stock_locate: 1,
            stock: StockSymbol::from_str_padded("ALPHA").unwrap(),
            price4_per_tick: 100,
        }],
        clients_max: 4,
        login_timeout_ns: DEADLINE.as_nanos() as u64,
        idle_timeout_ns: DEADLINE.as_nanos() as u64,
    })
    .unwrap();
    let orders = |_instrument: usize, f: &mut dyn FnMut(SnapshotOrder)| {
        for order_ref in 1..=SNAPSHOT_ORDERS {
            f(SnapshotOrder {
                order_ref,
                side: BuySell::Buy,
                shares: 100,
                price: Price4(1_000_000),
            });
        }
    };
    let mut stream = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let login = common::glimpse_login_request();
    stream.write_all(&login).unwrap();
    stream.set_nonblocking(true).unwrap();

    let started = Instant::now();
    let now_ns = || started.elapsed().as_nanos() as u64;
    // The connection and its login wake the wait as input.
    while server.stats().logins_accepted == 0 {
        assert!(started.elapsed() < DEADLINE, "{:?}", server.stats());
        if wait_on(&listed(|list| server.list_fds(list))) {
            server.poll(now_ns(), 1, &orders);
        }
    }
    assert!(
        output_waits(&listed(|list| server.list_fds(list))),
        "a 20 MB snapshot waits for room: {:?}",
        server.stats()
    );
    assert!(server.deadline_ns().is_some(), "the session is timed");

    let mut received = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        assert!(
            started.elapsed() < DEADLINE,
            "{} bytes arrived: {:?}",
            received.len(),
            server.stats()
        );
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(count) => {
                received.extend_from_slice(&chunk[..count]);
                continue;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) => panic!("reading the snapshot: {error}"),
        }
        if wait_on(&listed(|list| server.list_fds(list))) {
            server.poll(now_ns(), 1, &orders);
        }
    }
    assert_eq!(received.get(2), Some(&b'A'), "Login Accepted first");
    assert!(received.ends_with(&[0, 1, b'Z']), "End of Session last");
    assert!(
        received.len() as u64 > SNAPSHOT_ORDERS * 36,
        "every order: {} bytes",
        received.len()
    );
    assert_eq!(server.stats().snapshots_sent, 1, "{:?}", server.stats());
    assert_eq!(server.client_count(), 0, "the finished session is closed");
    assert_eq!(server.deadline_ns(), None, "nothing left to time");
}
