//! Proves the MoldUDP64 receive path with kernel stamps and recovery does
//! not allocate: after warm-up, `MoldReceiver::poll` reading with `recvmsg`,
//! opening gaps, buffering live datagrams, sending requests, applying
//! retransmissions and replaying the buffer performs zero heap allocations.
//! Only the receiver's polls are counted (the venue side on the same thread
//! is not), and the test checks that every path it claims ran did run.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

#[path = "support/itch_venue.rs"]
mod itch_venue;
use itch_venue::{loopback_publisher, loopback_receiver};

use genesis_io::itch::{
    AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader, OrderDelete, Price4,
    Session, StockSymbol,
};
use genesis_io::net::{MoldRequestServer, SocketOptions};
use std::time::{Duration, Instant};

const SESSION: Session = Session(*b"ALLOCTEST2");
const HEADER: MessageHeader = MessageHeader {
    stock_locate: 1,
    tracking_number: 0,
    timestamp_ns: 1,
};

// Every fifth packet is lost and recovered through the request port while
// later packets wait in the buffer; once warm, none of it allocates.
#[test]
fn recovery_receive_path_does_not_allocate() {
    let symbol = StockSymbol::from_str_padded("ZZZ").unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let mut server = MoldRequestServer::bind(loopback, SESSION, 1400).unwrap();
    let request_addr = server.local_addr().unwrap();
    let mut receiver = loopback_receiver(loopback, request_addr, SocketOptions::default());
    assert!(receiver.rx_stamping().iter().all(|s| s.is_kernel()));
    let mut publisher = loopback_publisher(SESSION, receiver.feed_local_addr().unwrap(), 1_024);
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![symbol],
        orders_max: 64,
        levels_max: 64,
        next_sequence: Some(1),
        request_retry_ns: 1_000_000,
        request_count_max: 64,
    });
    assert!(feed.bind_locate(1, 0));
    let started = Instant::now();
    let mut clock = move || started.elapsed().as_nanos() as u64;
    let mut messages_seen = 0u64;
    let mut allocations = 0;
    let rounds = 400u64;
    let warm_up = 50u64;
    for round in 0..rounds {
        let order_ref = round + 1;
        publisher.push(&ItchMessage::AddOrder(AddOrder {
            header: HEADER,
            order_ref,
            side: BuySell::Buy,
            shares: 100,
            stock: symbol,
            price: Price4(1_000_000 + (round % 7) as u32 * 100),
            attribution: None,
        }));
        publisher.push(&ItchMessage::OrderDelete(OrderDelete {
            header: HEADER,
            order_ref,
        }));
        if round % 5 == 2 {
            publisher.flush_dropped();
            continue;
        }
        publisher.flush();
        let end = publisher.next_sequence();
        let deadline = Instant::now() + Duration::from_secs(10);
        while feed.tracker().next_sequence() != Some(end) || receiver.is_recovering() {
            assert!(Instant::now() < deadline, "round {round} not recovered");
            server.poll(publisher.store());
            let mut poll = || {
                receiver.poll(&mut feed, &mut clock, |_, _, _| messages_seen += 1);
            };
            if round >= warm_up {
                allocations += allocations_in(poll);
            } else {
                poll();
            }
        }
    }
    let stats = *receiver.recovery_stats();
    assert!(stats.gaps >= 70, "{stats:?}");
    assert!(stats.datagrams_buffered >= 70, "{stats:?}");
    assert!(stats.messages_recovered_retransmit >= 140, "{stats:?}");
    assert_eq!(stats.gaps, stats.resyncs);
    assert_eq!(receiver.stats().datagrams_stamped_user, 0);
    assert_eq!(messages_seen, rounds * 2, "every message once");
    assert_eq!(allocations, 0, "allocations after warm-up");
}
