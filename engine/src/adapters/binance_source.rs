//! Market data from a Binance-compatible WebSocket endpoint
//! (`genesis_io::net::BinanceWsFeed`): each instrument's `<symbol>@bookTicker`
//! and `<symbol>@depth@100ms` on one connection (a combined or raw stream
//! URL, `ws://` or `wss://` through rustls; streams the URL does not name
//! are subscribed), depth snapshots by Binance's documented procedure
//! (REST `GET /api/v3/depth` on the feed's helper thread, or the WebSocket
//! API's `depth` request as an option), reconnect with backoff. Published
//! as the engine's top-of-book events; feed health (gaps, resyncs,
//! snapshots, disconnects, stale books) goes to [`FeedHealth`].
//!
//! Owning thread: the ingest thread, which polls this as its market-data
//! lane; `poll` never blocks (a REST snapshot is fetched on the feed's
//! helper thread; the ingest thread only queues requests and takes answers).
//!
//! Where the top comes from (a choice): from bookTicker, gated by the
//! depth book. bookTicker is the faster stream (pushed on every change of the
//! best levels, where depth diffs come every 100 ms), so its values are
//! published; the depth book is the stream with sequence integrity (`U`/`u`
//! continuity from a snapshot), so its sync state decides the flag. A
//! ticker whose update id `u` is not newer than the last one accepted on
//! this connection is dropped (counted), and so is one that cannot be a
//! top of book: bid at or above ask, or a price or quantity that is zero
//! or negative (counted in `tickers_invalid`; the last good top stands).
//! Every top carries `FLAG_STALE`
//! while the instrument's depth book is not synced: before its first
//! snapshot, during a resync after a gap or a bad diff, and from a
//! disconnect until the book is rebuilt on the next connection. On the
//! transitions the last top is published again at once, not at the next
//! ticker: flagged stale when the book goes out of sync or the connection
//! drops (so risk stops trading on it), and unflagged when a snapshot
//! syncs the book, if a ticker arrived on this connection (a top from
//! before a disconnect is never made live again).
//!
//! Units: the feed parses prices and quantities straight onto the grid of
//! the instrument's `tick_size` and `lot_size`, so its steps are the
//! engine's ticks and lots, exactly, with no float. A bookTicker price or
//! quantity off that grid fails the parse and is counted in the feed's
//! `ticker_rejects` (together with malformed tickers: the io feed does not
//! tell the two apart); an off-grid depth diff is counted in `off_grid`
//! and resyncs the book. Neither is published.
//!
//! Timestamps: `ts_recv_ns` is the kernel's receive stamp of the socket
//! read that delivered the message's last byte (plain or under TLS; why the
//! last byte: `genesis_io::net`'s `ws_stream.rs`), converted by the io
//! layer's WebSocket client to the `EpochClock` ingest polls with, never
//! later than the clock's reading after the read. Where the kernel refuses
//! stamps, or a read comes without one (just after start-up), the message
//! is stamped from that clock after the read: how a fresh socket fared is
//! logged at start-up (`WsClient::rx_stamping`), and the first message
//! stamped in user space is logged once. `ts_venue_ns` is the receive time
//! too (a spot bookTicker carries no event time, and the depth diff's `E`
//! is not handed out by the io feed), but on CLOCK_REALTIME, the clock of
//! venue times (ITCH's timestamps are the venue's): converted back from
//! `ts_recv_ns` with the offset between the two clocks measured once per
//! poll that queued events. Execution sends it as TransactTime and as the
//! order's trigger time, which a venue compares with its own clock; the
//! engine's TSC clock drifts from CLOCK_REALTIME by its calibration error
//! over a run, and a venue's tick-to-trade would carry that drift. A stale
//! re-publication caused by a disconnect is stamped with the time it was
//! noticed.
//!
//! Socket options (`[market_data.socket]`: busy poll, receive buffer,
//! `TCP_NODELAY`) are applied by the WebSocket client on every connect; it
//! does not report the outcome, so the requested options are logged at
//! start-up.
//!
//! Bounds: events wait in a preallocated outbox sized so that one poll of
//! the feed (at most `messages_per_poll_max` messages, one event each, plus
//! two stale marks per instrument) always fits; the feed is only polled
//! with that much room, so nothing is ever dropped (`outbox_full` counts
//! the impossible case). Bad input is logged at most once per metrics
//! interval ([`BadInputLog`]).

