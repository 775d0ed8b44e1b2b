//! ITCH 5.0 over MoldUDP64 through `ItchFeed`: every message type round-trips
//! through the encoder and decoder, a lost packet opens a gap with the right
//! retransmission request and stale books until it is filled, and malformed
//! datagrams follow the documented skip-and-count policy.

use genesis_io::book::{Price, Qty, StaleFlags};
use genesis_io::itch::{
    decode, encode_message, AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage,
    MessageHeader, MoldPacketBuilder, OrderCancel, OrderDelete, OrderExecuted,
    OrderExecutedWithPrice, OrderReplace, PacketOutcome, Price4, Session, StockDirectory,
    StockSymbol, SystemEvent, Trade,
};

const SESSION: Session = Session(*b"TESTSESS01");
const LOCATE: u16 = 13;

fn header(timestamp_ns: u64) -> MessageHeader {
    MessageHeader {
        stock_locate: LOCATE,
        tracking_number: 5,
        timestamp_ns,
    }
}

fn symbol() -> StockSymbol {
    StockSymbol::from_str_padded("MSFT").unwrap()
}

fn add(order_ref: u64, side: BuySell, price: u32, shares: u32) -> ItchMessage {
    ItchMessage::AddOrder(AddOrder {
        header: header(34_200_000_000_123),
        order_ref,
        side,
        shares,
        stock: symbol(),
        price: Price4(price),
        attribution: None,
    })
}

fn directory() -> ItchMessage {
    ItchMessage::StockDirectory(StockDirectory {
        header: header(1),
        stock: symbol(),
        market_category: b'Q',
        financial_status: b'N',
        round_lot_size: 100,
        round_lots_only: b'N',
        issue_classification: b'C',
        issue_sub_type: *b"Z ",
        authenticity: b'P',
        short_sale_threshold: b'N',
        ipo_flag: b' ',
        luld_reference_price_tier: b'1',
        etp_flag: b'N',
        etp_leverage_factor: 0,
        inverse_indicator: b'N',
    })
}

fn feed() -> ItchFeed {
    ItchFeed::new(ItchFeedConfig {
        symbols: vec![symbol()],
        orders_max: 1024,
        levels_max: 64,
        next_sequence: Some(1),
        request_retry_ns: 1_000_000,
        request_count_max: 500,
    })
}

fn packet(sequence_number: u64, messages: &[ItchMessage]) -> Vec<u8> {
    let mut b = MoldPacketBuilder::new(SESSION, sequence_number);
    for m in messages {
        assert!(b.push(m));
    }
    b.bytes().to_vec()
}

// Every decoded type, including 'F' with MPID, encodes and decodes back
// identically, with the spec's length, and a 48-bit timestamp kept exact.
#[test]
fn every_message_type_round_trips() {
    let h = header(0xFFFF_FFFF_FFFF);
    let messages = [
        ItchMessage::SystemEvent(SystemEvent {
            header: h,
            event_code: b'O',
        }),
        directory(),
        add(1, BuySell::Buy, 1_000_100, 100),
        ItchMessage::AddOrder(AddOrder {
            header: h,
            order_ref: 2,
            side: BuySell::Sell,
            shares: 50,
            stock: symbol(),
            price: Price4(u32::MAX),
            attribution: Some(*b"GSCO"),
        }),
        ItchMessage::OrderExecuted(OrderExecuted {
            header: h,
            order_ref: 1,
            executed_shares: 10,
            match_number: 77,
        }),
        ItchMessage::OrderExecutedWithPrice(OrderExecutedWithPrice {
            header: h,
            order_ref: 1,
            executed_shares: 10,
            match_number: 78,
            printable: b'Y',
            execution_price: Price4(1_000_000),
        }),
        ItchMessage::OrderCancel(OrderCancel {
            header: h,
            order_ref: 1,
            cancelled_shares: 5,
        }),
        ItchMessage::OrderDelete(OrderDelete {
            header: h,
            order_ref: 1,
        }),
        ItchMessage::OrderReplace(OrderReplace {
            header: h,
            original_order_ref: 2,
            new_order_ref: 3,
            shares: 60,
            price: Price4(999_900),
        }),
        ItchMessage::Trade(Trade {
            header: h,
            order_ref: 0,
            side: BuySell::Buy,
            shares: 300,
            stock: symbol(),
            price: Price4(1_000_050),
            match_number: 79,
        }),
    ];
    assert_eq!(
        messages[0].header().timestamp_ns,
        0xFFFF_FFFF_FFFF,
        "largest 48-bit timestamp"
    );
    let expected_len = [12, 39, 36, 40, 31, 36, 23, 19, 35, 44];
    for (m, len) in messages.iter().zip(expected_len) {
        let mut bytes = Vec::new();
        encode_message(m, &mut bytes);
        assert_eq!(bytes.len(), len, "{m:?}");
        assert_eq!(decode(&bytes), Ok(*m));
        assert_eq!(
            decode(&bytes).unwrap().header().timestamp_ns,
            m.header().timestamp_ns
        );
    }
}

