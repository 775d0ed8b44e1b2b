//! A small ITCH venue for the recovery tests (included with `#[path]`):
//! matching books driven by a seeded order flow, every book event published
//! as ITCH over MoldUDP64 (a seeded share of packets lost on purpose), a
//! request port and a GLIMPSE snapshot server, all on loopback and all
//! polled by the test's own loop with the test's clock. It reaches the
//! receiver only through its sockets, like the real simulator.
#![allow(dead_code)]

use genesis_io::book::{L3Book, Level, Price, Qty, Side as BookSide};
use genesis_io::itch::{
    Credentials, ItchFeed, ItchInstrument, ItchMessage, Session, SnapshotOrder, StockSymbol,
};
use genesis_io::net::{
    GlimpseServer, GlimpseServerConfig, MoldPublisher, MoldPublisherConfig, MoldReceiver,
    MoldReceiverConfig, MoldRequestServer, SocketOptions, SoupClientConfig,
};
use genesis_io::venue::{Ids, MatchingEngine, NewOrder, Side, TimeInForce};
use std::net::SocketAddr;

pub const SESSION: Session = Session(*b"RECOVTEST1");
pub const PRICE4_PER_TICK: i64 = 100;
const MID_TICKS: i64 = 10_000;
/// Past this many resting orders in a book, operations cancel (keeps the
/// books well inside their capacity, so every operation has an effect).
const RESTING_MAX: u64 = 2_048;

/// SplitMix64: the seeded randomness of the order flow and the losses.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

pub struct VenueConfig {
    pub instrument_count: usize,
    pub store_capacity: usize,
    pub seed: u64,
    /// Packets lost on purpose, per thousand.
    pub loss_per_mille: u64,
    pub glimpse_addr: SocketAddr,
}

pub struct Venue {
    pub books: Vec<MatchingEngine>,
    pub instruments: Vec<ItchInstrument>,
    pub publisher: MoldPublisher,
    pub request_server: MoldRequestServer,
    pub glimpse: GlimpseServer,
    ids: Ids,
    rng: Rng,
    pub loss_per_mille: u64,
    pub operations: u64,
}

/// A MoldUDP64 receiver with its feed socket at `feed_bind_addr` (port 0:
/// any), requests to `request_server_addr`, 64 datagrams per socket a poll.
pub fn loopback_receiver(
    feed_bind_addr: SocketAddr,
    request_server_addr: SocketAddr,
    options: SocketOptions,
) -> MoldReceiver {
    MoldReceiver::bind(MoldReceiverConfig {
        feed_bind_addr,
        request_bind_addr: "127.0.0.1:0".parse().unwrap(),
        request_server_addr,
        options,
        datagrams_per_poll_max: 64,
    })
    .unwrap()
}

/// A MoldUDP64 publisher on loopback sending to `destination` from sequence 1.
pub fn loopback_publisher(
    session: Session,
    destination: SocketAddr,
    store_capacity: usize,
) -> MoldPublisher {
    MoldPublisher::bind(MoldPublisherConfig {
        session,
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        destination,
        first_sequence: 1,
        store_capacity,
        payload_bytes_max: 1400,
    })
    .unwrap()
}

/// A snapshot session to `server_addr` with short deadlines (test clock).
pub fn snapshot_client(server_addr: SocketAddr) -> SoupClientConfig {
    SoupClientConfig {
        server_addr,
        credentials: Credentials::new("test", "test").unwrap(),
        requested_session: Session([b' '; 10]),
        requested_sequence_number: 1,
        connect_timeout_ns: 100_000_000,
        idle_timeout_ns: 200_000_000,
        heartbeat_interval_ns: 50_000_000,
        read_bytes_per_poll_max: 64 * 1024,
        options: SocketOptions::default(),
    }
}

pub fn symbols(count: usize) -> Vec<StockSymbol> {
    (0..count)
        .map(|i| StockSymbol::from_str_padded(&format!("SYM{i}")).unwrap())
        .collect()
}

impl Venue {
    /// Bind the venue's sockets; the feed goes to `destination`.
    pub fn new(config: VenueConfig, destination: SocketAddr) -> Venue {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let instruments: Vec<ItchInstrument> = symbols(config.instrument_count)
            .into_iter()
            .enumerate()
            .map(|(index, stock)| ItchInstrument {
                stock_locate: index as u16 + 1,
                stock,
                price4_per_tick: PRICE4_PER_TICK,
            })
            .collect();
        let publisher = loopback_publisher(SESSION, destination, config.store_capacity);
        let request_server = MoldRequestServer::bind(loopback, SESSION, 1400).unwrap();
        let glimpse = GlimpseServer::bind(GlimpseServerConfig {
            bind_addr: config.glimpse_addr,
            session: SESSION,
            credentials: None,
            instruments: instruments.clone(),
            clients_max: 4,
            login_timeout_ns: 1_000_000_000,
            idle_timeout_ns: 1_000_000_000,
        })
        .unwrap();
        Venue {
            books: (0..config.instrument_count)
                .map(|_| MatchingEngine::new(4_096, 256))
                .collect(),
            instruments,
            publisher,
            request_server,
            glimpse,
            ids: Ids::default(),
            rng: Rng::new(config.seed),
            loss_per_mille: config.loss_per_mille,
            operations: 0,
        }
    }

