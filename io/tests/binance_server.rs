//! The Binance feed against a Binance-shaped server written in Python
//! (`tests/peers/binance_server.py`, the `websockets` package plus an HTTP
//! server): REST depth snapshots over HTTP and the streams over `ws://`,
//! then both again over TLS (`https://`, `wss://`) with a CA made here.
//!
//! Each scenario checks the documented procedure end to end: the snapshot is
//! fetched only after the first diff was buffered (the server counts
//! requests made before it sent the connection a diff), the book matches the
//! server's after every step, a forced gap resyncs, a snapshot older than
//! the buffered diffs is refetched, REST errors (429 with Binance's error
//! body, 400 "Invalid symbol"-style) are counted and retried with backoff,
//! and a dropped connection reconnects and rebuilds the book. Raw stream
//! URLs (`/ws/<stream>` and bare `/ws`) subscribe to what they lack.
//!
//! Single-threaded apart from the Python process: the test polls the feed
//! and sends the server commands over its stdin; every wait is on a
//! condition with a deadline. Under `CI=true` a missing `python3` or
//! `websockets` fails the test; elsewhere it is skipped with a message.

use genesis_io::binance::{DecimalGrid, InstrumentGrid, Symbol};
use genesis_io::book::Side;
use genesis_io::net::{
    BinanceFeedConfig, BinanceFeedOptions, BinanceInstrument, BinanceWsFeed, DisconnectReason,
    FetchFailure, MarketUpdate, SnapshotFetcher, SnapshotFetcherConfig, SnapshotRequest, StreamUrl,
    TlsConfig, TlsSetup, WsConfig,
};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const MS: u64 = 1_000_000;

/// Whether `python3` can import `websockets`; fails under CI when not.
fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "CI: python3 with the websockets package is required \
             (test.sh installs it: python3 -m pip install websockets)"
        );
        eprintln!("SKIPPED: python3 with the websockets package is not installed");
    }
    ok
}

/// The test CA and the server's certificate, as files.
struct TlsFiles {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_tls_files() -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "genesis test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let files = TlsFiles {
        ca: dir.path().join("ca.pem"),
        cert: dir.path().join("server.pem"),
        key: dir.path().join("server.key"),
        _dir: dir,
    };
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

/// The Python server and its command pipe.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    ws_port: u16,
    http_port: u16,
}

impl Peer {
    fn start(tls: Option<&TlsFiles>) -> Peer {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/binance_server.py");
        let mut command = Command::new("python3");
        command.arg(&script);
        if let Some(files) = tls {
            command
                .arg("--cert")
                .arg(&files.cert)
                .arg("--key")
                .arg(&files.key);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let ready = lines
            .recv_timeout(DEADLINE)
            .expect("the server prints its ports");
        let port = |name: &str| -> u16 {
            let field = ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {ready:?}"));
            field.parse().unwrap()
        };
        let (ws_port, http_port) = (port("ws="), port("http="));
        Peer {
            child,
            stdin,
            lines,
            ws_port,
            http_port,
        }
    }

    /// Send one command; its reply's text after "ok".
    fn command(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let reply = self
            .lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no reply to {line:?}"));
        let rest = reply
            .strip_prefix("ok")
            .unwrap_or_else(|| panic!("{line:?} failed: {reply}"));
        rest.trim().to_string()
    }

    fn json(&mut self, line: &str) -> serde_json::Value {
        serde_json::from_str(&self.command(line)).unwrap()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Rig {
    peer: Peer,
    feed: BinanceWsFeed,
    started: Instant,
    updates: Vec<MarketUpdate>,
    /// Server update id after the last command that changed the book.
    server_id: u64,
    diff_sent_at: Instant,
}

fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.001").unwrap(),
    }
}

impl Rig {
    /// `path` is the stream URL's path and query.
    fn new(tls: Option<&TlsFiles>, path: &str) -> Rig {
        let peer = Peer::start(tls);
        let (ws, http) = if tls.is_some() {
            ("wss", "https")
        } else {
            ("ws", "http")
        };
        let url = format!("{ws}://127.0.0.1:{}{path}", peer.ws_port);
        let stream = StreamUrl::parse(&url).unwrap();
        let options = BinanceFeedOptions {
            tls: TlsConfig {
                ca_file: tls.map(|files| files.ca.clone()),
                ..TlsConfig::default()
            },
            snapshot_backoff_initial_ns: 20 * MS,
            snapshot_backoff_max_ns: 200 * MS,
            ..BinanceFeedOptions::rest(format!("{http}://127.0.0.1:{}", peer.http_port))
        };
        let feed = BinanceWsFeed::open(
            BinanceFeedConfig {
                endpoint: stream.endpoint().unwrap(),
                ws: WsConfig {
                    reconnect_initial_ns: 40 * MS,
                    reconnect_max_ns: 400 * MS,
                    ..WsConfig::default()
                },
                instruments: vec![BinanceInstrument {
                    symbol: "BTCUSDT".to_string(),
                    grid: grid(),
                    levels_max: 64,
                    diff_buffer_max: 256,
                }],
                snapshot_depth_limit: 1000,
                snapshot_retry_ns: 5_000 * MS,
            },
            &options,
        )
        .unwrap();
        Rig {
            peer,
            feed,
            started: Instant::now(),
            updates: Vec::new(),
            server_id: 105,
            diff_sent_at: Instant::now(),
        }
    }