// The stock directory binds the locate; adds build the book; best prices are
// the exact 4-decimal fixed point values.
#[test]
fn directory_routes_and_book_builds() {
    let mut f = feed();
    let mut seen = 0;
    let p = packet(
        1,
        &[
            directory(),
            add(1, BuySell::Buy, 1_000_100, 100),
            add(2, BuySell::Sell, 1_000_200, 40),
        ],
    );
    let outcome = f.on_datagram(&p, |book, _| {
        assert_eq!(book, Some(0));
        seen += 1;
    });
    assert_eq!(
        outcome,
        PacketOutcome::Applied {
            message_count: 3,
            gap_closed: false
        }
    );
    assert_eq!(seen, 3);
    let book = f.book(0).unwrap();
    assert_eq!(book.best_bid().unwrap().price, Price(1_000_100));
    assert_eq!(book.best_ask().unwrap().qty, Qty(40));
    assert!(!book.is_stale());
}

// Packet 2 (sequence 3..4) is lost: packet 3 opens a gap, books go stale,
// the request asks for 3..=5, live packets during the gap are dropped, and
// the retransmission restores the book and clears the stale flag.
#[test]
fn gap_request_and_recovery() {
    let mut f = feed();
    let p1 = packet(1, &[directory(), add(1, BuySell::Buy, 100, 10)]);
    let p2 = packet(
        3,
        &[
            add(2, BuySell::Buy, 101, 10),
            add(3, BuySell::Sell, 105, 10),
        ],
    );
    let p3 = packet(
        5,
        &[ItchMessage::OrderDelete(OrderDelete {
            header: header(9),
            order_ref: 2,
        })],
    );
    let p4 = packet(6, &[add(4, BuySell::Sell, 104, 7)]);
    f.on_datagram(&p1, |_, _| {});
    assert_eq!(f.poll_request(0), None);

    assert_eq!(f.on_datagram(&p3, |_, _| {}), PacketOutcome::Gap);
    assert!(f.book(0).unwrap().stale_flags().contains(StaleFlags::GAP));
    let request = f.poll_request(10).expect("a request is due at once");
    assert_eq!(
        (
            request.session,
            request.sequence_number,
            request.message_count
        ),
        (SESSION, 3, 3)
    );
    assert_eq!(request.encode().len(), 20);
    assert_eq!(
        f.poll_request(20),
        None,
        "no repeat before the retry interval"
    );

    assert_eq!(
        f.on_datagram(&p4, |_, _| {}),
        PacketOutcome::Gap,
        "live data beyond the gap is dropped"
    );
    let again = f.poll_request(2_000_000).expect("retry after the interval");
    assert_eq!((again.sequence_number, again.message_count), (3, 4));

    // Retransmissions arrive (the server may resend p2 and p3 separately).
    assert_eq!(
        f.on_datagram(&p2, |_, _| {}),
        PacketOutcome::Applied {
            message_count: 2,
            gap_closed: false
        }
    );
    assert_eq!(
        f.on_datagram(&p3, |_, _| {}),
        PacketOutcome::Applied {
            message_count: 1,
            gap_closed: false
        }
    );
    assert_eq!(
        f.on_datagram(&p4, |_, _| {}),
        PacketOutcome::Applied {
            message_count: 1,
            gap_closed: true
        }
    );
    let book = f.book(0).unwrap();
    assert!(!book.is_stale());
    assert_eq!(book.best_bid().unwrap().price, Price(100));
    assert_eq!(book.best_ask().unwrap().price, Price(104));
    assert_eq!(f.sequence_stats().gaps_opened, 1);
    assert_eq!(f.sequence_stats().gaps_closed, 1);
    assert_eq!(f.on_datagram(&p2, |_, _| {}), PacketOutcome::Duplicate);
}

