//! Kernel receive stamps on the WebSocket path, `ws://` and `wss://`: a
//! text message that waited in the client's socket carries the kernel's
//! stamp of its arrival as `ts_recv_ns`, not the time the client read it;
//! with stamps turned off the client says so and stamps in user space.
//!
//! The server is a thread in this test (std `TcpListener`, rustls for TLS
//! with a test CA, tungstenite's server handshake) that sends one text
//! message per command and acknowledges once it is written. The client
//! (`WsClient`, polled on the test thread with CLOCK_REALTIME as its clock)
//! registers its socket with a mio poll; each case waits until epoll says
//! the message is waiting (a condition, not a sleep), does 2 ms of busy
//! work, then polls: a kernel stamp lies between the send and the moment
//! the data was seen waiting, so at least 2 ms before the poll; a
//! user-space stamp could only be later than the busy work.

#[path = "support/binance_peer.rs"]
mod binance_peer;
#[path = "support/rx_stamp.rs"]
mod rx_stamp;

use genesis_io::net::{
    realtime_ns, RxStamping, TlsConfig, TlsRoots, TlsSetup, WsClient, WsConfig, WsEndpoint, WsEvent,
};
use mio::{Events, Poll, Token};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rx_stamp::{assert_converted_stamp, busy_work, kernel_stamping_live, wait_until, BUSY_NS};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;
use tungstenite::Message;

/// Serve one WebSocket connection on `listener` (under TLS with `tls`):
/// each text received on `commands` is sent, then acknowledged on `sent`.
fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    commands: Receiver<String>,
    sent: Sender<()>,
) {
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_nodelay(true).unwrap();
    match tls {
        None => serve_on(tcp, commands, sent),
        Some(config) => {
            let connection = rustls::ServerConnection::new(config).unwrap();
            serve_on(rustls::StreamOwned::new(connection, tcp), commands, sent);
        }
    }
}

fn serve_on(stream: impl Read + Write, commands: Receiver<String>, sent: Sender<()>) {
    let mut ws = tungstenite::accept(stream).unwrap();
    for text in commands {
        ws.send(Message::text(text)).unwrap();
        if sent.send(()).is_err() {
            break;
        }
    }
}

/// The server side of a test: the command pipe and its acknowledgements.
struct Server {
    commands: Sender<String>,
    sent: Receiver<()>,
}

impl Server {
    fn send(&self, text: &str) {
        self.commands.send(text.to_string()).unwrap();
        self.sent
            .recv_timeout(Duration::from_secs(10))
            .expect("the server sent the message");
    }
}

/// A server thread and a client for it (`wss://` trusting the test CA
/// when `tls`), the client's socket registered with a poll.
fn start(tls: bool, config: WsConfig) -> (Server, WsClient, Poll) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let files = binance_peer::make_tls_files();
    let server_tls = tls.then(|| {
        let certs = CertificateDer::pem_file_iter(&files.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&files.key).unwrap();
        // The client's provider (see io/src/net/tls.rs for the deprecation).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Arc::new(config)
    });
    let (commands, commands_in) = channel();
    let (sent_out, sent) = channel();
    std::thread::spawn(move || serve(listener, server_tls, commands_in, sent_out));
    let scheme = if tls { "wss" } else { "ws" };
    let endpoint = WsEndpoint {
        addr,
        url: format!("{scheme}://127.0.0.1:{}/ws/btcusdt@bookTicker", addr.port()),
    };
    let setup = TlsSetup::new(&TlsConfig {
        roots: TlsRoots::WebPki,
        ca_file: Some(files.ca.clone()),
    })
    .unwrap();
    let mut client = WsClient::with_tls(endpoint, config, &setup);
    let poll = Poll::new().unwrap();
    client.register_with(poll.registry(), Token(0)).unwrap();
    (Server { commands, sent }, client, poll)
}

