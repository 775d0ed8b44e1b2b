//! `BinanceSource` against a scripted Binance-compatible venue on loopback:
//! top-of-book events in the instrument's ticks and lots, flagged stale
//! before the depth book's first snapshot, after a forced gap until the
//! resync, and after the venue drops the connection; live again once the
//! book is synced.
//!
//! Single-threaded: the venue's `WsServer` and the source are both
//! non-blocking and driven in turn by the test loop, which waits on
//! conditions with a generous deadline (never on time passing). Snapshots
//! come from the WebSocket API's `depth` request here
//! (`snapshot_source = "websocket-api"`), which this scripted venue
//! answers; the REST procedure is tested against a Binance-shaped server
//! in `engine/cli/tests/binance_feed.rs`.
//!
//! And the receive stamp: a ticker that waited in the socket is published
//! with the kernel's arrival stamp as `ts_recv_ns` (on the engine's clock),
//! not the time the source read it.

use genesis_engine::adapters::binance_source::BinanceSource;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{
    BinanceSnapshotSource, Config, InstrumentConfig, InstrumentLimits, MarketDataSource,
};
use genesis_engine::event::{Event, Input, TopOfBook, FLAG_STALE};
use genesis_engine::ingest::Source;
use genesis_engine::units::{Price, Qty};
use genesis_io::net::{combined_stream_url, ConnectionId, WsServer, RX_STAMP_OFFSET_ERROR_NS_MAX};

// io's test support reads the wall clock for its deadlines.
#[allow(clippy::disallowed_methods)]
#[path = "../../io/tests/support/rx_stamp.rs"]
mod rx_stamp;

const DEADLINE_NS: u64 = 20_000_000_000;

/// The instrument: tick 0.05, lot 0.001, so 100.15 is 2003 ticks.
fn config() -> Config {
    let mut config = Config::builtin();
    config.instruments = vec![InstrumentConfig {
        symbol: "BTCUSDT".into(),
        tick_size: "0.05".into(),
        lot_size: "0.001".into(),
        tick_value: 1,
        start_price_ticks: 2_000,
        limits: InstrumentLimits::default(),
    }];
    config.topology.pin_threads = false;
    config.market_data.source = MarketDataSource::BinanceSim;
    config.market_data.binance.snapshot_limit = 100;
    config.market_data.binance.reconnect_initial_ms = 20;
    config.market_data.binance.reconnect_max_ms = 200;
    config.market_data.binance.snapshot_source = BinanceSnapshotSource::WebSocketApi;
    config.validate("test").unwrap();
    config
}

/// `ticks` of 0.05 as a decimal string.
fn price(ticks: i64) -> String {
    let units = ticks * 5;
    format!("{}.{:02}", units / 100, units % 100)
}

/// `lots` of 0.001 as a decimal string.
fn qty(lots: i64) -> String {
    format!("{}.{:03}", lots / 1_000, lots % 1_000)
}

fn top(bid_px: i64, bid_qty: i64, ask_px: i64, ask_qty: i64) -> TopOfBook {
    TopOfBook {
        bid_px: Price(bid_px),
        bid_qty: Qty(bid_qty),
        ask_px: Price(ask_px),
        ask_qty: Qty(ask_qty),
    }
}

/// The venue: a WebSocket server, the depth book's update id, and the
/// snapshot requests it has not answered yet.
struct Venue {
    server: WsServer,
    update_id: u64,
    requests: Vec<(ConnectionId, u64)>,
    answer_requests: bool,
}

impl Venue {
    fn new() -> Venue {
        Venue {
            server: WsServer::bind("127.0.0.1:0".parse().unwrap(), 1 << 20).unwrap(),
            update_id: 100,
            requests: Vec::new(),
            answer_requests: false,
        }
    }

    /// A depth snapshot of a fixed book (bids below 1990 ticks, asks above
    /// 2010, so no diff or ticker here crosses it) at the current update id.
    fn snapshot_answer(&self, id: u64) -> String {
        format!(
            r#"{{"id":{id},"status":200,"result":{{"lastUpdateId":{},"bids":[["{}","{}"]],"asks":[["{}","{}"]]}}}}"#,
            self.update_id,
            price(1_990),
            qty(1_000),
            price(2_010),
            qty(1_000)
        )
    }

