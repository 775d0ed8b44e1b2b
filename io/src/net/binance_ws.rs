//! Binance-compatible market data over one WebSocket: routes stream
//! messages (`<symbol>@bookTicker`, `<symbol>@depth@100ms`) to
//! per-instrument parsers and [`DepthSync`] books, fetches depth
//! snapshots, and rebuilds every book after a reconnect.
//!
//! Owning thread: the ingest thread, which calls [`BinanceWsFeed::poll`] on
//! every loop iteration; nothing here blocks.
//!
//! URLs: combined (`/stream?streams=…`) and raw (`/ws/<stream>`,
//! `/ws/<a>/<b>`, or `/ws` alone), `ws://` or `wss://` (see
//! [`StreamUrl`]); routing handles both wrappings (`binance_route.rs`).
//! Streams an instrument needs that the URL does not name are requested
//! with one `SUBSCRIBE` on every (re)connect, and its acknowledgement is
//! matched by id.
//!
//! Snapshots ([`SnapshotSource`], `binance_snapshots.rs`): by default from
//! REST, `GET {base}/api/v3/depth?symbol=…&limit=…`, on a helper thread
//! ([`super::SnapshotFetcher`]) as Binance's guide says; the ingest thread
//! only pushes requests and pops answers. The WebSocket-API `depth`
//! request on the stream socket stays as an option
//! ([`SnapshotSource::WebSocketApi`]; [`BinanceWsFeed::new`] keeps it for
//! servers that answer it). Either way a snapshot is requested once the
//! first diff is buffered (or after `snapshot_diff_wait_ns`), retried with
//! jittered backoff after a failure, and every outcome is counted.
//!
//! Bad-input policy (counted in [`BinanceFeedStats`] or the instrument's
//! [`crate::binance::SyncStats`]; nothing panics):
//! - not a JSON object: counted (`invalid_json`), skipped; a diff lost this
//!   way shows up as a gap in the next diff's `U`, and that instrument
//!   resyncs;
//! - a diff that does not parse or is off the grid: `DepthSync` counts it
//!   and resyncs the instrument;
//! - a bookTicker that does not parse: counted per instrument, skipped (the
//!   next one replaces it);
//! - an unknown stream, or a response to no pending request: counted, skipped;
//! - an error frame from the server (`{"code":…,"msg":…}`): counted
//!   (`stream_errors`); a refused `SUBSCRIBE` is counted in
//!   `subscription_errors`;
//! - a snapshot that fails (HTTP status, Binance error JSON, timeout, TLS,
//!   oversized body, or a WebSocket-API error answer): counted in
//!   [`SnapshotStats`], requested again after a backoff;
//! - connection-level faults: see [`WsClient`] (reconnect with backoff); on
//!   every reconnect each book is cleared and resynced from a new snapshot.

use super::binance_config::MS_NS;
pub use super::binance_config::{
    combined_stream_url, BinanceFeedConfig, BinanceFeedOptions, BinanceInstrument,
};
use super::binance_route::{route, Envelope, RawKnown, Route, StreamKind, StreamNames};
use super::binance_snapshots::{Applied, SnapshotTiming, Snapshots};
pub use super::binance_snapshots::{SnapshotSource, SnapshotStats};
use super::error::NetError;
use super::snapshot_fetcher::{SnapshotFetcher, SnapshotFetcherConfig};
use super::stream_url::{StreamUrl, StreamWrapping};
use super::tls::TlsSetup;
use super::ws_client::{DisconnectReason, WsClient, WsEvent, WsStats};
use crate::binance::{parse_book_ticker, BookTicker, DepthSync, Symbol, SyncOutcome};
use std::fmt::Write as _;

