//! One datagram into every ITCH/MoldUDP64 decoder and the feed with its L3 book.
#![no_main]

use genesis_io::itch::{decode, ItchFeed, ItchFeedConfig, MoldPacket, MoldRequest, StockSymbol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = decode(bytes);
    if let Ok(packet) = MoldPacket::parse(bytes) {
        for message in packet.messages() {
            let _ = decode(message);
        }
    }
    let _ = MoldRequest::parse(bytes);
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
    // Twice: the second datagram meets the state the first one left.
    feed.on_datagram(bytes, |_, _| {});
    feed.on_datagram(bytes, |_, _| {});
    let _ = feed.poll_request(0);
});
