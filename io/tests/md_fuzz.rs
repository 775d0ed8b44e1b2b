//! Arbitrary bytes into every market-data decoder: nothing panics. Inputs
//! are both fully random and mutations (byte flips, truncations) of valid
//! messages, so the decoders' deeper branches are reached too.

use genesis_io::binance::{
    parse_book_ticker, parse_depth_request, parse_depth_snapshot, parse_depth_update, DecimalGrid,
    DepthSnapshot, DepthSync, DepthUpdate, InstrumentGrid,
};
use genesis_io::itch::{decode, ItchFeed, ItchFeedConfig, MoldPacket, MoldRequest, StockSymbol};
use proptest::prelude::*;

const DEPTH: &[u8] = br#"{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}"#;
const SNAPSHOT: &[u8] =
    br#"{"lastUpdateId":160,"bids":[["0.0024","431.00"]],"asks":[["0.0026","12.00"]]}"#;
const REQUEST: &[u8] = br#"{"id":7,"method":"depth","params":{"symbol":"BNBBTC","limit":100}}"#;
const TICKER: &[u8] =
    br#"{"u":400900217,"s":"BNBUSDT","b":"0.0025","B":"31.21","a":"0.0026","A":"40.66"}"#;

fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.0001").unwrap(),
        qty: DecimalGrid::from_step("0.01").unwrap(),
    }
}

fn itch_feed() -> ItchFeed {
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![StockSymbol::from_str_padded("X").unwrap()],
        orders_max: 64,
        levels_max: 16,
        next_sequence: None,
        request_retry_ns: 1,
        request_count_max: 10,
    });
    for locate in 0..4 {
        feed.bind_locate(locate, 0);
    }
    feed
}

/// A valid MoldUDP64 packet with an add and a delete, to mutate.
fn valid_datagram() -> Vec<u8> {
    let mut out = b"SESSION001".to_vec();
    out.extend_from_slice(&1u64.to_be_bytes());
    out.extend_from_slice(&2u16.to_be_bytes());
    let mut add = vec![b'A', 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    add.extend_from_slice(&5u64.to_be_bytes());
    add.push(b'B');
    add.extend_from_slice(&100u32.to_be_bytes());
    add.extend_from_slice(b"X       ");
    add.extend_from_slice(&10_000u32.to_be_bytes());
    let mut delete = vec![b'D', 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
    delete.extend_from_slice(&5u64.to_be_bytes());
    for m in [add, delete] {
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(&m);
    }
    out
}

fn mutate(base: &[u8], flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for &(at, value) in flips {
        if !bytes.is_empty() {
            let index = at % bytes.len();
            bytes[index] = value;
        }
    }
    bytes.truncate(cut % (bytes.len() + 1));
    bytes
}

fn feed_everything(bytes: &[u8], feed: &mut ItchFeed, sync: &mut DepthSync) {
    let _ = decode(bytes);
    if let Ok(p) = MoldPacket::parse(bytes) {
        for m in p.messages() {
            let _ = decode(m);
        }
    }
    let _ = MoldRequest::parse(bytes);
    feed.on_datagram(bytes, |_, _| {});
    let _ = feed.poll_request(0);
    let g = grid();
    let _ = parse_depth_update(bytes, &g, &mut DepthUpdate::default());
    let _ = parse_depth_snapshot(bytes, &g, &mut DepthSnapshot::default());
    let _ = parse_book_ticker(bytes, &g);
    let _ = parse_depth_request(bytes);
    let _ = g.price.parse_steps(bytes, "price");
    sync.on_diff_bytes(bytes);
    sync.on_snapshot_bytes(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = DecimalGrid::from_step(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    // Random bytes.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut feed = itch_feed();
        let mut sync = DepthSync::new(grid(), 8, 4);
        feed_everything(&bytes, &mut feed, &mut sync);
    }

    // Valid messages with a few bytes changed and a random cut.
    #[test]
    fn mutated_messages_never_panic(
        which in 0usize..5,
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        let datagram = valid_datagram();
        let base: &[u8] = match which {
            0 => &datagram,
            1 => DEPTH,
            2 => SNAPSHOT,
            3 => REQUEST,
            _ => TICKER,
        };
        let bytes = mutate(base, &flips, cut.max(base.len() * usize::from(cut % 2 == 0)));
        let mut feed = itch_feed();
        let mut sync = DepthSync::new(grid(), 8, 4);
        // Run the snapshot first so diffs meet a synced book too.
        sync.on_snapshot_bytes(SNAPSHOT);
        feed_everything(&bytes, &mut feed, &mut sync);
    }
}
