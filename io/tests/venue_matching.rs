//! The venue's matching engine: scenario tests (priority, partial fills,
//! IOC, replace rules, capacity, mass cancel), a property test of random
//! request sequences against a naive reference book, and a proof that
//! requests do not allocate once the engine is built.
//!
//! The reference keeps a `Vec` of orders with sequence numbers and matches
//! by sorting: slow and obviously right, so any disagreement is the
//! engine's bug (or a spec ambiguity to settle).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

use genesis_io::venue::{
    BookEvent, Ids, MatchingEngine, NewOrder, OrderRef, Reject, RestingOrder, Side, Submitted,
    TimeInForce,
};
use proptest::prelude::*;

fn day(owner: u32, client_id: u64, side: Side, price: i64, qty: i64) -> NewOrder {
    NewOrder {
        owner,
        client_id,
        side,
        price,
        qty,
        tif: TimeInForce::Day,
    }
}

fn ioc(owner: u32, client_id: u64, side: Side, price: i64, qty: i64) -> NewOrder {
    NewOrder {
        tif: TimeInForce::Ioc,
        ..day(owner, client_id, side, price, qty)
    }
}

/// Test rig: an engine, its ids, and the events of the last request.
struct Rig {
    engine: MatchingEngine,
    ids: Ids,
    events: Vec<BookEvent>,
}

impl Rig {
    fn new(orders_max: usize, levels_max: usize) -> Rig {
        Rig {
            engine: MatchingEngine::new(orders_max, levels_max),
            ids: Ids::default(),
            events: Vec::new(),
        }
    }

    fn submit(&mut self, order: NewOrder) -> Result<Submitted, Reject> {
        self.events.clear();
        let events = &mut self.events;
        self.engine
            .submit(order, &mut self.ids, &mut |e| events.push(*e))
    }

    /// Submit a Day order that must rest whole; returns its ref.
    fn rest(&mut self, owner: u32, side: Side, price: i64, qty: i64) -> OrderRef {
        let client_id = self.ids.order_ref_next * 100;
        let submitted = self
            .submit(day(owner, client_id, side, price, qty))
            .unwrap();
        assert_eq!(submitted.rested_qty, qty, "order rests whole");
        submitted.order_ref.unwrap()
    }

    fn replace(&mut self, order_ref: OrderRef, price: i64, qty: i64) -> Result<Submitted, Reject> {
        self.events.clear();
        let events = &mut self.events;
        self.engine
            .replace(order_ref, price, qty, &mut self.ids, &mut |e| {
                events.push(*e)
            })
    }

    /// (maker_ref, price, qty) of the last request's executions.
    fn fills(&self) -> Vec<(OrderRef, i64, i64)> {
        executions(&self.events)
    }

    fn refs(&self, side: Side) -> Vec<OrderRef> {
        let mut refs = Vec::new();
        self.engine
            .for_each_order(side, &mut |order_ref, _| refs.push(order_ref));
        refs
    }
}

fn executions(events: &[BookEvent]) -> Vec<(OrderRef, i64, i64)> {
    events
        .iter()
        .filter_map(|e| match *e {
            BookEvent::Executed {
                maker_ref,
                price,
                qty,
                ..
            } => Some((maker_ref, price, qty)),
            _ => None,
        })
        .collect()
}

