//! The queue model against an oracle that keeps its own book: random tapes
//! of level changes and prints interleaved with random orders, cancels and
//! replaces. Checked on every step:
//! - a resting order fills only when the module header's rules allow: a
//!   print at its price by a taker on the other side (or of unknown side)
//!   larger than the volume ahead of it (then by no more than the excess),
//!   a print through its price, or the opposite touch reaching it;
//! - a print through its price or the opposite touch reaching it fills
//!   all of it (nothing of it is left resting);
//! - the volume ahead never grows while the order rests unchanged, and a
//!   level change at its price leaves it no larger than the level;
//! - a crossing order fills only against the oracle's opposite levels
//!   within its limit, never more than they hold;
//! - no order fills beyond its quantity; the resting count matches.
//!
//! And the venue that skips the rows reaching no resting order against
//! one that runs the pass over the orders on every row: the same replies,
//! counters and queues after every step (the skipping one fed through
//! `on_record_touch`, whose touch is the book's after a level change and
//! none after a print).

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
enum Op {
    Level { bid: bool, price: i64, qty: i64 },
    Print { taker: u8, price: i64, qty: i64 },
    New { buy: bool, price: i64, qty: i64 },
    Cancel { pick: usize },
    Replace { pick: usize, price: i64, qty: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    op_in(94..=106)
}

fn op_in(price: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), price.clone(), 0i64..8).prop_map(|(bid, price, qty)| Op::Level { bid, price, qty }),
        3 => (0u8..3, price.clone(), 1i64..8).prop_map(|(taker, price, qty)| Op::Print { taker, price, qty }),
        2 => (any::<bool>(), price.clone(), 1i64..4).prop_map(|(buy, price, qty)| Op::New { buy, price, qty }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => (any::<usize>(), price, 1i64..5).prop_map(|(pick, price, qty)| Op::Replace { pick, price, qty }),
    ]
}

/// The oracle's view of one of our orders.
#[derive(Clone, Copy, Debug)]
struct Shadow {
    side: Side,
    price: i64,
    qty: i64,
    filled: i64,
}

/// The oracle: its own book and orders, and the venue under test.
struct Check {
    venue: BacktestVenue,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    orders: HashMap<u64, Shadow>,
    next_id: u64,
}

/// The tape row a market-data op stands for (`None` for an order op).
fn market_record(op: &Op) -> Option<TapeRecord> {
    match *op {
        Op::Level { bid, price, qty } => {
            let kind = if bid {
                RecordKind::Bid
            } else {
                RecordKind::Ask
            };
            Some(level_record(kind, price, qty, 0))
        }
        Op::Print { taker, price, qty } => {
            let kind = [
                RecordKind::TradeBuy,
                RecordKind::TradeSell,
                RecordKind::TradeUnknown,
            ][usize::from(taker)];
            Some(level_record(kind, price, qty, 0))
        }
        _ => None,
    }
}

fn level_record(kind: RecordKind, price: i64, qty: i64, flags: u8) -> TapeRecord {
    TapeRecord {
        ts_local_ns: 0,
        ts_exchange_ns: 0,
        price,
        qty,
        trade_id: 0,
        instrument: 0,
        kind,
        flags,
    }
}

impl Check {
    fn new() -> Check {
        let mut check = Check {
            venue: BacktestVenue::new(&BacktestVenueConfig {
                instruments: 1,
                orders_max: 64,
                book_levels_max: 64,
            }),
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            orders: HashMap::new(),
            next_id: 1,
        };
        for (index, price) in (96..=99).enumerate() {
            let flags = if index == 0 {
                genesis_io::tape::records::SNAPSHOT_START
            } else {
                0
            };
            check.record(level_record(RecordKind::Bid, price, 3, flags));
            check.record(level_record(RecordKind::Ask, price + 5, 3, 0));
        }
        check
    }

    fn best_bid(&self) -> Option<i64> {
        self.bids.keys().next_back().copied()
    }

    fn best_ask(&self) -> Option<i64> {
        self.asks.keys().next().copied()
    }

