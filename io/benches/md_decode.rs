//! Market-data throughput on one core:
//! - `itch_feed`: MoldUDP64 framing + ITCH 5.0 decode + L3 book update,
//!   through `ItchFeed::on_datagram`, reported in messages/s (goal 10 M/s);
//! - `itch_decode_only`: the decoder alone, as a baseline for the ratio;
//! - `binance_depth`: depth diff JSON parse + L2 update through
//!   `DepthSync::on_diff_bytes`, in messages/s (goal 1 M/s), for diffs of
//!   2 and 20 levels.
//!
//! - `itch_recovery`: gap detection to recovered book over loopback, by
//!   retransmission and by snapshot, at 100k and 400k messages/s
//!   (`recovery/itch_recovery.rs`; prints p50/p99/max).
//!
//! Run: `cargo bench -p genesis-io --bench md_decode -- --warm-up-time 1 --measurement-time 2`
//! (only the recovery figures: add `itch_recovery` after `--`).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use genesis_io::binance::{
    parse_depth_update, DecimalGrid, DepthSync, DepthUpdate, InstrumentGrid, SyncOutcome,
};
use genesis_io::itch::{
    decode, AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader,
    MoldPacketBuilder, OrderCancel, OrderDelete, OrderExecuted, OrderReplace, Price4, Session,
    StockSymbol,
};

const MESSAGES_PER_PACKET: usize = 20;

/// A deterministic stream that keeps about `live_orders` orders resting:
/// adds, partial executions, cancels, replaces and deletes near the top.
fn itch_stream(packet_count: usize, live_orders: u64) -> Vec<Vec<u8>> {
    let session = Session(*b"BENCHSESS0");
    let h = MessageHeader {
        stock_locate: 1,
        tracking_number: 0,
        timestamp_ns: 34_200_000_000_000,
    };
    let stock = StockSymbol::from_str_padded("AAPL").unwrap();
    let mut messages = Vec::new();
    let mut state = 0x9E37_79B9_u64;
    let mut next_id = 1u64;
    let mut live: Vec<(u64, bool)> = Vec::new();
    while messages.len() < packet_count * MESSAGES_PER_PACKET {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = (state % 64) as u32;
        if (live.len() as u64) < live_orders || state.is_multiple_of(4) {
            let buy = state & 1 == 0;
            let price = if buy {
                1_000_000 - offset * 100
            } else {
                1_000_100 + offset * 100
            };
            messages.push(ItchMessage::AddOrder(AddOrder {
                header: h,
                order_ref: next_id,
                side: if buy { BuySell::Buy } else { BuySell::Sell },
                shares: 100,
                stock,
                price: Price4(price),
                attribution: None,
            }));
            live.push((next_id, buy));
            next_id += 1;
            continue;
        }
        let index = (state >> 8) as usize % live.len();
        let (id, buy) = live[index];
        match (state >> 20) % 4 {
            0 => messages.push(ItchMessage::OrderExecuted(OrderExecuted {
                header: h,
                order_ref: id,
                executed_shares: 1,
                match_number: 1,
            })),
            1 => messages.push(ItchMessage::OrderCancel(OrderCancel {
                header: h,
                order_ref: id,
                cancelled_shares: 1,
            })),
            2 => {
                let price = if buy {
                    1_000_000 - offset * 100
                } else {
                    1_000_100 + offset * 100
                };
                messages.push(ItchMessage::OrderReplace(OrderReplace {
                    header: h,
                    original_order_ref: id,
                    new_order_ref: next_id,
                    shares: 90,
                    price: Price4(price),
                }));
                live[index].0 = next_id;
                next_id += 1;
            }
            _ => {
                messages.push(ItchMessage::OrderDelete(OrderDelete {
                    header: h,
                    order_ref: id,
                }));
                live.swap_remove(index);
            }
        }
    }
    // Close every order so the stream can be replayed on the same book.
    for (id, _) in live {
        messages.push(ItchMessage::OrderDelete(OrderDelete {
            header: h,
            order_ref: id,
        }));
    }
    let mut packets = Vec::new();
    for (index, chunk) in messages.chunks(MESSAGES_PER_PACKET).enumerate() {
        let mut builder = MoldPacketBuilder::new(session, 1 + (index * MESSAGES_PER_PACKET) as u64);
        for m in chunk {
            builder.push(m);
        }
        packets.push(builder.bytes().to_vec());
    }
    packets
}

