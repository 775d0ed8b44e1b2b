//! MoldUDP64 over real UDP sockets on loopback: a publisher loses one packet
//! on purpose, the receiver sees the gap (books stale), asks the request
//! port, the retransmission fills the gap (books live), and the final book
//! equals one built from the same messages without loss; with several
//! packets lost, every hole is asked for before any answer comes, and one
//! round of answers heals them all.
//!
//! Single-threaded: the test loop drives the reactor, the request server
//! and the receiver in turn, waiting on conditions with deadlines.

use genesis_io::book::{L3Book, Level, Side};
use genesis_io::itch::{
    AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader, MoldPacketBuilder,
    OrderCancel, OrderDelete, OrderExecuted, OrderReplace, Price4, Session, StockDirectory,
    StockSymbol,
};
use genesis_io::net::{
    MoldPublisher, MoldPublisherConfig, MoldReceiver, MoldReceiverConfig, MoldRequestServer,
    PollMode, Reactor, SocketOptions,
};
use mio::Token;
use std::time::{Duration, Instant};

const SESSION: Session = Session(*b"NETTEST001");
const LOCATE: u16 = 7;
const DEADLINE: Duration = Duration::from_secs(10);

fn symbol() -> StockSymbol {
    StockSymbol::from_str_padded("AAPL").unwrap()
}

fn header() -> MessageHeader {
    MessageHeader {
        stock_locate: LOCATE,
        tracking_number: 0,
        timestamp_ns: 34_200_000_000_000,
    }
}

