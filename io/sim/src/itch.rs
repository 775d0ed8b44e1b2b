//! The simulated venue's market data over UDP: every change to its books
//! published as NASDAQ TotalView-ITCH 5.0 in MoldUDP64 packets on UDP
//! loopback, with a request port answering retransmission requests.
//!
//! Owning thread: the simulator's (`venue`). Book events map one to
//! one: a resting order is an add order ('A'), an execution an order
//! executed ('E', with the venue's match number), a partial cancel an order
//! cancel ('X'), a full one an order delete ('D'), a cancel/replace an order
//! replace ('U'). Quantities go out as shares = lots; prices as 4-decimal
//! fixed point. A stock directory message per instrument opens the session.

use crate::config::SimConfig;
use crate::exchange::MarketDataOut;
use genesis_io::itch::arith::{price4_per_tick, timestamp_ns_of};
use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderReplace, Price4, Session, StockDirectory, StockSymbol,
};
use genesis_io::net::{MoldPublisher, MoldPublisherConfig, MoldRequestServer};
use genesis_io::venue::{BookEvent, MatchingEngine, Side as BookSide};
use std::net::SocketAddr;

/// The MoldUDP64 session the simulator publishes.
pub const SESSION: Session = Session(*b"GENESIS001");

/// The request port, bound before the receiver exists (it needs the address).
pub struct ItchRequestPort {
    server: MoldRequestServer,
    pub request_addr: SocketAddr,
}

impl ItchRequestPort {
    /// Binds the request port at `addr` (port 0 picks a free one).
    pub fn bind(addr: SocketAddr) -> std::io::Result<ItchRequestPort> {
        let server = MoldRequestServer::bind(addr, SESSION, 1400).map_err(std::io::Error::other)?;
        let request_addr = server.local_addr().map_err(std::io::Error::other)?;
        Ok(ItchRequestPort {
            server,
            request_addr,
        })
    }
}

/// The ITCH side of the simulator: publisher, request port, symbols.
pub struct ItchOut {
    publisher: MoldPublisher,
    server: MoldRequestServer,
    symbols: Vec<StockSymbol>,
    price4_per_tick: Vec<i64>,
    /// Drop (but keep for retransmission) one packet in this many (0: never) — for tests.
    drop_every: u64,
    packets: u64,
    pending: bool,
}

impl ItchOut {
    /// Publishes to `destination` (the engine's feed socket) and answers
    /// requests on the already bound request port.
    pub fn new(
        config: &SimConfig,
        request_port: ItchRequestPort,
        destination: SocketAddr,
    ) -> std::io::Result<ItchOut> {
        let publisher = MoldPublisher::bind(MoldPublisherConfig {
            session: SESSION,
            bind_addr: "127.0.0.1:0".parse().expect("literal address"),
            destination,
            first_sequence: 1,
            store_capacity: 1 << 16,
            payload_bytes_max: 1400,
        })
        .map_err(std::io::Error::other)?;
        Ok(ItchOut {
            publisher,
            server: request_port.server,
            symbols: config
                .instruments
                .iter()
                .map(|i| StockSymbol::from_str_padded(&i.symbol).unwrap_or_default())
                .collect(),
            price4_per_tick: config
                .instruments
                .iter()
                .map(|i| price4_per_tick(&i.tick_size).unwrap_or(1))
                .collect(),
            drop_every: config.itch_drop_every,
            packets: 0,
            pending: false,
        })
    }

    /// A stock directory message per instrument: locate = index + 1.
    pub fn directory(&mut self, now_ns: u64) {
        for (index, symbol) in self.symbols.clone().into_iter().enumerate() {
            self.publisher
                .push(&ItchMessage::StockDirectory(StockDirectory {
                    header: header(index, now_ns),
                    stock: symbol,
                    market_category: b'Q',
                    financial_status: b'N',
                    round_lot_size: 1,
                    round_lots_only: b'N',
                    issue_classification: b'C',
                    issue_sub_type: *b"Z ",
                    authenticity: b'P',
                    short_sale_threshold: b'N',
                    ipo_flag: b'N',
                    luld_reference_price_tier: b'1',
                    etp_flag: b'N',
                    etp_leverage_factor: 0,
                    inverse_indicator: b'N',
                }));
        }
        self.publisher.flush();
    }

    /// Sends what this loop iteration queued (one packet or more), dropping
    /// one in `drop_every` on purpose, and answers retransmission requests.
    pub fn poll(&mut self) {
        if self.pending {
            self.pending = false;
            self.packets += 1;
            if self.drop_every > 0 && self.packets.is_multiple_of(self.drop_every) {
                self.publisher.flush_dropped();
            } else {
                self.publisher.flush();
            }
        }
        self.server.poll(self.publisher.store());
    }
}

impl MarketDataOut for ItchOut {
    fn on_book_event(
        &mut self,
        instrument: usize,
        event: &BookEvent,
        _book: &MatchingEngine,
        now_ns: u64,
    ) {
        if instrument >= self.symbols.len() {
            return;
        }
        let message = self.message_of(instrument, event, now_ns);
        self.publisher.push(&message);
        self.pending = true;
    }

    fn on_operation_done(&mut self, _instrument: usize, _book: &MatchingEngine, _now_ns: u64) {}
}

impl ItchOut {
    /// The ITCH message a book event is: add, executed, cancel (partial),
    /// delete (full), replace. Prices go out in 4-decimal units, quantities
    /// as shares = lots, both clamped to the wire's u32.
    fn message_of(&self, instrument: usize, event: &BookEvent, now_ns: u64) -> ItchMessage {
        let scale = self.price4_per_tick[instrument];
        let price4 =
            |ticks: i64| Price4(ticks.saturating_mul(scale).clamp(0, i64::from(u32::MAX)) as u32);
        let shares = |lots: i64| lots.clamp(0, i64::from(u32::MAX)) as u32;
        let header = header(instrument, now_ns);
        match *event {
            BookEvent::Added {
                order_ref,
                side,
                price,
                qty,
                ..
            } => ItchMessage::AddOrder(AddOrder {
                header,
                order_ref,
                side: if side == BookSide::Sell {
                    BuySell::Sell
                } else {
                    BuySell::Buy
                },
                shares: shares(qty),
                stock: self.symbols[instrument],
                price: price4(price),
                attribution: None,
            }),
            BookEvent::Executed {
                maker_ref,
                qty,
                match_number,
                ..
            } => ItchMessage::OrderExecuted(OrderExecuted {
                header,
                order_ref: maker_ref,
                executed_shares: shares(qty),
                match_number,
            }),
            BookEvent::Cancelled {
                order_ref,
                cancelled_qty,
                leaves,
                ..
            } if leaves > 0 => ItchMessage::OrderCancel(OrderCancel {
                header,
                order_ref,
                cancelled_shares: shares(cancelled_qty),
            }),
            BookEvent::Cancelled { order_ref, .. } => {
                ItchMessage::OrderDelete(OrderDelete { header, order_ref })
            }
            BookEvent::Replaced {
                old_ref,
                new_ref,
                price,
                qty,
                ..
            } => ItchMessage::OrderReplace(OrderReplace {
                header,
                original_order_ref: old_ref,
                new_order_ref: new_ref,
                shares: shares(qty),
                price: price4(price),
            }),
        }
    }
}

/// The ITCH header: the send time as nanoseconds since midnight (UTC).
fn header(locate: usize, now_ns: u64) -> MessageHeader {
    MessageHeader {
        stock_locate: locate as u16 + 1,
        tracking_number: 0,
        timestamp_ns: timestamp_ns_of(now_ns),
    }
}