fn new_feed() -> ItchFeed {
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![StockSymbol::from_str_padded("AAPL").unwrap()],
        orders_max: 1 << 16,
        levels_max: 512,
        next_sequence: None,
        request_retry_ns: 1_000_000,
        request_count_max: 1_000,
    });
    feed.bind_locate(1, 0);
    feed
}

fn bench_itch(c: &mut Criterion) {
    let packets = itch_stream(500, 2_000);
    let message_count: usize = packets.iter().map(|p| count_messages(p)).sum();
    let mut group = c.benchmark_group("itch");
    group.throughput(Throughput::Elements(message_count as u64));
    // One warm feed replays the stream (which ends with every order
    // deleted), so the figure excludes first-touch page faults.
    let mut feed = new_feed();
    group.bench_function("itch_feed_decode_l3", |b| {
        b.iter(|| {
            feed.reset_sequence(None);
            for p in &packets {
                black_box(feed.on_datagram(p, |_, m| {
                    black_box(m);
                }));
            }
        })
    });
    assert_eq!(feed.stats().book_rejects, 0);
    let bodies: Vec<&[u8]> = packets
        .iter()
        .flat_map(|p| {
            genesis_io::itch::MoldPacket::parse(p)
                .unwrap()
                .messages()
                .collect::<Vec<_>>()
        })
        .collect();
    group.bench_function("itch_decode_only", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = black_box(decode(black_box(body)));
            }
        })
    });
    group.finish();
}

fn count_messages(packet: &[u8]) -> usize {
    genesis_io::itch::MoldPacket::parse(packet)
        .unwrap()
        .messages()
        .count()
}

fn depth_messages(levels_per_side: usize, count: u64) -> Vec<Vec<u8>> {
    (1..=count)
        .map(|id| {
            let bids: Vec<String> = (0..levels_per_side)
                .map(|i| format!(r#"["{}.{:02}","{}.{:05}"]"#, 29_990 - i, (id + i as u64) % 100, id % 7, id % 1000))
                .collect();
            let asks: Vec<String> = (0..levels_per_side)
                .map(|i| format!(r#"["{}.{:02}","{}.{:05}"]"#, 30_010 + i, (id + i as u64) % 100, (id + 3) % 7, id % 1000))
                .collect();
            format!(
                r#"{{"e":"depthUpdate","E":1700000000{:03},"s":"BTCUSDT","U":{},"u":{},"b":[{}],"a":[{}]}}"#,
                id % 1000,
                id + 100,
                id + 100,
                bids.join(","),
                asks.join(",")
            )
            .into_bytes()
        })
        .collect()
}

fn bench_binance(c: &mut Criterion) {
    let grid = InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.00001").unwrap(),
    };
    let snapshot = br#"{"lastUpdateId":100,"bids":[["29000.00","1"]],"asks":[["31000.00","1"]]}"#;
    let mut group = c.benchmark_group("binance");
    for levels in [2usize, 20] {
        let messages = depth_messages(levels, 2_000);
        let bytes: usize = messages.iter().map(Vec::len).sum();
        println!(
            "binance depth {levels}+{levels} levels: mean {} bytes/message",
            bytes / messages.len()
        );
        group.throughput(Throughput::Elements(messages.len() as u64));
        let mut scratch = DepthUpdate::with_capacity(64);
        group.bench_function(format!("depth_parse_only_{levels}x2_levels"), |b| {
            b.iter(|| {
                for m in &messages {
                    black_box(parse_depth_update(m, &grid, &mut scratch).is_ok());
                }
            })
        });
        group.bench_function(format!("depth_parse_l2_{levels}x2_levels"), |b| {
            b.iter_batched_ref(
                || {
                    let mut sync = DepthSync::new(grid, 1_000, 16);
                    sync.on_snapshot_bytes(snapshot);
                    sync
                },
                |sync| {
                    for m in &messages {
                        let outcome = sync.on_diff_bytes(m);
                        debug_assert_eq!(outcome, SyncOutcome::Applied);
                        black_box(outcome);
                    }
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

#[path = "recovery/itch_recovery.rs"]
mod itch_recovery;

criterion_group!(
    benches,
    bench_itch,
    bench_binance,
    itch_recovery::bench_recovery
);
criterion_main!(benches);
