//! The queue model's rules on hand-made tapes (rule numbers are the module
//! header's).

use super::*;
use genesis_io::tape::records::SNAPSHOT_START;

fn venue() -> BacktestVenue {
    BacktestVenue::new(&BacktestVenueConfig {
        instruments: 2,
        orders_max: 4,
        book_levels_max: 16,
    })
}

fn record(kind: RecordKind, price: i64, qty: i64) -> TapeRecord {
    TapeRecord {
        ts_local_ns: 0,
        ts_exchange_ns: 0,
        price,
        qty,
        trade_id: 0,
        instrument: 0,
        kind,
        flags: 0,
    }
}

pub(super) fn request(
    kind: RequestKind,
    order_id: u64,
    side: Side,
    price: i64,
    qty: i64,
) -> Request {
    Request {
        kind,
        order_id,
        instrument: 0,
        side,
        price,
        qty,
    }
}

/// Feeds records and returns the replies they caused.
fn tape(venue: &mut BacktestVenue, records: &[TapeRecord]) -> Vec<Reply> {
    let mut replies = Vec::new();
    for record in records {
        venue.on_record(record, &mut |reply| replies.push(reply));
    }
    replies
}

fn ask(venue: &mut BacktestVenue, request: Request) -> Vec<Reply> {
    let mut replies = Vec::new();
    venue.on_request(&request, &mut |reply| replies.push(reply));
    replies
}

/// (order id, price, qty, maker) of each fill among `replies`.
fn fills(replies: &[Reply]) -> Vec<(u64, i64, i64, bool)> {
    replies
        .iter()
        .filter_map(|r| match r.answer {
            Answer::Fill {
                price, qty, maker, ..
            } => Some((r.order_id, price, qty, maker)),
            _ => None,
        })
        .collect()
}

/// A book with bids 99 (4) and 100 (5), asks 101 (2) and 102 (3).
fn with_book() -> BacktestVenue {
    let mut venue = venue();
    let mut first = record(RecordKind::Bid, 99, 4);
    first.flags = SNAPSHOT_START;
    tape(
        &mut venue,
        &[
            first,
            record(RecordKind::Bid, 100, 5),
            record(RecordKind::Ask, 101, 2),
            record(RecordKind::Ask, 102, 3),
        ],
    );
    venue
}

// Rules 2 and 3: an order at the back of a 5-lot queue fills only once prints at its price passed those 5 lots.
#[test]
fn back_of_the_queue_fills_after_the_volume_ahead_trades() {
    let mut venue = with_book();
    let replies = ask(&mut venue, request(RequestKind::New, 7, Side::Buy, 100, 1));
    assert!(matches!(
        replies[..],
        [Reply {
            answer: Answer::Accepted {
                price: 100,
                qty: 1,
                ..
            },
            ..
        }]
    ));
    assert_eq!(venue.volume_ahead(0, 7), Some(5));
    assert!(fills(&tape(&mut venue, &[record(RecordKind::TradeSell, 100, 3)])).is_empty());
    assert_eq!(venue.volume_ahead(0, 7), Some(2));
    // Exactly the volume ahead: still not filled.
    assert!(fills(&tape(&mut venue, &[record(RecordKind::TradeSell, 100, 2)])).is_empty());
    assert_eq!(venue.volume_ahead(0, 7), Some(0));
    // A buy taker's print does not touch a resting buy.
    assert!(fills(&tape(&mut venue, &[record(RecordKind::TradeBuy, 100, 9)])).is_empty());
    let replies = tape(&mut venue, &[record(RecordKind::TradeSell, 100, 1)]);
    assert_eq!(fills(&replies), vec![(7, 100, 1, true)]);
    assert_eq!(venue.resting_count(), 0);
    assert_eq!(venue.counters().lots_ahead_traded, 5);
}

// Rule 4: the level shrinking below the volume ahead moves the order up; growth never moves it back.
#[test]
fn level_shrinks_move_the_order_up() {
    let mut venue = with_book();
    ask(&mut venue, request(RequestKind::New, 7, Side::Buy, 100, 1));
    tape(&mut venue, &[record(RecordKind::Bid, 100, 2)]);
    assert_eq!(venue.volume_ahead(0, 7), Some(2));
    tape(&mut venue, &[record(RecordKind::Bid, 100, 10)]);
    assert_eq!(venue.volume_ahead(0, 7), Some(2));
    // Prints of unknown side count too: 3 lots pass the 2 ahead.
    let replies = tape(&mut venue, &[record(RecordKind::TradeUnknown, 100, 3)]);
    assert_eq!(fills(&replies), vec![(7, 100, 1, true)]);
    assert_eq!(venue.counters().lots_ahead_cancelled, 3);
}

