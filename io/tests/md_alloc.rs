//! Proves the market-data hot paths do not allocate: after warm-up, ITCH
//! decode + L3 book update through `ItchFeed::on_datagram`, and Binance depth
//! parse + L2 update through `DepthSync::on_diff_bytes`, perform zero heap
//! allocations. A counting global allocator counts only on the thread that
//! enables it, so the test harness's own threads do not disturb the count.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

use genesis_io::binance::{DecimalGrid, DepthSync, InstrumentGrid, SyncOutcome};
use genesis_io::itch::{
    AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader, MoldPacketBuilder,
    OrderDelete, OrderExecuted, OrderReplace, PacketOutcome, Price4, Session, StockSymbol,
};

fn header() -> MessageHeader {
    MessageHeader {
        stock_locate: 1,
        tracking_number: 0,
        timestamp_ns: 42,
    }
}

/// Packets of add / execute / replace / delete cycling over a few orders.
fn itch_packets(session: Session, first_sequence: u64, rounds: u64) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut sequence = first_sequence;
    for round in 0..rounds {
        let id = 1_000 + round * 2;
        let messages = [
            ItchMessage::AddOrder(AddOrder {
                header: header(),
                order_ref: id,
                side: if round % 2 == 0 {
                    BuySell::Buy
                } else {
                    BuySell::Sell
                },
                shares: 100,
                stock: StockSymbol::from_str_padded("AAPL").unwrap(),
                price: Price4(if round % 2 == 0 {
                    1_000_000 - (round % 50) as u32
                } else {
                    1_010_000 + (round % 50) as u32
                }),
                attribution: None,
            }),
            ItchMessage::OrderExecuted(OrderExecuted {
                header: header(),
                order_ref: id,
                executed_shares: 10,
                match_number: round,
            }),
            ItchMessage::OrderReplace(OrderReplace {
                header: header(),
                original_order_ref: id,
                new_order_ref: id + 1,
                shares: 50,
                price: Price4(if round % 2 == 0 { 999_000 } else { 1_011_000 }),
            }),
            ItchMessage::OrderDelete(OrderDelete {
                header: header(),
                order_ref: id + 1,
            }),
        ];
        let mut builder = MoldPacketBuilder::new(session, sequence);
        for m in &messages {
            builder.push(m);
        }
        sequence += messages.len() as u64;
        packets.push(builder.bytes().to_vec());
    }
    packets
}

// ITCH decode + L3 update allocate nothing after warm-up.
#[test]
fn itch_decode_and_l3_update_do_not_allocate() {
    let session = Session(*b"ALLOCTEST0");
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![StockSymbol::from_str_padded("AAPL").unwrap()],
        orders_max: 4_096,
        levels_max: 256,
        next_sequence: Some(1),
        request_retry_ns: 1_000,
        request_count_max: 100,
    });
    assert!(feed.bind_locate(1, 0));
    let probe = allocations_in(|| drop(std::hint::black_box(vec![1u8; 8])));
    assert!(probe >= 1, "the counting allocator sees allocations");
    let warm = itch_packets(session, 1, 100);
    let measured = itch_packets(session, 401, 1_000);
    for p in &warm {
        feed.on_datagram(p, |_, _| {});
    }
    let mut applied = 0u64;
    let allocations = allocations_in(|| {
        for p in &measured {
            if let PacketOutcome::Applied { message_count, .. } = feed.on_datagram(p, |_, _| {}) {
                applied += u64::from(message_count);
            }
        }
    });
    assert_eq!(applied, 4_000);
    assert_eq!(feed.stats().book_rejects, 0);
    assert_eq!(allocations, 0, "ITCH decode + L3 update allocated");
}

// Binance depth parse + L2 update allocate nothing once synced.
#[test]
fn depth_parse_and_l2_update_do_not_allocate() {
    let grid = InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.00001").unwrap(),
    };
    let mut sync = DepthSync::new(grid, 256, 64);
    let snapshot = br#"{"lastUpdateId":10,"bids":[["100.00","1"]],"asks":[["101.00","1"]]}"#;
    assert_eq!(sync.on_snapshot_bytes(snapshot), SyncOutcome::Synced);
    let diffs: Vec<Vec<u8>> = (11..2_011u64)
        .map(|id| {
            format!(
                r#"{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{id},"u":{id},"b":[["{}.{:02}","0.5"],["99.00","0"]],"a":[["101.{:02}","1.25000"]]}}"#,
                90 + id % 10,
                id % 100,
                id % 100
            )
            .into_bytes()
        })
        .collect();
    for d in &diffs[..100] {
        assert_eq!(sync.on_diff_bytes(d), SyncOutcome::Applied);
    }
    let allocations = allocations_in(|| {
        for d in &diffs[100..] {
            assert_eq!(sync.on_diff_bytes(d), SyncOutcome::Applied);
        }
    });
    assert_eq!(allocations, 0, "depth parse + L2 update allocated");
}
