//! Proves the Binance WebSocket receive path does not allocate: after
//! warm-up, `BinanceWsFeed::poll` (socket read into the client's buffer,
//! frame decode, UTF-8 check, routing, depth parse + L2 update or bookTicker
//! parse, callback) performs zero heap allocations per message.
//!
//! Single-threaded: the venue's `WsServer` and the feed run in turn on the
//! test thread. The counting allocator counts only on this thread and only
//! around the feed's polls, so the venue's encoding and sends are not
//! counted. Messages go out in bursts of one to four diffs plus as many
//! tickers, so reads see several frames at once and frames split across
//! reads. Every wait is on a condition with a deadline.
//!
//! The client takes the kernel's receive stamp with each read (`recvmsg`
//! with a control buffer on the stack): every measured message must carry
//! one, so the zero is the stamping path's.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/rx_stamp.rs"]
mod rx_stamp;
use counting_alloc::{ALLOCATIONS, COUNTING};

use genesis_io::binance::{
    parse_depth_request, write_book_ticker, write_snapshot_answer, DecimalGrid, DepthDiffBuilder,
    InstrumentGrid, SyncOutcome,
};
use genesis_io::book::Side;
use genesis_io::net::{
    combined_stream_url, BinanceFeedConfig, BinanceInstrument, BinanceWsFeed, ConnectionId,
    MarketUpdate, WsConfig, WsEndpoint, WsServer,
};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.001").unwrap(),
    }
}

/// The venue: a WebSocket server, the true book and its diff window.
struct Venue {
    server: WsServer,
    diff: DepthDiffBuilder,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    update_id: u64,
    requests: Vec<(ConnectionId, u64)>,
    text: String,
}

impl Venue {
    fn new() -> Venue {
        let mut venue = Venue {
            server: WsServer::bind("127.0.0.1:0".parse().unwrap(), 1 << 20).unwrap(),
            diff: DepthDiffBuilder::new("BTCUSDT", grid(), 8),
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            update_id: 100,
            requests: Vec::new(),
            text: String::with_capacity(4096),
        };
        for i in 0..5 {
            venue.bids.insert(10_000 - i * 5, 1_000 + i);
            venue.asks.insert(10_010 + i * 5, 2_000 + i);
        }
        venue
    }

    /// Accept, read snapshot requests, and answer them with the book.
    fn poll(&mut self) {
        let requests = &mut self.requests;
        self.server.poll(|connection, bytes| {
            let request = parse_depth_request(bytes).expect("a depth request");
            requests.push((connection, request.id));
        });
        for (connection, id) in std::mem::take(&mut self.requests) {
            write_snapshot_answer(
                &mut self.text,
                id,
                &grid(),
                self.update_id,
                self.bids.iter().rev().map(|(p, q)| (*p, *q)),
                self.asks.iter().map(|(p, q)| (*p, *q)),
            );
            assert!(self.server.send_text(connection, &self.text));
        }
    }

    /// One update id touching a bid and an ask level, broadcast as a diff.
    fn send_diff(&mut self, step: u64) {
        self.update_id += 1;
        let bid = (9_990 + (step % 5) as i64, 1 + (step % 97) as i64);
        let ask = (10_011 + (step % 5) as i64, 1 + (step % 89) as i64);
        self.bids.insert(bid.0, bid.1);
        self.asks.insert(ask.0, ask.1);
        self.diff
            .on_level(Side::Bid, bid.0, bid.1, self.update_id)
            .unwrap();
        self.diff
            .on_level(Side::Ask, ask.0, ask.1, self.update_id)
            .unwrap();
        assert!(self.diff.write_diff(step, &mut self.text));
        assert_eq!(self.server.broadcast_text(&self.text), 1);
    }

    fn send_ticker(&mut self, step: u64) {
        let bid = (9_990 + (step % 5) as i64, 1 + (step % 97) as i64);
        write_book_ticker(
            &mut self.text,
            "btcusdt",
            "BTCUSDT",
            &grid(),
            step,
            bid,
            (10_011, 5),
        );
        assert_eq!(self.server.broadcast_text(&self.text), 1);
    }
}

/// Messages the feed reported, counted without allocating.
#[derive(Default)]
struct Seen {
    diffs_applied: u64,
    tickers: u64,
    other: u64,
}

struct Rig {
    venue: Venue,
    feed: BinanceWsFeed,
    started: Instant,
    seen: Seen,
}

impl Rig {
    fn new(ping_interval_ns: u64) -> Rig {
        let venue = Venue::new();
        let addr = venue.server.local_addr().unwrap();
        let feed = BinanceWsFeed::new(BinanceFeedConfig {
            endpoint: WsEndpoint {
                addr,
                url: combined_stream_url(&addr.to_string(), &["BTCUSDT"]),
            },
            ws: WsConfig {
                ping_interval_ns,
                message_bytes_max: 64 * 1024,
                ..WsConfig::default()
            },
            instruments: vec![BinanceInstrument {
                symbol: "BTCUSDT".to_string(),
                grid: grid(),
                levels_max: 64,
                diff_buffer_max: 64,
            }],
            snapshot_depth_limit: 100,
            snapshot_retry_ns: 60_000_000_000,
        });
        Rig {
            venue,
            feed,
            started: Instant::now(),
            seen: Seen::default(),
        }
    }