// Rule 3 with partial fills: what the print leaves beyond the queue fills the order, up to its leaves.
#[test]
fn prints_beyond_the_queue_fill_part_of_a_larger_order() {
    let mut venue = with_book();
    ask(&mut venue, request(RequestKind::New, 7, Side::Sell, 102, 4));
    assert_eq!(venue.volume_ahead(0, 7), Some(3));
    let replies = tape(&mut venue, &[record(RecordKind::TradeBuy, 102, 5)]);
    assert_eq!(fills(&replies), vec![(7, 102, 2, true)]);
    assert_eq!(venue.volume_ahead(0, 7), Some(0));
    let replies = tape(&mut venue, &[record(RecordKind::TradeBuy, 102, 9)]);
    assert_eq!(fills(&replies), vec![(7, 102, 2, true)]);
    assert_eq!(venue.resting_count(), 0);
}

// Rules 5 and 6: a print through the price, or the opposite touch reaching it, fills everything at the order's price.
#[test]
fn prints_through_and_crossing_touches_fill_in_full() {
    let mut venue = with_book();
    ask(&mut venue, request(RequestKind::New, 1, Side::Buy, 100, 2));
    ask(&mut venue, request(RequestKind::New, 2, Side::Sell, 102, 2));
    let replies = tape(&mut venue, &[record(RecordKind::TradeSell, 99, 1)]);
    assert_eq!(fills(&replies), vec![(1, 100, 2, true)]);
    // The bid reaches the resting sell's price.
    let replies = tape(&mut venue, &[record(RecordKind::Bid, 102, 1)]);
    assert_eq!(fills(&replies), vec![(2, 102, 2, true)]);
    assert_eq!(venue.resting_count(), 0);
}

// Rule 1: a crossing order walks the opposite levels within its limit; acceptance comes first; the rest rests.
#[test]
fn crossing_orders_take_the_opposite_levels() {
    let mut venue = with_book();
    let replies = ask(&mut venue, request(RequestKind::New, 3, Side::Buy, 102, 6));
    assert!(matches!(replies[0].answer, Answer::Accepted { .. }));
    assert_eq!(
        fills(&replies),
        vec![(3, 101, 2, false), (3, 102, 3, false)]
    );
    // One lot left rests at 102, where no bid is: nothing ahead.
    assert_eq!(venue.volume_ahead(0, 3), Some(0));
    // The tape's book is not changed by our fills.
    assert_eq!(venue.book(0).unwrap().best_ask().unwrap().qty.0, 2);
}

// Rule 8: a cancel arriving after the fill is rejected as unknown; a resting order is cancelled.
#[test]
fn cancels_after_a_fill_are_rejected() {
    let mut venue = with_book();
    ask(&mut venue, request(RequestKind::New, 1, Side::Buy, 100, 1));
    ask(&mut venue, request(RequestKind::New, 2, Side::Buy, 99, 1));
    tape(&mut venue, &[record(RecordKind::TradeSell, 100, 6)]);
    let replies = ask(&mut venue, request(RequestKind::Cancel, 1, Side::Buy, 0, 0));
    assert!(matches!(
        replies[..],
        [Reply {
            answer: Answer::Rejected {
                request: RequestKind::Cancel,
                reason: RejectReason::UnknownOrder
            },
            ..
        }]
    ));
    let replies = ask(&mut venue, request(RequestKind::Cancel, 2, Side::Buy, 0, 0));
    assert!(matches!(
        replies[..],
        [Reply {
            order_id: 2,
            answer: Answer::Cancelled,
            ..
        }]
    ));
    assert_eq!(venue.resting_count(), 0);
}

// Rule 7: a smaller size at the same price keeps the place; a new price goes to the back of the new level.
#[test]
fn replaces_keep_or_lose_the_queue_place() {
    let mut venue = with_book();
    ask(&mut venue, request(RequestKind::New, 1, Side::Buy, 100, 3));
    tape(&mut venue, &[record(RecordKind::TradeSell, 100, 4)]);
    assert_eq!(venue.volume_ahead(0, 1), Some(1));
    ask(
        &mut venue,
        request(RequestKind::Replace, 1, Side::Buy, 100, 2),
    );
    assert_eq!(venue.volume_ahead(0, 1), Some(1));
    ask(
        &mut venue,
        request(RequestKind::Replace, 1, Side::Buy, 99, 2),
    );
    assert_eq!(venue.volume_ahead(0, 1), Some(4));
    let replies = ask(
        &mut venue,
        request(RequestKind::Replace, 9, Side::Buy, 99, 2),
    );
    assert!(matches!(
        replies[0].answer,
        Answer::Rejected {
            reason: RejectReason::UnknownOrder,
            ..
        }
    ));
}

