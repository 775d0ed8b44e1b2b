//! The ITCH recovery state machine (`Recovery` over an `ItchFeed`), with no
//! sockets and a clock the test drives: a small gap is refilled by bounded
//! retransmission requests while live datagrams wait in the buffer; every
//! hole is asked for in one pass and heals in one round trip, each message
//! applied and handed on once; a large
//! gap, a late join, a join with no sequence and a stalled retransmission go
//! to a snapshot; the snapshot rebuilds the books and the buffered
//! datagrams after its sequence are applied; an overflow restarts the
//! snapshot; failures back off; books are stale exactly while recovering.

use genesis_io::book::{L3Book, Level, Side, StaleFlags};
use genesis_io::itch::glimpse::end_of_snapshot;
use genesis_io::itch::{
    encode_message, AddOrder, Arrival, BuySell, DatagramSource, ItchFeed, ItchFeedConfig,
    ItchInstrument, ItchMessage, MessageHeader, MoldPacketBuilder, MoldRequest, OrderDelete,
    Price4, Recovery, RecoveryConfig, Session, SnapshotFailure, StockSymbol,
};
use proptest::prelude::*;

const SESSION: Session = Session(*b"RECOVERY01");

fn symbol() -> StockSymbol {
    StockSymbol::from_str_padded("IBM").unwrap()
}

fn header() -> MessageHeader {
    MessageHeader {
        stock_locate: 1,
        tracking_number: 0,
        timestamp_ns: 1,
    }
}

fn directory() -> ItchMessage {
    let instrument = ItchInstrument {
        stock_locate: 1,
        stock: symbol(),
        price4_per_tick: 1,
    };
    instrument.directory(1)
}

fn add(order_ref: u64, price: u32) -> ItchMessage {
    ItchMessage::AddOrder(AddOrder {
        header: header(),
        order_ref,
        side: if price < 1_000 {
            BuySell::Buy
        } else {
            BuySell::Sell
        },
        shares: 10,
        stock: symbol(),
        price: Price4(price),
        attribution: None,
    })
}

fn delete(order_ref: u64) -> ItchMessage {
    ItchMessage::OrderDelete(OrderDelete {
        header: header(),
        order_ref,
    })
}

fn packet(sequence_number: u64, messages: &[ItchMessage]) -> Vec<u8> {
    let mut builder = MoldPacketBuilder::new(SESSION, sequence_number);
    messages.iter().for_each(|m| assert!(builder.push(m)));
    builder.bytes().to_vec()
}

/// Message `n` of a deterministic stream: a directory first, then adds,
/// and every third message deletes the order added two before it.
fn message(n: u64) -> ItchMessage {
    match n {
        1 => directory(),
        n if n % 3 == 0 && n > 3 => delete(n - 2),
        n => add(
            n,
            if n % 2 == 0 {
                900 - (n % 50) as u32
            } else {
                1_100 + (n % 50) as u32
            },
        ),
    }
}

/// Packets of two messages each from sequence `first`.
fn stream_packet(first: u64) -> Vec<u8> {
    packet(first, &[message(first), message(first + 1)])
}

fn feed(next_sequence: Option<u64>) -> ItchFeed {
    ItchFeed::new(ItchFeedConfig {
        symbols: vec![symbol()],
        orders_max: 1_024,
        levels_max: 256,
        next_sequence,
        request_retry_ns: 1_000,
        request_count_max: 4,
    })
}

/// The book after applying messages `1..end` with no loss.
fn reference(end: u64) -> L3Book {
    let mut f = feed(Some(1));
    let mut n = 1;
    while n + 1 < end {
        f.on_datagram(&stream_packet(n), |_, _| {});
        n += 2;
    }
    if n < end {
        f.on_datagram(&packet(n, &[message(n)]), |_, _| {});
    }
    f.book(0).unwrap().clone()
}

fn levels(book: &L3Book, side: Side) -> Vec<Level> {
    book.levels(side).iter_best_first().copied().collect()
}

fn assert_same_book(a: &L3Book, b: &L3Book) {
    assert_eq!(a.order_count(), b.order_count());
    assert_eq!(levels(a, Side::Bid), levels(b, Side::Bid));
    assert_eq!(levels(a, Side::Ask), levels(b, Side::Ask));
}

