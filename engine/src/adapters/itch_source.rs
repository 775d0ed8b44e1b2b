//! Market data from sockets: ITCH 5.0 in MoldUDP64 over UDP, decoded into
//! order-by-order books (`genesis_io::itch::ItchFeed`) and published as the
//! engine's top-of-book and trade events.
//!
//! Owning thread: ingest, which polls this as its market-data lane; `poll`
//! never blocks.
//!
//! Recovery (the receiver's, `genesis_io::net::MoldReceiver`): a small gap
//! is refilled through the venue's request port, a large gap or a late
//! join from a GLIMPSE snapshot over SoupBinTCP, live datagrams buffered
//! meanwhile; the thresholds are `[market_data.itch]`'s. From the gap to
//! the recovery every book is stale: its tops and trades carry
//! `FLAG_STALE` (and are journaled so), and pre-trade risk refuses new
//! orders on it. Whenever a book's stale state turns, and after a gap
//! closes or a snapshot applies (the books may have changed silently), the
//! top of every book is examined again and published if it differs from
//! what was published last. A failed snapshot is retried by the receiver
//! with backoff; failures are counted, logged (at 1, 2, 4, ... in a row)
//! and raise the `snapshot_failing` alert through [`FeedHealth`].
//!
//! Receive stamps: the kernel stamps each datagram on arrival
//! (CLOCK_REALTIME); a stamp is converted to the engine's clock by a
//! [`crate::clock::RealtimeBridge`] measured after the reads, so a latency
//! measured from `ts_recv_ns` is never negative. How the sockets fared is
//! logged once at start-up, and the first datagram the kernel did not
//! stamp is logged once.
//!
//! Two ways in: [`ItchSource::bind`] on loopback for the in-process
//! simulator ("itch-sim"), [`ItchSource::bind_external`] at the addresses of
//! `[market_data.itch]` ("itch"). Prices are converted from ITCH's
//! 4-decimal fixed point to the instrument's ticks exactly; a price off the
//! tick grid is counted and the update is not published. Bad input
//! (malformed datagrams and messages, gaps, off-grid prices, ...) is counted
//! and logged at most once per metrics interval ([`BadInputLog`]).

use crate::adapters::itch_health::{feed_rows, ItchHealth};
use crate::clock::{realtime_ns, EpochClock, RealtimeBridge};
use crate::config::Config;
use crate::event::{Event, Input, TopOfBook, Trade, FLAG_STALE};
use crate::ingest::bad_input::BadInputLog;
use crate::ingest::source::Source;
use crate::telemetry::feed_health::{FeedHealth, HealthWriter};
use crate::units::{InstrumentId, Price, Qty, Side};
use genesis_io::itch::arith::{epoch_ns_of, price4_per_tick};
use genesis_io::itch::{BuySell, ItchFeed, ItchFeedConfig, ItchMessage, StockSymbol};
use genesis_io::net::{MoldReceiver, MoldReceiverConfig, ReceivePoll};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

const OUTBOX_MAX: usize = 8_192;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItchSourceCounters {
    pub datagrams: u64,
    pub gaps: u64,
    pub gaps_closed: u64,
    pub requests_sent: u64,
    pub snapshots_applied: u64,
    pub snapshots_failed: u64,
    pub off_grid: u64,
}

/// Where the source's sockets bind and whom they ask.
#[derive(Clone, Copy, Debug)]
pub struct ItchAddresses {
    pub feed_bind: SocketAddr,
    pub request_bind: SocketAddr,
    pub request_server: SocketAddr,
    /// The GLIMPSE snapshot server; `None` heals by retransmission alone.
    pub snapshot_server: Option<SocketAddr>,
}

/// A book's top in ticks, and whether the book was stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BookTop {
    top: TopOfBook,
    stale: bool,
}

/// A book touched in this poll: its last message's stamps (receive stamp
/// still on CLOCK_REALTIME), or none when it is only examined again.
#[derive(Clone, Copy, Debug)]
struct Touch {
    message: Option<(u64, u64)>,
}

pub struct ItchSource {
    receiver: MoldReceiver,
    feed: ItchFeed,
    price4_per_tick: Vec<i64>,
    /// What was last published per instrument.
    published: Vec<Option<BookTop>>,
    /// Books touched in this poll.
    touched: Vec<Option<Touch>>,
    /// Books stale at any time during this poll (their trades are flagged).
    stale_in_poll: Vec<bool>,
    outbox: VecDeque<Event>,
    pub counters: ItchSourceCounters,
    bad_input: BadInputLog<11>,
    health: ItchHealth,
    name: &'static str,
}

