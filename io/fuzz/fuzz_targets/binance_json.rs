//! One message into every Binance-compatible JSON decoder, the stream
//! router (combined and raw wrappings), the REST parsers (error body,
//! depth request target), the stream URL parser, and the depth sync.
#![no_main]

use genesis_io::binance::{
    parse_book_ticker, parse_depth_query, parse_depth_request, parse_depth_snapshot,
    parse_depth_update, parse_rest_error, DecimalGrid, DepthSnapshot, DepthSync, DepthUpdate,
    InstrumentGrid,
};
use genesis_io::net::{BinanceMessageRouter, StreamUrl};
use libfuzzer_sys::fuzz_target;

const SNAPSHOT: &[u8] =
    br#"{"lastUpdateId":160,"bids":[["0.0024","431.00"]],"asks":[["0.0026","12.00"]]}"#;

fuzz_target!(|bytes: &[u8]| {
    let grid = InstrumentGrid {
        price: DecimalGrid::from_step("0.0001").unwrap(),
        qty: DecimalGrid::from_step("0.01").unwrap(),
    };
    let _ = parse_depth_update(bytes, &grid, &mut DepthUpdate::default());
    let _ = parse_depth_snapshot(bytes, &grid, &mut DepthSnapshot::default());
    let _ = parse_book_ticker(bytes, &grid);
    let _ = parse_depth_request(bytes);
    let _ = parse_rest_error(bytes);
    let _ = parse_depth_query(bytes);
    let _ = BinanceMessageRouter::new(&["BNBBTC", "btcusdt"]).route(bytes);
    let _ = grid.price.parse_steps(bytes, "price");
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = DecimalGrid::from_step(text);
        let _ = StreamUrl::parse(text);
    }
    // Unsynced, then synced: diffs meet both states.
    let mut sync = DepthSync::new(grid, 8, 4);
    sync.on_diff_bytes(bytes);
    sync.on_snapshot_bytes(bytes);
    sync.on_snapshot_bytes(SNAPSHOT);
    sync.on_diff_bytes(bytes);
});