// The venue refuses what it cannot take, and changes nothing.
#[test]
fn refusals_change_nothing() {
    let mut venue = with_book();
    for id in 0..4 {
        ask(&mut venue, request(RequestKind::New, id, Side::Buy, 90, 1));
    }
    let reason = |replies: Vec<Reply>| match replies[..] {
        [Reply {
            answer: Answer::Rejected { reason, .. },
            ..
        }] => reason,
        _ => panic!("{replies:?}"),
    };
    assert_eq!(
        reason(ask(
            &mut venue,
            request(RequestKind::New, 9, Side::Buy, 90, 1)
        )),
        RejectReason::TooManyOrders
    );
    assert_eq!(
        reason(ask(
            &mut venue,
            request(RequestKind::Cancel, 9, Side::Buy, 90, 0)
        )),
        RejectReason::UnknownOrder
    );
    let mut other = request(RequestKind::New, 9, Side::Buy, 90, 1);
    other.instrument = 5;
    assert_eq!(
        reason(ask(&mut venue, other)),
        RejectReason::UnknownInstrument
    );
    ask(&mut venue, request(RequestKind::Cancel, 0, Side::Buy, 0, 0));
    assert_eq!(
        reason(ask(
            &mut venue,
            request(RequestKind::New, 9, Side::Buy, 90, 0)
        )),
        RejectReason::BadQty
    );
    assert_eq!(venue.resting_count(), 3);
}

// Rows that reach no resting order skip the pass over the orders; a row at an order's price, or one whose touch reaches an order, runs it.
#[test]
fn rows_away_from_the_resting_orders_skip_the_pass() {
    let mut venue = with_book();
    ask(&mut venue, request(RequestKind::New, 1, Side::Buy, 100, 1));
    ask(&mut venue, request(RequestKind::New, 2, Side::Sell, 102, 1));
    let passes = venue.passes();
    // Levels at other prices, a touch that reaches neither order, a buy
    // taker's print below the sell and a sell taker's above the buy.
    let away = [
        record(RecordKind::Bid, 99, 1),
        record(RecordKind::Ask, 103, 1),
        record(RecordKind::Ask, 101, 0),
        record(RecordKind::TradeBuy, 101, 4),
        record(RecordKind::TradeSell, 101, 4),
        record(RecordKind::TradeBuy, 100, 4),
    ];
    assert!(tape(&mut venue, &away).is_empty());
    assert_eq!(venue.passes(), passes, "no row reached an order");
    assert_eq!(venue.volume_ahead(0, 1), Some(5));
    // The buy's level shrinks: its queue moves (rule 4).
    assert!(tape(&mut venue, &[record(RecordKind::Bid, 100, 2)]).is_empty());
    assert_eq!(venue.passes(), passes + 1);
    assert_eq!(venue.volume_ahead(0, 1), Some(2));
    // The bid reaches the sell (rule 6), away from either order's price.
    let replies = tape(&mut venue, &[record(RecordKind::Bid, 102, 1)]);
    assert_eq!(fills(&replies), vec![(2, 102, 1, true)]);
    assert_eq!(venue.passes(), passes + 2);
}

// `on_record_touch` answers the touch a book delta carries: 0 for an empty
// side, the book's best prices after a level change, none after a print or
// for an instrument the venue does not list (which it ignores).
#[test]
fn the_touch_answered_is_the_books_after_the_row() {
    let mut venue = venue();
    let touch = |venue: &mut BacktestVenue, record: TapeRecord| {
        let touch = venue.on_record_touch(&record, &mut |_| panic!("no order rests"));
        if !record.kind.is_trade() {
            assert_eq!(touch, venue.touch(record.instrument).unwrap_or((0, 0)));
        }
        touch
    };
    assert_eq!(touch(&mut venue, record(RecordKind::Bid, 99, 3)), (99, 0));
    assert_eq!(
        touch(&mut venue, record(RecordKind::Ask, 101, 2)),
        (99, 101)
    );
    assert_eq!(
        touch(&mut venue, record(RecordKind::Bid, 100, 1)),
        (100, 101)
    );
    assert_eq!(
        touch(&mut venue, record(RecordKind::TradeBuy, 101, 1)),
        (0, 0)
    );
    assert_eq!(touch(&mut venue, record(RecordKind::Ask, 101, 0)), (100, 0));
    let mut unlisted = record(RecordKind::Bid, 50, 1);
    unlisted.instrument = 7;
    assert_eq!(touch(&mut venue, unlisted), (0, 0));
    assert_eq!(venue.touch(0), Some((100, 0)));
}