/// Names of the bad-input counters an ITCH source logs (see [`ItchSource::bad_input_counters`]).
const BAD_INPUT_NAMES: [&str; 11] = [
    "datagrams_malformed",
    "messages_malformed",
    "messages_unknown_type",
    "book_rejects",
    "gaps",
    "packets_wrong_session",
    "recv_errors",
    "request_send_errors",
    "off_grid",
    "snapshots_failed",
    "buffer_overflows",
];

impl ItchSource {
    /// Binds a feed socket on loopback for the in-process simulator
    /// ("itch-sim"); the venue must publish to `feed_addr()`, answer
    /// retransmission requests at `request_server` and snapshot logins at
    /// `snapshot_server`. Socket options come from `[market_data.socket]`.
    pub fn bind(
        config: &Config,
        request_server: SocketAddr,
        snapshot_server: Option<SocketAddr>,
    ) -> Result<ItchSource, String> {
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
        let addresses = ItchAddresses {
            feed_bind: any_port,
            request_bind: any_port,
            request_server,
            snapshot_server,
        };
        ItchSource::open(config, "itch-sim", addresses)
    }

    /// Binds to an external feed ("itch"): the feed socket at
    /// `market_data.itch.feed_bind`, retransmission requests to
    /// `request_server` from an ephemeral port on every interface (the
    /// venue answers the requester), snapshots from `snapshot_server`.
    /// Books start from sequence 1: joining a running session, the first
    /// datagram is far ahead and a snapshot catches up (without a snapshot
    /// server, the request port replays the session so far).
    pub fn bind_external(config: &Config) -> Result<ItchSource, String> {
        let itch = &config.market_data.itch;
        let address = |key: &str, text: &str| {
            text.parse::<SocketAddr>()
                .map_err(|_| format!("market_data.itch.{key} {text:?} is not a socket address"))
        };
        let request_server = address("request_server", &itch.request_server)?;
        let snapshot_server = match itch.snapshot_server.as_str() {
            "" => None,
            text => Some(address("snapshot_server", text)?),
        };
        let addresses = ItchAddresses {
            feed_bind: address("feed_bind", &itch.feed_bind)?,
            request_bind: match request_server {
                SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
            },
            request_server,
            snapshot_server,
        };
        ItchSource::open(config, "itch", addresses)
    }