// Three orders at one price fill oldest first; the taker's owner and id are echoed.
#[test]
fn fifo_at_one_price() {
    let mut rig = Rig::new(16, 4);
    let a = rig.rest(1, Side::Sell, 100, 5);
    let b = rig.rest(2, Side::Sell, 100, 5);
    let c = rig.rest(3, Side::Sell, 100, 5);
    let s = rig.submit(day(9, 77, Side::Buy, 100, 12)).unwrap();
    assert_eq!(rig.fills(), vec![(a, 100, 5), (b, 100, 5), (c, 100, 2)]);
    assert_eq!(
        s,
        Submitted {
            order_ref: None,
            filled_qty: 12,
            rested_qty: 0,
            expired_qty: 0
        }
    );
    match rig.events[2] {
        BookEvent::Executed {
            maker_owner,
            taker_owner,
            taker_client_id,
            side,
            maker_leaves,
            match_number,
            ..
        } => {
            assert_eq!((maker_owner, taker_owner, taker_client_id), (3, 9, 77));
            assert_eq!((side, maker_leaves, match_number), (Side::Sell, 3, 3));
        }
        other => panic!("expected an execution, got {other:?}"),
    }
    assert_eq!(rig.engine.best_ask(), Some((100, 3)));
    assert_eq!(rig.engine.order(c).map(|o| o.leaves), Some(3));
}

// A buy sweeps asks from the lowest price up, each at the maker's price, and rests the rest.
#[test]
fn price_priority_and_remainder_rests() {
    let mut rig = Rig::new(16, 4);
    let high = rig.rest(1, Side::Sell, 103, 4);
    let low = rig.rest(1, Side::Sell, 101, 4);
    let mid = rig.rest(1, Side::Sell, 102, 4);
    let s = rig.submit(day(2, 5, Side::Buy, 102, 10)).unwrap();
    assert_eq!(rig.fills(), vec![(low, 101, 4), (mid, 102, 4)]);
    assert_eq!((s.filled_qty, s.rested_qty), (8, 2));
    let new_ref = s.order_ref.unwrap();
    assert_eq!(
        rig.events.last(),
        Some(&BookEvent::Added {
            order_ref: new_ref,
            owner: 2,
            client_id: 5,
            side: Side::Buy,
            price: 102,
            qty: 2
        })
    );
    assert_eq!(rig.engine.best_bid(), Some((102, 2)));
    assert_eq!(rig.engine.best_ask(), Some((103, 4)));
    assert_eq!(rig.refs(Side::Sell), vec![high]);
}

// A partial fill leaves the maker at the head of its queue with reduced leaves.
#[test]
fn partial_fill_keeps_maker_first() {
    let mut rig = Rig::new(16, 4);
    let a = rig.rest(1, Side::Buy, 50, 10);
    let b = rig.rest(1, Side::Buy, 50, 10);
    rig.submit(day(2, 1, Side::Sell, 49, 3)).unwrap();
    assert_eq!(rig.fills(), vec![(a, 50, 3)]);
    assert_eq!(rig.refs(Side::Buy), vec![a, b]);
    assert_eq!(rig.engine.level_qty(Side::Buy, 50), 17);
}

// An IOC trades what crosses and expires the rest without resting or taking a ref.
#[test]
fn ioc_remainder_expires() {
    let mut rig = Rig::new(16, 4);
    rig.rest(1, Side::Sell, 100, 4);
    let ref_next = rig.ids.order_ref_next;
    let s = rig.submit(ioc(2, 1, Side::Buy, 100, 10)).unwrap();
    assert_eq!((s.filled_qty, s.expired_qty, s.order_ref), (4, 6, None));
    assert_eq!(rig.engine.order_count(), 0);
    assert_eq!(rig.ids.order_ref_next, ref_next);
    let s = rig.submit(ioc(2, 2, Side::Buy, 99, 10)).unwrap();
    assert_eq!((s.filled_qty, s.expired_qty), (0, 10));
    assert!(rig.events.is_empty());
}

// Replacing down at the same price reduces in place and keeps time priority.
#[test]
fn replace_down_keeps_priority() {
    let mut rig = Rig::new(16, 4);
    let a = rig.rest(1, Side::Sell, 100, 10);
    let b = rig.rest(1, Side::Sell, 100, 10);
    let s = rig.replace(a, 100, 4).unwrap();
    assert_eq!((s.order_ref, s.rested_qty), (Some(a), 4));
    assert!(matches!(
        rig.events[..],
        [BookEvent::Cancelled {
            cancelled_qty: 6,
            leaves: 4,
            ..
        }]
    ));
    rig.replace(a, 100, 4).unwrap();
    assert!(rig.events.is_empty(), "an unchanged replace emits nothing");
    assert_eq!(rig.refs(Side::Sell), vec![a, b]);
    assert_eq!(rig.engine.level_qty(Side::Sell, 100), 14);
}