    /// Publish the stock directory (sequence 1 on): the session starts.
    pub fn open_session(&mut self) {
        for instrument in self.instruments.clone() {
            self.publisher.push(&instrument.directory(1));
        }
        self.publisher.flush();
    }

    pub fn request_addr(&self) -> SocketAddr {
        self.request_server.local_addr().unwrap()
    }

    pub fn glimpse_addr(&self) -> SocketAddr {
        self.glimpse.local_addr().unwrap()
    }

    /// `count` random operations (submits that rest or trade, cancels,
    /// replaces), each operation's messages in one packet, lost with the
    /// configured chance.
    pub fn trade(&mut self, count: usize) {
        for _ in 0..count {
            if self.operate() {
                self.finish_packet();
            }
        }
    }

    /// `count` random operations whose messages share packets (as the
    /// simulator sends one loop iteration's messages); each packet is lost
    /// with the configured chance.
    pub fn trade_batch(&mut self, count: usize) {
        for _ in 0..count {
            self.operate();
        }
        self.finish_packet();
    }

    /// One random operation; its messages are queued in the publisher.
    /// `false` if it changed nothing.
    fn operate(&mut self) -> bool {
        let index = self.rng.below(self.books.len() as u64) as usize;
        let mut events = Vec::new();
        let choice = self.rng.below(10);
        let resting = self.books[index].order_count() as u64;
        if (choice < 2 || resting >= RESTING_MAX) && resting > 0 {
            let order_ref = self.pick_order(index);
            let _ = self.books[index].cancel(order_ref, &mut |e| events.push(*e));
        } else if choice < 3 && resting > 0 {
            let order_ref = self.pick_order(index);
            let price = self.price(Side::Buy);
            let qty = 1 + self.rng.below(50) as i64;
            let ids = &mut self.ids;
            let _ = self.books[index].replace(order_ref, price, qty, ids, &mut |e| events.push(*e));
        } else {
            let side = if self.rng.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let order = NewOrder {
                owner: 1,
                client_id: self.operations,
                side,
                price: self.price(side),
                qty: 1 + self.rng.below(100) as i64,
                tif: TimeInForce::Day,
            };
            let ids = &mut self.ids;
            let _ = self.books[index].submit(order, ids, &mut |e| events.push(*e));
        }
        self.operations += 1;
        let instrument = self.instruments[index];
        for event in &events {
            let message: ItchMessage = instrument.book_event_message(event, 2);
            self.publisher.push(&message);
        }
        !events.is_empty()
    }

    /// Send what is queued, or lose it with the configured chance.
    fn finish_packet(&mut self) {
        if self.rng.below(1_000) < self.loss_per_mille {
            self.publisher.flush_dropped();
        } else {
            self.publisher.flush();
        }
    }

    /// A price near the middle; one in eight crosses it (trades).
    fn price(&mut self, side: Side) -> i64 {
        let offset = 1 + self.rng.below(20) as i64;
        let crossing = self.rng.below(8) == 0;
        match (side, crossing) {
            (Side::Buy, false) | (Side::Sell, true) => MID_TICKS - offset,
            (Side::Sell, false) | (Side::Buy, true) => MID_TICKS + offset,
        }
    }

    fn pick_order(&mut self, index: usize) -> u64 {
        let target = self.rng.below(self.books[index].order_count() as u64);
        let mut seen = 0;
        let mut chosen = 0;
        for side in [Side::Buy, Side::Sell] {
            self.books[index].for_each_order(side, &mut |order_ref, _| {
                if seen == target {
                    chosen = order_ref;
                }
                seen += 1;
            });
        }
        chosen
    }

    /// Answer retransmission requests and snapshot logins.
    pub fn serve(&mut self, now_ns: u64) {
        self.request_server.poll(self.publisher.store());
        let books = &self.books;
        let instruments = &self.instruments;
        let orders = |index: usize, f: &mut dyn FnMut(SnapshotOrder)| {
            instruments[index].for_each_resting_order(&books[index], f);
        };
        self.glimpse
            .poll(now_ns, self.publisher.next_sequence(), &orders);
    }

    /// The venue's book `index` as the receiver's L3 book should show it.
    pub fn expected_levels(&self, index: usize, side: BookSide) -> Vec<Level> {
        let venue_side = match side {
            BookSide::Bid => Side::Buy,
            BookSide::Ask => Side::Sell,
        };
        let mut levels: Vec<Level> = Vec::new();
        self.books[index].for_each_order(venue_side, &mut |_, order| {
            let price = Price(order.price * PRICE4_PER_TICK);
            match levels.last_mut() {
                Some(level) if level.price == price => {
                    level.qty.0 += order.leaves;
                    level.order_count += 1;
                }
                _ => levels.push(Level {
                    price,
                    qty: Qty(order.leaves),
                    order_count: 1,
                }),
            }
        });
        levels
    }

    /// Panics with the first difference between the venue's books and the feed's.
    pub fn assert_books_equal(&self, feed: &ItchFeed) {
        for index in 0..self.books.len() {
            let book: &L3Book = feed.book(index).unwrap();
            for side in [BookSide::Bid, BookSide::Ask] {
                let got: Vec<Level> = book.levels(side).iter_best_first().copied().collect();
                assert_eq!(
                    got,
                    self.expected_levels(index, side),
                    "book {index} {side:?}"
                );
            }
            assert_eq!(
                book.order_count(),
                self.books[index].order_count(),
                "book {index} orders"
            );
        }
    }
}