    fn open(
        config: &Config,
        name: &'static str,
        addresses: ItchAddresses,
    ) -> Result<ItchSource, String> {
        let feed = new_feed(config)?;
        let price4_per_tick = config
            .instruments
            .iter()
            .map(|i| {
                price4_per_tick(&i.tick_size).ok_or_else(|| {
                    format!("tick size {:?} is finer than ITCH's 0.0001", i.tick_size)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let receiver = new_receiver(config, &addresses)?;
        log_start(name, &receiver, addresses.snapshot_server);
        let count = price4_per_tick.len();
        let symbols: Vec<&str> = config
            .instruments
            .iter()
            .map(|i| i.symbol.as_str())
            .collect();
        let health = FeedHealth::new(name, feed_rows(&symbols));
        Ok(ItchSource {
            receiver,
            feed,
            price4_per_tick,
            published: vec![None; count],
            touched: vec![None; count],
            stale_in_poll: vec![false; count],
            outbox: VecDeque::with_capacity(OUTBOX_MAX),
            counters: ItchSourceCounters::default(),
            bad_input: BadInputLog::new(name, BAD_INPUT_NAMES, config.metrics.interval_ms),
            health: ItchHealth::new(HealthWriter::new(health, false, EpochClock::new().now_ns())),
            name,
        })
    }

    /// The cumulative bad-input counters, in the order of `BAD_INPUT_NAMES`.
    pub fn bad_input_counters(&self) -> [u64; 11] {
        bad_input_counters(&self.feed, &self.receiver, &self.counters)
    }

    /// The feed and its books (for tests and diagnostics).
    pub fn feed(&self) -> &ItchFeed {
        &self.feed
    }

    /// The receiver: its recovery counters, stamping and sockets.
    pub fn receiver(&self) -> &MoldReceiver {
        &self.receiver
    }

    pub fn feed_addr(&self) -> Result<SocketAddr, String> {
        self.receiver.feed_local_addr().map_err(|e| e.to_string())
    }

    /// Reads what is waiting through the recovery, converts the receive
    /// stamps, flags what was stale, and queues the tops that changed.
    fn receive(&mut self, clock: &EpochClock) {
        let first_new = self.outbox.len();
        for (index, slot) in self.stale_in_poll.iter_mut().enumerate() {
            *slot = self.health.is_stale(index);
        }
        let (touched, outbox) = (&mut self.touched, &mut self.outbox);
        let result = self.receiver.poll(
            &mut self.feed,
            &mut realtime_ns,
            |ts_recv_ns, book, message| on_message(touched, outbox, ts_recv_ns, book, message),
        );
        let bridge = clock.realtime_bridge();
        self.count(&result);
        self.settle_stale(&result, bridge.now_ns());
        for event in self.outbox.range_mut(first_new..) {
            event.ts_recv_ns = bridge.epoch_ns(event.ts_recv_ns);
            if self.stale_in_poll[event.instrument.index()] {
                event.flags |= FLAG_STALE;
            }
        }
        self.publish_touched(&bridge);
        self.health
            .update(&self.receiver, &result, &bridge, self.name);
    }

    /// Adds what one receive did to the counters.
    fn count(&mut self, result: &ReceivePoll) {
        let counters = &mut self.counters;
        counters.datagrams += result.datagram_count as u64;
        counters.gaps += u64::from(result.gap_seen);
        counters.gaps_closed += u64::from(result.gap_closed);
        counters.requests_sent += result.requests_sent as u64;
        counters.snapshots_applied += u64::from(result.snapshot_applied);
        counters.snapshots_failed += u64::from(result.snapshot_failed);
    }

    /// Books whose stale state turned are published again (so risk stops
    /// or resumes trading on them at once); after a recovery every book is
    /// examined again, since replays changed them without messages.
    fn settle_stale(&mut self, result: &ReceivePoll, now_ns: u64) {
        let recovered = result.gap_closed || result.snapshot_applied;
        for index in 0..self.touched.len() {
            let stale = self.feed.book(index).is_some_and(|book| book.is_stale());
            self.stale_in_poll[index] |= stale;
            let turned = self.health.set_stale(index, stale, now_ns);
            if (turned || recovered) && self.touched[index].is_none() {
                self.touched[index] = Some(Touch { message: None });
            }
        }
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
    fn publish_touched(&mut self, bridge: &RealtimeBridge) {
        for index in 0..self.touched.len() {
            let Some(touch) = self.touched[index].take() else {
                continue;
            };
            let (ts_recv_ns, ts_venue_ns) = match touch.message {
                Some((recv_realtime_ns, venue_ns)) => {
                    let ts_recv_ns = bridge.epoch_ns(recv_realtime_ns);
                    self.health.on_message(index, ts_recv_ns);
                    (ts_recv_ns, venue_ns)
                }
                None => (bridge.now_ns(), bridge.now_ns()),
            };
            if let Some(top) = self.top_of(index) {
                self.push_top(index, top, ts_recv_ns, ts_venue_ns);
            }
        }
    }

    /// The book's top in ticks, and whether it is stale; none while a side is empty.
    fn top_of(&mut self, index: usize) -> Option<BookTop> {
        let book = self.feed.book(index)?;
        let (bid, ask) = (book.best_bid()?, book.best_ask()?);
        let stale = book.is_stale();
        let (bid_qty, ask_qty) = (bid.qty.0, ask.qty.0);
        let (bid_price4, ask_price4) = (bid.price.0, ask.price.0);
        Some(BookTop {
            top: TopOfBook {
                bid_px: Price(self.ticks(index, bid_price4)?),
                bid_qty: Qty(bid_qty),
                ask_px: Price(self.ticks(index, ask_price4)?),
                ask_qty: Qty(ask_qty),
            },
            stale,
        })
    }

    fn push_top(&mut self, index: usize, top: BookTop, ts_recv_ns: u64, ts_venue_ns: u64) {
        if self.published[index] == Some(top) || self.outbox.len() == OUTBOX_MAX {
            return;
        }
        self.published[index] = Some(top);
        let mut event = Event::new(
            InstrumentId(index as u16),
            Side::None,
            Input::TopOfBook(top.top),
        );
        event.ts_recv_ns = ts_recv_ns;
        event.ts_venue_ns = ts_venue_ns;
        if top.stale {
            event.flags |= FLAG_STALE;
        }
        self.outbox.push_back(event);
    }
}

/// One applied (or, past a gap, delivered) message: marks its book
/// touched and queues a trade at once, its price still in ITCH units and
/// its receive stamp still on CLOCK_REALTIME (both converted after the poll).
fn on_message(
    touched: &mut [Option<Touch>],
    outbox: &mut VecDeque<Event>,
    ts_recv_ns: u64,
    book: Option<usize>,
    message: &ItchMessage,
) {
    let Some(index) = book else { return };
    let sent_ns = epoch_ns_of(message_timestamp_ns(message), ts_recv_ns);
    if let Some(slot) = touched.get_mut(index) {
        *slot = Some(Touch {
            message: Some((ts_recv_ns, sent_ns)),
        });
    }
    // Never dropped in practice: a poll runs only with half the outbox
    // free (4,096), and reads at most a few budgets of datagrams.
    if let (Some((side, trade)), true) = (trade_of(message), outbox.len() < OUTBOX_MAX) {
        let mut event = Event::new(InstrumentId(index as u16), side, Input::Trade(trade));
        event.ts_recv_ns = ts_recv_ns;
        event.ts_venue_ns = sent_ns;
        outbox.push_back(event);
    }
}

impl Source for ItchSource {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        if self.outbox.len() < OUTBOX_MAX / 2 {
            self.receive(clock);
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

    fn feed_health(&self) -> Option<Arc<FeedHealth>> {
        Some(Arc::clone(self.health.shared()))
    }
}

/// The books, one per instrument, sized by `[market_data.itch]`.
fn new_feed(config: &Config) -> Result<ItchFeed, String> {
    let itch = &config.market_data.itch;
    let symbols = config
        .instruments
        .iter()
        .map(|i| {
            StockSymbol::from_str_padded(&i.symbol)
                .ok_or_else(|| format!("symbol {:?} is longer than ITCH's 8 bytes", i.symbol))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ItchFeed::new(ItchFeedConfig {
        symbols,
        orders_max: itch.book_orders_max,
        levels_max: itch.book_levels_max,
        next_sequence: Some(1),
        request_retry_ns: itch.request_retry_ms.saturating_mul(1_000_000),
        request_count_max: itch.request_messages_max,
    }))
}

/// The receiver's sockets, with its recovery (and snapshot session) configured.
fn new_receiver(config: &Config, addresses: &ItchAddresses) -> Result<MoldReceiver, String> {
    let itch = &config.market_data.itch;
    let options = config.market_data.socket_options();
    let mut receiver = MoldReceiver::bind(MoldReceiverConfig {
        feed_bind_addr: addresses.feed_bind,
        request_bind_addr: addresses.request_bind,
        request_server_addr: addresses.request_server,
        options,
        datagrams_per_poll_max: itch.datagrams_per_poll_max,
    })
    .map_err(|e| {
        format!(
            "binding the ITCH feed socket at {}: {e}",
            addresses.feed_bind
        )
    })?;
    let snapshot = addresses
        .snapshot_server
        .map(|server| itch.snapshot_client(server, options))
        .transpose()?;
    receiver.configure_recovery(itch.recovery(config.market_data.seed), snapshot);
    Ok(receiver)
}

fn bad_input_counters(
    feed: &ItchFeed,
    receiver: &MoldReceiver,
    counters: &ItchSourceCounters,
) -> [u64; 11] {
    let stats = feed.stats();
    let sequence = feed.sequence_stats();
    let recovery = receiver.recovery_stats();
    let receiver = receiver.stats();
    [
        stats.datagrams_malformed,
        stats.messages_malformed,
        stats.messages_unknown_type,
        stats.book_rejects,
        recovery.gaps,
        sequence.packets_wrong_session + recovery.datagrams_wrong_session,
        receiver.recv_errors,
        receiver.request_send_errors,
        counters.off_grid,
        recovery.snapshots_failed,
        recovery.buffer_overflows,
    ]
}

/// Logs once, at start-up, how the socket options and the receive stamps
/// fared on both sockets, and where gaps are healed from.
fn log_start(source: &'static str, receiver: &MoldReceiver, snapshot: Option<SocketAddr>) {
    let stamping = receiver.rx_stamping();
    for ((role, report), stamping) in ["feed", "request"]
        .iter()
        .zip(receiver.options_reports())
        .zip(stamping)
    {
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
        if stamping.is_kernel() {
            tracing::info!(source, socket = role, ?stamping, "kernel receive stamps on");
        } else {
            tracing::warn!(
                source,
                socket = role,
                ?stamping,
                "the kernel refused receive stamps: ts_recv_ns falls back to user space, after each read"
            );
        }
    }
    match snapshot {
        Some(server) => {
            tracing::info!(source, %server, "large gaps and late joins are healed from GLIMPSE snapshots")
        }
        None => tracing::warn!(
            source,
            "no snapshot server: every gap is healed through the request port alone"
        ),
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