fn directory() -> ItchMessage {
    ItchMessage::StockDirectory(StockDirectory {
        header: header(),
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

fn add(order_ref: u64, side: BuySell, price: u32, shares: u32) -> ItchMessage {
    ItchMessage::AddOrder(AddOrder {
        header: header(),
        order_ref,
        side,
        shares,
        stock: symbol(),
        price: Price4(price),
        attribution: None,
    })
}

/// Packets of messages: a directory, a ladder of orders on both sides,
/// then executions, cancels, deletes and replaces touching earlier orders,
/// so a lost packet changes the book if it is not recovered.
fn packets() -> Vec<Vec<ItchMessage>> {
    let mut packets = vec![vec![directory()]];
    for i in 0..12u32 {
        let id = u64::from(i) * 2 + 1;
        packets.push(vec![
            add(id, BuySell::Buy, 1_000_000 - i * 100, 100 + i),
            add(id + 1, BuySell::Sell, 1_010_000 + i * 100, 200 + i),
        ]);
    }
    packets.push(vec![ItchMessage::OrderExecuted(OrderExecuted {
        header: header(),
        order_ref: 1,
        executed_shares: 40,
        match_number: 1,
    })]);
    packets.push(vec![ItchMessage::OrderCancel(OrderCancel {
        header: header(),
        order_ref: 2,
        cancelled_shares: 50,
    })]);
    packets.push(vec![ItchMessage::OrderDelete(OrderDelete {
        header: header(),
        order_ref: 3,
    })]);
    packets.push(vec![ItchMessage::OrderReplace(OrderReplace {
        header: header(),
        original_order_ref: 4,
        new_order_ref: 1_000,
        shares: 999,
        price: Price4(1_005_000),
    })]);
    packets.push(vec![add(2_000, BuySell::Buy, 1_000_500, 300)]);
    packets
}

fn feed() -> ItchFeed {
    feed_retrying_after(200_000_000)
}

fn feed_retrying_after(request_retry_ns: u64) -> ItchFeed {
    ItchFeed::new(ItchFeedConfig {
        symbols: vec![symbol()],
        orders_max: 256,
        levels_max: 64,
        next_sequence: Some(1),
        request_retry_ns,
        request_count_max: 100,
    })
}

/// The book built from every packet, in order, with no network and no loss.
fn reference_book() -> L3Book {
    let mut reference = feed();
    let mut sequence = 1;
    for messages in packets() {
        let mut builder = MoldPacketBuilder::new(SESSION, sequence);
        for m in &messages {
            assert!(builder.push(m));
        }
        reference.on_datagram(builder.bytes(), |_, _| {});
        sequence += messages.len() as u64;
    }
    reference.book(0).unwrap().clone()
}

fn levels(book: &L3Book, side: Side) -> Vec<Level> {
    book.levels(side).iter_best_first().copied().collect()
}

struct Rig {
    reactor: Reactor,
    publisher: MoldPublisher,
    server: MoldRequestServer,
    receiver: MoldReceiver,
    feed: ItchFeed,
    started: Instant,
    messages_seen: usize,
    ts_recv_ns_last: u64,
}

impl Rig {
    /// The book is fresh and equal to the reference, and every message of
    /// the stream was handed on exactly once.
    fn assert_healed(&self, total_messages: usize) {
        let book = self.feed.book(0).unwrap();
        let reference = reference_book();
        assert!(!book.is_stale());
        assert_eq!(book.order_count(), reference.order_count());
        assert_eq!(levels(book, Side::Bid), levels(&reference, Side::Bid));
        assert_eq!(levels(book, Side::Ask), levels(&reference, Side::Ask));
        assert_eq!(
            self.messages_seen, total_messages,
            "every message seen once"
        );
    }

    fn new() -> Rig {
        let loopback = "127.0.0.1:0".parse().unwrap();
        let server = MoldRequestServer::bind(loopback, SESSION, 1400).unwrap();
        let mut receiver = MoldReceiver::bind(MoldReceiverConfig {
            feed_bind_addr: loopback,
            request_bind_addr: loopback,
            request_server_addr: server.local_addr().unwrap(),
            options: SocketOptions {
                busy_poll_us: Some(50),
                recv_buffer_bytes: Some(1 << 20),
                tcp_nodelay: true,
            },
            datagrams_per_poll_max: 64,
        })
        .unwrap();
        let publisher = MoldPublisher::bind(MoldPublisherConfig {
            session: SESSION,
            bind_addr: loopback,
            destination: receiver.feed_local_addr().unwrap(),
            first_sequence: 1,
            store_capacity: 1024,
            payload_bytes_max: 1400,
        })
        .unwrap();
        let reactor = Reactor::new(
            PollMode::Wait {
                timeout: Duration::from_millis(5),
            },
            64,
        )
        .unwrap();
        receiver
            .register(reactor.registry(), Token(0), Token(1))
            .unwrap();
        Rig {
            reactor,
            publisher,
            server,
            receiver,
            feed: feed(),
            started: Instant::now(),
            messages_seen: 0,
            ts_recv_ns_last: 0,
        }
    }

    /// One ingest-loop iteration; the request server answers only if asked.
    fn step(&mut self, serve_requests: bool) {
        self.reactor.poll().unwrap();
        if serve_requests {
            self.server.poll(self.publisher.store());
        }
        let started = self.started;
        let mut clock = move || started.elapsed().as_nanos() as u64 + 1;
        let mut seen = 0;
        let mut ts_last = 0;
        self.receiver
            .poll(&mut self.feed, &mut clock, |ts_recv_ns, book_index, _| {
                assert_eq!(book_index, Some(0));
                seen += 1;
                ts_last = ts_recv_ns;
            });
        self.messages_seen += seen;
        if seen > 0 {
            assert!(
                ts_last >= self.ts_recv_ns_last,
                "receive times are monotonic"
            );
            self.ts_recv_ns_last = ts_last;
        }
    }

    fn wait_until(&mut self, what: &str, serve: bool, done: impl Fn(&Rig) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "deadline passed waiting for {what}: feed {:?}, recovery {:?}, receiver {:?}",
                self.feed.stats(),
                self.receiver.recovery_stats(),
                self.receiver.stats()
            );
            self.step(serve);
        }
    }
}

// One packet in the middle is lost: gap, stale book, request, recovery, and
// the final book matches the loss-free reference.
#[test]
fn lost_packet_recovered_through_request_port() {
    let mut rig = Rig::new();
    let packets = packets();
    let drop_index = 5;
    let total_messages: usize = packets.iter().map(Vec::len).sum();

    // Phase 1: up to the lost packet and one after it; the server is silent.
    for (index, messages) in packets.iter().enumerate().take(drop_index + 2) {
        messages.iter().for_each(|m| rig.publisher.push(m));
        if index == drop_index {
            rig.publisher.flush_dropped();
        } else {
            rig.publisher.flush();
        }
    }
    rig.wait_until("the gap", false, |r| r.receiver.is_recovering());
    assert!(
        rig.feed.book(0).unwrap().is_stale(),
        "a gap marks the book stale"
    );
    rig.wait_until("the request", false, |r| {
        r.receiver.stats().requests_sent > 0
    });

    // Phase 2: the request port answers; the gap closes.
    rig.wait_until("the gap to close", true, |r| !r.receiver.is_recovering());
    assert!(
        !rig.feed.book(0).unwrap().is_stale(),
        "recovered book is live"
    );
    assert_eq!(rig.receiver.recovery_stats().resyncs, 1);
    assert_eq!(rig.receiver.recovery_stats().gaps, 1);
    assert!(rig.server.stats().messages_resent >= 2);

    // Phase 3: the rest of the stream, then compare with the reference.
    for messages in &packets[drop_index + 2..] {
        messages.iter().for_each(|m| rig.publisher.push(m));
        rig.publisher.flush();
    }
    let end = rig.publisher.next_sequence();
    rig.wait_until("the whole stream", true, |r| {
        r.feed.tracker().next_sequence() == Some(end)
    });

    rig.assert_healed(total_messages);
    assert_eq!(rig.publisher.stats().packets_dropped, 1);
}

// A heartbeat after a lost final packet reveals the tail loss, which is
// recovered the same way; junk on the request port is counted, not fatal.
#[test]
fn tail_loss_seen_by_heartbeat_and_junk_requests_counted() {
    let mut rig = Rig::new();
    let server_addr = rig.server.local_addr().unwrap();
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    junk.send_to(b"not a request", server_addr).unwrap();

    rig.publisher.push(&directory());
    rig.publisher.flush();
    rig.publisher.push(&add(1, BuySell::Buy, 1_000_000, 100));
    rig.publisher.flush_dropped();
    rig.publisher.send_heartbeat();

    let end = rig.publisher.next_sequence();
    rig.wait_until("tail recovery", true, |r| {
        r.feed.tracker().next_sequence() == Some(end) && !r.receiver.is_recovering()
    });
    let book = rig.feed.book(0).unwrap();
    assert_eq!(book.order_count(), 1);
    assert!(!book.is_stale());
    assert_eq!(rig.receiver.recovery_stats().gaps, 1);
    assert_eq!(rig.server.stats().requests_malformed, 1);
}

// Four packets lost (a deterministic set) with no retry within the test
// (60 s): while the request port is silent, the receiver asks for all four
// holes, one request each; one round of answers then heals every one of
// them in a single recovery, each message applied and seen once, and the
// book equals the loss-free reference.
#[test]
fn every_hole_asked_for_at_once_and_healed_in_one_round() {
    let mut rig = Rig::new();
    rig.feed = feed_retrying_after(60_000_000_000);
    let packets = packets();
    let lost = [3, 7, 11, 15];
    let total_messages: usize = packets.iter().map(Vec::len).sum();
    for (index, messages) in packets.iter().enumerate() {
        messages.iter().for_each(|m| rig.publisher.push(m));
        if lost.contains(&index) {
            rig.publisher.flush_dropped();
        } else {
            rig.publisher.flush();
        }
    }
    let live = (packets.len() - lost.len()) as u64;
    rig.wait_until("every hole asked for, the server silent", false, |r| {
        r.receiver.stats().feed_datagrams == live
            && r.receiver.stats().requests_sent == lost.len() as u64
    });
    assert!(rig.feed.book(0).unwrap().is_stale());
    assert_eq!(rig.server.stats().requests_answered, 0);

    let end = rig.publisher.next_sequence();
    rig.wait_until("one round of answers heals everything", true, |r| {
        r.feed.tracker().next_sequence() == Some(end) && !r.receiver.is_recovering()
    });
    rig.assert_healed(total_messages);
    assert_eq!(
        rig.receiver.stats().requests_sent,
        lost.len() as u64,
        "no hole asked for twice"
    );
    assert_eq!(rig.server.stats().requests_answered, lost.len() as u64);
    let recovery = rig.receiver.recovery_stats();
    assert_eq!(recovery.resyncs, 1, "healed together: {recovery:?}");
    let lost_messages: usize = lost.iter().map(|&index| packets[index].len()).sum();
    assert_eq!(recovery.messages_recovered_retransmit, lost_messages as u64);
}
