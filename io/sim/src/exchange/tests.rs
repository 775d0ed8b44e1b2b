//! The exchange's own tests: matching with the provider, the taker and
//! sessions, replies and their order, refusals.

use super::*;
use genesis_io::venue::{BookEvent, MatchingEngine};

/// Records what the market-data outputs would publish.
#[derive(Default)]
struct Tape {
    events: Vec<(usize, BookEvent)>,
    operations: usize,
}

impl MarketDataOut for Tape {
    fn on_book_event(&mut self, instrument: usize, event: &BookEvent, _: &MatchingEngine, _: u64) {
        self.events.push((instrument, *event));
    }
    fn on_operation_done(&mut self, _: usize, _: &MatchingEngine, _: u64) {
        self.operations += 1;
    }
}

fn top(bid: i64, ask: i64) -> Top {
    Top {
        bid_px: bid,
        bid_qty: 10,
        ask_px: ask,
        ask_qty: 10,
    }
}

fn request(kind: RequestKind, order: u64, side: Side, price: i64, qty: i64) -> Request {
    Request {
        kind,
        order,
        instrument: 0,
        side,
        price,
        qty,
    }
}

fn replies(exchange: &mut Exchange) -> Vec<Answer> {
    std::iter::from_fn(|| exchange.pop_reply().map(|r| r.answer)).collect()
}

// The liquidity provider's quotes move by replace, and the book follows the walk.
#[test]
fn quotes_follow_the_walk() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 102), 1, &mut tape);
    exchange.on_top(0, &top(101, 103), 2, &mut tape);
    let book = exchange.book(0).unwrap();
    assert_eq!(book.best_bid(), Some((101, 10)));
    assert_eq!(book.best_ask(), Some((103, 10)));
    assert_eq!(book.order_count(), 2);
    assert!(tape
        .events
        .iter()
        .any(|(_, e)| matches!(e, BookEvent::Replaced { .. })));
}

// A session order that crosses the quote is acked, then filled at the quote's price.
#[test]
fn crossing_order_acks_then_fills_at_the_resting_price() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 102), 1, &mut tape);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 7, Side::Buy, 105, 4),
        2,
        &mut tape,
    );
    let got = replies(&mut exchange);
    assert!(matches!(got[0], Answer::Accepted { order: 7, .. }));
    assert!(matches!(
        got[1],
        Answer::Fill {
            price: 102,
            qty: 4,
            ..
        }
    ));
    assert_eq!(got.len(), 2);
    assert_eq!(exchange.book(0).unwrap().best_ask(), Some((102, 6)));
}

// At one price the earlier order trades first: the taker's print fills the
// provider's older quote before the session's later order at that price.
#[test]
fn prints_fill_in_price_time_order() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 102), 1, &mut tape);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 1, Side::Buy, 100, 5),
        2,
        &mut tape,
    );
    let _ = replies(&mut exchange);
    exchange.on_print(0, Side::Sell, 100, 12, 3, &mut tape);
    let got = replies(&mut exchange);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(
        got[0],
        Answer::Fill {
            qty: 2,
            order: 1,
            ..
        }
    ));
    assert_eq!(exchange.book(0).unwrap().best_bid(), Some((100, 3)));
}

// Replace answers with an ack; cancel with a cancel ack; then the order is unknown.
#[test]
fn replace_then_cancel_then_unknown() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 110), 1, &mut tape);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 1, Side::Sell, 108, 5),
        2,
        &mut tape,
    );
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::Replace, 1, Side::Sell, 107, 5),
        3,
        &mut tape,
    );
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::Cancel, 1, Side::Sell, 0, 5),
        4,
        &mut tape,
    );
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::Cancel, 1, Side::Sell, 0, 5),
        5,
        &mut tape,
    );
    let got = replies(&mut exchange);
    assert!(matches!(got[0], Answer::Accepted { .. }));
    assert!(matches!(got[1], Answer::Accepted { price: 107, .. }));
    assert_eq!(got[2], Answer::Cancelled { order: 1 });
    assert!(matches!(
        got[3],
        Answer::Rejected {
            request: RequestKind::Cancel,
            reason: reason::UNKNOWN_ORDER,
            ..
        }
    ));
    assert_eq!(exchange.book(0).unwrap().best_ask(), Some((110, 10)));
}