/// What one message did, for the caller's event mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketUpdate {
    /// Connected (or reconnected): every book was cleared and resyncs.
    Connected,
    /// Disconnected; a reconnect is scheduled.
    Disconnected(DisconnectReason),
    /// A best bid/ask update.
    BookTicker {
        /// Instrument index.
        instrument: usize,
        /// The parsed ticker.
        ticker: BookTicker,
        /// Receive time.
        ts_recv_ns: u64,
    },
    /// A depth diff was processed; the book is in [`BinanceWsFeed::sync`].
    Depth {
        /// Instrument index.
        instrument: usize,
        /// What the diff did.
        outcome: SyncOutcome,
        /// Receive time.
        ts_recv_ns: u64,
    },
    /// A snapshot was processed.
    Snapshot {
        /// Instrument index.
        instrument: usize,
        /// What the snapshot did (`Synced` when the book went live).
        outcome: SyncOutcome,
        /// Receive time (of the WebSocket answer, or of the poll that took
        /// the REST answer).
        ts_recv_ns: u64,
    },
}

/// Counters of the feed (per-instrument book counters live in `DepthSync`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinanceFeedStats {
    /// Messages that are not a well-formed JSON object.
    pub invalid_json: u64,
    /// Messages for a stream no instrument has, or with neither stream nor id.
    pub unknown_stream: u64,
    /// Responses matching no pending request.
    pub unmatched_responses: u64,
    /// Snapshot requests made (= `snapshot.requested`).
    pub snapshots_requested: u64,
    /// Snapshot fetches that failed (= `snapshot.failed`).
    pub snapshot_errors: u64,
    /// Snapshot requests that timed out (= `snapshot.timeouts`).
    pub snapshot_timeouts: u64,
    /// bookTicker messages that did not parse.
    pub ticker_rejects: u64,
    /// Book rebuilds after a reconnect.
    pub reconnect_resyncs: u64,
    /// Error frames from the server with no request id.
    pub stream_errors: u64,
    /// `SUBSCRIBE` requests sent (one per connection that needs one).
    pub subscriptions_sent: u64,
    /// `SUBSCRIBE` requests acknowledged.
    pub subscriptions_confirmed: u64,
    /// `SUBSCRIBE` requests refused (or unsendable).
    pub subscription_errors: u64,
    /// Snapshot fetching in detail.
    pub snapshot: SnapshotStats,
}

#[derive(Debug)]
struct Instrument {
    config: BinanceInstrument,
    sync: DepthSync,
}

impl AsMut<DepthSync> for Instrument {
    fn as_mut(&mut self) -> &mut DepthSync {
        &mut self.sync
    }
}

impl Instrument {
    fn new(config: BinanceInstrument) -> Instrument {
        let sync = DepthSync::new(config.grid, config.levels_max, config.diff_buffer_max);
        Instrument { config, sync }
    }

    /// Clear the book (after a reconnect).
    fn restart(&mut self) {
        let c = &self.config;
        self.sync = DepthSync::new(c.grid, c.levels_max, c.diff_buffer_max);
    }
}

/// Binance-compatible WebSocket feed for a set of instruments.
#[derive(Debug)]
pub struct BinanceWsFeed {
    client: WsClient,
    instruments: Vec<Instrument>,
    /// Stream names per instrument, in index order.
    names: Vec<StreamNames>,
    snapshots: Snapshots,
    /// The instrument (and stream) a raw one-instrument connection carries.
    single: RawKnown,
    /// `SUBSCRIBE` text for the streams the URL lacks (empty: none).
    subscribe_text: String,
    subscribe_id: u64,
    subscribe_pending: bool,
    connected_before: bool,
    stats: BinanceFeedStats,
}

impl BinanceWsFeed {
    /// Allocate the books; the first poll connects. Snapshots come from the
    /// WebSocket-API `depth` request on the stream socket (what the
    /// simulated venue answered before it served REST); `wss://` trusts
    /// Mozilla's roots. A URL this feed cannot parse fails every upgrade
    /// (counted) rather than here; use [`BinanceWsFeed::open`] to choose
    /// REST and be told at once.
    pub fn new(config: BinanceFeedConfig) -> BinanceWsFeed {
        let options = BinanceFeedOptions::web_socket_api();
        let tls = TlsSetup::new(&options.tls).expect("Mozilla's roots load");
        let stream = StreamUrl::parse(&config.endpoint.url).ok();
        BinanceWsFeed::build(config, &options, &tls, stream.as_ref(), None)
    }

