//! A venue serving ITCH and WebSocket market data blocks on their sockets
//! too: with the market still and a WebSocket client connected, it wakes
//! only for its timers (here the ITCH heartbeat of a quiet feed, one per
//! [`HEARTBEAT_INTERVAL_NS`]), not on an idle sleep (the old loop: 20 µs
//! doubling to 1 ms, about 300 wake-ups in 300 ms); and a retransmission
//! request, a snapshot login, a WebSocket depth request and a REST depth
//! request each still wake it and are answered. Wake-ups are counted from
//! the kernel's side (`/proc/self/task/<tid>/status`), never timed; the
//! answers are waited for as conditions with a deadline. One test in this
//! binary, so the venue's thread is the only `venue-sim` of the process.

mod common;

use common::{start_venue_serving, venue_switches};
use genesis_io::itch::MoldRequest;
use genesis_io::net::{WsClient, WsConfig, WsEndpoint, WsEvent};
use genesis_sim::itch::{HEARTBEAT_INTERVAL_NS, SESSION};
use genesis_sim::{BoardFlow, ItchPorts, SimConfig, TopBoard};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long any one answer may take on a loaded host.
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `client` until `done` holds over the text messages it received,
/// failing with them at the deadline.
fn drive_ws(client: &mut WsClient, what: &str, done: impl Fn(&WsClient, &[String]) -> bool) {
    let started = Instant::now();
    let mut texts = Vec::new();
    while !done(client, &texts) {
        assert!(
            started.elapsed() < DEADLINE,
            "no {what} within {DEADLINE:?}: client {:?}, received {texts:?}",
            client.stats()
        );
        client.poll(&mut || started.elapsed().as_nanos() as u64, |event| {
            if let WsEvent::Text { bytes, .. } = event {
                texts.push(String::from_utf8_lossy(bytes).into_owned());
            }
        });
        // The client's pace only; the condition above ends the loop.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Asks the request port for message 1 (the directory); the answer packet.
fn retransmission(request_addr: SocketAddr) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = MoldRequest {
        session: SESSION,
        sequence_number: 1,
        message_count: 1,
    };
    socket.send_to(&request.encode(), request_addr).unwrap();
    let mut buffer = [0u8; 2_048];
    let (length, _) = socket
        .recv_from(&mut buffer)
        .expect("the request port answered within the deadline");
    buffer[..length].to_vec()
}

/// Logs in to the snapshot server; everything it sent until it closed.
fn snapshot(snapshot_addr: SocketAddr) -> Vec<u8> {
    let mut stream = TcpStream::connect(snapshot_addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let login = common::glimpse_login_request();
    stream.write_all(&login).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the snapshot server answered and closed within the deadline");
    answer
}

/// A plain `GET` on the WebSocket port; the whole response.
fn rest_get(ws_addr: SocketAddr, target: &str) -> String {
    let mut stream = TcpStream::connect(ws_addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: venue\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the REST answer came and the connection closed within the deadline");
    response
}

#[test]
fn an_idle_venue_serving_itch_and_websocket_wakes_only_for_its_timers() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let feed = UdpSocket::bind(any).unwrap();
    let ports = ItchPorts::bind(&SimConfig::cents(&["ALPHA"], 64), any, any).unwrap();
    let (request_addr, snapshot_addr) = (ports.request_addr, ports.snapshot_addr);
    // Held (no FIX session, never released): no flow read is due, so the
    // ITCH heartbeat is the only timer.
    let board = Arc::new(TopBoard::new(1));
    let mut venue = start_venue_serving(
        Box::new(BoardFlow::new(board)),
        true,
        Some((ports, feed.local_addr().unwrap())),
        Some(any),
    );
    let ws_addr = venue.ws_addr.expect("the venue serves WebSocket streams");
    let mut client = WsClient::new(
        WsEndpoint {
            addr: ws_addr,
            url: format!("ws://{ws_addr}/stream?streams=alpha@bookTicker"),
        },
        WsConfig::default(),
    );
    drive_ws(&mut client, "open connection", |client, _| client.is_open());
    // Settled: the handshake is done and the thread waits again.
    assert!(
        venue.summary_now(DEADLINE).is_some(),
        "the venue answers a command"
    );

    let before = venue_switches();
    let started = Instant::now();
    // The span observed, not a wait for something.
    std::thread::sleep(Duration::from_millis(300));
    let idle = venue_switches() - before;
    let heartbeats = started.elapsed().as_nanos() as u64 / HEARTBEAT_INTERVAL_NS + 1;
    // One switch per heartbeat's wake-up, another if it is preempted while
    // awake. The old loop: about 300.
    assert!(
        idle <= 2 * heartbeats,
        "the idle venue was switched in {idle} times beside {heartbeats} heartbeat(s) due"
    );

    let answer = retransmission(request_addr);
    assert_eq!(
        &answer[..10],
        &SESSION.0,
        "a MoldUDP64 packet of the session"
    );
    assert_eq!(
        u16::from_be_bytes([answer[18], answer[19]]),
        1,
        "the message asked for"
    );

    let answer = snapshot(snapshot_addr);
    assert_eq!(answer.get(2), Some(&b'A'), "Login Accepted first");
    assert!(
        answer.ends_with(&[0, 1, b'Z']),
        "End of Session last: {answer:?}"
    );

    assert!(client.send_text(r#"{"id":7,"method":"depth","params":{"symbol":"ALPHA","limit":5}}"#));
    drive_ws(&mut client, "depth answer", |_, texts| {
        texts.iter().any(|text| text.contains(r#""id":7"#))
    });

    let response = rest_get(ws_addr, "/api/v3/depth?symbol=ALPHA&limit=5");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("lastUpdateId"), "{response}");

    let report = venue.stop();
    assert_eq!(report.itch.retransmissions_answered, 1, "{report:?}");
    assert_eq!(report.itch.snapshots_sent, 1, "{report:?}");
    assert_eq!(report.ws.snapshots_sent, 2, "{report:?}");
    assert_eq!(report.ws.rest_snapshots_sent, 1, "{report:?}");
    assert_eq!(report.flow_polls, 0, "the held market was not read");
}
