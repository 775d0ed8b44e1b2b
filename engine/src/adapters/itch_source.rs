//! Market data from sockets: ITCH 5.0 in MoldUDP64 over UDP, decoded into
//! order-by-order books (`genesis_io::itch::ItchFeed`) and published as the
//! engine's top-of-book and trade events.
//!
//! Polled by ingest as its market-data lane; never blocks. A sequence gap
//! marks every book stale until the request port's retransmission fills it
//! (the receiver sends the MoldUDP64 request); while a book is stale its
//! top-of-book events carry `FLAG_STALE`, and pre-trade risk refuses new
//! orders on that instrument. Prices are converted from ITCH's 4-decimal
//! fixed point to the instrument's ticks exactly; a price off the tick grid
//! is counted and the update is not published.
//!
//! Two ways in: [`ItchSource::bind`] on loopback for the in-process
//! simulator ("itch-sim"), [`ItchSource::bind_external`] at the addresses of
//! `[market_data.itch]` ("itch"). Socket options come from
//! `[market_data.socket]`; how they fared is logged once at start-up. Bad
//! input (malformed datagrams and messages, gaps, off-grid prices, ...) is
//! counted and logged at most once per metrics interval ([`BadInputLog`]).

use crate::clock::EpochClock;
use crate::config::Config;
use crate::event::{Event, Input, TopOfBook, Trade, FLAG_STALE};
use crate::ingest::bad_input::BadInputLog;
use crate::ingest::source::Source;
use crate::units::{InstrumentId, Price, Qty, Side};
use genesis_io::itch::arith::{epoch_ns_of, price4_per_tick};
use genesis_io::itch::{BuySell, ItchFeed, ItchFeedConfig, ItchMessage, StockSymbol};
use genesis_io::net::{MoldReceiver, MoldReceiverConfig};
use std::collections::VecDeque;
use std::net::SocketAddr;

const OUTBOX_MAX: usize = 8_192;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItchSourceCounters {
    pub datagrams: u64,
    pub gaps: u64,
    pub gaps_closed: u64,
    pub requests_sent: u64,
    pub off_grid: u64,
}

pub struct ItchSource {
    receiver: MoldReceiver,
    feed: ItchFeed,
    price4_per_tick: Vec<i64>,
    /// Last published (bid, bid qty, ask, ask qty, stale) per instrument.
    last: Vec<(i64, i64, i64, i64, bool)>,
    /// Books touched in this poll: receive and send time of their last message.
    touched: Vec<Option<(u64, u64)>>,
    outbox: VecDeque<Event>,
    pub counters: ItchSourceCounters,
    bad_input: BadInputLog<9>,
}

/// Names of the bad-input counters an ITCH source logs (see [`ItchSource::bad_input_counters`]).
const BAD_INPUT_NAMES: [&str; 9] = [
    "datagrams_malformed",
    "messages_malformed",
    "messages_unknown_type",
    "book_rejects",
    "gaps",
    "packets_wrong_session",
    "recv_errors",
    "request_send_errors",
    "off_grid",
];

impl ItchSource {
    /// Binds a feed socket on loopback for the in-process simulator
    /// ("itch-sim"); the venue must publish to `feed_addr()` and answer
    /// retransmission requests at `request_server`. Socket options come
    /// from `[market_data.socket]`.
    pub fn bind(config: &Config, request_server: SocketAddr) -> Result<ItchSource, String> {
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
        ItchSource::open(config, "itch-sim", any_port, any_port, request_server)
    }