// A replace that crosses trades at once; its fills count against the new total.
#[test]
fn crossing_replace_fills_and_partial_fill_counts_against_the_total() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 102), 1, &mut tape);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 1, Side::Buy, 99, 15),
        2,
        &mut tape,
    );
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::Replace, 1, Side::Buy, 102, 15),
        3,
        &mut tape,
    );
    let got = replies(&mut exchange);
    assert!(matches!(
        got[2],
        Answer::Fill {
            qty: 10,
            price: 102,
            ..
        }
    ));
    // 10 of 15 filled: a replace down to 10 leaves nothing and is refused.
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::Replace, 1, Side::Buy, 102, 10),
        4,
        &mut tape,
    );
    let got = replies(&mut exchange);
    assert!(matches!(
        got[0],
        Answer::Rejected {
            reason: reason::OTHER,
            ..
        }
    ));
}

// When the session goes away its resting orders leave the book, and the feed says so.
#[test]
fn session_orders_are_cancelled_on_disconnect() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 110), 1, &mut tape);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 1, Side::Buy, 101, 5),
        2,
        &mut tape,
    );
    assert_eq!(exchange.book(0).unwrap().best_bid(), Some((101, 5)));
    exchange.session_closed(OWNER_SESSION, 3, &mut tape);
    assert_eq!(exchange.book(0).unwrap().best_bid(), Some((100, 10)));
    assert!(matches!(
        tape.events.last(),
        Some((
            0,
            BookEvent::Cancelled {
                leaves: 0,
                owner: OWNER_SESSION,
                ..
            }
        ))
    ));
    assert!(exchange.pop_reply().is_none());
}

// What trades on arrival is filled; a remainder that cannot rest (every
// level taken) expires, and the session hears it after its fills: no
// order stays open in the engine that the venue has dropped.
#[test]
fn remainder_that_cannot_rest_expires_and_is_reported() {
    let (mut exchange, mut tape) = (Exchange::new(1, 4_096), Tape::default());
    exchange.on_top(0, &top(100, 5_000), 1, &mut tape);
    for (index, price) in (1_001..1_001 + BOOK_LEVELS_MAX as i64 - 1).enumerate() {
        let order = request(RequestKind::New, 1_000 + index as u64, Side::Sell, price, 1);
        exchange.submit(OWNER_SESSION, order, 2, &mut tape);
    }
    let _ = replies(&mut exchange);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 1, Side::Sell, 100, 15),
        3,
        &mut tape,
    );
    let got = replies(&mut exchange);
    assert!(matches!(got[0], Answer::Accepted { .. }), "{got:?}");
    assert!(matches!(
        got[1],
        Answer::Fill {
            qty: 10,
            price: 100,
            ..
        }
    ));
    assert_eq!(got[2], Answer::Cancelled { order: 1 }, "the 5 left expired");
    assert_eq!(got.len(), 3);
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::Cancel, 1, Side::Sell, 0, 15),
        4,
        &mut tape,
    );
    assert!(matches!(
        replies(&mut exchange)[0],
        Answer::Rejected {
            reason: reason::UNKNOWN_ORDER,
            ..
        }
    ));
}