// Replacing up, or to another price, gives a new ref at the back of the queue.
#[test]
fn replace_up_or_price_change_loses_priority() {
    let mut rig = Rig::new(16, 4);
    let a = rig.rest(1, Side::Sell, 100, 10);
    let b = rig.rest(1, Side::Sell, 100, 10);
    let s = rig.replace(a, 100, 11).unwrap();
    let a2 = s.order_ref.unwrap();
    assert_ne!(a2, a);
    assert!(matches!(
        rig.events[..],
        [BookEvent::Replaced { old_ref, new_ref, qty: 11, .. }] if old_ref == a && new_ref == a2
    ));
    assert_eq!(rig.refs(Side::Sell), vec![b, a2]);
    assert_eq!(rig.engine.order(a), None);
    let c = rig.rest(1, Side::Sell, 101, 1);
    let b2 = rig.replace(b, 101, 5).unwrap().order_ref.unwrap();
    assert_eq!(rig.refs(Side::Sell), vec![a2, c, b2]);
    assert_eq!(rig.engine.level_qty(Side::Sell, 100), 11);
    assert_eq!(rig.engine.level_qty(Side::Sell, 101), 6);
}

// A replace that crosses cancels the old order, then trades and rests like a submit.
#[test]
fn crossing_replace_trades() {
    let mut rig = Rig::new(16, 4);
    let ask = rig.rest(1, Side::Sell, 101, 3);
    let bid = rig.rest(2, Side::Buy, 99, 5);
    let s = rig.replace(bid, 101, 5).unwrap();
    assert!(matches!(
        rig.events[0],
        BookEvent::Cancelled { order_ref, cancelled_qty: 5, leaves: 0, .. } if order_ref == bid
    ));
    assert_eq!(rig.fills(), vec![(ask, 101, 3)]);
    assert_eq!((s.filled_qty, s.rested_qty), (3, 2));
    assert_eq!(rig.engine.best_bid(), Some((101, 2)));
    assert_eq!(rig.engine.best_ask(), None);
}

// Requests on unknown refs and bad values are refused and change nothing.
#[test]
fn unknown_and_invalid_are_refused() {
    let mut rig = Rig::new(16, 4);
    let a = rig.rest(1, Side::Buy, 100, 5);
    let mut events = 0;
    let mut count = |_: &BookEvent| events += 1;
    assert_eq!(
        rig.engine.cancel(999, &mut count),
        Err(Reject::UnknownOrder)
    );
    assert_eq!(
        rig.engine.reduce(999, 1, &mut count),
        Err(Reject::UnknownOrder)
    );
    assert_eq!(rig.engine.reduce(a, 0, &mut count), Err(Reject::BadQty));
    assert_eq!(rig.replace(999, 100, 1), Err(Reject::UnknownOrder));
    assert_eq!(rig.replace(a, 0, 1), Err(Reject::BadPrice));
    assert_eq!(
        rig.submit(day(1, 1, Side::Buy, 100, 0)),
        Err(Reject::BadQty)
    );
    assert_eq!(
        rig.submit(day(1, 1, Side::Buy, -1, 1)),
        Err(Reject::BadPrice)
    );
    assert!(rig.events.is_empty());
    assert_eq!(events, 0);
    assert_eq!(rig.engine.order(a).map(|o| o.leaves), Some(5));
}