use crate::adapters::binance_health::{feed_rows, BinanceHealth};
use crate::clock::{realtime_ns, EpochClock};
use crate::config::{instrument_grid, BinanceConfig, Config};
use crate::event::{Event, Input, TopOfBook, FLAG_STALE};
use crate::ingest::bad_input::BadInputLog;
use crate::ingest::source::Source;
use crate::telemetry::feed_health::{FeedHealth, HealthWriter};
use crate::units::{InstrumentId, Price, Qty, Side};
use genesis_io::binance::{BookTicker, SyncOutcome, SyncStats};
use genesis_io::net::{
    BinanceFeedConfig, BinanceInstrument, BinanceWsFeed, MarketUpdate, RxStamping, StreamUrl,
};
use std::collections::VecDeque;
use std::sync::Arc;

/// Diffs an instrument buffers while it waits for a snapshot.
const DIFF_BUFFER_MAX: usize = 1_024;

/// Names of the bad-input counters (see [`BinanceSource::bad_input_counters`]).
const BAD_INPUT_NAMES: [&str; 17] = [
    "invalid_json",
    "unknown_stream",
    "unmatched_responses",
    "snapshot_errors",
    "snapshot_timeouts",
    "ticker_rejects",
    "gaps",
    "resyncs",
    "off_grid",
    "diffs_invalid",
    "diff_buffer_overflows",
    "crossed",
    "disconnects",
    "connects_failed",
    "oversized",
    "ping_timeouts",
    "tickers_invalid",
];
const BAD_INPUT_COUNT: usize = BAD_INPUT_NAMES.len();

/// Counters of the source (the feed, its connection and its books keep their own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinanceSourceCounters {
    /// Top-of-book events queued.
    pub tops_published: u64,
    /// Of those, flagged stale.
    pub tops_stale: u64,
    /// bookTickers dropped because their `u` was not newer than the last.
    pub tickers_not_newer: u64,
    /// bookTickers dropped because they cannot be a top of book: bid at or
    /// above ask, or a price or quantity that is zero or negative.
    pub tickers_invalid: u64,
    /// Connections lost after they had opened.
    pub disconnects: u64,
    /// Events dropped for a full outbox (never: the feed is polled only with room).
    pub outbox_full: u64,
}

/// What the source knows of one instrument.
#[derive(Clone, Copy, Debug, Default)]
struct InstrumentState {
    /// The depth book is synced on the current connection (as far as the
    /// updates of this poll tell; checked against the feed after each poll).
    synced: bool,
    /// Update id of the last bookTicker accepted on this connection.
    ticker_update_id: Option<u64>,
    /// The last bookTicker's top, in ticks and lots, and whether it came on this connection.
    top: Option<TopOfBook>,
    top_this_connection: bool,
    /// What was last queued: the top and its stale flag.
    published: Option<(TopOfBook, bool)>,
    /// Receive time of the instrument's last stream message (0: none yet).
    message_last_ns: u64,
}

/// The part of the source the feed's callback writes to.
struct Tops {
    instruments: Vec<InstrumentState>,
    connected: bool,
    connected_this_poll: bool,
    outbox: VecDeque<Event>,
    outbox_max: usize,
    counters: BinanceSourceCounters,
}

pub struct BinanceSource {
    feed: BinanceWsFeed,
    tops: Tops,
    /// Room the outbox needs before the feed is polled.
    poll_room_min: usize,
    /// Book counters as last read, per instrument (they restart with each connection).
    sync_seen: Vec<SyncStats>,
    /// Book counters per instrument, summed over connections.
    sync_totals: Vec<SyncStats>,
    bad_input: BadInputLog<BAD_INPUT_COUNT>,
    health: BinanceHealth,
    /// The source's name, for the log.
    name: &'static str,
    /// The first message stamped in user space was logged.
    user_stamp_logged: bool,
}

