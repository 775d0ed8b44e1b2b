//! Proves the MoldUDP64 receive path does not allocate: after warm-up,
//! `MoldReceiver::poll` (recv into the preallocated buffer, clock, feed,
//! L3 book update, callback) performs zero heap allocations per datagram.
//! The counting allocator counts only on this thread and only around the
//! receiver's polls, so the publisher on the same thread is not counted.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCATIONS, COUNTING};

use genesis_io::itch::{
    AddOrder, BuySell, ItchFeed, ItchFeedConfig, ItchMessage, MessageHeader, OrderDelete, Price4,
    Session, StockSymbol,
};
use genesis_io::net::{
    MoldPublisher, MoldPublisherConfig, MoldReceiver, MoldReceiverConfig, SocketOptions,
};
use std::cell::Cell;
use std::time::{Duration, Instant};

const SESSION: Session = Session(*b"ALLOCTEST1");

fn header() -> MessageHeader {
    MessageHeader {
        stock_locate: 1,
        tracking_number: 0,
        timestamp_ns: 1,
    }
}

// Adds and deletes cycle through the book; once warm, receiving them
// allocates nothing.
#[test]
fn mold_receive_path_does_not_allocate() {
    let symbol = StockSymbol::from_str_padded("ZZZ").unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let mut receiver = MoldReceiver::bind(MoldReceiverConfig {
        feed_bind_addr: loopback,
        request_bind_addr: loopback,
        request_server_addr: "127.0.0.1:9".parse().unwrap(),
        options: SocketOptions::default(),
        datagrams_per_poll_max: 64,
    })
    .unwrap();
    let mut publisher = MoldPublisher::bind(MoldPublisherConfig {
        session: SESSION,
        bind_addr: loopback,
        destination: receiver.feed_local_addr().unwrap(),
        first_sequence: 1,
        store_capacity: 64,
        payload_bytes_max: 1400,
    })
    .unwrap();
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![symbol],
        orders_max: 64,
        levels_max: 64,
        next_sequence: Some(1),
        request_retry_ns: u64::MAX,
        request_count_max: 10,
    });
    assert!(feed.bind_locate(1, 0));
    let started = Instant::now();
    let mut clock = move || started.elapsed().as_nanos() as u64;
    let mut messages_seen = 0u64;
    let rounds = 200u64;
    let warm_up = 20u64;
    for round in 0..rounds {
        let order_ref = round + 1;
        publisher.push(&ItchMessage::AddOrder(AddOrder {
            header: header(),
            order_ref,
            side: BuySell::Buy,
            shares: 100,
            stock: symbol,
            price: Price4(1_000_000 + (round % 7) as u32 * 100),
            attribution: None,
        }));
        publisher.push(&ItchMessage::OrderDelete(OrderDelete {
            header: header(),
            order_ref,
        }));
        publisher.flush();
        let end = publisher.next_sequence();
        let deadline = Instant::now() + Duration::from_secs(10);
        COUNTING.with(|c| c.set(round >= warm_up));
        while feed.tracker().next_sequence() != Some(end) {
            assert!(Instant::now() < deadline, "datagram {round} not received");
            receiver.poll(&mut feed, &mut clock, |_, _, _| messages_seen += 1);
        }
        COUNTING.with(|c| c.set(false));
    }
    assert_eq!(messages_seen, rounds * 2);
    assert_eq!(ALLOCATIONS.with(Cell::get), 0, "allocations after warm-up");
}
