//! The Binance-compatible WebSocket feed against an in-test venue on
//! loopback: snapshot plus diff sync, a forced gap and the resync, invalid
//! JSON counted, pings answered, a silent peer timed out, and reconnects
//! (close frame, close mid-frame, oversized message) with backoff, each
//! followed by a rebuilt book that matches the venue's.
//!
//! Single-threaded: the venue's `WsServer` and the client are both
//! non-blocking and driven in turn by the test loop, which waits on
//! conditions with deadlines. The snapshot travels over the same WebSocket
//! (see `genesis_io::net` Binance docs).

use genesis_io::binance::{
    parse_depth_query, write_depth_snapshot, write_rest_error, DecimalGrid, InstrumentGrid,
    SyncOutcome,
};
use genesis_io::book::Side;
use genesis_io::net::{
    combined_stream_url, BinanceFeedConfig, BinanceFeedOptions, BinanceInstrument, BinanceWsFeed,
    ConnectionId, DisconnectReason, MarketUpdate, StreamUrl, WsConfig, WsEndpoint, WsServer,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);
const MS: u64 = 1_000_000;

/// The venue: a WebSocket server and the true book with its update id.
struct Venue {
    server: WsServer,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    update_id: u64,
    requests: Vec<(ConnectionId, u64)>,
    answer_requests: bool,
    /// Serve `GET /api/v3/depth` on the stream port (else answer it 404).
    serve_rest: bool,
    rest_requests: u64,
}

fn decimal(units: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    format!(
        "{}.{:0width$}",
        units / scale,
        units % scale,
        width = decimals as usize
    )
}