    /// Check the URL and the options, load the TLS roots, start the
    /// snapshot fetcher thread (REST), and allocate the books; the first
    /// poll connects.
    pub fn open(
        config: BinanceFeedConfig,
        options: &BinanceFeedOptions,
    ) -> Result<BinanceWsFeed, NetError> {
        let stream = StreamUrl::parse(&config.endpoint.url)?;
        let tls = TlsSetup::new(&options.tls)?;
        let fetcher = match &options.snapshots {
            SnapshotSource::Rest { base_url } => Some(SnapshotFetcher::spawn(
                SnapshotFetcherConfig {
                    base_url: base_url.clone(),
                    timeout_ns: options.rest_timeout_ns,
                    body_bytes_max: options.rest_body_bytes_max,
                    queue_capacity: config.instruments.len().max(1),
                },
                &tls,
            )?),
            SnapshotSource::WebSocketApi => None,
        };
        Ok(BinanceWsFeed::build(
            config,
            options,
            &tls,
            Some(&stream),
            fetcher,
        ))
    }

    fn build(
        config: BinanceFeedConfig,
        options: &BinanceFeedOptions,
        tls: &TlsSetup,
        stream: Option<&StreamUrl>,
        fetcher: Option<SnapshotFetcher>,
    ) -> BinanceWsFeed {
        let instruments: Vec<Instrument> = config
            .instruments
            .into_iter()
            .map(Instrument::new)
            .collect();
        let names: Vec<StreamNames> = instruments
            .iter()
            .map(|i| StreamNames::new(&i.config.symbol))
            .collect();
        let symbols: Vec<Symbol> = names
            .iter()
            .map(|n| Symbol::new(n.symbol_upper.as_bytes()))
            .collect();
        let in_flight_timeout_ns = if fetcher.is_some() {
            // The fetcher answers within its timeout per request queued ahead.
            options
                .rest_timeout_ns
                .saturating_mul(symbols.len() as u64 + 1)
                .saturating_add(1_000 * MS_NS)
        } else {
            config.snapshot_retry_ns
        };
        let timing = SnapshotTiming {
            limit: config.snapshot_depth_limit,
            in_flight_timeout_ns,
            diff_wait_ns: options.snapshot_diff_wait_ns,
            backoff_initial_ns: options.snapshot_backoff_initial_ns,
            backoff_max_ns: options.snapshot_backoff_max_ns,
            seed: config.ws.reconnect_jitter_seed,
        };
        // A depth snapshot body is about 60 bytes per level and side.
        let body_capacity = (config.snapshot_depth_limit as usize)
            .saturating_mul(128)
            .min(options.rest_body_bytes_max);
        let snapshots = Snapshots::new(fetcher, &symbols, timing, body_capacity);
        let (single, subscribe_text) = match stream {
            Some(stream) => plan_streams(stream, &names),
            None => (None, String::new()),
        };
        BinanceWsFeed {
            client: WsClient::with_tls(config.endpoint, config.ws, tls),
            instruments,
            names,
            snapshots,
            single,
            subscribe_text,
            subscribe_id: 0,
            subscribe_pending: false,
            connected_before: false,
            stats: BinanceFeedStats::default(),
        }
    }

    /// The book of instrument `index`; trade only when `!book().is_stale()`.
    pub fn sync(&self, index: usize) -> Option<&DepthSync> {
        self.instruments.get(index).map(|i| &i.sync)
    }

    /// Number of instruments.
    pub fn instrument_count(&self) -> usize {
        self.instruments.len()
    }

    /// The connection (to register it with a reactor, or read its counters).
    pub fn client_mut(&mut self) -> &mut WsClient {
        &mut self.client
    }