    /// A diff covering two update ids, after skipping `skipped` (a gap when > 0).
    fn diff(&mut self, skipped: u64) {
        let first = self.update_id + 1 + skipped;
        let last = first + 1;
        self.update_id = last;
        let text = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":[["{}","{}"]],"a":[]}}}}"#,
            price(1_980 + (last % 5) as i64),
            qty(7)
        );
        self.server.broadcast_text(&text);
    }

    fn ticker(&mut self, update_id: u64, top: TopOfBook) {
        let text = format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{{"u":{update_id},"s":"BTCUSDT","b":"{}","B":"{}","a":"{}","A":"{}"}}}}"#,
            price(top.bid_px.0),
            qty(top.bid_qty.0),
            price(top.ask_px.0),
            qty(top.ask_qty.0)
        );
        assert_eq!(self.server.broadcast_text(&text), 1, "one client listens");
    }

    /// Accept, read snapshot requests, and answer them if allowed.
    fn poll(&mut self) {
        let requests = &mut self.requests;
        self.server.poll(|connection, bytes| {
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(text.contains(r#""method":"depth""#), "unexpected {text}");
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

struct Rig {
    venue: Venue,
    source: BinanceSource,
    clock: EpochClock,
    events: Vec<Event>,
    /// Events before this index were already matched by a wait.
    seen: usize,
}

impl Rig {
    fn new() -> Rig {
        let venue = Venue::new();
        let addr = venue.server.local_addr().unwrap().to_string();
        let url = combined_stream_url(&addr, &["BTCUSDT"]);
        let source = BinanceSource::new(&config(), &url).unwrap();
        Rig {
            venue,
            source,
            clock: EpochClock::new(),
            events: Vec::new(),
            seen: 0,
        }
    }

    fn step(&mut self) {
        self.venue.poll();
        let events = &mut self.events;
        self.source
            .poll(&self.clock, 64, &mut |event| events.push(event));
        std::thread::yield_now();
    }

    fn wait_until(&mut self, what: &str, done: impl Fn(&Rig) -> bool) {
        let deadline_ns = self.clock.now_ns() + DEADLINE_NS;
        while !done(self) {
            assert!(
                self.clock.now_ns() < deadline_ns,
                "deadline passed waiting for {what}: source {:?}, feed {:?}, ws {:?}, books {:?}, events {:?}",
                self.source.counters(),
                self.source.feed().stats(),
                self.source.feed().ws_stats(),
                self.source.sync_total(),
                &self.events[self.seen..]
            );
            self.step();
        }
    }

    /// The first top-of-book event not yet matched: its top and stale flag.
    fn next_top(&mut self, what: &str) -> (TopOfBook, bool) {
        self.wait_until(what, |r| r.events.len() > r.seen);
        let event = self.events[self.seen];
        self.seen += 1;
        assert!(event.ts_recv_ns > 0, "receive time stamped");
        // No venue time on these streams: the receive time, on CLOCK_REALTIME.
        let epoch_minus_realtime =
            i128::from(self.clock.now_ns()) - i128::from(genesis_engine::clock::realtime_ns());
        let realtime = i128::from(event.ts_recv_ns) - epoch_minus_realtime;
        assert!(
            (i128::from(event.ts_venue_ns) - realtime).abs() < 1_000_000,
            "venue time {} is the receive time {} on CLOCK_REALTIME ({realtime})",
            event.ts_venue_ns,
            event.ts_recv_ns
        );
        let Input::TopOfBook(top) = event.input() else {
            panic!("{what}: not a top of book: {event:?}");
        };
        (top, event.flags & FLAG_STALE != 0)
    }

    fn synced(&self) -> bool {
        let sync = self.source.feed().sync(0).unwrap();
        sync.is_synced() && sync.last_update_id() == self.venue.update_id
    }

    /// Answers the outstanding snapshot request and waits for the sync.
    /// A rig whose book is synced, with a live top published from a ticker
    /// carrying update id `update_id`.
    fn live(update_id: u64) -> (Rig, TopOfBook) {
        Rig::new().made_live(update_id)
    }

    fn made_live(self, update_id: u64) -> (Rig, TopOfBook) {
        let mut rig = self;
        rig.wait_until("the snapshot request", |r| !r.venue.requests.is_empty());
        rig.sync_book();
        let live = top(2_000, 5, 2_001, 6);
        rig.venue.ticker(update_id, live);
        assert_eq!(rig.next_top("a live ticker"), (live, false));
        (rig, live)
    }

    fn sync_book(&mut self) {
        self.venue.answer_requests = true;
        self.wait_until("the sync", Rig::synced);
        self.venue.answer_requests = false;
    }
}

// Before the first snapshot a ticker is published in ticks and lots but
// flagged stale; the snapshot lifts the flag at once; later tickers are
// live, and one whose `u` is not newer is dropped.
#[test]
fn stale_until_synced_then_live() {
    let mut rig = Rig::new();
    rig.wait_until("the snapshot request", |r| !r.venue.requests.is_empty());
    let first = top(2_000, 1_500, 2_003, 250);
    rig.venue.ticker(7, first);
    assert_eq!(
        rig.next_top("the first ticker"),
        (first, true),
        "100.00 x 1.500 / 100.15 x 0.250 in ticks of 0.05 and lots of 0.001, stale before the snapshot"
    );
    rig.venue.diff(0);
    rig.sync_book();
    assert_eq!(
        rig.next_top("the top made live by the sync"),
        (first, false)
    );

    let second = top(2_001, 10, 2_002, 20);
    rig.venue.ticker(8, second);
    assert_eq!(rig.next_top("the second ticker"), (second, false));
    rig.venue.ticker(8, top(1_999, 1, 2_004, 1));
    let third = top(2_000, 30, 2_002, 40);
    rig.venue.ticker(9, third);
    assert_eq!(
        rig.next_top("the third ticker"),
        (third, false),
        "the ticker with u = 8 again was dropped"
    );
    assert_eq!(rig.source.counters().tickers_not_newer, 1);
    assert_eq!(rig.events.len(), rig.seen, "nothing else was published");
}

// Tickers that cannot be a top of book (crossed, locked, a zero quantity, a
// zero price) are dropped and counted while the book is synced; the last
// good top stands and the next good ticker is live.
#[test]
fn impossible_tickers_are_dropped() {
    let (mut rig, _) = Rig::live(1);

    let impossible = [
        top(2_003, 5, 2_002, 6),
        top(2_002, 5, 2_002, 6),
        top(2_000, 0, 2_001, 6),
        top(2_000, 5, 2_001, 0),
        top(0, 5, 2_001, 6),
    ];
    for (index, bad) in impossible.iter().enumerate() {
        rig.venue.ticker(2 + index as u64, *bad);
    }
    let next = top(2_001, 7, 2_002, 8);
    rig.venue.ticker(10, next);
    assert_eq!(
        rig.next_top("the good ticker after the impossible ones"),
        (next, false),
        "no impossible ticker was published"
    );
    assert_eq!(rig.events.len(), rig.seen, "nothing else was published");
    assert_eq!(rig.source.counters().tickers_invalid, 5);
    assert_eq!(rig.source.counters().tickers_not_newer, 0);
    assert_eq!(rig.source.feed().stats().ticker_rejects, 0, "all parsed");
    let bad_input = rig.source.bad_input_counters();
    assert_eq!(bad_input[16], 5, "tickers_invalid is logged: {bad_input:?}");
}

// A diff that skips update ids marks the book stale at once; tickers stay
// stale through the resync; the new snapshot makes the top live again.
#[test]
fn gap_is_stale_until_resync() {
    let (mut rig, live) = Rig::live(1);

    rig.venue.diff(3);
    assert_eq!(
        rig.next_top("the gap"),
        (live, true),
        "the gap marks the top stale"
    );
    let during = top(2_001, 7, 2_002, 8);
    rig.venue.ticker(2, during);
    assert_eq!(rig.next_top("a ticker during the resync"), (during, true));
    rig.wait_until("the resync request", |r| !r.venue.requests.is_empty());
    rig.sync_book();
    assert_eq!(rig.next_top("the resynced top"), (during, false));
    let sync = rig.source.sync_total();
    assert_eq!((sync.gaps, sync.resyncs), (1, 1));
    let bad_input = rig.source.bad_input_counters();
    assert_eq!(
        (bad_input[6], bad_input[7]),
        (1, 1),
        "gaps and resyncs: {bad_input:?}"
    );
}

// The venue drops the connection: the last top is published again, stale,
// so risk stops trading; after the reconnect and the rebuilt book a fresh
// ticker is live (the top from before the drop is never made live again).
#[test]
fn disconnect_is_stale_until_rebuilt() {
    let (mut rig, live) = Rig::live(50);

    let opened = rig.source.feed().ws_stats().connects_opened;
    rig.venue.server.close_all();
    assert_eq!(rig.next_top("the disconnect"), (live, true));
    assert!(!rig.source.is_connected());
    rig.wait_until("the reconnect", |r| {
        r.source.feed().ws_stats().connects_opened > opened && !r.venue.requests.is_empty()
    });
    rig.venue.diff(0);
    rig.sync_book();
    assert_eq!(
        rig.events.len(),
        rig.seen,
        "the old top is not made live by the new book"
    );
    // Update ids start over with the new connection.
    let fresh = top(2_001, 9, 2_002, 9);
    rig.venue.ticker(3, fresh);
    assert_eq!(rig.next_top("a fresh ticker"), (fresh, false));
    assert_eq!(rig.source.counters().disconnects, 1);
    assert_eq!(rig.source.feed().stats().reconnect_resyncs, 1);
}

// The constructor names what is wrong: a URL that is neither raw nor
// combined, a scheme that is not ws or wss, a tick size no grid can hold.
// A URL that lacks an instrument's stream is taken (the feed subscribes it).
#[test]
fn constructor_errors_name_the_problem() {
    let config = config();
    for (url, expected) in [
        ("ws://127.0.0.1:1/api/v3/depth", "neither raw"),
        ("http://127.0.0.1:1/ws/btcusdt@bookTicker", "scheme"),
    ] {
        let err = BinanceSource::new(&config, url).err().unwrap();
        assert!(
            err.contains("market_data.binance.url") && err.contains(expected),
            "{err}"
        );
    }
    assert!(BinanceSource::new(&config, "ws://127.0.0.1:1/ws/btcusdt@bookTicker").is_ok());
    let mut off_grid = config.clone();
    off_grid.instruments[0].tick_size = "0.0000000000000000001".into();
    let err = BinanceSource::new(
        &off_grid,
        "ws://127.0.0.1:1/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms",
    )
    .err()
    .unwrap();
    assert!(err.contains("instruments[0].tick_size"), "{err}");
}

// A ticker that waited 2 ms in the socket before the source polled carries
// the kernel's arrival stamp: at or before the moment epoll saw it waiting,
// and well before the poll. (A user-space stamp could only be later than
// the wait.) The first tickers after connecting may come before kernel
// stamping is live system-wide, so the rounds start once one comes stamped.
#[test]
fn a_top_carries_the_kernel_receive_stamp() {
    use mio::{Events, Poll, Token};
    let _live = rx_stamp::kernel_stamping_live();
    let mut rig = Rig::new();
    let mut poll = Poll::new().unwrap();
    let client = rig.source.feed_mut().client_mut();
    client.register_with(poll.registry(), Token(0)).unwrap();
    assert!(
        client.rx_stamping().is_kernel(),
        "{:?}",
        client.rx_stamping()
    );
    let (mut rig, _) = rig.made_live(1);
    let mut events = Events::with_capacity(8);
    let mut update_id = 1;
    let mut round = |rig: &mut Rig| {
        poll.poll(&mut events, Some(std::time::Duration::ZERO))
            .unwrap();
        update_id += 1;
        let sent_ns = rig.clock.now_ns();
        let ask_qty = 10 + (update_id % 2) as i64;
        rig.venue.ticker(update_id, top(2_000, 5, 2_001, ask_qty));
        rx_stamp::wait_until("the ticker", || {
            poll.poll(&mut events, Some(std::time::Duration::from_millis(100)))
                .unwrap();
            events.iter().any(|event| event.is_readable())
        });
        let seen_ns = rig.clock.now_ns();
        rx_stamp::busy_work();
        let polled_ns = rig.clock.now_ns();
        let (top, stale) = rig.next_top("the ticker");
        assert_eq!((top.ask_qty.0, stale), (ask_qty, false));
        [
            sent_ns,
            seen_ns,
            polled_ns,
            rig.events[rig.seen - 1].ts_recv_ns,
        ]
    };
    rx_stamp::wait_until("a kernel-stamped ticker", || {
        let stamped = rig.source.feed().ws_stats().messages_stamped_kernel;
        round(&mut rig);
        rig.source.feed().ws_stats().messages_stamped_kernel > stamped
    });
    for _ in 0..3 {
        let [sent_ns, seen_ns, polled_ns, ts_recv_ns] = round(&mut rig);
        // Converted from CLOCK_REALTIME, the stamp may err low by the
        // conversion's bound (never high: see `ts_recv_ns <= seen_ns`).
        assert!(
            ts_recv_ns + RX_STAMP_OFFSET_ERROR_NS_MAX >= sent_ns,
            "stamp {ts_recv_ns} before the send {sent_ns}"
        );
        assert!(
            ts_recv_ns <= seen_ns,
            "stamp {ts_recv_ns} after the ticker was seen waiting at {seen_ns}"
        );
        assert!(
            polled_ns - ts_recv_ns >= rx_stamp::BUSY_NS / 2,
            "stamp {ts_recv_ns} is not earlier than the poll {polled_ns} by the wait"
        );
    }
    assert_eq!(rig.source.feed().ws_stats().messages_stamped_user, 0);
}