// Two sessions are two participants: one's buy takes the other's resting
// sell, each hears its own fill; one going away leaves the other's orders.
#[test]
fn two_sessions_trade_with_each_other() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    let (a, b) = (OWNER_SESSION, OWNER_SESSION + 1);
    exchange.submit(
        a,
        request(RequestKind::New, 1, Side::Sell, 105, 5),
        1,
        &mut tape,
    );
    exchange.submit(
        b,
        request(RequestKind::New, 1, Side::Buy, 101, 3),
        2,
        &mut tape,
    );
    exchange.submit(
        b,
        request(RequestKind::New, 2, Side::Buy, 106, 2),
        3,
        &mut tape,
    );
    let got: Vec<(u32, Answer)> =
        std::iter::from_fn(|| exchange.pop_reply().map(|r| (r.session, r.answer))).collect();
    let fills: Vec<(u32, u64, i64, i64)> = got
        .iter()
        .filter_map(|(s, input)| match input {
            Answer::Fill { order, price, qty } => Some((*s, *order, *price, *qty)),
            _ => None,
        })
        .collect();
    assert_eq!(fills, [(a, 1, 105, 2), (b, 2, 105, 2)], "{got:?}");
    exchange.session_closed(a, 4, &mut tape);
    let book = exchange.book(0).unwrap();
    assert_eq!(book.best_ask(), None, "a's rest is gone");
    assert_eq!(book.best_bid(), Some((101, 3)), "b's order stays");
    // b's order 1 is still b's to cancel.
    exchange.submit(
        b,
        request(RequestKind::Cancel, 1, Side::Buy, 0, 3),
        5,
        &mut tape,
    );
    assert!(matches!(exchange.pop_reply(), Some(r) if r.session == b
        && r.answer == Answer::Cancelled { order: 1 }));
}

// Bad requests are refused with the venue's reason, and nothing reaches the book.
#[test]
fn bad_requests_are_refused() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 1, Side::Buy, 100, 0),
        1,
        &mut tape,
    );
    exchange.submit(
        OWNER_SESSION,
        request(RequestKind::New, 2, Side::Buy, 0, 5),
        1,
        &mut tape,
    );
    let mut unknown = request(RequestKind::New, 3, Side::Buy, 100, 5);
    unknown.instrument = 9;
    exchange.submit(OWNER_SESSION, unknown, 1, &mut tape);
    let huge = request(RequestKind::New, 4, Side::Buy, 100, i64::MAX / 2);
    exchange.submit(OWNER_SESSION, huge, 1, &mut tape);
    let reasons: Vec<i64> = replies(&mut exchange)
        .into_iter()
        .map(|input| match input {
            Answer::Rejected { reason, .. } => reason,
            other => panic!("expected a reject, got {other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            reason::INCORRECT_QTY,
            reason::OTHER,
            reason::UNKNOWN_SYMBOL,
            reason::INCORRECT_QTY
        ]
    );
    assert!(tape.events.is_empty());
}

// Orders come and go for far longer than the done-order memory: the
// session-order table never doubles (its tombstones are cleaned in place),
// so its memory is all reached at start-up, not minutes into a run.
#[test]
fn the_session_order_table_keeps_its_size_as_orders_come_and_go() {
    let (mut exchange, mut tape) = (Exchange::new(1, 64), Tape::default());
    exchange.on_top(0, &top(100, 110), 1, &mut tape);
    let capacity = exchange.session_orders.capacity();
    assert!(
        capacity >= DONE_MEMORY + 1_024,
        "room for the done memory and the live orders: {capacity}"
    );
    for order in 1..=50_000u64 {
        let now = 2 * order;
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::New, order, Side::Buy, 101, 1),
            now,
            &mut tape,
        );
        exchange.submit(
            OWNER_SESSION,
            request(RequestKind::Cancel, order, Side::Buy, 0, 1),
            now + 1,
            &mut tape,
        );
        while exchange.pop_reply().is_some() {}
    }
    assert_eq!(
        exchange.session_orders.len(),
        DONE_MEMORY,
        "the live order count is 0 and the done memory full"
    );
    // Tombstones lower the reported capacity until a clean-up; a doubling
    // would raise it.
    let after = exchange.session_orders.capacity();
    assert!(
        after <= capacity,
        "the table grew from room for {capacity} to {after}"
    );
}