    /// The connection (its state, counters and last error).
    pub fn client(&self) -> &WsClient {
        &self.client
    }

    /// Connection counters.
    pub fn ws_stats(&self) -> &WsStats {
        self.client.stats()
    }

    /// Feed counters.
    pub fn stats(&self) -> &BinanceFeedStats {
        &self.stats
    }

    /// Whether snapshots come over REST.
    pub fn snapshots_over_rest(&self) -> bool {
        self.snapshots.is_rest()
    }

    /// The last snapshot failure's description (REST), for the log.
    pub fn last_snapshot_error(&self) -> Option<&str> {
        self.snapshots.last_error()
    }

    /// Close the connection for good.
    pub fn close(&mut self, now_ns: u64) {
        self.client.close(now_ns);
    }

    /// Drive the connection, route every message, take REST answers, and
    /// request due snapshots. `on_update` sees each processed message.
    pub fn poll<C, F>(&mut self, clock: &mut C, mut on_update: F)
    where
        C: FnMut() -> u64,
        F: FnMut(MarketUpdate),
    {
        let mut connected = false;
        let BinanceWsFeed {
            client,
            instruments,
            names,
            snapshots,
            single,
            stats,
            connected_before,
            subscribe_id,
            subscribe_pending,
            ..
        } = self;
        let mut router = Router {
            instruments,
            names,
            snapshots,
            single: *single,
            stats,
            subscribe_id: *subscribe_id,
            subscribe_pending,
        };
        client.poll(clock, |event| match event {
            WsEvent::Connected => {
                if *connected_before {
                    router.stats.reconnect_resyncs += 1;
                }
                *connected_before = true;
                connected = true;
                router.instruments.iter_mut().for_each(Instrument::restart);
                router.snapshots.restart();
                on_update(MarketUpdate::Connected);
            }
            WsEvent::Disconnected(reason) => on_update(MarketUpdate::Disconnected(reason)),
            WsEvent::Text { bytes, ts_recv_ns } => {
                if let Some(update) = router.route(bytes, ts_recv_ns) {
                    on_update(update);
                }
            }
        });
        if connected {
            self.subscribe();
        }
        let now_ns = clock();
        let BinanceWsFeed {
            client,
            instruments,
            snapshots,
            ..
        } = self;
        snapshots.poll_answers(now_ns, instruments, |Applied { index, outcome }| {
            on_update(MarketUpdate::Snapshot {
                instrument: index,
                outcome,
                ts_recv_ns: now_ns,
            });
        });
        snapshots.schedule(now_ns, instruments, client);
        self.copy_snapshot_stats();
    }