    /// Poll the venue (never counted), then the feed (counted if `count`).
    fn step(&mut self, count: bool) {
        self.venue.poll();
        let started = self.started;
        let mut clock = move || started.elapsed().as_nanos() as u64;
        let seen = &mut self.seen;
        COUNTING.with(|c| c.set(count));
        self.feed.poll(&mut clock, |update| match update {
            MarketUpdate::Depth {
                outcome: SyncOutcome::Applied,
                ..
            } => seen.diffs_applied += 1,
            MarketUpdate::BookTicker { .. } => seen.tickers += 1,
            _ => seen.other += 1,
        });
        COUNTING.with(|c| c.set(false));
    }

    fn synced(&self) -> bool {
        let sync = self.feed.sync(0).unwrap();
        sync.is_synced() && sync.last_update_id() == self.venue.update_id
    }

    fn wait_until(&mut self, what: &str, count: bool, done: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "deadline passed waiting for {what}: feed {:?}, ws {:?}, sync {:?}",
                self.feed.stats(),
                self.feed.ws_stats(),
                self.feed.sync(0).unwrap().stats(),
            );
            self.step(count);
        }
    }

    /// Send a burst of `burst` diffs and as many tickers, and poll the feed
    /// until it has reported all of them.
    fn round(&mut self, round: u64, burst: u64, count: bool) -> u64 {
        let diffs_target = self.seen.diffs_applied + burst;
        let tickers_target = self.seen.tickers + burst;
        for index in 0..burst {
            let step = round * burst + index;
            self.venue.send_diff(step);
            self.venue.send_ticker(step);
        }
        self.wait_until("the burst", count, |r| {
            r.seen.diffs_applied == diffs_target && r.seen.tickers == tickers_target
        });
        burst * 2
    }
}

/// Polls with nothing to read at the end of a measurement.
const IDLE_POLLS: usize = 100;

/// Connect, sync, run `rounds_warm_up` bursts uncounted, then count over
/// `rounds_measured` bursts and [`IDLE_POLLS`] idle polls; returns (allocations, messages, pongs).
fn measure(
    ping_interval_ns: u64,
    rounds_warm_up: u64,
    rounds_measured: u64,
    burst: impl Fn(u64) -> u64,
) -> (u64, u64, u64) {
    let probe = counting_alloc::allocations_in(|| drop(std::hint::black_box(vec![1u8; 8])));
    assert!(probe >= 1, "the counting allocator sees allocations");

    let _live = rx_stamp::kernel_stamping_live();
    let mut rig = Rig::new(ping_interval_ns);
    rig.wait_until("the first sync", false, Rig::synced);
    // `Connected` and the snapshot's `Synced`; nothing else is expected.
    let other_at_sync = rig.seen.other;
    for round in 0..rounds_warm_up {
        rig.round(round, burst(round), false);
    }
    ALLOCATIONS.with(|n| n.set(0));
    let mut messages = 0u64;
    let stamped_before = rig.feed.ws_stats().messages_stamped_kernel;
    for round in rounds_warm_up..rounds_warm_up + rounds_measured {
        messages += rig.round(round, burst(round), true);
    }
    assert_eq!(
        rig.feed.ws_stats().messages_stamped_kernel - stamped_before,
        messages,
        "every measured message carries the kernel's stamp: {:?}",
        rig.feed.ws_stats()
    );
    // Idle polls (no data sent): the read is skipped after a peek, which
    // must not allocate either. With pings due on every poll the venue's
    // pongs keep the socket busy, so only without pings is a skip certain.
    let skipped_before = rig.feed.ws_stats().reads_skipped;
    for _ in 0..IDLE_POLLS {
        rig.step(true);
    }
    let allocations = ALLOCATIONS.with(Cell::get);
    assert!(
        ping_interval_ns != u64::MAX || rig.feed.ws_stats().reads_skipped > skipped_before,
        "idle polls skipped the read: {:?}",
        rig.feed.ws_stats()
    );
    let pongs = rig.feed.ws_stats().pongs_received;

    assert!(rig.synced(), "the book followed every diff");
    assert_eq!(
        rig.seen.other, other_at_sync,
        "no disconnect, resync or stray update"
    );
    assert_eq!(rig.feed.ws_stats().connects_opened, 1);
    eprintln!(
        "ws receive path: {allocations} allocations over {messages} messages ({:.4} per message)",
        allocations as f64 / messages as f64
    );
    (allocations, messages, pongs)
}

// Once connected, synced and warm, receiving diffs and tickers in small
// bursts allocates nothing in the feed's poll. No ping is due: pings are
// not data (the last test covers them).
#[test]
fn ws_receive_path_does_not_allocate() {
    let (allocations, _, _) = measure(u64::MAX, 200, 2_000, |round| 1 + round % 4);
    assert_eq!(allocations, 0, "allocations after warm-up");
}

// A backlog: bursts bigger than one read queue up in the socket before the
// feed polls; receiving them allocates nothing either, even with no
// warm-up (the read buffer never has to grow).
#[test]
fn ws_receive_path_does_not_allocate_under_backlog() {
    let (allocations, _, _) = measure(u64::MAX, 0, 30, |round| 300 + (round % 3) * 100);
    assert_eq!(allocations, 0, "allocations with a cold read buffer");
}

// A ping goes out whenever none is outstanding (interval 0), so pings and
// pongs interleave with the data: sending pings and receiving pongs
// allocates nothing either.
#[test]
fn ws_pings_do_not_allocate() {
    let (allocations, _, pongs) = measure(0, 50, 500, |round| 1 + round % 4);
    assert!(pongs > 0, "pongs were received");
    assert_eq!(allocations, 0, "allocations after warm-up");
}