    /// Binds to an external feed ("itch"): the feed socket at
    /// `market_data.itch.feed_bind`, retransmission requests to
    /// `market_data.itch.request_server` from an ephemeral port on every
    /// interface (the venue answers the requester). Books start from
    /// sequence 1: joining a running session, the first packet opens a gap
    /// and the request port replays the session so far, which the
    /// order-by-order books need anyway.
    pub fn bind_external(config: &Config) -> Result<ItchSource, String> {
        let itch = &config.market_data.itch;
        let feed_bind: SocketAddr = itch.feed_bind.parse().map_err(|_| {
            format!(
                "market_data.itch.feed_bind {:?} is not a socket address",
                itch.feed_bind
            )
        })?;
        let request_server: SocketAddr = itch.request_server.parse().map_err(|_| {
            format!(
                "market_data.itch.request_server {:?} is not a socket address",
                itch.request_server
            )
        })?;
        let request_bind = match request_server {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        ItchSource::open(config, "itch", feed_bind, request_bind, request_server)
    }

    fn open(
        config: &Config,
        name: &'static str,
        feed_bind_addr: SocketAddr,
        request_bind_addr: SocketAddr,
        request_server_addr: SocketAddr,
    ) -> Result<ItchSource, String> {
        let symbols = config
            .instruments
            .iter()
            .map(|i| {
                StockSymbol::from_str_padded(&i.symbol)
                    .ok_or_else(|| format!("symbol {:?} is longer than ITCH's 8 bytes", i.symbol))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let price4_per_tick = config
            .instruments
            .iter()
            .map(|i| {
                price4_per_tick(&i.tick_size).ok_or_else(|| {
                    format!("tick size {:?} is finer than ITCH's 0.0001", i.tick_size)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = symbols.len();
        let feed = ItchFeed::new(ItchFeedConfig {
            symbols,
            orders_max: 4_096,
            levels_max: 256,
            next_sequence: Some(1),
            request_retry_ns: 20_000_000,
            request_count_max: 512,
        });
        let receiver = MoldReceiver::bind(MoldReceiverConfig {
            feed_bind_addr,
            request_bind_addr,
            request_server_addr,
            options: config.market_data.socket_options(),
            datagrams_per_poll_max: 64,
        })
        .map_err(|e| format!("binding the ITCH feed socket at {feed_bind_addr}: {e}"))?;
        log_options(name, &receiver);
        Ok(ItchSource {
            receiver,
            feed,
            price4_per_tick,
            last: vec![(0, 0, 0, 0, false); count],
            touched: vec![None; count],
            outbox: VecDeque::with_capacity(OUTBOX_MAX),
            counters: ItchSourceCounters::default(),
            bad_input: BadInputLog::new(name, BAD_INPUT_NAMES, config.metrics.interval_ms),
        })
    }

    /// The cumulative bad-input counters, in the order of `BAD_INPUT_NAMES`.
    pub fn bad_input_counters(&self) -> [u64; 9] {
        bad_input_counters(&self.feed, &self.receiver, &self.counters)
    }

    /// The feed and its books (for tests and diagnostics).
    pub fn feed(&self) -> &ItchFeed {
        &self.feed
    }

    pub fn feed_addr(&self) -> Result<SocketAddr, String> {
        self.receiver.feed_local_addr().map_err(|e| e.to_string())
    }

    fn ticks(&mut self, index: usize, price4: i64) -> Option<i64> {
        let scale = self.price4_per_tick[index];
        if price4 % scale != 0 {
            self.counters.off_grid += 1;
            return None;
        }
        Some(price4 / scale)
    }

    /// Publishes the top of every book this poll touched, if it changed.
    fn publish_touched(&mut self) {
        for index in 0..self.touched.len() {
            let Some((ts_recv_ns, ts_venue_ns)) = self.touched[index].take() else {
                continue;
            };
            let Some(book) = self.feed.book(index) else {
                continue;
            };
            let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
                continue;
            };
            let stale = book.is_stale();
            let (bid_qty, ask_qty) = (bid.qty.0, ask.qty.0);
            let (Some(bid_px), Some(ask_px)) = (
                self.ticks(index, bid.price.0),
                self.ticks(index, ask.price.0),
            ) else {
                continue;
            };
            let now = (bid_px, bid_qty, ask_px, ask_qty, stale);
            if self.last[index] == now || self.outbox.len() == OUTBOX_MAX {
                continue;
            }
            self.last[index] = now;
            let mut event = Event::new(
                InstrumentId(index as u16),
                Side::None,
                Input::TopOfBook(TopOfBook {
                    bid_px: Price(bid_px),
                    bid_qty: Qty(bid_qty),
                    ask_px: Price(ask_px),
                    ask_qty: Qty(ask_qty),
                }),
            );
            event.ts_recv_ns = ts_recv_ns;
            event.ts_venue_ns = ts_venue_ns;
            if stale {
                event.flags |= FLAG_STALE;
            }
            self.outbox.push_back(event);
        }
    }
}

impl Source for ItchSource {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        if self.outbox.len() < OUTBOX_MAX / 2 {
            let touched = &mut self.touched;
            let outbox = &mut self.outbox;
            let result = self.receiver.poll(
                &mut self.feed,
                &mut || clock.now_ns(),
                |ts_recv_ns, book, message| {
                    let Some(index) = book else { return };
                    let sent_ns = epoch_ns_of(message_timestamp_ns(message), ts_recv_ns);
                    if let Some(slot) = touched.get_mut(index) {
                        *slot = Some((ts_recv_ns, sent_ns));
                    }
                    // Each trade is published at once, its price still in ITCH units
                    // (converted when emitted). Never dropped in practice: a poll
                    // runs only with half the outbox free (4,096), and reads at
                    // most 64 datagrams of at most ~42 executions each.
                    if let (Some((side, trade)), true) =
                        (trade_of(message), outbox.len() < OUTBOX_MAX)
                    {
                        let mut event =
                            Event::new(InstrumentId(index as u16), side, Input::Trade(trade));
                        event.ts_recv_ns = ts_recv_ns;
                        event.ts_venue_ns = sent_ns;
                        outbox.push_back(event);
                    }
                },
            );
            self.counters.datagrams += result.datagram_count as u64;
            self.counters.gaps += u64::from(result.gap_seen);
            self.counters.gaps_closed += u64::from(result.gap_closed);
            self.counters.requests_sent += u64::from(result.request_sent);
            self.publish_touched();
        }
        let now_ns = clock.now_ns();
        let (bad_input, counters) = (&mut self.bad_input, &self.counters);
        let (feed, receiver) = (&self.feed, &self.receiver);
        bad_input.check(now_ns, || bad_input_counters(feed, receiver, counters));
        let mut emitted = 0;
        while emitted < budget {
            let Some(mut event) = self.outbox.pop_front() else {
                break;
            };
            if let Input::Trade(trade) = event.input() {
                // Trade prices were queued in ITCH units: convert now that `self` is free.
                let index = event.instrument.index();
                let Some(ticks) = self.ticks(index, trade.price.0) else {
                    continue;
                };
                event.data[0] = ticks;
            }
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

fn bad_input_counters(
    feed: &ItchFeed,
    receiver: &MoldReceiver,
    counters: &ItchSourceCounters,
) -> [u64; 9] {
    let stats = feed.stats();
    let sequence = feed.sequence_stats();
    let receiver = receiver.stats();
    [
        stats.datagrams_malformed,
        stats.messages_malformed,
        stats.messages_unknown_type,
        stats.book_rejects,
        sequence.gaps_opened,
        sequence.packets_wrong_session,
        receiver.recv_errors,
        receiver.request_send_errors,
        counters.off_grid,
    ]
}

/// Logs once, at start-up, how the socket options fared on both sockets.
fn log_options(source: &'static str, receiver: &MoldReceiver) {
    for (role, report) in ["feed", "request"].iter().zip(receiver.options_reports()) {
        if report.any_refused() {
            tracing::warn!(
                source,
                socket = role,
                ?report,
                "a market-data socket option was refused; the socket is used without it"
            );
        } else {
            tracing::info!(source, socket = role, ?report, "market-data socket options");
        }
    }
}

/// The trade a message prints, price still in ITCH units: a trade message
/// ('P', with the side of its non-displayed order), or a printable execution
/// of a displayed order (the feed hands executions on with the resting
/// order's price; no aggressor side is on the wire).
fn trade_of(message: &ItchMessage) -> Option<(Side, Trade)> {
    match message {
        ItchMessage::Trade(trade) => Some((
            if trade.side == BuySell::Sell {
                Side::Sell
            } else {
                Side::Buy
            },
            Trade {
                price: Price(i64::from(trade.price.0)),
                qty: Qty(i64::from(trade.shares)),
                trade_id: trade.match_number,
            },
        )),
        ItchMessage::OrderExecutedWithPrice(execution) if execution.printable == b'Y' => Some((
            Side::None,
            Trade {
                price: Price(i64::from(execution.execution_price.0)),
                qty: Qty(i64::from(execution.executed_shares)),
                trade_id: execution.match_number,
            },
        )),
        _ => None,
    }
}

/// The header timestamp (ns since midnight) of any ITCH message.
fn message_timestamp_ns(message: &ItchMessage) -> u64 {
    match message {
        ItchMessage::SystemEvent(m) => m.header.timestamp_ns,
        ItchMessage::StockDirectory(m) => m.header.timestamp_ns,
        ItchMessage::AddOrder(m) => m.header.timestamp_ns,
        ItchMessage::OrderExecuted(m) => m.header.timestamp_ns,
        ItchMessage::OrderExecutedWithPrice(m) => m.header.timestamp_ns,
        ItchMessage::OrderCancel(m) => m.header.timestamp_ns,
        ItchMessage::OrderDelete(m) => m.header.timestamp_ns,
        ItchMessage::OrderReplace(m) => m.header.timestamp_ns,
        ItchMessage::Trade(m) => m.header.timestamp_ns,
    }
}