    /// Send the `SUBSCRIBE` for the streams the URL lacks, if any.
    fn subscribe(&mut self) {
        if self.subscribe_text.is_empty() {
            return;
        }
        self.subscribe_id = self.subscribe_id.wrapping_add(1) | 1 << 62;
        let id_text_at = self.subscribe_text.rfind(r#""id":"#).map_or(0, |at| at + 5);
        self.subscribe_text.truncate(id_text_at);
        let _ = write!(self.subscribe_text, "{}}}", self.subscribe_id);
        if self.client.send_text(&self.subscribe_text) {
            self.stats.subscriptions_sent += 1;
            self.subscribe_pending = true;
        } else {
            self.stats.subscription_errors += 1;
        }
    }

    fn copy_snapshot_stats(&mut self) {
        let snapshot = self.snapshots.stats;
        self.stats.snapshot = snapshot;
        self.stats.snapshots_requested = snapshot.requested;
        self.stats.snapshot_errors = snapshot.failed;
        self.stats.snapshot_timeouts = snapshot.timeouts;
    }
}

/// What a raw connection of one instrument carries, and the `SUBSCRIBE`
/// text (ending in `"id":`, the id appended per connection) for the
/// streams the URL does not name.
fn plan_streams(stream: &StreamUrl, all_names: &[StreamNames]) -> (RawKnown, String) {
    let mut missing: Vec<&str> = Vec::new();
    for names in all_names {
        if !stream.names(&names.depth_100ms) && !stream.names(&names.depth_1s) {
            missing.push(&names.depth_100ms);
        }
        if !stream.names(&names.ticker) {
            missing.push(&names.ticker);
        }
    }
    let mut subscribe_text = String::new();
    if !missing.is_empty() {
        subscribe_text.push_str(r#"{"method":"SUBSCRIBE","params":["#);
        for (index, name) in missing.iter().enumerate() {
            if index > 0 {
                subscribe_text.push(',');
            }
            let _ = write!(subscribe_text, "\"{name}\"");
        }
        subscribe_text.push_str(r#"],"id":"#);
    }
    let single = match (stream.wrapping, all_names) {
        (StreamWrapping::Raw, [names]) => {
            let kind = match (stream.streams.as_slice(), missing.is_empty()) {
                ([only], true) => names.kind_of(only.as_bytes()),
                _ => None,
            };
            Some((0, kind))
        }
        _ => None,
    };
    (single, subscribe_text)
}

/// The parts of the feed a message may touch while the client is polled.
struct Router<'a> {
    instruments: &'a mut [Instrument],
    names: &'a [StreamNames],
    snapshots: &'a mut Snapshots,
    single: RawKnown,
    stats: &'a mut BinanceFeedStats,
    subscribe_id: u64,
    subscribe_pending: &'a mut bool,
}

impl Router<'_> {
    fn route(&mut self, bytes: &[u8], ts_recv_ns: u64) -> Option<MarketUpdate> {
        let (found, envelope) = route(bytes, self.names, self.single);
        match found {
            Route::Stream {
                index,
                kind,
                payload,
            } => self.on_stream(index, kind, payload, ts_recv_ns),
            Route::Answer { id } => self.on_answer(id, &envelope, ts_recv_ns),
            Route::StreamError => {
                self.stats.stream_errors += 1;
                None
            }
            Route::Unknown => {
                self.stats.unknown_stream += 1;
                None
            }
            Route::Invalid => {
                self.stats.invalid_json += 1;
                None
            }
        }
    }

    fn on_stream(
        &mut self,
        index: usize,
        kind: StreamKind,
        payload: &[u8],
        ts_recv_ns: u64,
    ) -> Option<MarketUpdate> {
        let instrument = &mut self.instruments[index];
        match kind {
            StreamKind::Depth => Some(MarketUpdate::Depth {
                instrument: index,
                outcome: instrument.sync.on_diff_bytes(payload),
                ts_recv_ns,
            }),
            StreamKind::BookTicker => match parse_book_ticker(payload, &instrument.config.grid) {
                Ok(ticker) => Some(MarketUpdate::BookTicker {
                    instrument: index,
                    ticker,
                    ts_recv_ns,
                }),
                Err(_) => {
                    self.stats.ticker_rejects += 1;
                    None
                }
            },
        }
    }

    fn on_answer(
        &mut self,
        id: Option<u64>,
        envelope: &Envelope<'_>,
        ts_recv_ns: u64,
    ) -> Option<MarketUpdate> {
        let Some(id) = id else {
            self.stats.unmatched_responses += 1;
            return None;
        };
        if *self.subscribe_pending && id == self.subscribe_id {
            *self.subscribe_pending = false;
            if envelope.error {
                self.stats.subscription_errors += 1;
            } else {
                self.stats.subscriptions_confirmed += 1;
            }
            return None;
        }
        let status_ok = !envelope.error && envelope.status.is_none_or(|s| s == b"200");
        match self.snapshots.on_ws_answer(
            id,
            status_ok,
            envelope.result,
            ts_recv_ns,
            self.instruments,
        ) {
            None => {
                self.stats.unmatched_responses += 1;
                None
            }
            Some(applied) => applied.map(|Applied { index, outcome }| MarketUpdate::Snapshot {
                instrument: index,
                outcome,
                ts_recv_ns,
            }),
        }
    }
}