impl BinanceSource {
    /// A source for every configured instrument, reading the stream at
    /// `url` (raw or combined, `ws://` or `wss://`) with the snapshot
    /// source and TLS roots of `[market_data.binance]`. The host is
    /// resolved, the TLS roots loaded and the REST fetcher's thread started
    /// here, at start-up, so the ingest thread never does DNS or blocks on
    /// HTTP. The first poll connects.
    pub fn new(config: &Config, url: &str) -> Result<BinanceSource, String> {
        let url_error = |e: genesis_io::net::NetError| format!("market_data.binance.url: {e}");
        let stream = StreamUrl::parse(url).map_err(url_error)?;
        let endpoint = stream.endpoint().map_err(url_error)?;
        let market_data = &config.market_data;
        let binance = &market_data.binance;
        let instruments = feed_instruments(config)?;
        let ws = market_data.ws_config();
        let count = instruments.len();
        let options = binance.feed_options(&stream);
        let addr = endpoint.addr;
        let feed = BinanceWsFeed::open(
            BinanceFeedConfig {
                endpoint,
                ws,
                instruments,
                snapshot_depth_limit: binance.snapshot_limit,
                snapshot_retry_ns: binance.snapshot_retry_ms.saturating_mul(1_000_000),
            },
            &options,
        )
        .map_err(|e| format!("market_data.binance: {e}"))?;
        let name = market_data.source.name();
        tracing::info!(
            source = name,
            %addr,
            tls = stream.tls,
            snapshots = %BinanceConfig::snapshot_origin(&options),
            options = ?ws.socket,
            "Binance feed (socket options are applied on every connect; the WebSocket client does not report refusals)"
        );
        log_rx_stamping(name, feed.client().rx_stamping());
        // One poll queues at most one event per message plus, per
        // instrument, a stale mark on a disconnect and one after the poll.
        let poll_room_min = ws.messages_per_poll_max + 2 * count + 2;
        let outbox_max = (2 * poll_room_min).max(1_024);
        let symbols: Vec<&str> = config
            .instruments
            .iter()
            .map(|i| i.symbol.as_str())
            .collect();
        let health = FeedHealth::new(name, feed_rows(&symbols));
        let writer = HealthWriter::new(health, true, EpochClock::new().now_ns());
        Ok(BinanceSource {
            feed,
            tops: Tops {
                instruments: vec![InstrumentState::default(); count],
                connected: false,
                connected_this_poll: false,
                outbox: VecDeque::with_capacity(outbox_max),
                outbox_max,
                counters: BinanceSourceCounters::default(),
            },
            poll_room_min,
            sync_seen: vec![SyncStats::default(); count],
            sync_totals: vec![SyncStats::default(); count],
            bad_input: BadInputLog::new(name, BAD_INPUT_NAMES, config.metrics.interval_ms),
            health: BinanceHealth::new(writer, name),
            name,
            user_stamp_logged: false,
        })
    }

    /// Logs, once, the first message the kernel did not stamp.
    fn check_user_stamps(&mut self) {
        let ws = self.feed.ws_stats();
        if self.user_stamp_logged || ws.messages_stamped_user == 0 {
            return;
        }
        self.user_stamp_logged = true;
        tracing::warn!(
            source = self.name,
            stamping = ?self.feed.client().rx_stamping(),
            messages_stamped_kernel = ws.messages_stamped_kernel,
            "a market-data message came without a kernel receive stamp; \
             it is stamped in user space after the read (logged once; counted in ws stats)"
        );
    }

    /// The feed, its books and its counters.
    pub fn feed(&self) -> &BinanceWsFeed {
        &self.feed
    }

    /// The feed, to close it.
    pub fn feed_mut(&mut self) -> &mut BinanceWsFeed {
        &mut self.feed
    }

    pub fn counters(&self) -> BinanceSourceCounters {
        self.tops.counters
    }

    /// Whether the WebSocket is open now.
    pub fn is_connected(&self) -> bool {
        self.tops.connected
    }

    /// Book counters summed over instruments and connections (the feed's own restart on reconnect).
    pub fn sync_total(&self) -> SyncStats {
        sum_sync_stats(&self.sync_totals)
    }

