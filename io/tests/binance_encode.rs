//! The venue-side Binance encoders against the client's own parsers: every
//! message written (bookTicker, depth diff, snapshot answer) parses back to
//! the same integers, diff windows collapse repeated changes and carry
//! continuous `U`/`u` ids that a `DepthSync` accepts, the client's exact
//! snapshot request parses, bad requests are errors, and a warm encoder
//! does not allocate.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

use genesis_io::binance::{
    parse_book_ticker, parse_depth_request, parse_depth_snapshot, parse_depth_update,
    write_book_ticker, write_error_answer, write_snapshot_answer, DecimalGrid, DepthDiffBuilder,
    DepthSnapshot, DepthSync, DepthUpdate, DiffWindowFull, InstrumentGrid, LevelUpdate,
    SyncOutcome, DEPTH_LIMIT_DEFAULT,
};
use genesis_io::book::{Price, Qty, Side};
use std::fmt::Write as _;

fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.00000100").unwrap(),
        qty: DecimalGrid::from_step("0.05").unwrap(),
    }
}

fn level(price: i64, qty: i64) -> LevelUpdate {
    LevelUpdate {
        price: Price(price),
        qty: Qty(qty),
    }
}

/// The `"result"` object of a snapshot answer, as the feed routes it.
fn result_of(answer: &str) -> &str {
    let start = answer.find(r#""result":"#).expect("answer has a result") + 9;
    &answer[start..answer.len() - 1]
}

// A bookTicker parses back to the same steps, under the right stream name.
#[test]
fn book_ticker_round_trips() {
    let mut out = String::new();
    write_book_ticker(
        &mut out,
        "bnbbtc",
        "BNBBTC",
        &grid(),
        400_900_217,
        (2_400, 3),
        (2_401, 1_000_001),
    );
    assert!(
        out.starts_with(r#"{"stream":"bnbbtc@bookTicker","data":{"#),
        "{out}"
    );
    let t = parse_book_ticker(out.as_bytes(), &grid()).unwrap();
    assert_eq!(t.symbol.as_bytes(), b"BNBBTC");
    assert_eq!(t.update_id, 400_900_217);
    assert_eq!((t.bid_price, t.bid_qty), (Price(2_400), Qty(3)));
    assert_eq!((t.ask_price, t.ask_qty), (Price(2_401), Qty(1_000_001)));
}

// A diff carries U/u of its window, collapses repeated prices to the last, keeps removals.
#[test]
fn diff_round_trips_and_collapses() {
    let mut builder = DepthDiffBuilder::new("BNBbtc", grid(), 8);
    let mut out = String::new();
    assert!(builder.is_empty());
    assert!(!builder.write_diff(1, &mut out) && out.is_empty());
    builder.on_level(Side::Bid, 2_400, 10, 157).unwrap();
    builder.on_level(Side::Ask, 2_600, 100, 158).unwrap();
    builder.on_level(Side::Bid, 2_500, 7, 158).unwrap();
    builder.on_level(Side::Bid, 2_400, 12, 159).unwrap();
    builder.on_level(Side::Ask, 2_700, 0, 160).unwrap();
    assert_eq!(builder.update_ids(), Some((157, 160)));
    assert!(builder.write_diff(1_672_515_782_136, &mut out));
    assert!(out.starts_with(r#"{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","#));
    let mut d = DepthUpdate::with_capacity(8);
    parse_depth_update(out.as_bytes(), &grid(), &mut d).unwrap();
    assert_eq!(d.symbol.as_bytes(), b"BNBBTC");
    assert_eq!(
        (d.event_time_ms, d.first_update_id, d.final_update_id),
        (1_672_515_782_136, 157, 160)
    );
    assert_eq!(d.bids, vec![level(2_500, 7), level(2_400, 12)]);
    assert_eq!(d.asks, vec![level(2_600, 100), level(2_700, 0)]);
    assert!(builder.is_empty() && builder.update_ids().is_none());
}

// A full window refuses a new price (changing nothing) but still takes known prices.
#[test]
fn full_window_refuses_new_price() {
    let mut builder = DepthDiffBuilder::new("BTCUSDT", grid(), 2);
    builder.on_level(Side::Ask, 10, 1, 1).unwrap();
    builder.on_level(Side::Ask, 11, 1, 2).unwrap();
    assert_eq!(builder.levels_free(Side::Ask), 0);
    assert_eq!(builder.levels_free(Side::Bid), 2);
    assert_eq!(builder.on_level(Side::Ask, 12, 1, 3), Err(DiffWindowFull));
    assert_eq!(builder.update_ids(), Some((1, 2)));
    builder.on_level(Side::Ask, 10, 5, 3).unwrap();
    let mut out = String::new();
    assert!(builder.write_diff(0, &mut out));
    builder.on_level(Side::Ask, 12, 1, 4).unwrap();
    let mut d = DepthUpdate::with_capacity(4);
    parse_depth_update(out.as_bytes(), &grid(), &mut d).unwrap();
    assert_eq!((d.first_update_id, d.final_update_id), (1, 3));
    assert_eq!(d.asks, vec![level(10, 5), level(11, 1)]);
}

// A snapshot answer parses back; an error answer has the Binance shape.
#[test]
fn snapshot_and_error_answers() {
    let mut out = String::new();
    let bids = [(2_400, 10), (2_300, 1)];
    let asks = [(2_500, 3)];
    write_snapshot_answer(
        &mut out,
        17,
        &grid(),
        1_027_024,
        bids.iter().copied(),
        asks.iter().copied(),
    );
    assert!(
        out.starts_with(r#"{"id":17,"status":200,"result":{"#),
        "{out}"
    );
    let mut s = DepthSnapshot::default();
    parse_depth_snapshot(result_of(&out).as_bytes(), &grid(), &mut s).unwrap();
    assert_eq!(s.last_update_id, 1_027_024);
    assert_eq!(s.bids, vec![level(2_400, 10), level(2_300, 1)]);
    assert_eq!(s.asks, vec![level(2_500, 3)]);
    write_snapshot_answer(&mut out, 1, &grid(), 5, [].into_iter(), [].into_iter());
    parse_depth_snapshot(result_of(&out).as_bytes(), &grid(), &mut s).unwrap();
    assert!(s.bids.is_empty() && s.asks.is_empty());
    write_error_answer(&mut out, 3, 400, -1121, "Invalid symbol.");
    assert_eq!(
        out,
        r#"{"id":3,"status":400,"error":{"code":-1121,"msg":"Invalid symbol."}}"#
    );
}

// A client DepthSync goes live on the snapshot and applies consecutive windows.
#[test]
fn depth_sync_follows_the_encoders() {
    let mut sync = DepthSync::new(grid(), 64, 16);
    let mut builder = DepthDiffBuilder::new("BTCUSDT", grid(), 16);
    let mut out = String::new();
    // Diffs before the snapshot are buffered, as on the real exchange.
    builder.on_level(Side::Bid, 100, 1, 9).unwrap();
    builder.on_level(Side::Bid, 100, 2, 10).unwrap();
    builder.write_diff(1, &mut out);
    assert_eq!(sync.on_diff_bytes(out.as_bytes()), SyncOutcome::Buffered);
    write_snapshot_answer(
        &mut out,
        1,
        &grid(),
        10,
        [(100, 2)].into_iter(),
        [(105, 4)].into_iter(),
    );
    assert_eq!(
        sync.on_snapshot_bytes(result_of(&out).as_bytes()),
        SyncOutcome::Synced
    );
    for update_id in 11..40u64 {
        let price = 101 + (update_id % 3) as i64;
        builder
            .on_level(Side::Bid, price, update_id as i64, update_id)
            .unwrap();
        builder.on_level(Side::Ask, 105, 0, update_id).unwrap();
        builder.on_level(Side::Ask, 106, 1, update_id).unwrap();
        builder.write_diff(update_id, &mut out);
        assert_eq!(sync.on_diff_bytes(out.as_bytes()), SyncOutcome::Applied);
    }
    let book = sync.book();
    assert_eq!(book.best_bid().map(|l| l.price), Some(Price(103)));
    assert_eq!(
        book.best_ask().map(|l| (l.price, l.qty)),
        Some((Price(106), Qty(1)))
    );
    assert_eq!(sync.last_update_id(), 39);
}

// The exact request BinanceWsFeed sends parses; keys may come in any order.
#[test]
fn parses_the_client_request() {
    let mut request = String::new();
    let (id, symbol, limit) = (42u64, "BNBBTC", 1_000u32);
    write!(
        request,
        r#"{{"id":{id},"method":"depth","params":{{"symbol":"{}","limit":{}}}}}"#,
        symbol, limit
    )
    .unwrap();
    let r = parse_depth_request(request.as_bytes()).unwrap();
    assert_eq!(
        (r.id, r.symbol.as_bytes(), r.limit),
        (42, &b"BNBBTC"[..], 1_000)
    );
    let reordered =
        br#" { "params" : { "limit":5, "x":[1], "symbol":"ETHBTC" }, "method":"depth", "id":7 } "#;
    let r = parse_depth_request(reordered).unwrap();
    assert_eq!((r.id, r.symbol.as_bytes(), r.limit), (7, &b"ETHBTC"[..], 5));
    let no_limit = br#"{"id":1,"method":"depth","params":{"symbol":"A"}}"#;
    assert_eq!(
        parse_depth_request(no_limit).unwrap().limit,
        DEPTH_LIMIT_DEFAULT
    );
}

// Malformed or unsupported requests are errors, never panics.
#[test]
fn bad_requests_are_errors() {
    let bad: [&[u8]; 12] = [
        b"",
        b"{",
        b"[]",
        br#"{"id":1,"method":"trades","params":{"symbol":"A"}}"#,
        br#"{"id":1,"params":{"symbol":"A"}}"#,
        br#"{"method":"depth","params":{"symbol":"A"}}"#,
        br#"{"id":1,"method":"depth","params":{}}"#,
        br#"{"id":1,"method":"depth","params":{"symbol":""}}"#,
        br#"{"id":1,"method":"depth","params":{"symbol":"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}}"#,
        br#"{"id":1,"method":"depth","params":{"symbol":"A","limit":4294967296}}"#,
        br#"{"id":-1,"method":"depth","params":{"symbol":"A"}}"#,
        br#"{"id":1,"method":"depth","params":{"symbol":"A"}} trailing"#,
    ];
    for bytes in bad {
        assert!(
            parse_depth_request(bytes).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

// Once the buffers are warm, encoding and request parsing allocate nothing.
#[test]
fn warm_encoders_do_not_allocate() {
    let mut builder = DepthDiffBuilder::new("BTCUSDT", grid(), 32);
    let mut out = String::with_capacity(4_096);
    let request = br#"{"id":42,"method":"depth","params":{"symbol":"BTCUSDT","limit":100}}"#;
    let levels: Vec<(i64, i64)> = (0..20).map(|i| (1_000 - i, 7 + i)).collect();
    let mut round = |n: u64| {
        for i in 0..20i64 {
            builder.on_level(Side::Bid, 1_000 - i % 7, i, n).unwrap();
            builder.on_level(Side::Ask, 1_001 + i % 9, 0, n).unwrap();
        }
        assert!(builder.write_diff(n, &mut out));
        write_book_ticker(
            &mut out,
            "btcusdt",
            "BTCUSDT",
            &grid(),
            n,
            (999, 1),
            (1_001, 2),
        );
        let bids = levels.iter().copied();
        write_snapshot_answer(&mut out, n, &grid(), n, bids, levels.iter().copied());
        write_error_answer(&mut out, n, 400, -1121, "Invalid symbol.");
        assert_eq!(parse_depth_request(request).map(|r| r.id), Ok(42));
    };
    for n in 1..10 {
        round(n);
    }
    let allocations = allocations_in(|| {
        for n in 10..1_010 {
            round(n);
        }
    });
    assert_eq!(allocations, 0, "warm encoders allocated");
}