// Cancel and reduce: a reduction keeps the order, reducing by its leaves removes it.
#[test]
fn cancel_and_reduce() {
    let mut rig = Rig::new(16, 4);
    let a = rig.rest(1, Side::Buy, 100, 5);
    let b = rig.rest(1, Side::Buy, 100, 5);
    let mut seen = Vec::new();
    assert_eq!(rig.engine.reduce(a, 2, &mut |e| seen.push(*e)), Ok(3));
    assert_eq!(rig.engine.reduce(a, 9, &mut |e| seen.push(*e)), Ok(0));
    assert_eq!(rig.engine.cancel(b, &mut |e| seen.push(*e)), Ok(5));
    let leaves: Vec<(i64, i64)> = seen
        .iter()
        .map(|e| match *e {
            BookEvent::Cancelled {
                cancelled_qty,
                leaves,
                ..
            } => (cancelled_qty, leaves),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(leaves, vec![(2, 3), (3, 0), (5, 0)]);
    assert_eq!((rig.engine.order_count(), rig.engine.best_bid()), (0, None));
}

// A full book refuses a passive order whole, but a crossing one keeps its fills.
#[test]
fn full_book_refuses_or_keeps_fills() {
    let mut rig = Rig::new(2, 2);
    rig.rest(1, Side::Sell, 101, 2);
    rig.rest(1, Side::Buy, 99, 2);
    assert_eq!(
        rig.submit(day(2, 1, Side::Buy, 98, 1)),
        Err(Reject::BookFull)
    );
    assert!(rig.events.is_empty());
    // The taker frees the ask's slot, so its remainder can rest.
    let s = rig.submit(day(2, 2, Side::Buy, 101, 5)).unwrap();
    assert_eq!((s.filled_qty, s.rested_qty, s.expired_qty), (2, 3, 0));
    assert_eq!(rig.engine.best_bid(), Some((101, 3)));
}

// Full levels: a passive order needing a new level is refused; after fills its remainder expires.
#[test]
fn full_levels_refuse_or_expire_remainder() {
    let mut rig = Rig::new(8, 2);
    rig.rest(1, Side::Buy, 99, 2);
    rig.rest(1, Side::Buy, 98, 2);
    let ask = rig.rest(1, Side::Sell, 102, 2);
    assert_eq!(
        rig.submit(day(2, 1, Side::Buy, 97, 1)),
        Err(Reject::LevelsFull)
    );
    let s = rig.submit(day(2, 2, Side::Buy, 102, 5)).unwrap();
    assert_eq!(rig.fills(), vec![(ask, 102, 2)]);
    assert_eq!((s.filled_qty, s.rested_qty, s.expired_qty), (2, 0, 3));
    assert_eq!(rig.engine.best_bid(), Some((99, 2)));
    // The lone order of a level may move to a new level; one sharing its level may not.
    let b98 = rig.refs(Side::Buy)[1];
    let b99 = rig.refs(Side::Buy)[0];
    assert_eq!(rig.replace(b99, 97, 5).map(|s| s.rested_qty), Ok(5));
    rig.rest(1, Side::Buy, 98, 1);
    assert_eq!(rig.replace(b98, 96, 1), Err(Reject::LevelsFull));
}

// Mass cancel removes one owner's orders on both sides and nobody else's.
#[test]
fn cancel_all_of_owner() {
    let mut rig = Rig::new(16, 4);
    rig.rest(7, Side::Buy, 99, 1);
    let keep_bid = rig.rest(8, Side::Buy, 99, 1);
    rig.rest(7, Side::Buy, 98, 1);
    rig.rest(7, Side::Sell, 101, 1);
    let keep_ask = rig.rest(8, Side::Sell, 102, 1);
    let mut cancelled = Vec::new();
    let count = rig.engine.cancel_all_of(7, &mut |e| cancelled.push(*e));
    assert_eq!((count, cancelled.len()), (3, 3));
    assert!(cancelled.iter().all(|e| matches!(
        e,
        BookEvent::Cancelled {
            owner: 7,
            leaves: 0,
            ..
        }
    )));
    assert_eq!(rig.refs(Side::Buy), vec![keep_bid]);
    assert_eq!(rig.refs(Side::Sell), vec![keep_ask]);
    assert_eq!(rig.engine.level_count(Side::Buy), 1);
}

// Self-trade is allowed: an owner's order trades with its own resting order.
#[test]
fn self_trade_is_allowed() {
    let mut rig = Rig::new(4, 4);
    let a = rig.rest(1, Side::Sell, 100, 1);
    rig.submit(day(1, 2, Side::Buy, 100, 1)).unwrap();
    assert_eq!(rig.fills(), vec![(a, 100, 1)]);
}

// Levels are listed best first, capped by the caller.
#[test]
fn levels_best_first() {
    let mut rig = Rig::new(16, 8);
    for price in [97, 99, 98] {
        rig.rest(1, Side::Buy, price, 1);
    }
    let mut levels = Vec::new();
    rig.engine
        .for_each_level(Side::Buy, 2, &mut |p, q| levels.push((p, q)));
    assert_eq!(levels, vec![(99, 1), (98, 1)]);
}

// ---------------------------------------------------------------------------
// Reference model.

#[derive(Clone, Copy, Debug)]
struct ModelOrder {
    order_ref: OrderRef,
    seq: u64,
    resting: RestingOrder,
}

/// A naive book: a Vec of orders, matched by sorting.
struct Model {
    orders: Vec<ModelOrder>,
    seq_next: u64,
    orders_max: usize,
    levels_max: usize,
    ids: Ids,
}

type Outcome = (Result<Submitted, Reject>, Vec<(OrderRef, i64, i64)>);

impl Model {
    fn new(orders_max: usize, levels_max: usize) -> Model {
        Model {
            orders: Vec::new(),
            seq_next: 0,
            orders_max,
            levels_max,
            ids: Ids::default(),
        }
    }

    fn find(&self, order_ref: OrderRef) -> Option<usize> {
        self.orders.iter().position(|o| o.order_ref == order_ref)
    }

    /// Orders of `side` in priority order.
    fn side(&self, side: Side) -> Vec<ModelOrder> {
        let mut orders: Vec<ModelOrder> = self
            .orders
            .iter()
            .filter(|o| o.resting.side == side)
            .copied()
            .collect();
        orders.sort_by_key(|o| {
            let price = match side {
                Side::Buy => -o.resting.price,
                Side::Sell => o.resting.price,
            };
            (price, o.seq)
        });
        orders
    }

    fn has_level(&self, side: Side, price: i64, except: Option<OrderRef>) -> bool {
        self.orders.iter().any(|o| {
            o.resting.side == side && o.resting.price == price && Some(o.order_ref) != except
        })
    }

    fn level_count(&self, side: Side, except: Option<OrderRef>) -> usize {
        let mut prices: Vec<i64> = self
            .orders
            .iter()
            .filter(|o| o.resting.side == side && Some(o.order_ref) != except)
            .map(|o| o.resting.price)
            .collect();
        prices.sort_unstable();
        prices.dedup();
        prices.len()
    }

    fn push(&mut self, order_ref: OrderRef, resting: RestingOrder) {
        self.orders.push(ModelOrder {
            order_ref,
            seq: self.seq_next,
            resting,
        });
        self.seq_next += 1;
    }

    fn submit(&mut self, order: NewOrder) -> Outcome {
        if order.qty <= 0 {
            return (Err(Reject::BadQty), Vec::new());
        }
        if order.price <= 0 {
            return (Err(Reject::BadPrice), Vec::new());
        }
        let mut fills = Vec::new();
        let mut remaining = order.qty;
        for maker in self.side(order.side.opposite()) {
            let crosses = match order.side {
                Side::Buy => order.price >= maker.resting.price,
                Side::Sell => order.price <= maker.resting.price,
            };
            if remaining == 0 || !crosses {
                break;
            }
            let index = self.find(maker.order_ref).unwrap();
            let traded = remaining.min(maker.resting.leaves);
            remaining -= traded;
            self.orders[index].resting.leaves -= traded;
            self.ids.match_number_next += 1;
            fills.push((maker.order_ref, maker.resting.price, traded));
            if self.orders[index].resting.leaves == 0 {
                self.orders.remove(index);
            }
        }
        let filled_qty = order.qty - remaining;
        let mut s = Submitted {
            filled_qty,
            ..Submitted::default()
        };
        if remaining == 0 {
            return (Ok(s), fills);
        }
        if order.tif == TimeInForce::Ioc {
            s.expired_qty = remaining;
            return (Ok(s), fills);
        }
        let refused = if self.orders.len() >= self.orders_max {
            Some(Reject::BookFull)
        } else if !self.has_level(order.side, order.price, None)
            && self.level_count(order.side, None) >= self.levels_max
        {
            Some(Reject::LevelsFull)
        } else {
            None
        };
        match refused {
            Some(reject) if filled_qty == 0 => return (Err(reject), fills),
            Some(_) => s.expired_qty = remaining,
            None => {
                let order_ref = self.ids.order_ref_next;
                self.ids.order_ref_next += 1;
                self.push(
                    order_ref,
                    RestingOrder {
                        owner: order.owner,
                        client_id: order.client_id,
                        side: order.side,
                        price: order.price,
                        leaves: remaining,
                    },
                );
                s.order_ref = Some(order_ref);
                s.rested_qty = remaining;
            }
        }
        (Ok(s), fills)
    }

    fn reduce(&mut self, order_ref: OrderRef, qty: i64) -> Result<i64, Reject> {
        if qty <= 0 {
            return Err(Reject::BadQty);
        }
        let index = self.find(order_ref).ok_or(Reject::UnknownOrder)?;
        let order = &mut self.orders[index].resting;
        if qty >= order.leaves {
            self.orders.remove(index);
            return Ok(0);
        }
        order.leaves -= qty;
        Ok(order.leaves)
    }

    fn replace(&mut self, order_ref: OrderRef, price: i64, qty: i64) -> Outcome {
        if qty <= 0 {
            return (Err(Reject::BadQty), Vec::new());
        }
        if price <= 0 {
            return (Err(Reject::BadPrice), Vec::new());
        }
        let Some(index) = self.find(order_ref) else {
            return (Err(Reject::UnknownOrder), Vec::new());
        };
        let old = self.orders[index];
        let side = old.resting.side;
        if price == old.resting.price && qty <= old.resting.leaves {
            self.orders[index].resting.leaves = qty;
            let s = Submitted {
                order_ref: Some(order_ref),
                rested_qty: qty,
                ..Submitted::default()
            };
            return (Ok(s), Vec::new());
        }
        let crosses = self
            .side(side.opposite())
            .first()
            .is_some_and(|best| match side {
                Side::Buy => price >= best.resting.price,
                Side::Sell => price <= best.resting.price,
            });
        if crosses {
            self.orders.remove(index);
            let r = old.resting;
            return self.submit(day(r.owner, r.client_id, side, price, qty));
        }
        if !self.has_level(side, price, Some(order_ref))
            && self.level_count(side, Some(order_ref)) >= self.levels_max
        {
            return (Err(Reject::LevelsFull), Vec::new());
        }
        self.orders.remove(index);
        let new_ref = self.ids.order_ref_next;
        self.ids.order_ref_next += 1;
        let resting = RestingOrder {
            price,
            leaves: qty,
            ..old.resting
        };
        self.push(new_ref, resting);
        let s = Submitted {
            order_ref: Some(new_ref),
            rested_qty: qty,
            ..Submitted::default()
        };
        (Ok(s), Vec::new())
    }

    fn cancel_all_of(&mut self, owner: u32) -> usize {
        let before = self.orders.len();
        self.orders.retain(|o| o.resting.owner != owner);
        before - self.orders.len()
    }

    /// A live ref chosen by `pick`, or an unknown one if the book is empty.
    fn pick(&self, pick: usize) -> OrderRef {
        let mut refs: Vec<OrderRef> = self.orders.iter().map(|o| o.order_ref).collect();
        refs.sort_unstable();
        if refs.is_empty() {
            u64::MAX
        } else {
            refs[pick % refs.len()]
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Submit(NewOrder),
    Cancel(usize),
    Reduce(usize, i64),
    Replace(usize, i64, i64),
    CancelAll(u32),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let tif = prop_oneof![3 => Just(TimeInForce::Day), 1 => Just(TimeInForce::Ioc)];
    let order = (0u32..3, any::<u16>(), side, 95i64..=105, -1i64..=20, tif).prop_map(
        |(owner, client_id, side, price, qty, tif)| NewOrder {
            owner,
            client_id: u64::from(client_id),
            side,
            price,
            qty,
            tif,
        },
    );
    prop_oneof![
        6 => order.prop_map(Op::Submit),
        2 => any::<usize>().prop_map(Op::Cancel),
        2 => (any::<usize>(), 0i64..=25).prop_map(|(p, q)| Op::Reduce(p, q)),
        3 => (any::<usize>(), 94i64..=106, 0i64..=25).prop_map(|(p, price, q)| Op::Replace(p, price, q)),
        1 => (0u32..3).prop_map(Op::CancelAll),
    ]
}

/// The engine's resting orders, per side in priority order.
fn engine_orders(engine: &MatchingEngine, side: Side) -> Vec<(OrderRef, RestingOrder)> {
    let mut orders = Vec::new();
    engine.for_each_order(side, &mut |r, o| orders.push((r, o)));
    orders
}

fn assert_same_book(engine: &MatchingEngine, model: &Model) {
    for side in [Side::Buy, Side::Sell] {
        let expected: Vec<(OrderRef, RestingOrder)> = model
            .side(side)
            .iter()
            .map(|o| (o.order_ref, o.resting))
            .collect();
        assert_eq!(engine_orders(engine, side), expected, "{side:?} orders");
        let mut levels: Vec<(i64, i64)> = Vec::new();
        for (_, o) in &expected {
            match levels.last_mut() {
                Some((price, qty)) if *price == o.price => *qty += o.leaves,
                _ => levels.push((o.price, o.leaves)),
            }
        }
        let mut engine_levels = Vec::new();
        engine.for_each_level(side, usize::MAX, &mut |p, q| engine_levels.push((p, q)));
        assert_eq!(engine_levels, levels, "{side:?} levels");
        for &(price, qty) in &levels {
            assert_eq!(engine.level_qty(side, price), qty);
        }
        let best = levels.first().copied();
        let engine_best = match side {
            Side::Buy => engine.best_bid(),
            Side::Sell => engine.best_ask(),
        };
        assert_eq!(engine_best, best, "{side:?} best");
    }
    if let (Some((bid, _)), Some((ask, _))) = (engine.best_bid(), engine.best_ask()) {
        assert!(bid < ask, "book crossed: bid {bid} ask {ask}");
    }
    assert_eq!(engine.order_count(), model.orders.len());
    assert_eq!(engine.order(u64::MAX), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // Random request sequences give the same fills, book and ids as the reference.
    #[test]
    fn engine_matches_reference(
        orders_max in 3usize..16,
        levels_max in 1usize..6,
        ops in proptest::collection::vec(op_strategy(), 1..120),
    ) {
        let mut rig = Rig::new(orders_max, levels_max);
        let mut model = Model::new(orders_max, levels_max);
        for op in ops {
            let fills_expected = match op {
                Op::Submit(order) => {
                    let (expected, fills) = model.submit(order);
                    prop_assert_eq!(rig.submit(order), expected);
                    fills
                }
                Op::Cancel(pick) => {
                    let order_ref = model.pick(pick);
                    rig.events.clear();
                    let events = &mut rig.events;
                    let result = rig.engine.cancel(order_ref, &mut |e| events.push(*e));
                    let leaves = model.find(order_ref).map(|i| model.orders[i].resting.leaves);
                    let expected = model.reduce(order_ref, i64::MAX).map(|_| leaves.unwrap());
                    prop_assert_eq!(result, expected);
                    Vec::new()
                }
                Op::Reduce(pick, qty) => {
                    let order_ref = model.pick(pick);
                    rig.events.clear();
                    let events = &mut rig.events;
                    let result = rig.engine.reduce(order_ref, qty, &mut |e| events.push(*e));
                    prop_assert_eq!(result, model.reduce(order_ref, qty));
                    Vec::new()
                }
                Op::Replace(pick, price, qty) => {
                    let order_ref = model.pick(pick);
                    let (expected, fills) = model.replace(order_ref, price, qty);
                    prop_assert_eq!(rig.replace(order_ref, price, qty), expected);
                    fills
                }
                Op::CancelAll(owner) => {
                    rig.events.clear();
                    let events = &mut rig.events;
                    let count = rig.engine.cancel_all_of(owner, &mut |e| events.push(*e));
                    prop_assert_eq!(count, model.cancel_all_of(owner));
                    prop_assert_eq!(rig.events.len(), count);
                    Vec::new()
                }
            };
            prop_assert_eq!(rig.fills(), fills_expected);
            prop_assert_eq!(rig.ids, model.ids);
            assert_same_book(&rig.engine, &model);
        }
    }
}

// After warm-up, submit / cancel / reduce / replace / mass cancel do not allocate.
#[test]
fn requests_do_not_allocate() {
    let mut engine = MatchingEngine::new(1_024, 64);
    let mut ids = Ids::default();
    let mut executed = 0u64;
    let mut run = |engine: &mut MatchingEngine, ids: &mut Ids, round: i64| {
        let mut out = |e: &BookEvent| {
            if matches!(e, BookEvent::Executed { .. }) {
                executed += 1;
            }
        };
        let owner = (round % 3) as u32;
        let bid = day(owner, 1, Side::Buy, 1_000 - round % 20, 10);
        let ask = day(owner, 2, Side::Sell, 1_001 + round % 20, 10);
        let b = engine.submit(bid, ids, &mut out).unwrap().order_ref;
        let a = engine.submit(ask, ids, &mut out).unwrap().order_ref;
        if let Some(b) = b {
            let _ = engine.reduce(b, 3, &mut out);
            let _ = engine.replace(b, 1_000 - round % 7, 12, ids, &mut out);
        }
        if let Some(a) = a {
            let _ = engine.replace(a, 1_001 + round % 5, 4, ids, &mut out);
        }
        let taker = ioc(9, 3, Side::Buy, 1_003, 15);
        engine.submit(taker, ids, &mut out).unwrap();
        let taker = day(9, 4, Side::Sell, 995, 15);
        if let Ok(s) = engine.submit(taker, ids, &mut out) {
            if let Some(r) = s.order_ref {
                let _ = engine.cancel(r, &mut out);
            }
        }
        if round % 50 == 49 {
            engine.cancel_all_of(owner, &mut out);
        }
    };
    for round in 0..200 {
        run(&mut engine, &mut ids, round);
    }
    let allocations = allocations_in(|| {
        for round in 200..5_200 {
            run(&mut engine, &mut ids, round);
        }
    });
    assert!(
        executed > 1_000,
        "the workload trades ({executed} executions)"
    );
    assert_eq!(allocations, 0, "matching engine requests allocated");
}