fn levels_json(levels: &[(i64, i64)]) -> String {
    let items: Vec<String> = levels
        .iter()
        .map(|(p, q)| format!(r#"["{}","{}"]"#, decimal(*p, 2), decimal(*q, 3)))
        .collect();
    format!("[{}]", items.join(","))
}

impl Venue {
    fn new() -> Venue {
        let server = WsServer::bind("127.0.0.1:0".parse().unwrap(), 1 << 20).unwrap();
        let mut venue = Venue {
            server,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            update_id: 100,
            requests: Vec::new(),
            answer_requests: true,
            serve_rest: false,
            rest_requests: 0,
        };
        for i in 0..5 {
            venue.bids.insert(10_000 - i * 5, 1_000 + i);
            venue.asks.insert(10_010 + i * 5, 2_000 + i);
        }
        venue
    }

    fn apply(book: &mut BTreeMap<i64, i64>, levels: &[(i64, i64)]) {
        for &(price, qty) in levels {
            if qty == 0 {
                book.remove(&price);
            } else {
                book.insert(price, qty);
            }
        }
    }

    /// Apply a diff covering two update ids (skipping `skipped` ids first,
    /// to force a gap) and broadcast it.
    fn diff(&mut self, bids: &[(i64, i64)], asks: &[(i64, i64)], skipped: u64) {
        let first = self.update_id + 1 + skipped;
        let last = first + 1;
        self.update_id = last;
        Venue::apply(&mut self.bids, bids);
        Venue::apply(&mut self.asks, asks);
        let text = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":{},"a":{}}}}}"#,
            levels_json(bids),
            levels_json(asks)
        );
        // While the client is disconnected nobody hears it: that is the point.
        self.server.broadcast_text(&text);
    }

    fn snapshot_answer(&self, id: u64) -> String {
        let bids: Vec<(i64, i64)> = self.bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
        let asks: Vec<(i64, i64)> = self.asks.iter().map(|(p, q)| (*p, *q)).collect();
        format!(
            r#"{{"id":{id},"status":200,"result":{{"lastUpdateId":{},"bids":{},"asks":{}}}}}"#,
            self.update_id,
            levels_json(&bids),
            levels_json(&asks)
        )
    }

    /// Accept, read requests, and answer them with the current book.
    fn poll(&mut self) {
        if self.serve_rest {
            self.poll_rest();
            return;
        }
        let requests = &mut self.requests;
        self.server.poll(|connection, bytes| {
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(
                text.contains(r#""method":"depth""#),
                "unexpected request {text}"
            );
            let id_start = text.find(r#""id":"#).unwrap() + 5;
            let id_len = text[id_start..].find(',').unwrap();
            requests.push((
                connection,
                text[id_start..id_start + id_len].parse().unwrap(),
            ));
        });
        if self.answer_requests {
            for (connection, id) in std::mem::take(&mut self.requests) {
                let answer = self.snapshot_answer(id);
                assert!(self.server.send_text(connection, &answer));
            }
        }
    }
}

impl Venue {
    /// Serve snapshots over REST on the stream port, as the simulated venue does.
    fn poll_rest(&mut self) {
        let mut gets = Vec::new();
        self.server.poll_with_http(
            |_, text| {
                panic!(
                    "no WebSocket request expected: {:?}",
                    String::from_utf8_lossy(text)
                )
            },
            |connection, target| gets.push((connection, parse_depth_query(target))),
        );
        for (connection, query) in gets {
            self.rest_requests += 1;
            let mut body = String::new();
            let status = match query {
                Ok(query) if query.symbol.as_bytes() == b"BTCUSDT" => {
                    let bids: Vec<(i64, i64)> =
                        self.bids.iter().rev().map(|(p, q)| (*p, *q)).collect();
                    let asks: Vec<(i64, i64)> = self.asks.iter().map(|(p, q)| (*p, *q)).collect();
                    write_depth_snapshot(
                        &mut body,
                        &grid(),
                        self.update_id,
                        bids.into_iter(),
                        asks.into_iter(),
                    );
                    200
                }
                _ => {
                    write_rest_error(&mut body, -1121, "Invalid symbol.");
                    400
                }
            };
            assert!(self.server.send_http_response(connection, status, &body));
        }
    }
}

fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.001").unwrap(),
    }
}

struct Rig {
    venue: Venue,
    feed: BinanceWsFeed,
    started: Instant,
    updates: Vec<MarketUpdate>,
}

fn ws_config() -> WsConfig {
    WsConfig {
        ping_interval_ns: 20 * MS,
        ping_timeout_ns: 2_000 * MS,
        reconnect_initial_ns: 40 * MS,
        reconnect_max_ns: 400 * MS,
        reconnect_jitter_seed: 7,
        message_bytes_max: 4096,
        ..WsConfig::default()
    }
}

impl Rig {
    fn new(ws: WsConfig) -> Rig {
        let venue = Venue::new();
        let addr = venue.server.local_addr().unwrap();
        let grid = grid();
        let feed = BinanceWsFeed::new(BinanceFeedConfig {
            endpoint: WsEndpoint {
                addr,
                url: combined_stream_url(&addr.to_string(), &["BTCUSDT"]),
            },
            ws,
            instruments: vec![BinanceInstrument {
                symbol: "BTCUSDT".to_string(),
                grid,
                levels_max: 64,
                diff_buffer_max: 64,
            }],
            snapshot_depth_limit: 100,
            snapshot_retry_ns: 2_000 * MS,
        });
        Rig {
            venue,
            feed,
            started: Instant::now(),
            updates: Vec::new(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn step(&mut self, poll_venue: bool) {
        if poll_venue {
            self.venue.poll();
        }
        let started = self.started;
        let mut clock = move || started.elapsed().as_nanos() as u64;
        let updates = &mut self.updates;
        self.feed.poll(&mut clock, |update| updates.push(update));
        std::thread::yield_now();
    }

    fn wait_until(&mut self, what: &str, poll_venue: bool, done: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "deadline passed waiting for {what}: feed {:?}, ws {:?}, sync {:?}, updates {:?}",
                self.feed.stats(),
                self.feed.ws_stats(),
                self.feed.sync(0).unwrap().stats(),
                self.updates
            );
            self.step(poll_venue);
        }
    }

    fn synced(&self) -> bool {
        let sync = self.feed.sync(0).unwrap();
        sync.is_synced() && sync.last_update_id() == self.venue.update_id
    }

    fn assert_book_matches_venue(&self) {
        let sync = self.feed.sync(0).unwrap();
        assert!(!sync.book().is_stale(), "a synced book is live");
        let side = |s| -> Vec<(i64, i64)> {
            sync.book()
                .levels(s)
                .iter_best_first()
                .map(|l| (l.price.0, l.qty.0))
                .collect()
        };
        let bids: Vec<(i64, i64)> = self
            .venue
            .bids
            .iter()
            .rev()
            .map(|(p, q)| (*p, *q))
            .collect();
        let asks: Vec<(i64, i64)> = self.venue.asks.iter().map(|(p, q)| (*p, *q)).collect();
        assert_eq!(side(Side::Bid), bids);
        assert_eq!(side(Side::Ask), asks);
    }

    fn connect_and_sync(&mut self) {
        self.wait_until("connection", true, |r| {
            r.feed.ws_stats().connects_opened > 0
        });
        self.wait_until("sync", true, Rig::synced);
        self.assert_book_matches_venue();
    }
}

// Diffs arrive before the snapshot and straddle it: the old one is dropped,
// the straddling one applied, later ones follow; a forced gap resyncs;
// invalid JSON is counted without harm; pings are answered.
#[test]
fn snapshot_diff_sync_gap_and_resync() {
    let mut rig = Rig::new(ws_config());
    rig.venue.answer_requests = false;
    rig.wait_until("the snapshot request", true, |r| {
        !r.venue.requests.is_empty()
    });

    rig.venue.diff(&[(10_000, 5_000)], &[], 0);
    let (connection, id) = rig.venue.requests.pop().unwrap();
    let snapshot = rig.venue.snapshot_answer(id);
    rig.venue.diff(&[(9_990, 0)], &[(10_010, 1)], 0);
    assert!(rig.venue.server.send_text(connection, &snapshot));
    rig.venue.diff(&[(10_005, 77)], &[(10_030, 0)], 0);
    rig.venue.answer_requests = true;
    rig.wait_until("the first sync", true, Rig::synced);
    rig.assert_book_matches_venue();
    let stats = *rig.feed.sync(0).unwrap().stats();
    assert_eq!(stats.snapshots_applied, 1);
    assert_eq!(
        stats.diffs_dropped_old, 1,
        "the diff before the snapshot is dropped"
    );
    assert_eq!(stats.diffs_applied, 2);

    // A forced gap: the client resyncs from a fresh snapshot.
    rig.venue.diff(&[(10_006, 1)], &[], 3);
    rig.wait_until("the resync", true, |r| {
        r.synced() && r.feed.sync(0).unwrap().stats().snapshots_applied == 2
    });
    assert_eq!(rig.feed.sync(0).unwrap().stats().gaps, 1);
    assert!(rig.updates.iter().any(|u| matches!(
        u,
        MarketUpdate::Depth {
            outcome: SyncOutcome::Resync,
            ..
        }
    )));
    rig.venue.diff(&[(10_007, 2)], &[(10_011, 3)], 0);
    rig.wait_until("the diff after resync", true, Rig::synced);
    rig.assert_book_matches_venue();

    // Invalid JSON and a bookTicker; then pings are answered.
    rig.venue.server.broadcast_text("{not json");
    rig.venue.server.broadcast_text(
        r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"100.07","B":"0.002","a":"100.10","A":"1.000"}}"#,
    );
    rig.wait_until("the ticker", true, |r| {
        r.updates
            .iter()
            .any(|u| matches!(u, MarketUpdate::BookTicker { .. }))
    });
    assert_eq!(rig.feed.stats().invalid_json, 1);
    assert!(rig.synced(), "invalid JSON does not break the book");
    rig.wait_until("a pong", true, |r| r.feed.ws_stats().pongs_received > 0);
    assert_eq!(rig.feed.stats().reconnect_resyncs, 0);
}