    fn step(&mut self) {
        let started = self.started;
        let mut clock = move || started.elapsed().as_nanos() as u64;
        let updates = &mut self.updates;
        self.feed.poll(&mut clock, |update| updates.push(update));
        std::thread::sleep(Duration::from_micros(200));
    }

    fn diff(&mut self, count: u32) {
        self.server_id = self.peer.command(&format!("diff {count}")).parse().unwrap();
        self.diff_sent_at = Instant::now();
    }

    /// Poll until `done`; with `keep_diffing`, the server sends a diff every
    /// 30 ms meanwhile (a live market: the client needs diffs to sync).
    fn wait_until(&mut self, what: &str, keep_diffing: bool, done: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "deadline passed waiting for {what}: feed {:?}, ws {:?}, sync {:?}, \
                 snapshot error {:?}, ws error {:?}, server {}",
                self.feed.stats(),
                self.feed.ws_stats(),
                self.feed.sync(0).unwrap().stats(),
                self.feed.last_snapshot_error(),
                self.feed.client().last_error(),
                self.peer.command("stats"),
            );
            if keep_diffing && self.diff_sent_at.elapsed() >= Duration::from_millis(30) {
                self.diff(1);
            }
            self.step();
        }
    }

    fn synced(&self) -> bool {
        let sync = self.feed.sync(0).unwrap();
        sync.is_synced() && sync.last_update_id() == self.server_id
    }

    fn sync_up(&mut self, what: &str) {
        self.wait_until(what, true, Rig::synced);
        self.assert_book_matches_server();
    }

    fn assert_book_matches_server(&mut self) {
        let book = self.peer.json("book");
        let sync = self.feed.sync(0).unwrap();
        assert_eq!(book["id"], sync.last_update_id(), "update ids");
        assert!(!sync.book().is_stale(), "a synced book is live");
        for (side, key) in [(Side::Bid, "bids"), (Side::Ask, "asks")] {
            let ours: Vec<(i64, i64)> = sync
                .book()
                .levels(side)
                .iter_best_first()
                .map(|l| (l.price.0, l.qty.0))
                .collect();
            let theirs: Vec<(i64, i64)> = book[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| (l[0].as_i64().unwrap(), l[1].as_i64().unwrap()))
                .collect();
            assert_eq!(ours, theirs, "{key}");
        }
    }

    fn server_stat(&mut self, name: &str) -> u64 {
        self.peer.json("stats")[name].as_u64().unwrap()
    }
}

/// Sync, a ticker, a forced gap, REST errors, then a dropped connection
/// whose first snapshot is older than the buffered diffs.
fn full_scenario(tls: Option<&TlsFiles>, path: &str) {
    let mut rig = Rig::new(tls, path);
    assert!(rig.feed.snapshots_over_rest());
    rig.wait_until("the connection", false, |r| {
        r.feed.ws_stats().connects_opened == 1
    });
    rig.sync_up("the first sync");
    assert_eq!(
        rig.server_stat("snapshots_before_first_diff"),
        0,
        "the snapshot is fetched after the first diff is buffered"
    );
    assert_eq!(rig.feed.sync(0).unwrap().stats().snapshots_applied, 1);

    rig.peer.command("ticker");
    rig.wait_until("the ticker", false, |r| {
        r.updates
            .iter()
            .any(|u| matches!(u, MarketUpdate::BookTicker { .. }))
    });

    // A forced gap: the book resyncs from a new snapshot.
    rig.peer.command("gap");
    rig.diff(1);
    rig.sync_up("the resync after a gap");
    let sync = *rig.feed.sync(0).unwrap().stats();
    assert_eq!((sync.gaps, sync.resyncs, sync.snapshots_applied), (1, 1, 2));

    // REST errors with Binance's error body: counted, retried with backoff.
    rig.peer.command("rest_error 429 -1003");
    rig.peer.command("rest_error 400 -1121");
    rig.peer.command("gap");
    rig.diff(1);
    rig.sync_up("the resync through two REST errors");
    let snapshot = rig.feed.stats().snapshot;
    assert_eq!(
        (
            snapshot.http_errors,
            snapshot.binance_errors,
            snapshot.rate_limited
        ),
        (2, 2, 1)
    );
    assert_eq!(rig.feed.sync(0).unwrap().stats().gaps, 2);
    let error = rig
        .feed
        .last_snapshot_error()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("HTTP 400") && error.contains("-1121"),
        "{error}"
    );

    // A dropped connection; the next connection's first snapshot predates
    // its buffered diffs, so the client fetches another.
    rig.peer.command("stale_snapshots 1");
    rig.peer.command("drop");
    rig.wait_until("the disconnect", false, |r| {
        r.updates
            .iter()
            .any(|u| matches!(u, MarketUpdate::Disconnected(DisconnectReason::Reset)))
    });
    rig.wait_until("the reconnect", true, |r| {
        r.feed.ws_stats().connects_opened == 2
    });
    rig.sync_up("the rebuilt book");
    assert_eq!(rig.feed.stats().reconnect_resyncs, 1);
    assert_eq!(rig.server_stat("stale_snapshots_served"), 1);
    let sync = *rig.feed.sync(0).unwrap().stats();
    assert_eq!(
        (sync.snapshots_too_old, sync.snapshots_applied),
        (1, 1),
        "{sync:?}"
    );
    assert_eq!(rig.server_stat("snapshots_before_first_diff"), 0);

    // The book follows live diffs.
    rig.diff(5);
    rig.sync_up("five more diffs");
}