    /// The cumulative bad-input counters, in the order of `BAD_INPUT_NAMES`.
    pub fn bad_input_counters(&self) -> [u64; BAD_INPUT_COUNT] {
        bad_input_counters(&self.feed, &self.sync_total(), &self.tops.counters)
    }

    /// Adds what the books counted since the last call to the totals.
    fn accumulate_sync_stats(&mut self) {
        if std::mem::take(&mut self.tops.connected_this_poll) {
            // The feed rebuilt every book, counters included, on connecting.
            self.sync_seen.fill(SyncStats::default());
        }
        for (index, seen) in self.sync_seen.iter_mut().enumerate() {
            let Some(sync) = self.feed.sync(index) else {
                continue;
            };
            let now = *sync.stats();
            let total = &mut self.sync_totals[index];
            total.gaps += now.gaps.saturating_sub(seen.gaps);
            total.resyncs += now.resyncs.saturating_sub(seen.resyncs);
            total.off_grid += now.off_grid.saturating_sub(seen.off_grid);
            total.invalid_messages += now.invalid_messages.saturating_sub(seen.invalid_messages);
            total.buffer_overflows += now.buffer_overflows.saturating_sub(seen.buffer_overflows);
            total.crossed += now.crossed.saturating_sub(seen.crossed);
            total.snapshots_applied += now.snapshots_applied.saturating_sub(seen.snapshots_applied);
            total.snapshots_too_old += now.snapshots_too_old.saturating_sub(seen.snapshots_too_old);
            total.diffs_applied += now.diffs_applied.saturating_sub(seen.diffs_applied);
            *seen = now;
        }
    }

    /// After a poll: a book the updates did not report as unsynced may
    /// still be unusable (a rejected level marks it stale); flag it now.
    /// Then the books' state and counters go to the feed health.
    fn reconcile(&mut self, now_ns: u64) {
        for index in 0..self.tops.instruments.len() {
            let live = self
                .feed
                .sync(index)
                .is_some_and(|s| s.is_synced() && !s.book().is_stale());
            let state = &mut self.tops.instruments[index];
            if state.synced && !live {
                state.synced = false;
                self.tops.publish_stale(index, now_ns);
            }
            let fresh = live && self.tops.connected;
            let message_last_ns = self.tops.instruments[index].message_last_ns;
            self.health.update_book(
                index,
                fresh,
                message_last_ns,
                &self.sync_totals[index],
                now_ns,
            );
        }
        let disconnects = self.tops.counters.disconnects;
        self.health.update_feed(&self.feed, disconnects, now_ns);
    }
}

/// Logs how receive times are taken, once at start-up.
fn log_rx_stamping(source: &'static str, stamping: RxStamping) {
    if stamping.is_kernel() {
        tracing::info!(source, ?stamping, "kernel receive stamps on");
    } else {
        tracing::warn!(
            source,
            ?stamping,
            "no kernel receive stamps: ts_recv_ns is read in user space after each read"
        );
    }
}

/// The feed's instruments: upper-case symbols (as REST and snapshots name
/// them) on the instruments' grids, books as deep as a snapshot.
fn feed_instruments(config: &Config) -> Result<Vec<BinanceInstrument>, String> {
    let levels_max = config.market_data.binance.snapshot_limit.max(1) as usize;
    config
        .instruments
        .iter()
        .enumerate()
        .map(|(index, instrument)| {
            let grid = instrument_grid(instrument)
                .map_err(|(field, message)| format!("instruments[{index}].{field}: {message}"))?;
            Ok(BinanceInstrument {
                symbol: instrument.symbol.to_ascii_uppercase(),
                grid,
                levels_max,
                diff_buffer_max: DIFF_BUFFER_MAX,
            })
        })
        .collect()
}