struct Rig {
    feed: ItchFeed,
    recovery: Recovery,
    seen: Vec<u64>,
}

impl Rig {
    fn new(next_sequence: Option<u64>, config: RecoveryConfig, snapshot: bool) -> Rig {
        Rig {
            feed: feed(next_sequence),
            recovery: Recovery::new(config, snapshot),
            seen: Vec::new(),
        }
    }

    fn datagram(&mut self, bytes: &[u8], source: DatagramSource, now_ns: u64) {
        let seen = &mut self.seen;
        let arrival = Arrival {
            bytes,
            ts_recv_ns: now_ns,
            source,
        };
        self.recovery
            .on_datagram(&mut self.feed, arrival, now_ns, &mut |ts, _, _| {
                seen.push(ts)
            });
        self.replay(now_ns);
    }

    fn replay(&mut self, now_ns: u64) {
        let seen = &mut self.seen;
        self.recovery
            .replay(&mut self.feed, now_ns, &mut |ts, _, _| seen.push(ts));
    }

    /// The requests of a pass due at `now_ns`, as (first, count).
    fn poll(&mut self, now_ns: u64) -> Vec<(u64, u16)> {
        self.recovery
            .poll(&mut self.feed, now_ns)
            .iter()
            .map(|r: &MoldRequest| (r.sequence_number, r.message_count))
            .collect()
    }

    /// What the venue sends back for a request: the stream's messages.
    fn answer(&mut self, (first, count): (u64, u16), now_ns: u64) {
        let messages: Vec<ItchMessage> = (first..first + u64::from(count)).map(message).collect();
        self.datagram(
            &packet(first, &messages),
            DatagramSource::Retransmission,
            now_ns,
        );
    }

    fn live(&mut self, first: u64, now_ns: u64) {
        self.datagram(&stream_packet(first), DatagramSource::Live, now_ns);
    }

    /// A snapshot of the reference book at `next_sequence`, fed as the
    /// receiver would after the login was accepted.
    fn snapshot(&mut self, next_sequence: u64) {
        self.recovery.snapshot_login_accepted(&mut self.feed);
        let book = reference(next_sequence);
        let mut bodies = Vec::new();
        let mut body = Vec::new();
        encode_message(&directory(), &mut body);
        bodies.push(body);
        // Every resting order of the loss-free book (order refs are
        // message numbers), as GLIMPSE sends them.
        for order_ref in 1..next_sequence {
            let Some(order) = book.order(order_ref) else {
                continue;
            };
            let ItchMessage::AddOrder(mut a) = add(order_ref, order.price.0 as u32) else {
                unreachable!()
            };
            a.shares = order.qty.0 as u32;
            let mut body = Vec::new();
            encode_message(&ItchMessage::AddOrder(a), &mut body);
            bodies.push(body);
        }
        let seen = &mut self.seen;
        for body in &bodies {
            let done = self
                .recovery
                .snapshot_message(&mut self.feed, body, 7, &mut |ts, _, _| seen.push(ts))
                .unwrap();
            assert!(!done);
        }
        let done = self
            .recovery
            .snapshot_message(
                &mut self.feed,
                &end_of_snapshot(next_sequence),
                7,
                &mut |ts, _, _| seen.push(ts),
            )
            .unwrap();
        assert!(done, "End of Snapshot completes it");
    }

    fn stale(&self) -> bool {
        self.feed.book(0).unwrap().is_stale()
    }
}

