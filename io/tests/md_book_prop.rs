//! Property tests for the books:
//! - any valid ITCH message sequence, encoded into MoldUDP64 packets and fed
//!   through `ItchFeed`, leaves the L3 book equal to a naive BTreeMap book,
//!   with L2 levels strictly sorted and uncrossed;
//! - arbitrary (also invalid) L3 operations never panic and keep the
//!   aggregated levels consistent with the resting orders;
//! - an L2 book matches a BTreeMap reference under arbitrary level updates.

use genesis_io::book::{L2Book, L3Book, Level, Price, Qty, Side};
use genesis_io::itch::{
    AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader, MoldPacketBuilder,
    OrderCancel, OrderDelete, OrderExecuted, OrderExecutedWithPrice, OrderReplace, Price4, Session,
    StockSymbol,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const LOCATE: u16 = 3;

/// The naive reference: orders by id, levels derived on demand.
#[derive(Default)]
struct ReferenceBook {
    orders: BTreeMap<u64, (Side, i64, i64)>,
}

impl ReferenceBook {
    fn levels(&self, side: Side) -> Vec<Level> {
        let mut by_price: BTreeMap<i64, (i64, u32)> = BTreeMap::new();
        for (s, price, qty) in self.orders.values() {
            if *s == side {
                let e = by_price.entry(*price).or_default();
                e.0 += qty;
                e.1 += 1;
            }
        }
        let levels = by_price.into_iter().map(|(p, (q, n))| Level {
            price: Price(p),
            qty: Qty(q),
            order_count: n,
        });
        match side {
            Side::Bid => levels.rev().collect(),
            Side::Ask => levels.collect(),
        }
    }
}

fn header() -> MessageHeader {
    MessageHeader {
        stock_locate: LOCATE,
        tracking_number: 0,
        timestamp_ns: 1,
    }
}

/// Turn random seeds into a valid message sequence, updating the reference.
fn build_messages(
    seeds: &[(u8, u32, u32, u32)],
    reference: &mut ReferenceBook,
) -> Vec<ItchMessage> {
    let mut next_id: u64 = 0xDEAD_0000_0000;
    let mut live: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let price_for = |side: Side, b: u32| -> i64 {
        match side {
            Side::Bid => 1_000 + i64::from(b % 900),
            Side::Ask => 2_000 + i64::from(b % 900),
        }
    };
    for &(kind, a, b, c) in seeds {
        let kind = if live.is_empty() { 0 } else { kind % 6 };
        if kind <= 1 {
            let side = if a & 1 == 0 { Side::Bid } else { Side::Ask };
            let (price, qty) = (price_for(side, b), 1 + i64::from(c % 500));
            next_id += 7_919;
            live.push(next_id);
            reference.orders.insert(next_id, (side, price, qty));
            out.push(ItchMessage::AddOrder(AddOrder {
                header: header(),
                order_ref: next_id,
                side: if side == Side::Bid {
                    BuySell::Buy
                } else {
                    BuySell::Sell
                },
                shares: qty as u32,
                stock: StockSymbol::from_str_padded("TEST").unwrap(),
                price: Price4(price as u32),
                attribution: (a & 2 == 2).then_some(*b"MPID"),
            }));
            continue;
        }
        let index = b as usize % live.len();
        let id = live[index];
        let (side, _, open) = reference.orders[&id];
        match kind {
            2 | 3 => {
                let qty = 1 + i64::from(c) % open;
                if qty == open {
                    reference.orders.remove(&id);
                    live.swap_remove(index);
                } else if let Some(o) = reference.orders.get_mut(&id) {
                    o.2 -= qty;
                }
                let shares = qty as u32;
                out.push(match (kind, a % 3) {
                    (2, 0) => ItchMessage::OrderExecuted(OrderExecuted {
                        header: header(),
                        order_ref: id,
                        executed_shares: shares,
                        match_number: 1,
                    }),
                    (2, _) => ItchMessage::OrderExecutedWithPrice(OrderExecutedWithPrice {
                        header: header(),
                        order_ref: id,
                        executed_shares: shares,
                        match_number: 2,
                        printable: b'Y',
                        execution_price: Price4(1),
                    }),
                    _ => ItchMessage::OrderCancel(OrderCancel {
                        header: header(),
                        order_ref: id,
                        cancelled_shares: shares,
                    }),
                });
            }
            4 => {
                reference.orders.remove(&id);
                live.swap_remove(index);
                out.push(ItchMessage::OrderDelete(OrderDelete {
                    header: header(),
                    order_ref: id,
                }));
            }
            _ => {
                next_id += 7_919;
                let (price, qty) = (price_for(side, a), 1 + i64::from(c % 500));
                reference.orders.remove(&id);
                reference.orders.insert(next_id, (side, price, qty));
                live[index] = next_id;
                out.push(ItchMessage::OrderReplace(OrderReplace {
                    header: header(),
                    original_order_ref: id,
                    new_order_ref: next_id,
                    shares: qty as u32,
                    price: Price4(price as u32),
                }));
            }
        }
    }
    out
}

fn assert_sorted_uncrossed(bids: &[Level], asks: &[Level]) {
    assert!(
        bids.windows(2).all(|w| w[0].price > w[1].price),
        "bids strictly descending"
    );
    assert!(
        asks.windows(2).all(|w| w[0].price < w[1].price),
        "asks strictly ascending"
    );
    if let (Some(bid), Some(ask)) = (bids.first(), asks.first()) {
        assert!(bid.price < ask.price, "book is uncrossed");
    }
}

fn levels_of(book: &L3Book, side: Side) -> Vec<Level> {
    book.levels(side).iter_best_first().copied().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // Valid sequences through encoder, MoldUDP64 and feed match the reference.
    #[test]
    fn l3_matches_reference(
        seeds in prop::collection::vec((any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>()), 1..400),
        packet_size in 1usize..9,
    ) {
        let mut reference = ReferenceBook::default();
        let messages = build_messages(&seeds, &mut reference);
        let mut feed = ItchFeed::new(ItchFeedConfig {
            symbols: vec![StockSymbol::from_str_padded("TEST").unwrap()],
            orders_max: 1_024,
            levels_max: 1_000,
            next_sequence: Some(1),
            request_retry_ns: 1,
            request_count_max: 100,
        });
        prop_assert!(feed.bind_locate(LOCATE, 0));
        let session = Session(*b"PROPTEST00");
        let mut sequence = 1u64;
        for chunk in messages.chunks(packet_size) {
            let mut builder = MoldPacketBuilder::new(session, sequence);
            for m in chunk {
                prop_assert!(builder.push(m));
            }
            feed.on_datagram(builder.bytes(), |_, _| {});
            sequence += chunk.len() as u64;
            let book = feed.book(0).unwrap();
            assert_sorted_uncrossed(&levels_of(book, Side::Bid), &levels_of(book, Side::Ask));
        }
        let book = feed.book(0).unwrap();
        prop_assert!(!book.is_stale(), "flags {:?}", book.stale_flags());
        prop_assert_eq!(book.rejects().total(), 0);
        prop_assert_eq!(book.order_count(), reference.orders.len());
        for (id, (side, price, qty)) in &reference.orders {
            let order = book.order(*id).expect("reference order is resting");
            prop_assert_eq!((order.side, order.price, order.qty), (*side, Price(*price), Qty(*qty)));
        }
        prop_assert_eq!(levels_of(book, Side::Bid), reference.levels(Side::Bid));
        prop_assert_eq!(levels_of(book, Side::Ask), reference.levels(Side::Ask));
    }

    // Arbitrary operations, valid or not, never panic, and the levels always
    // equal the aggregate of the orders the book says are resting.
    #[test]
    fn l3_survives_arbitrary_operations(
        ops in prop::collection::vec((0u8..4, 0u64..40, any::<bool>(), -5i64..60, -3i64..40), 1..300),
    ) {
        let mut book = L3Book::with_capacity(16, 8);
        let mut ids_seen = std::collections::BTreeSet::new();
        for (kind, id, bid, price, qty) in ops {
            let side = if bid { Side::Bid } else { Side::Ask };
            let _ = match kind {
                0 => book.add(id, side, Price(price), Qty(qty)),
                1 => book.reduce(id, Qty(qty)),
                2 => book.delete(id),
                _ => book.replace(id, id + 1, Price(price), Qty(qty)),
            };
            ids_seen.insert(id);
            ids_seen.insert(id + 1);
            let mut reference = ReferenceBook::default();
            for id in &ids_seen {
                if let Some(o) = book.order(*id) {
                    reference.orders.insert(*id, (o.side, o.price.0, o.qty.0));
                }
            }
            prop_assert_eq!(book.order_count(), reference.orders.len());
            prop_assert_eq!(levels_of(&book, Side::Bid), reference.levels(Side::Bid));
            prop_assert_eq!(levels_of(&book, Side::Ask), reference.levels(Side::Ask));
        }
    }

    // An L2 book with room for every level matches a BTreeMap of levels.
    #[test]
    fn l2_matches_reference(
        ops in prop::collection::vec((any::<bool>(), 0i64..50, 0i64..4), 1..300),
    ) {
        let mut book = L2Book::with_capacity(64);
        let mut bids = BTreeMap::new();
        let mut asks = BTreeMap::new();
        for (bid, offset, qty) in ops {
            let (side, price, map) = if bid {
                (Side::Bid, 1_000 - offset, &mut bids)
            } else {
                (Side::Ask, 1_001 + offset, &mut asks)
            };
            book.set_level(side, Price(price), Qty(qty));
            if qty == 0 { map.remove(&price); } else { map.insert(price, qty); }
            prop_assert!(book.finish_update());
        }
        let got_bids: Vec<(i64, i64)> = book.levels(Side::Bid).iter_best_first().map(|l| (l.price.0, l.qty.0)).collect();
        let got_asks: Vec<(i64, i64)> = book.levels(Side::Ask).iter_best_first().map(|l| (l.price.0, l.qty.0)).collect();
        prop_assert_eq!(got_bids, bids.into_iter().rev().collect::<Vec<_>>());
        prop_assert_eq!(got_asks, asks.into_iter().collect::<Vec<_>>());
        prop_assert!(!book.is_stale());
    }
}