    fn resting_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.orders.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn step(&mut self, op: &Op) {
        if let Some(record) = market_record(op) {
            self.record(record);
            return;
        }
        match *op {
            Op::Level { .. } | Op::Print { .. } => {}
            Op::New { buy, price, qty } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let id = self.next_id;
                self.next_id += 1;
                self.request(RequestKind::New, id, side, price, qty);
            }
            Op::Cancel { pick } => {
                let ids = self.resting_ids();
                let id = if ids.is_empty() {
                    999
                } else {
                    ids[pick % ids.len()]
                };
                let side = self.orders.get(&id).map_or(Side::Buy, |o| o.side);
                self.request(RequestKind::Cancel, id, side, 0, 0);
            }
            Op::Replace { pick, price, qty } => {
                let ids = self.resting_ids();
                let id = if ids.is_empty() {
                    999
                } else {
                    ids[pick % ids.len()]
                };
                let side = self.orders.get(&id).map_or(Side::Buy, |o| o.side);
                self.request(RequestKind::Replace, id, side, price, qty);
            }
        }
        assert_eq!(
            self.venue.resting_count(),
            self.orders.len(),
            "resting orders are counted"
        );
    }

    /// A tape record: the venue's fills checked against the oracle's rules.
    fn record(&mut self, record: TapeRecord) {
        let ahead_before: HashMap<u64, i64> = self
            .orders
            .keys()
            .map(|id| {
                (
                    *id,
                    self.venue
                        .volume_ahead(0, *id)
                        .expect("a shadowed order rests"),
                )
            })
            .collect();
        let mut replies = Vec::new();
        self.venue
            .on_record(&record, &mut |reply| replies.push(reply));
        if record.starts_snapshot() {
            self.bids.clear();
            self.asks.clear();
        }
        if !record.kind.is_trade() {
            let book = if record.kind == RecordKind::Bid {
                &mut self.bids
            } else {
                &mut self.asks
            };
            if record.qty == 0 {
                book.remove(&record.price);
            } else {
                book.insert(record.price, record.qty);
            }
        }
        let mut filled_now: HashMap<u64, i64> = HashMap::new();
        for reply in &replies {
            let Answer::Fill {
                price, qty, maker, ..
            } = reply.answer
            else {
                panic!("a tape record only fills: {reply:?}");
            };
            assert!(maker, "resting orders fill as makers");
            let order = self.orders[&reply.order_id];
            assert_eq!(price, order.price, "a maker fill is at the order's price");
            let ahead = ahead_before[&reply.order_id];
            let (touch, through, at_price_excess) = self.reasons(&order, &record, ahead);
            assert!(
                touch || through || at_price_excess > 0,
                "order {order:?} (ahead {ahead}) filled on {record:?}"
            );
            if !touch && !through {
                assert!(
                    qty <= at_price_excess,
                    "a print fills no more than it passed the queue by"
                );
            }
            *filled_now.entry(reply.order_id).or_default() += qty;
        }
        self.settle_fills(&filled_now);
        self.check_queue(&record, &ahead_before);
    }

    /// Why `order` may fill on `record`: the opposite touch reached it, a
    /// print went through it, or the lots a print at its price left after
    /// the volume ahead.
    fn reasons(&self, order: &Shadow, record: &TapeRecord, ahead: i64) -> (bool, bool, i64) {
        let touch = match order.side {
            Side::Buy => self.best_ask().is_some_and(|ask| ask <= order.price),
            Side::Sell => self.best_bid().is_some_and(|bid| bid >= order.price),
        } && !record.kind.is_trade();
        let hits = match record.kind {
            RecordKind::TradeBuy => order.side == Side::Sell,
            RecordKind::TradeSell => order.side == Side::Buy,
            RecordKind::TradeUnknown => true,
            _ => false,
        };
        let through = hits
            && match order.side {
                Side::Buy => record.price < order.price,
                Side::Sell => record.price > order.price,
            };
        let excess = if hits && record.price == order.price {
            record.qty - ahead
        } else {
            0
        };
        (touch, through, excess)
    }

    /// Applies fills to the oracle's orders; full ones leave it.
    fn settle_fills(&mut self, filled_now: &HashMap<u64, i64>) {
        for (id, qty) in filled_now {
            let order = self.orders.get_mut(id).unwrap();
            order.filled += qty;
            assert!(
                order.filled <= order.qty,
                "no order fills beyond its quantity"
            );
            if order.filled == order.qty {
                self.orders.remove(id);
            }
        }
    }

    /// Liveness of rules 5 and 6, and the volume ahead's bounds.
    fn check_queue(&self, record: &TapeRecord, ahead_before: &HashMap<u64, i64>) {
        for (id, order) in &self.orders {
            let ahead = self.venue.volume_ahead(0, *id).expect("it rests");
            let (touch, through, _) = self.reasons(order, record, ahead_before[id]);
            assert!(
                !touch && !through,
                "order {order:?} should have filled in full on {record:?}"
            );
            assert!(
                ahead >= 0 && ahead <= ahead_before[id],
                "the volume ahead never grows"
            );
            let same_level = match record.kind {
                RecordKind::Bid => order.side == Side::Buy,
                RecordKind::Ask => order.side == Side::Sell,
                _ => false,
            } && record.price == order.price;
            if same_level {
                assert!(ahead <= record.qty, "a level change caps the volume ahead");
            }
        }
    }

    /// A request: taker fills checked against the oracle's opposite levels.
    fn request(&mut self, kind: RequestKind, order_id: u64, side: Side, price: i64, qty: i64) {
        let request = super::tests::request(kind, order_id, side, price, qty);
        let mut replies = Vec::new();
        self.venue
            .on_request(&request, &mut |reply| replies.push(reply));
        let mut available: BTreeMap<i64, i64> = match side {
            Side::Buy => self.asks.range(..=price).map(|(p, q)| (*p, *q)).collect(),
            Side::Sell => self.bids.range(price..).map(|(p, q)| (*p, *q)).collect(),
        };
        for reply in &replies {
            assert_eq!(
                reply.order_id, order_id,
                "answers are about the request's order"
            );
            match reply.answer {
                Answer::Accepted { price, qty, .. } => {
                    let filled = self.orders.get(&order_id).map_or(0, |o| o.filled);
                    self.orders.insert(
                        order_id,
                        Shadow {
                            side,
                            price,
                            qty,
                            filled,
                        },
                    );
                }
                Answer::Fill {
                    price: at,
                    qty: lots,
                    maker,
                    ..
                } => {
                    assert!(!maker, "a request fills only by taking liquidity");
                    let left = available
                        .get_mut(&at)
                        .expect("taker fills are at the oracle's crossing levels");
                    assert!(lots <= *left, "no more than the level holds");
                    *left -= lots;
                    let order = self
                        .orders
                        .get_mut(&order_id)
                        .expect("acceptance comes before the fill");
                    order.filled += lots;
                    assert!(order.filled <= order.qty);
                }
                Answer::Cancelled => {
                    assert!(
                        self.orders.remove(&order_id).is_some(),
                        "only a resting order is cancelled"
                    );
                }
                Answer::Rejected { .. } => {}
            }
        }
        if self
            .orders
            .get(&order_id)
            .is_some_and(|o| o.filled == o.qty)
        {
            self.orders.remove(&order_id);
        }
        let took = replies
            .iter()
            .any(|r| matches!(r.answer, Answer::Fill { .. }));
        let crossable = match side {
            Side::Buy => self.best_ask().is_some_and(|ask| ask <= price),
            Side::Sell => self.best_bid().is_some_and(|bid| bid >= price),
        };
        let accepted_new = kind == RequestKind::New
            && replies
                .iter()
                .any(|r| matches!(r.answer, Answer::Accepted { .. }));
        assert!(
            !accepted_new || took == crossable,
            "a new order takes liquidity exactly when it crosses"
        );
    }
}