// Messages 5..=8 are lost: the book goes stale, live packets after the
// gap are buffered (not applied), one request asks for exactly the hole,
// its answer is applied, then the buffered packets, and the book is fresh
// and equal to a loss-free one.
#[test]
fn small_gap_refilled_by_retransmission_with_buffering() {
    let mut rig = Rig::new(Some(1), RecoveryConfig::default(), true);
    rig.live(1, 10);
    rig.live(3, 20);
    assert!(!rig.stale());
    rig.live(9, 30);
    rig.live(11, 40);
    assert!(rig.stale(), "a gap makes the book stale");
    assert_eq!(rig.recovery.buffered_len(), 2);
    assert_eq!(rig.seen.len(), 8, "past the gap: handed on at once, stale");
    assert!(
        rig.feed.book(0).unwrap().order(10).is_none(),
        "but not applied yet"
    );
    assert_eq!(rig.poll(50), [(5, 4)], "a request at once");
    assert_eq!(rig.poll(60), [], "no repeat before the retry");
    rig.datagram(
        &packet(5, &[message(5), message(6), message(7), message(8)]),
        DatagramSource::Retransmission,
        70,
    );
    assert!(
        !rig.stale(),
        "caught up: fresh again: {:?} {:?} {:?}",
        rig.recovery.stats(),
        rig.feed.tracker().next_sequence(),
        rig.feed.book(0).unwrap().stale_flags()
    );
    assert_same_book(rig.feed.book(0).unwrap(), &reference(13));
    assert_eq!(rig.seen.len(), 12, "every message once");
    assert_eq!(
        rig.seen[8..],
        [70; 4],
        "the missing ones when retransmitted"
    );
    let stats = rig.recovery.stats();
    assert_eq!(
        (
            stats.gaps,
            stats.resyncs,
            stats.messages_recovered_retransmit
        ),
        (1, 1, 4)
    );
    assert_eq!(stats.recovery_last_ns, 70 - 30);
    assert_eq!(stats.snapshots_requested, 0);
}

// Requests are bounded: a hole is asked for in requests of at most
// request_count_max messages, all in one pass; a range is repeated only
// after request_retry_ns; passes are never closer than
// request_interval_min_ns; a partial answer does not ask again for what is
// still in flight.
#[test]
fn requests_bounded_in_size_and_rate() {
    let config = RecoveryConfig {
        request_interval_min_ns: 100,
        ..RecoveryConfig::default()
    };
    let mut rig = Rig::new(Some(1), config, false);
    rig.live(1, 0);
    rig.live(13, 0);
    assert_eq!(rig.poll(0), [(3, 4), (7, 4), (11, 2)], "one pass, split");
    assert_eq!(rig.poll(999), []);
    let retried = rig.poll(1_000);
    assert_eq!(
        retried,
        [(3, 4), (7, 4), (11, 2)],
        "retried after request_retry_ns"
    );
    rig.datagram(
        &packet(3, &[message(3), message(4), message(5), message(6)]),
        DatagramSource::Retransmission,
        1_010,
    );
    assert_eq!(rig.poll(1_050), [], "within the minimum interval");
    assert_eq!(rig.poll(1_100), [], "the rest is still in flight");
    assert_eq!(rig.poll(2_000), [(7, 4), (11, 2)], "until its retry");
    assert_eq!(rig.recovery.stats().requests_sent, 8);
}

// Three holes between live datagrams: one pass asks for all three; the
// answers for the later two arrive first and are kept (a repeat of one is
// dropped), the first hole's answer comes last, and the whole stream is
// applied in order: the book is fresh and equal to a loss-free one, and
// every message was handed on exactly once.
#[test]
fn several_holes_heal_in_one_round_trip() {
    let mut rig = Rig::new(Some(1), RecoveryConfig::default(), false);
    for first in [1, 5, 9, 13] {
        rig.live(first, 10);
    }
    assert!(rig.stale());
    assert_eq!(rig.seen.len(), 8, "live messages handed on as they came");
    let requests = rig.poll(20);
    assert_eq!(requests, [(3, 2), (7, 2), (11, 2)], "every hole, one pass");
    rig.answer(requests[1], 30);
    rig.answer(requests[2], 31);
    rig.answer(requests[1], 32);
    assert_eq!(rig.recovery.answers_len(), 2, "later holes kept");
    assert!(rig.stale(), "the first hole is still open");
    assert_eq!(rig.seen.len(), 8, "kept answers are handed on when applied");
    rig.answer(requests[0], 40);
    assert!(!rig.stale(), "caught up in one round trip");
    assert_same_book(rig.feed.book(0).unwrap(), &reference(15));
    assert_eq!(rig.seen.len(), 14, "every message handed on once");
    assert_eq!(rig.poll(50), [], "nothing left to ask for");
    let stats = rig.recovery.stats();
    assert_eq!(stats.requests_sent, 3);
    assert_eq!(stats.messages_recovered_retransmit, 6);
    assert_eq!(
        (stats.retransmissions_kept, stats.retransmissions_dropped),
        (2, 1)
    );
    assert_eq!((stats.resyncs, rig.recovery.answers_len()), (1, 0));
}