/// Poll the client once (clock: CLOCK_REALTIME); the stamps of the text
/// messages it delivered, and whether it connected.
fn poll_client(client: &mut WsClient) -> (Vec<u64>, bool) {
    let mut stamps = Vec::new();
    let mut connected = false;
    client.poll(&mut realtime_ns, |event| match event {
        WsEvent::Text { ts_recv_ns, .. } => stamps.push(ts_recv_ns),
        WsEvent::Connected => connected = true,
        WsEvent::Disconnected(reason) => panic!("disconnected: {reason:?}"),
    });
    (stamps, connected)
}

fn connect(client: &mut WsClient) {
    wait_until("the connection", || {
        std::thread::sleep(Duration::from_micros(200));
        poll_client(client).1
    });
}

/// Wait until epoll reports the client's socket readable (the message is
/// waiting in it), polling nothing else.
fn wait_readable(poll: &mut Poll) {
    let mut events = Events::with_capacity(8);
    wait_until("the message", || {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        events.iter().any(|event| event.is_readable())
    });
}

/// Drop readiness reported so far (the client has read everything).
fn clear_readiness(poll: &mut Poll) {
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
}

/// Send one message, wait until it is waiting in the client's socket, do
/// the busy work, poll: (send time, seen waiting, after the busy work,
/// the message's stamp).
fn stamped_round(server: &Server, client: &mut WsClient, poll: &mut Poll) -> [u64; 4] {
    clear_readiness(poll);
    let sent_ns = realtime_ns();
    server.send(r#"{"u":1}"#);
    wait_readable(poll);
    let seen_ns = realtime_ns();
    let busy_ns = busy_work();
    let (stamps, _) = poll_client(client);
    assert_eq!(stamps.len(), 1, "one message per round");
    [sent_ns, seen_ns, busy_ns, stamps[0]]
}

/// Connect, wait until arrivals are stamped (kernel stamping turns on in
/// a deferred work item), then three rounds whose stamps must be the
/// kernel's.
fn kernel_stamps_over(tls: bool) {
    let _live = kernel_stamping_live();
    let (server, mut client, mut poll) = start(tls, WsConfig::default());
    assert!(
        client.rx_stamping().is_kernel(),
        "{:?}",
        client.rx_stamping()
    );
    connect(&mut client);
    assert_eq!(client.rx_stamping(), RxStamping::KernelTimestampNs);
    assert_eq!(client.is_tls(), tls);
    wait_until("a kernel-stamped message", || {
        let kernel_before = client.stats().messages_stamped_kernel;
        stamped_round(&server, &mut client, &mut poll);
        client.stats().messages_stamped_kernel > kernel_before
    });
    let user_before = client.stats().messages_stamped_user;
    for _ in 0..3 {
        let [sent_ns, seen_ns, busy_ns, stamp] = stamped_round(&server, &mut client, &mut poll);
        assert_converted_stamp(stamp, sent_ns, seen_ns, busy_ns);
    }
    assert_eq!(client.stats().messages_stamped_user, user_before);
}

// ws://: the message carries the kernel's arrival stamp.
#[test]
fn plain_ws_messages_carry_kernel_stamps() {
    kernel_stamps_over(false);
}

// wss://: the ciphertext reads rustls makes take the stamp too.
#[test]
fn tls_ws_messages_carry_kernel_stamps() {
    kernel_stamps_over(true);
}

// Stamps turned off: the client reports it before and after connecting,
// and every message is stamped in user space, after the busy work.
#[test]
fn stamps_off_fall_back_to_user_space_and_say_so() {
    let _live = kernel_stamping_live();
    let config = WsConfig {
        rx_stamps: false,
        ..WsConfig::default()
    };
    let (server, mut client, mut poll) = start(false, config);
    assert_eq!(client.rx_stamping(), RxStamping::NotRequested);
    connect(&mut client);
    assert_eq!(client.rx_stamping(), RxStamping::NotRequested);
    for _ in 0..3 {
        let [_, _, busy_ns, stamp] = stamped_round(&server, &mut client, &mut poll);
        assert!(
            stamp >= busy_ns,
            "a user-space stamp {stamp} is taken after the busy work ended at {busy_ns} \
             (the wait was {BUSY_NS} ns)"
        );
    }
    assert_eq!(client.stats().messages_stamped_user, 3);
    assert_eq!(client.stats().messages_stamped_kernel, 0);
}
