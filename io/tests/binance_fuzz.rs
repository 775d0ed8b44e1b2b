//! Arbitrary bytes, and mutations of valid messages, into the parsers added
//! for Binance's real endpoints: the stream router (combined and raw
//! wrappings, answers, error frames), the REST error body, the depth
//! request target, and stream URLs. Nothing panics; valid inputs route as
//! documented.

use genesis_io::binance::{parse_depth_query, parse_rest_error};
use genesis_io::net::{BinanceMessageKind, BinanceMessageRouter, StreamUrl};
use proptest::prelude::*;

const VALID: [&[u8]; 6] = [
    br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":1,"u":2,"b":[],"a":[]}}"#,
    br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":157,"u":160,"b":[["1.00","2"]],"a":[]}"#,
    br#"{"u":400900217,"s":"BNBBTC","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}"#,
    br#"{"result":null,"id":7}"#,
    br#"{"code":-1121,"msg":"Invalid symbol."}"#,
    b"/api/v3/depth?symbol=BTCUSDT&limit=1000",
];

fn mutate(base: &[u8], flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for &(at, value) in flips {
        let index = at % bytes.len();
        bytes[index] = value;
    }
    bytes.truncate(cut % (bytes.len() + 1));
    bytes
}

fn everything(bytes: &[u8]) {
    let router = BinanceMessageRouter::new(&["BTCUSDT", "bnbbtc"]);
    let _ = router.route(bytes);
    let _ = parse_rest_error(bytes);
    let _ = parse_depth_query(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = StreamUrl::parse(text);
    }
}

// The valid messages route where the docs say.
#[test]
fn valid_messages_route() {
    let router = BinanceMessageRouter::new(&["BTCUSDT", "bnbbtc"]);
    let kinds: Vec<BinanceMessageKind> = VALID[..5].iter().map(|m| router.route(m)).collect();
    assert_eq!(
        kinds,
        [
            BinanceMessageKind::Depth(0),
            BinanceMessageKind::Depth(0),
            BinanceMessageKind::BookTicker(1),
            BinanceMessageKind::Answer(Some(7)),
            BinanceMessageKind::StreamError,
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    // Random bytes: nothing panics.
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        everything(&bytes);
    }

    // Mutated valid messages: nothing panics.
    #[test]
    fn mutated_messages(
        which in 0..VALID.len(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in any::<usize>(),
    ) {
        everything(&mutate(VALID[which], &flips, cut));
    }
}