// The venue closes (close frame), aborts mid-frame, and sends an oversized
// message: each time the client reconnects after its backoff and rebuilds
// the book from a new snapshot.
#[test]
fn reconnects_with_backoff_and_resyncs() {
    let mut rig = Rig::new(ws_config());
    rig.connect_and_sync();

    type Fault = fn(&mut Venue);
    let faults: [(Fault, DisconnectReason); 3] = [
        (|v| v.server.close_all(), DisconnectReason::PeerClosed),
        (|v| v.server.abort_all_mid_frame(), DisconnectReason::Reset),
        (
            |v| {
                let big = format!(r#"{{"stream":"x","data":"{}"}}"#, "y".repeat(8192));
                v.server.broadcast_text(&big);
            },
            DisconnectReason::Oversized,
        ),
    ];
    for (round, (fault, reason)) in faults.into_iter().enumerate() {
        let opened = rig.feed.ws_stats().connects_opened;
        let before_fault_ns = rig.now_ns();
        fault(&mut rig.venue);
        rig.wait_until("the disconnect", true, |r| {
            r.updates.last() == Some(&MarketUpdate::Disconnected(reason))
        });
        let retry_at_ns = rig
            .feed
            .client_mut()
            .retry_at_ns()
            .expect("backoff pending");
        // The first delay after a good connection is in [20 ms, 40 ms].
        assert!(
            retry_at_ns >= before_fault_ns + 20 * MS,
            "a backoff delay was scheduled"
        );
        // The book is not usable while disconnected... and the venue moves on.
        rig.venue.diff(&[(10_001, 9)], &[], 0);
        rig.wait_until("the reconnect", true, |r| {
            r.feed.ws_stats().connects_opened > opened
        });
        assert!(
            rig.now_ns() >= retry_at_ns,
            "no reconnect before the backoff"
        );
        rig.wait_until("the rebuilt book", true, Rig::synced);
        rig.assert_book_matches_venue();
        assert_eq!(rig.feed.stats().reconnect_resyncs, round as u64 + 1);
    }
    let ws = *rig.feed.ws_stats();
    assert_eq!((ws.peer_closes, ws.resets, ws.oversized), (1, 1, 1));
}

// A venue that stops answering: no pong within the timeout drops the
// connection (and the book goes stale on the reconnect). While nothing
// arrives, polls skip tungstenite's read (and its buffer fill) but still
// send the ping and time it out.
#[test]
fn silent_peer_times_out() {
    let mut rig = Rig::new(WsConfig {
        ping_timeout_ns: 100 * MS,
        ..ws_config()
    });
    rig.connect_and_sync();
    // Go silent only with every ping answered: then none is outstanding,
    // so the next ping is certainly sent during the silence (a ping sent
    // during the sync and left unanswered would time out with no new one).
    rig.wait_until("every ping answered", true, |r| {
        let ws = r.feed.ws_stats();
        ws.pongs_received > 0 && ws.pongs_received == ws.pings_sent
    });
    let opened = rig.feed.ws_stats().connects_opened;
    let skipped_before = rig.feed.ws_stats().reads_skipped;
    let pings_before = rig.feed.ws_stats().pings_sent;
    rig.wait_until("the ping timeout", false, |r| {
        r.updates.last() == Some(&MarketUpdate::Disconnected(DisconnectReason::PingTimeout))
    });
    let ws = *rig.feed.ws_stats();
    assert!(ws.ping_timeouts >= 1);
    assert!(
        ws.reads_skipped > skipped_before,
        "idle polls skip the read: {ws:?}"
    );
    assert!(
        ws.pings_sent > pings_before,
        "pings go out while reads are skipped: {ws:?}"
    );
    rig.wait_until("the reconnect", true, |r| {
        r.feed.ws_stats().connects_opened > opened
    });
    assert!(
        rig.feed.sync(0).unwrap().book().is_stale(),
        "stale until resynced"
    );
    rig.wait_until("the rebuilt book", true, Rig::synced);
    rig.assert_book_matches_venue();
}

// Nobody listens: every attempt fails, is counted, and waits out a growing
// backoff; the client is registered with a dev-mode reactor throughout.
#[test]
fn refused_connects_back_off() {
    use genesis_io::net::{PollMode, Reactor, WsClient};
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut reactor = Reactor::new(
        PollMode::Wait {
            timeout: Duration::from_millis(1),
        },
        16,
    )
    .unwrap();
    let mut client = WsClient::new(
        WsEndpoint {
            addr,
            url: format!("ws://{addr}/stream?streams=btcusdt@bookTicker"),
        },
        WsConfig {
            reconnect_initial_ns: 10 * MS,
            reconnect_max_ns: 80 * MS,
            ..ws_config()
        },
    );
    client
        .register_with(reactor.registry(), mio::Token(9))
        .unwrap();
    let started = Instant::now();
    let mut clock = move || started.elapsed().as_nanos() as u64;
    let mut delays_ns = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while client.stats().connects_failed < 4 {
        assert!(Instant::now() < deadline, "deadline: {:?}", client.stats());
        reactor.poll().unwrap();
        let before_ns = clock();
        let mut failed = false;
        client.poll(&mut clock, |event| {
            failed |= matches!(event, genesis_io::net::WsEvent::Disconnected(_));
        });
        if failed {
            // The failure was stamped no earlier than `before_ns`.
            delays_ns.push(client.retry_at_ns().unwrap() - before_ns);
        }
    }
    assert_eq!(client.stats().connects_opened, 0);
    // Bases 10, 20, 40, 80 ms: each delay is at least half its base, so
    // the waits grow whatever the machine's speed.
    for (delay_ns, base_ms) in delays_ns.iter().zip([10u64, 20, 40, 80]) {
        assert!(*delay_ns >= base_ms * MS / 2, "{delays_ns:?}");
    }
}

// The venue serves the REST snapshot on its stream port (as the simulated
// venue does): the feed, with REST derived from the stream URL, syncs by
// the documented procedure; a plain `poll` answers REST with 404, counted
// as an HTTP error and retried.
#[test]
fn rest_snapshots_from_the_stream_port() {
    let venue = Venue::new();
    let addr = venue.server.local_addr().unwrap();
    let stream = StreamUrl::parse(&combined_stream_url(&addr.to_string(), &["BTCUSDT"])).unwrap();
    let options = BinanceFeedOptions {
        snapshot_backoff_initial_ns: 20 * MS,
        snapshot_backoff_max_ns: 40 * MS,
        snapshot_diff_wait_ns: 50 * MS,
        ..BinanceFeedOptions::rest_beside(&stream)
    };
    assert_eq!(
        options.snapshots,
        genesis_io::net::SnapshotSource::Rest {
            base_url: format!("http://{addr}"),
        }
    );
    let feed = BinanceWsFeed::open(
        BinanceFeedConfig {
            endpoint: stream.endpoint().unwrap(),
            ws: ws_config(),
            instruments: vec![BinanceInstrument {
                symbol: "BTCUSDT".to_string(),
                grid: grid(),
                levels_max: 64,
                diff_buffer_max: 64,
            }],
            snapshot_depth_limit: 100,
            snapshot_retry_ns: 2_000 * MS,
        },
        &options,
    )
    .unwrap();
    let mut rig = Rig {
        venue,
        feed,
        started: Instant::now(),
        updates: Vec::new(),
    };
    rig.wait_until("a 404 from a venue not serving REST", true, |r| {
        r.feed.stats().snapshot.http_errors > 0
    });
    assert_eq!(rig.venue.server.stats().http_refused, 1);
    rig.venue.serve_rest = true;
    rig.venue.diff(&[(10_002, 7)], &[], 0);
    rig.wait_until("the REST sync", true, Rig::synced);
    rig.assert_book_matches_venue();
    assert!(rig.venue.rest_requests >= 1);
    let server = *rig.venue.server.stats();
    assert_eq!(server.http_requests, server.http_responses, "{server:?}");
    rig.venue.diff(&[(10_003, 1)], &[(10_012, 2)], 2);
    rig.wait_until("the resync over REST", true, |r| {
        r.synced() && r.feed.sync(0).unwrap().stats().snapshots_applied == 2
    });
    rig.assert_book_matches_venue();
}

// A poll that reads a message and finds the socket drained behind it does
// not read the socket again to learn it is empty; and the poll's first
// read, made ahead of tungstenite to learn whether anything came, is the
// read that brings the message (no one-byte `peek` before it): one `recv`
// per message where there were three (counted, not timed).
#[test]
fn a_drained_socket_is_not_read_again_in_the_same_poll() {
    let mut rig = Rig::new(ws_config());
    rig.connect_and_sync();
    let before = *rig.feed.ws_stats();
    let tickers = 20u64;
    for id in 1..=tickers {
        let seen = rig.feed.ws_stats().messages_text;
        rig.venue.server.broadcast_text(&format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{{"u":{id},"s":"BTCUSDT","b":"100.07","B":"0.002","a":"100.10","A":"1.000"}}}}"#
        ));
        rig.wait_until("the ticker", true, |r| {
            r.feed.ws_stats().messages_text > seen
        });
    }
    let after = *rig.feed.ws_stats();
    assert!(after.messages_text - before.messages_text >= tickers);
    assert!(
        after.socket_reads_spared - before.socket_reads_spared >= tickers,
        "each poll that read a ticker spared the read of the empty socket: {after:?}"
    );
    assert!(
        after.reads_ahead - before.reads_ahead >= tickers,
        "each ticker came with the poll's first read, not after a peek: {after:?}"
    );
}