/// Two venues fed the same steps: one skips the rows that reach no
/// resting order, the other runs the full pass on every row.
struct Twins {
    skipping: BacktestVenue,
    full: BacktestVenue,
    /// Every order sent: its id and side.
    orders: Vec<(u64, Side)>,
}

impl Twins {
    fn new() -> Twins {
        let venue = || {
            BacktestVenue::new(&BacktestVenueConfig {
                instruments: 1,
                orders_max: 16,
                book_levels_max: 64,
            })
        };
        let mut twins = Twins {
            skipping: venue(),
            full: venue(),
            orders: Vec::new(),
        };
        twins.full.set_full_pass(true);
        for (index, price) in (96..=99).enumerate() {
            let flags = if index == 0 {
                genesis_io::tape::records::SNAPSHOT_START
            } else {
                0
            };
            twins.record(level_record(RecordKind::Bid, price, 3, flags));
            twins.record(level_record(RecordKind::Ask, price + 5, 3, 0));
        }
        twins
    }

    fn step(&mut self, op: &Op) {
        if let Some(record) = market_record(op) {
            self.record(record);
            return;
        }
        match *op {
            Op::Level { .. } | Op::Print { .. } => {}
            Op::New { buy, price, qty } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let order_id = self.orders.len() as u64 + 1;
                self.orders.push((order_id, side));
                self.request(RequestKind::New, order_id, side, price, qty);
            }
            Op::Cancel { pick } => {
                if let Some((order_id, side)) = self.pick(pick) {
                    self.request(RequestKind::Cancel, order_id, side, 0, 0);
                }
            }
            Op::Replace { pick, price, qty } => {
                if let Some((order_id, side)) = self.pick(pick) {
                    self.request(RequestKind::Replace, order_id, side, price, qty);
                }
            }
        }
    }

    /// One of the orders sent so far (resting or not), by `pick`.
    fn pick(&self, pick: usize) -> Option<(u64, Side)> {
        (!self.orders.is_empty()).then(|| self.orders[pick % self.orders.len()])
    }

    fn record(&mut self, record: TapeRecord) {
        let mut skipping = Vec::new();
        let mut full = Vec::new();
        let touch = self
            .skipping
            .on_record_touch(&record, &mut |reply| skipping.push(reply));
        self.full.on_record(&record, &mut |reply| full.push(reply));
        assert_eq!(skipping, full, "the same replies to {record:?}");
        // The touch answered is the book's after the row, none for a print.
        let book_touch = if record.kind.is_trade() {
            (0, 0)
        } else {
            self.full
                .touch(record.instrument)
                .expect("a listed instrument")
        };
        assert_eq!(touch, book_touch, "the touch after {record:?}");
        self.same_state();
    }

    fn request(&mut self, kind: RequestKind, order_id: u64, side: Side, price: i64, qty: i64) {
        let request = super::tests::request(kind, order_id, side, price, qty);
        let mut skipping = Vec::new();
        let mut full = Vec::new();
        self.skipping
            .on_request(&request, &mut |reply| skipping.push(reply));
        self.full
            .on_request(&request, &mut |reply| full.push(reply));
        assert_eq!(skipping, full, "the same replies to {request:?}");
        self.same_state();
    }

    /// Counters, resting orders and every order's queue agree.
    fn same_state(&self) {
        assert_eq!(self.skipping.counters(), self.full.counters());
        assert_eq!(self.skipping.resting_count(), self.full.resting_count());
        for (order_id, _) in &self.orders {
            assert_eq!(
                self.skipping.volume_ahead(0, *order_id),
                self.full.volume_ahead(0, *order_id),
                "order {order_id}'s queue"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // Skipping the rows that reach no resting order changes no reply, counter or queue.
    #[test]
    fn skipping_rows_gives_the_full_pass(ops in prop::collection::vec(op_in(88..=112), 1..300)) {
        let mut twins = Twins::new();
        for op in &ops {
            twins.step(op);
        }
        prop_assert!(twins.skipping.passes() <= twins.full.passes());
    }

    // Random tapes and orders never break the queue model's rules (see the module header).
    #[test]
    fn fills_follow_the_queue_rules(ops in prop::collection::vec(op(), 1..200)) {
        let mut check = Check::new();
        for op in &ops {
            check.step(op);
        }
    }
}