/// Book counters summed over instruments.
fn sum_sync_stats(totals: &[SyncStats]) -> SyncStats {
    let mut sum = SyncStats::default();
    for total in totals {
        sum.gaps += total.gaps;
        sum.resyncs += total.resyncs;
        sum.off_grid += total.off_grid;
        sum.invalid_messages += total.invalid_messages;
        sum.buffer_overflows += total.buffer_overflows;
        sum.crossed += total.crossed;
        sum.snapshots_applied += total.snapshots_applied;
        sum.snapshots_too_old += total.snapshots_too_old;
        sum.diffs_applied += total.diffs_applied;
    }
    sum
}

impl Tops {
    fn on_update(&mut self, update: MarketUpdate, now_ns: impl FnOnce() -> u64) {
        if let MarketUpdate::BookTicker {
            instrument,
            ts_recv_ns,
            ..
        }
        | MarketUpdate::Depth {
            instrument,
            ts_recv_ns,
            ..
        } = update
        {
            if let Some(state) = self.instruments.get_mut(instrument) {
                state.message_last_ns = ts_recv_ns;
            }
        }
        match update {
            MarketUpdate::Connected => self.on_connected(),
            MarketUpdate::Disconnected(_) => self.on_disconnected(now_ns()),
            MarketUpdate::BookTicker {
                instrument,
                ticker,
                ts_recv_ns,
            } => self.on_ticker(instrument, &ticker, ts_recv_ns),
            MarketUpdate::Depth {
                instrument,
                outcome,
                ts_recv_ns,
            }
            | MarketUpdate::Snapshot {
                instrument,
                outcome,
                ts_recv_ns,
            } => self.on_sync(instrument, outcome, ts_recv_ns),
        }
    }

    /// A new connection: no book is synced and no ticker seen on it yet.
    fn on_connected(&mut self) {
        self.connected = true;
        self.connected_this_poll = true;
        for state in &mut self.instruments {
            state.synced = false;
            state.ticker_update_id = None;
            state.top_this_connection = false;
        }
    }

    /// The connection went: every top is published again, stale.
    fn on_disconnected(&mut self, ts_ns: u64) {
        // A failed attempt also reports a disconnect; only a lost connection counts here.
        if std::mem::take(&mut self.connected) {
            self.counters.disconnects += 1;
        }
        for index in 0..self.instruments.len() {
            self.instruments[index].synced = false;
            self.publish_stale(index, ts_ns);
        }
    }

    /// A bookTicker: published if it is a valid top and newer than the last.
    fn on_ticker(&mut self, instrument: usize, ticker: &BookTicker, ts_recv_ns: u64) {
        let Some(state) = self.instruments.get_mut(instrument) else {
            return;
        };
        let top = TopOfBook {
            bid_px: Price(ticker.bid_price.0),
            bid_qty: Qty(ticker.bid_qty.0),
            ask_px: Price(ticker.ask_price.0),
            ask_qty: Qty(ticker.ask_qty.0),
        };
        if !is_valid_top(&top) {
            // Not published, not remembered: the update id does not
            // advance, so a corrected ticker with the same `u` is taken.
            self.counters.tickers_invalid += 1;
            return;
        }
        if state
            .ticker_update_id
            .is_some_and(|u| ticker.update_id <= u)
        {
            self.counters.tickers_not_newer += 1;
            return;
        }
        state.ticker_update_id = Some(ticker.update_id);
        state.top = Some(top);
        state.top_this_connection = true;
        self.publish(instrument, ts_recv_ns);
    }

    /// A depth diff or snapshot moved the book's sync state: the top goes
    /// live again once synced (if a ticker came on this connection), stale
    /// on a resync.
    fn on_sync(&mut self, instrument: usize, outcome: SyncOutcome, ts_recv_ns: u64) {
        let Some(state) = self.instruments.get_mut(instrument) else {
            return;
        };
        match outcome {
            SyncOutcome::Synced => {
                state.synced = true;
                if state.top_this_connection {
                    self.publish(instrument, ts_recv_ns);
                }
            }
            SyncOutcome::Resync => {
                state.synced = false;
                self.publish_stale(instrument, ts_recv_ns);
            }
            _ => {}
        }
    }

    /// Queues the instrument's last ticker top, flagged by the book's
    /// state, unless exactly that was queued last.
    fn publish(&mut self, index: usize, ts_recv_ns: u64) {
        let state = &self.instruments[index];
        let Some(top) = state.top else {
            return;
        };
        let stale = !(self.connected && state.synced);
        self.push(index, top, stale, ts_recv_ns);
    }