proptest! {
    // Any pattern of lost packets (two messages each; the stream ends with
    // a heartbeat, so a loss at the tail shows): one pass asks for every
    // hole (one request per request_count_max piece of each run of lost
    // messages), and answering those requests alone, the first hole's
    // answer last or first, heals everything: fresh, the loss-free book,
    // each message handed on once, nothing left to ask for.
    #[test]
    fn every_hole_is_asked_for_at_once(
        lost in proptest::collection::vec(any::<bool>(), 1..40),
        first_answer_last in any::<bool>(),
    ) {
        let mut rig = Rig::new(Some(1), RecoveryConfig::default(), false);
        for (index, lost) in lost.iter().enumerate() {
            if !lost {
                rig.live(2 * index as u64 + 1, 10);
            }
        }
        let end = 2 * lost.len() as u64 + 1;
        rig.datagram(&packet(end, &[]), DatagramSource::Live, 10);
        let mut expected = 0u64;
        let mut run = 0u64;
        for lost in lost.iter().chain([&false]) {
            if *lost {
                run += 2;
            } else {
                expected += run.div_ceil(4);
                run = 0;
            }
        }
        let mut requests = rig.poll(20);
        prop_assert_eq!(requests.len() as u64, expected, "{:?}", requests);
        if first_answer_last && !requests.is_empty() {
            requests.rotate_left(1);
        }
        for request in requests {
            rig.answer(request, 30);
        }
        prop_assert!(!rig.stale(), "{:?}", rig.recovery.stats());
        assert_same_book(rig.feed.book(0).unwrap(), &reference(end));
        prop_assert_eq!(rig.seen.len() as u64, end - 1, "each message once");
        prop_assert_eq!(rig.poll(40), vec![]);
        prop_assert_eq!(rig.recovery.stats().resyncs, u64::from(expected > 0));
    }
}

// A gap larger than the threshold goes to a snapshot: the books are
// rebuilt from it, buffered datagrams before its sequence are dropped and
// those after applied, and the book equals the loss-free one.
#[test]
fn large_gap_healed_from_snapshot_and_buffer() {
    let config = RecoveryConfig {
        snapshot_gap_messages_min: 10,
        ..RecoveryConfig::default()
    };
    let mut rig = Rig::new(Some(1), config, true);
    rig.live(1, 0);
    rig.live(41, 10);
    assert!(rig.stale());
    assert!(rig.recovery.snapshot_due(10));
    assert_eq!(rig.poll(10), [], "no request: a snapshot");
    rig.recovery.snapshot_started();
    // During the snapshot: live packets 43..=50 are buffered.
    for first in [43, 45, 47, 49] {
        rig.live(first, 20);
    }
    assert_eq!(rig.recovery.buffered_len(), 4);
    rig.snapshot(47);
    assert!(rig.stale(), "stale until the buffer is replayed");
    rig.replay(30);
    assert!(!rig.stale());
    assert_same_book(rig.feed.book(0).unwrap(), &reference(51));
    let stats = rig.recovery.stats();
    assert_eq!(
        (
            stats.snapshots_requested,
            stats.snapshots_applied,
            stats.resyncs
        ),
        (1, 1, 1)
    );
}

// Joining with no known sequence asks for a snapshot before any datagram,
// and counts a late join.
#[test]
fn join_without_sequence_takes_a_snapshot() {
    let mut rig = Rig::new(None, RecoveryConfig::default(), true);
    assert_eq!(rig.poll(5), []);
    assert!(rig.recovery.snapshot_due(5));
    assert!(rig.stale());
    rig.recovery.snapshot_started();
    rig.live(21, 6);
    rig.snapshot(21);
    rig.replay(7);
    assert!(!rig.stale());
    assert_same_book(rig.feed.book(0).unwrap(), &reference(23));
    assert_eq!(rig.recovery.stats().late_joins, 1);
}

