//! The Binance-shaped Python server (`tests/peers/binance_server.py`) as
//! a child process driven over stdin, and the test CA it serves TLS with.
//! Also a rig: a Binance feed (REST snapshots) connected to that server.
//! Included with `#[path]` by the tests that use it.
#![allow(dead_code)]

use genesis_io::binance::{DecimalGrid, InstrumentGrid};
use genesis_io::book::Side;
use genesis_io::net::{
    BinanceFeedConfig, BinanceFeedOptions, BinanceInstrument, BinanceWsFeed, MarketUpdate,
    StreamUrl, TlsConfig, WsConfig,
};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// How long one reply from the server may take.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(20);

/// Whether `python3` can import `websockets`; fails under CI when not.
pub fn python_ready() -> bool {
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
pub struct TlsFiles {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_tls_files() -> TlsFiles {
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
pub struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub ws_port: u16,
    pub http_port: u16,
}

impl Peer {
    pub fn start(tls: Option<&TlsFiles>) -> Peer {
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
            .recv_timeout(REPLY_DEADLINE)
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
    pub fn command(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let reply = self
            .lines
            .recv_timeout(REPLY_DEADLINE)
            .unwrap_or_else(|_| panic!("no reply to {line:?}"));
        let rest = reply
            .strip_prefix("ok")
            .unwrap_or_else(|| panic!("{line:?} failed: {reply}"));
        rest.trim().to_string()
    }

    pub fn json(&mut self, line: &str) -> serde_json::Value {
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

const MS: u64 = 1_000_000;

/// A feed connected to the server (REST snapshots), and what it reported.
pub struct Rig {
    pub peer: Peer,
    pub feed: BinanceWsFeed,
    pub started: Instant,
    pub updates: Vec<MarketUpdate>,
    /// Server update id after the last command that changed the book.
    pub server_id: u64,
    diff_sent_at: Instant,
}

pub fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.001").unwrap(),
    }
}

impl Rig {
    /// `path` is the stream URL's path and query.
    pub fn new(tls: Option<&TlsFiles>, path: &str) -> Rig {
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

    pub fn step(&mut self) {
        let started = self.started;
        let mut clock = move || started.elapsed().as_nanos() as u64;
        let updates = &mut self.updates;
        self.feed.poll(&mut clock, |update| updates.push(update));
        std::thread::sleep(Duration::from_micros(200));
    }

    pub fn diff(&mut self, count: u32) {
        self.server_id = self.peer.command(&format!("diff {count}")).parse().unwrap();
        self.diff_sent_at = Instant::now();
    }

    /// Poll until `done`; with `keep_diffing`, the server sends a diff every
    /// 30 ms meanwhile (a live market: the client needs diffs to sync).
    pub fn wait_until(&mut self, what: &str, keep_diffing: bool, done: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + REPLY_DEADLINE;
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

    pub fn synced(&self) -> bool {
        let sync = self.feed.sync(0).unwrap();
        sync.is_synced() && sync.last_update_id() == self.server_id
    }

    pub fn sync_up(&mut self, what: &str) {
        self.wait_until(what, true, Rig::synced);
        self.assert_book_matches_server();
    }

    pub fn assert_book_matches_server(&mut self) {
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

    pub fn server_stat(&mut self, name: &str) -> u64 {
        self.peer.json("stats")[name].as_u64().unwrap()
    }
}