    /// Queues the last published top again, flagged stale, if it was live.
    fn publish_stale(&mut self, index: usize, ts_recv_ns: u64) {
        if let Some((top, false)) = self.instruments[index].published {
            self.push(index, top, true, ts_recv_ns);
        }
    }

    /// The venue time of the events queued after the first `queued`: their
    /// receive time on CLOCK_REALTIME (see the module docs), with the offset
    /// measured now (one clock read each, only when events were queued).
    fn venue_times_on_realtime(&mut self, queued: usize, clock: &EpochClock) {
        if self.outbox.len() == queued {
            return;
        }
        let epoch_minus_realtime = i128::from(clock.now_ns()) - i128::from(realtime_ns());
        for event in self.outbox.range_mut(queued..) {
            let realtime = i128::from(event.ts_recv_ns) - epoch_minus_realtime;
            event.ts_venue_ns = realtime.clamp(1, i128::from(u64::MAX)) as u64;
        }
    }

    fn push(&mut self, index: usize, top: TopOfBook, stale: bool, ts_recv_ns: u64) {
        if self.instruments[index].published == Some((top, stale)) {
            return;
        }
        if self.outbox.len() == self.outbox_max {
            self.counters.outbox_full += 1;
            return;
        }
        self.instruments[index].published = Some((top, stale));
        let mut event = Event::new(
            InstrumentId(index as u16),
            Side::None,
            Input::TopOfBook(top),
        );
        event.ts_recv_ns = ts_recv_ns;
        event.ts_venue_ns = ts_recv_ns;
        if stale {
            event.flags |= FLAG_STALE;
            self.counters.tops_stale += 1;
        }
        self.counters.tops_published += 1;
        self.outbox.push_back(event);
    }
}

impl Source for BinanceSource {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        if self.tops.outbox_max - self.tops.outbox.len() >= self.poll_room_min {
            let queued = self.tops.outbox.len();
            let tops = &mut self.tops;
            self.feed.poll(&mut || clock.now_ns(), |update| {
                tops.on_update(update, || clock.now_ns());
            });
            tops.venue_times_on_realtime(queued, clock);
            self.accumulate_sync_stats();
            self.reconcile(clock.now_ns());
            self.check_user_stamps();
        }
        let mut emitted = 0;
        while emitted < budget {
            let Some(event) = self.tops.outbox.pop_front() else {
                break;
            };
            emit(event);
            emitted += 1;
        }
        let (feed, totals, counters) = (&self.feed, &self.sync_totals, &self.tops.counters);
        self.bad_input.check(clock.now_ns(), || {
            bad_input_counters(feed, &sum_sync_stats(totals), counters)
        });
        emitted
    }

    fn feed_health(&self) -> Option<Arc<FeedHealth>> {
        Some(Arc::clone(self.health.shared()))
    }
}

/// Whether a bookTicker's top can be a top of book: positive prices and
/// quantities, bid strictly below ask.
fn is_valid_top(top: &TopOfBook) -> bool {
    top.bid_px.0 > 0
        && top.ask_px.0 > 0
        && top.bid_qty.0 > 0
        && top.ask_qty.0 > 0
        && top.bid_px.0 < top.ask_px.0
}

fn bad_input_counters(
    feed: &BinanceWsFeed,
    sync: &SyncStats,
    counters: &BinanceSourceCounters,
) -> [u64; BAD_INPUT_COUNT] {
    let stats = feed.stats();
    let ws = feed.ws_stats();
    [
        stats.invalid_json,
        stats.unknown_stream,
        stats.unmatched_responses,
        stats.snapshot_errors,
        stats.snapshot_timeouts,
        stats.ticker_rejects,
        sync.gaps,
        sync.resyncs,
        sync.off_grid,
        sync.invalid_messages,
        sync.buffer_overflows,
        sync.crossed,
        counters.disconnects,
        ws.connects_failed,
        ws.oversized,
        ws.ping_timeouts,
        counters.tickers_invalid,
    ]
}