// A retransmission that never comes hands the gap to a snapshot after
// retransmit_timeout_ns without progress.
#[test]
fn stalled_retransmission_falls_back_to_snapshot() {
    let config = RecoveryConfig {
        retransmit_timeout_ns: 500,
        ..RecoveryConfig::default()
    };
    let mut rig = Rig::new(Some(1), config, true);
    rig.live(1, 0);
    rig.live(5, 100);
    assert!(!rig.poll(100).is_empty());
    assert!(!rig.recovery.snapshot_due(599));
    assert_eq!(rig.poll(599), []);
    assert!(!rig.recovery.snapshot_due(599));
    rig.recovery.poll(&mut rig.feed, 600);
    assert!(rig.recovery.snapshot_due(600));
    assert_eq!(rig.recovery.stats().retransmit_timeouts, 1);
}

// A failed snapshot is counted and retried after a growing backoff; the
// books stay stale meanwhile.
#[test]
fn failed_snapshots_back_off() {
    let config = RecoveryConfig {
        snapshot_backoff_initial_ns: 1_000,
        snapshot_backoff_max_ns: 8_000,
        ..RecoveryConfig::default()
    };
    let mut rig = Rig::new(None, config, true);
    rig.recovery.poll(&mut rig.feed, 0);
    let mut now = 0;
    let mut delays = Vec::new();
    for _ in 0..5 {
        assert!(rig.recovery.snapshot_due(now));
        rig.recovery.snapshot_started();
        rig.recovery
            .snapshot_failed(SnapshotFailure::ConnectFailed { errno: 111 }, now);
        let mut wait = 1;
        while !rig.recovery.snapshot_due(now + wait) {
            wait += 1;
        }
        delays.push(wait);
        now += wait;
        assert!(rig.stale());
    }
    let bases = [1_000, 2_000, 4_000, 8_000, 8_000];
    for (delay, base) in delays.iter().zip(bases) {
        assert!(*delay >= base / 2 && *delay <= base, "{delays:?}");
    }
    let stats = rig.recovery.stats();
    assert_eq!((stats.snapshots_requested, stats.snapshots_failed), (5, 5));
    assert_eq!(
        stats.snapshot_failure_last,
        Some(SnapshotFailure::ConnectFailed { errno: 111 })
    );
}

// The buffer overflowing while a snapshot loads fails that attempt
// (counted) and a new one follows; buffered data is never applied out of
// order.
#[test]
fn overflow_while_loading_restarts_the_snapshot() {
    let config = RecoveryConfig {
        buffer_datagrams_max: 3,
        snapshot_backoff_initial_ns: 10,
        ..RecoveryConfig::default()
    };
    let mut rig = Rig::new(None, config, true);
    rig.recovery.poll(&mut rig.feed, 0);
    rig.recovery.snapshot_started();
    for first in [1, 3, 5, 7] {
        rig.live(first, 1);
    }
    let stats = *rig.recovery.stats();
    assert_eq!((stats.buffer_overflows, stats.snapshots_failed), (1, 1));
    assert_eq!(
        stats.snapshot_failure_last,
        Some(SnapshotFailure::BufferOverflow)
    );
    assert!(!rig.recovery.snapshot_loading());
    assert!(rig.recovery.snapshot_due(11));
    rig.recovery.snapshot_started();
    rig.live(9, 12);
    rig.snapshot(9);
    rig.replay(13);
    assert!(!rig.stale());
    assert_same_book(rig.feed.book(0).unwrap(), &reference(11));
}

// Without a snapshot source a large gap is still refilled by requests.
#[test]
fn without_snapshot_large_gaps_use_retransmission() {
    let config = RecoveryConfig {
        snapshot_gap_messages_min: 2,
        ..RecoveryConfig::default()
    };
    let mut rig = Rig::new(Some(1), config, false);
    rig.live(1, 0);
    rig.live(9, 0);
    assert!(!rig.recovery.snapshot_due(0));
    assert_eq!(rig.poll(0), [(3, 4), (7, 2)]);
    let book_stale = rig.feed.book(0).unwrap().stale_flags();
    assert!(book_stale.contains(StaleFlags::GAP));
}