// ws:// combined stream and REST over http://.
#[test]
fn plain_combined_stream_with_rest_snapshots() {
    if python_ready() {
        full_scenario(
            None,
            "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker",
        );
    }
}

// wss:// combined stream and REST over https://, trusting a CA made here.
#[test]
fn tls_combined_stream_with_rest_snapshots() {
    if python_ready() {
        let files = make_tls_files();
        full_scenario(
            Some(&files),
            "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker",
        );
    }
}

// A raw single-stream URL: the client subscribes to the ticker it lacks.
#[test]
fn plain_raw_stream_subscribes_what_it_lacks() {
    if python_ready() {
        full_scenario(None, "/ws/btcusdt@depth@100ms");
    }
}

// A bare raw URL over TLS: every stream comes by SUBSCRIBE.
#[test]
fn tls_bare_raw_stream_subscribes() {
    if !python_ready() {
        return;
    }
    let files = make_tls_files();
    let mut rig = Rig::new(Some(&files), "/ws");
    rig.sync_up("the first sync");
    assert_eq!(rig.feed.stats().subscriptions_confirmed, 1);
    assert_eq!(rig.server_stat("subscribes"), 1);
    rig.peer.command("ticker");
    rig.wait_until("the ticker", false, |r| {
        r.updates
            .iter()
            .any(|u| matches!(u, MarketUpdate::BookTicker { .. }))
    });
    assert_eq!(rig.feed.stats().unknown_stream, 0);
}

// Without the test CA the server's certificate is refused, on the stream
// (TLS failure, reconnect with backoff) and on REST (a TLS failure answer).
#[test]
fn tls_without_the_ca_is_refused() {
    if !python_ready() {
        return;
    }
    let files = make_tls_files();
    let peer = Peer::start(Some(&files));
    let url = format!("wss://127.0.0.1:{}/ws/btcusdt@depth@100ms", peer.ws_port);
    let stream = StreamUrl::parse(&url).unwrap();
    let mut feed = BinanceWsFeed::open(
        BinanceFeedConfig {
            endpoint: stream.endpoint().unwrap(),
            ws: WsConfig {
                reconnect_initial_ns: 20 * MS,
                reconnect_max_ns: 40 * MS,
                ..WsConfig::default()
            },
            instruments: vec![BinanceInstrument {
                symbol: "BTCUSDT".to_string(),
                grid: grid(),
                levels_max: 8,
                diff_buffer_max: 8,
            }],
            snapshot_depth_limit: 10,
            snapshot_retry_ns: 1_000 * MS,
        },
        &BinanceFeedOptions::rest(format!("https://127.0.0.1:{}", peer.http_port)),
    )
    .unwrap();
    let started = Instant::now();
    let mut clock = move || started.elapsed().as_nanos() as u64;
    let deadline = Instant::now() + DEADLINE;
    while feed.ws_stats().tls_failures < 2 {
        assert!(
            Instant::now() < deadline,
            "no TLS failure: {:?}",
            feed.ws_stats()
        );
        feed.poll(&mut clock, |_| {});
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(feed.ws_stats().connects_opened, 0);
    let error = feed
        .client_mut()
        .last_error()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );

    let fetcher = SnapshotFetcher::spawn(
        SnapshotFetcherConfig {
            base_url: format!("https://127.0.0.1:{}", peer.http_port),
            timeout_ns: 5_000 * MS,
            body_bytes_max: 1 << 20,
            queue_capacity: 1,
        },
        &TlsSetup::new(&TlsConfig::default()).unwrap(),
    )
    .unwrap();
    let request = SnapshotRequest {
        instrument: 0,
        ticket: 1,
        symbol: Symbol::new(b"BTCUSDT"),
        limit: 10,
        body: Vec::new(),
    };
    fetcher.try_request(request).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let answer = loop {
        if let Some(answer) = fetcher.try_answer() {
            break answer;
        }
        assert!(Instant::now() < deadline, "no REST answer");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(answer.result, Err(FetchFailure::Tls), "{}", answer.detail);
}
