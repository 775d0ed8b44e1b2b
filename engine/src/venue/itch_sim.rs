//! The simulated venue's market data over sockets: the synthetic random walk
//! published as NASDAQ TotalView-ITCH 5.0 in MoldUDP64 packets on UDP
//! loopback, with a request port answering retransmission requests.
//!
//! On its own thread (sleeping 20 µs when nothing is due). Each top of book
//! becomes: delete the previous best bid and ask orders, add the new ones
//! (so the book never crosses in between); each trade print an ITCH 'P'.
//! It also publishes every top of book to the simulated FIX venue
//! (`MarketView`), which matches against the same market.
//! Quantities go out as shares = lots; prices as 4-decimal fixed point.

use crate::clock::EpochClock;
use crate::config::Config;
use crate::event::{Event, Input};
use crate::ingest::source::Source;
use crate::ingest::synthetic::Synthetic;
use crate::venue::market_view::MarketView;
use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderDelete, Price4, Session, StockDirectory,
    StockSymbol, Trade,
};
use genesis_io::net::{MoldPublisher, MoldPublisherConfig, MoldRequestServer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The MoldUDP64 session the simulator publishes.
pub const SESSION: Session = Session(*b"GENESIS001");

/// Price4 units (1/10,000) in one tick of `tick_size`, if exact.
pub fn price4_per_tick(tick_size: &str) -> Option<i64> {
    let (whole, fraction) = tick_size.split_once('.').unwrap_or((tick_size, ""));
    if fraction.len() > 4
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let padded = format!("{whole}{fraction:0<4}");
    padded.parse::<i64>().ok().filter(|units| *units > 0)
}

/// The request port, bound before the receiver exists (it needs the address).
pub struct ItchSimSockets {
    server: MoldRequestServer,
    pub request_addr: SocketAddr,
}

impl ItchSimSockets {
    pub fn bind() -> std::io::Result<ItchSimSockets> {
        let server = MoldRequestServer::bind(
            "127.0.0.1:0".parse().expect("literal address"),
            SESSION,
            1400,
        )
        .map_err(std::io::Error::other)?;
        let request_addr = server.local_addr().map_err(std::io::Error::other)?;
        Ok(ItchSimSockets {
            server,
            request_addr,
        })
    }
}

pub struct ItchSim {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

struct Publishing {
    publisher: MoldPublisher,
    server: MoldRequestServer,
    symbols: Vec<StockSymbol>,
    price4_per_tick: Vec<i64>,
    /// Best bid and ask orders resting now: (order ref, price4, shares).
    best: Vec<[Option<(u64, u32, u32)>; 2]>,
    order_ref_next: u64,
    market: Option<Arc<MarketView>>,
    now_ns: u64,
    /// Drop (but keep for retransmission) one packet in this many (0: never) — for tests.
    drop_every: u64,
    packets: u64,
}

impl ItchSim {
    /// Starts publishing to `destination` (the engine's feed socket).
    pub fn start(
        config: &Config,
        sockets: ItchSimSockets,
        destination: SocketAddr,
        market: Option<Arc<MarketView>>,
    ) -> std::io::Result<ItchSim> {
        let publisher = MoldPublisher::bind(MoldPublisherConfig {
            session: SESSION,
            bind_addr: "127.0.0.1:0".parse().expect("literal address"),
            destination,
            first_sequence: 1,
            store_capacity: 1 << 16,
            payload_bytes_max: 1400,
        })
        .map_err(std::io::Error::other)?;
        let mut state = Publishing {
            publisher,
            server: sockets.server,
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
            best: vec![[None, None]; config.instruments.len()],
            order_ref_next: 1,
            market,
            now_ns: 0,
            drop_every: config.market_data.sim_drop_every,
            packets: 0,
        };
        let mut synthetic = Synthetic::new(config);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("venue-sim-itch".into())
            .spawn(move || {
                let clock = EpochClock::new();
                state.now_ns = clock.now_ns();
                state.directory();
                let mut events: Vec<Event> = Vec::with_capacity(64);
                while !thread_stop.load(Ordering::Acquire) {
                    synthetic.poll(&clock, 64, &mut |event| events.push(event));
                    let busy = !events.is_empty();
                    state.now_ns = clock.now_ns();
                    for event in events.drain(..) {
                        state.publish(&event);
                    }
                    if busy {
                        state.packets += 1;
                        if state.drop_every > 0 && state.packets.is_multiple_of(state.drop_every) {
                            state.publisher.flush_dropped();
                        } else {
                            state.publisher.flush();
                        }
                    }
                    state.server.poll(state.publisher.store());
                    if !busy {
                        std::thread::sleep(Duration::from_micros(20));
                    }
                }
            })?;
        Ok(ItchSim {
            stop,
            handle: Some(handle),
        })
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for ItchSim {
    fn drop(&mut self) {
        self.stop();
    }
}

const NS_PER_DAY: u64 = 86_400_000_000_000;

/// The ITCH header: the send time as nanoseconds since midnight (UTC).
fn header(locate: usize, now_ns: u64) -> MessageHeader {
    MessageHeader {
        stock_locate: locate as u16 + 1,
        tracking_number: 0,
        timestamp_ns: now_ns % NS_PER_DAY,
    }
}

/// The Unix time of an ITCH timestamp (ns since midnight) received at `ts_recv_ns`.
pub fn epoch_ns_of(timestamp_ns: u64, ts_recv_ns: u64) -> u64 {
    let midnight = ts_recv_ns - ts_recv_ns % NS_PER_DAY;
    let sent = midnight + timestamp_ns;
    // Sent just before midnight, received just after.
    if sent > ts_recv_ns + NS_PER_DAY / 2 {
        sent - NS_PER_DAY
    } else {
        sent
    }
}

impl Publishing {
    /// A stock directory message per instrument: locate = index + 1.
    fn directory(&mut self) {
        for (index, symbol) in self.symbols.clone().into_iter().enumerate() {
            self.publisher
                .push(&ItchMessage::StockDirectory(StockDirectory {
                    header: header(index, self.now_ns),
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

    fn publish(&mut self, event: &Event) {
        let index = event.instrument.index();
        if index >= self.symbols.len() {
            return;
        }
        let scale = self.price4_per_tick[index];
        let price4 = |ticks: i64| Price4((ticks * scale).clamp(0, i64::from(u32::MAX)) as u32);
        let shares = |lots: i64| lots.clamp(1, i64::from(u32::MAX)) as u32;
        match event.input() {
            Input::TopOfBook(top) => {
                if let Some(market) = &self.market {
                    market.publish(index, &top);
                }
                let wanted = [
                    (BuySell::Buy, price4(top.bid_px.0), shares(top.bid_qty.0)),
                    (BuySell::Sell, price4(top.ask_px.0), shares(top.ask_qty.0)),
                ];
                for side in 0..2 {
                    if let Some((order_ref, _, _)) = self.best[index][side].take() {
                        self.publisher.push(&ItchMessage::OrderDelete(OrderDelete {
                            header: header(index, self.now_ns),
                            order_ref,
                        }));
                    }
                }
                for (side, (buy_sell, price, qty)) in wanted.into_iter().enumerate() {
                    let order_ref = self.order_ref_next;
                    self.order_ref_next += 1;
                    self.publisher.push(&ItchMessage::AddOrder(AddOrder {
                        header: header(index, self.now_ns),
                        order_ref,
                        side: buy_sell,
                        shares: qty,
                        stock: self.symbols[index],
                        price,
                        attribution: None,
                    }));
                    self.best[index][side] = Some((order_ref, price.0, qty));
                }
            }
            Input::Trade(trade) => {
                self.publisher.push(&ItchMessage::Trade(Trade {
                    header: header(index, self.now_ns),
                    order_ref: 0,
                    side: if event.side == crate::units::Side::Sell {
                        BuySell::Sell
                    } else {
                        BuySell::Buy
                    },
                    shares: shares(trade.qty.0),
                    stock: self.symbols[index],
                    price: price4(trade.price.0),
                    match_number: trade.trade_id,
                }));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tick sizes convert to exact 4-decimal units, or are refused.
    #[test]
    fn ticks_in_price4_units() {
        assert_eq!(price4_per_tick("0.01"), Some(100));
        assert_eq!(price4_per_tick("0.05"), Some(500));
        assert_eq!(price4_per_tick("1"), Some(10_000));
        assert_eq!(price4_per_tick("0.00001"), None);
    }
}