// A heartbeat announcing a later sequence also opens a gap.
#[test]
fn heartbeat_ahead_opens_gap() {
    let mut f = feed();
    assert_eq!(
        f.on_datagram(&MoldPacketBuilder::heartbeat(SESSION, 1), |_, _| {}),
        PacketOutcome::Heartbeat
    );
    assert_eq!(
        f.on_datagram(&MoldPacketBuilder::heartbeat(SESSION, 4), |_, _| {}),
        PacketOutcome::Gap
    );
    let r = f.poll_request(0).unwrap();
    assert_eq!((r.sequence_number, r.message_count), (1, 3));
    assert_eq!(
        f.on_datagram(&MoldPacketBuilder::end_of_session(SESSION, 1), |_, _| {}),
        PacketOutcome::EndOfSession
    );
}

// Truncated datagrams are dropped whole and not sequenced; unknown and
// wrong-length messages are skipped by length, counted, and still sequenced.
#[test]
fn bad_input_policy() {
    let mut f = feed();
    let good = packet(1, &[directory(), add(1, BuySell::Buy, 100, 10)]);
    let truncated = &good[..good.len() - 3];
    assert_eq!(f.on_datagram(truncated, |_, _| {}), PacketOutcome::Dropped);
    assert_eq!(f.on_datagram(&good[..7], |_, _| {}), PacketOutcome::Dropped);
    assert_eq!(f.stats().datagrams_malformed, 2);
    assert_eq!(f.tracker().next_sequence(), Some(1));

    let mut b = MoldPacketBuilder::new(SESSION, 1);
    b.push(&directory());
    b.push_raw(b"Hxxxxxxxxxxxxxxxxxxxxxxxx"); // trading action: valid type, not decoded
    b.push_raw(b"~some future type");
    b.push_raw(&[b'D', 0, 13]); // delete with a wrong length
    b.push(&add(1, BuySell::Buy, 100, 10));
    assert_eq!(
        f.on_datagram(b.bytes(), |_, _| {}),
        PacketOutcome::Applied {
            message_count: 5,
            gap_closed: false
        }
    );
    assert_eq!(f.stats().messages_unknown_type, 2);
    assert_eq!(f.stats().messages_malformed, 1);
    assert_eq!(f.tracker().next_sequence(), Some(6));
    assert_eq!(f.book(0).unwrap().order_count(), 1);
}

// An update for an unknown order is counted and marks the book stale.
#[test]
fn unknown_order_marks_book_stale() {
    let mut f = feed();
    let p = packet(
        1,
        &[
            directory(),
            ItchMessage::OrderDelete(OrderDelete {
                header: header(2),
                order_ref: 99,
            }),
        ],
    );
    f.on_datagram(&p, |_, _| {});
    assert_eq!(f.stats().book_rejects, 1);
    assert!(f
        .book(0)
        .unwrap()
        .stale_flags()
        .contains(StaleFlags::INCONSISTENT));
}
