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

use genesis_io::binance::Symbol;
use genesis_io::net::{
    BinanceFeedConfig, BinanceFeedOptions, BinanceInstrument, BinanceWsFeed, DisconnectReason,
    FetchFailure, MarketUpdate, SnapshotFetcher, SnapshotFetcherConfig, SnapshotRequest, StreamUrl,
    TlsConfig, TlsSetup, WsConfig,
};
use std::time::{Duration, Instant};

#[path = "support/binance_peer.rs"]
mod binance_peer;
use binance_peer::{grid, make_tls_files, python_ready, Peer, Rig, TlsFiles};

const DEADLINE: Duration = Duration::from_secs(20);
const MS: u64 = 1_000_000;

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
