//! How a [`super::BinanceWsFeed`] is built: its instruments and endpoint
//! ([`BinanceFeedConfig`]), and how it takes snapshots and trusts TLS
//! ([`BinanceFeedOptions`]).
//!
//! Owning thread: start-up; read once by the feed's constructor.

use super::binance_snapshots::SnapshotSource;
use super::stream_url::StreamUrl;
use super::tls::TlsConfig;
use super::ws_config::{WsConfig, WsEndpoint};
use crate::binance::InstrumentGrid;
use std::fmt::Write as _;

pub(crate) const MS_NS: u64 = 1_000_000;

/// One instrument of the feed.
#[derive(Clone, Debug)]
pub struct BinanceInstrument {
    /// Exchange symbol, upper case (e.g. "BNBBTC").
    pub symbol: String,
    /// Price and quantity grids.
    pub grid: InstrumentGrid,
    /// Levels per side in the book.
    pub levels_max: usize,
    /// Diffs buffered while waiting for a snapshot.
    pub diff_buffer_max: usize,
}

/// How to build a [`super::BinanceWsFeed`].
#[derive(Clone, Debug)]
pub struct BinanceFeedConfig {
    /// Where to connect (see [`StreamUrl`] and [`combined_stream_url`]).
    pub endpoint: WsEndpoint,
    /// Connection knobs.
    pub ws: WsConfig,
    /// Instruments, in index order.
    pub instruments: Vec<BinanceInstrument>,
    /// Levels asked for in a snapshot.
    pub snapshot_depth_limit: u32,
    /// Give up on a WebSocket-API snapshot request unanswered this long.
    pub snapshot_retry_ns: u64,
}

/// Snapshot transport, TLS and retry settings (see [`super::BinanceWsFeed::open`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinanceFeedOptions {
    /// REST (the documented way) or the WebSocket API.
    pub snapshots: SnapshotSource,
    /// Roots and CA file for `wss://` and `https://`.
    pub tls: TlsConfig,
    /// Limit on one REST call (connect, TLS, request, body).
    pub rest_timeout_ns: u64,
    /// Largest REST body accepted.
    pub rest_body_bytes_max: usize,
    /// First delay before retrying a failed snapshot (doubles per failure).
    pub snapshot_backoff_initial_ns: u64,
    /// Longest delay between snapshot retries.
    pub snapshot_backoff_max_ns: u64,
    /// Ask for a snapshot even if no diff arrived for this long (a quiet
    /// symbol); normally the first buffered diff triggers the request.
    pub snapshot_diff_wait_ns: u64,
}

impl BinanceFeedOptions {
    /// REST snapshots from `base_url` (e.g. `https://api.binance.com`).
    pub fn rest(base_url: impl Into<String>) -> BinanceFeedOptions {
        BinanceFeedOptions {
            snapshots: SnapshotSource::Rest {
                base_url: base_url.into(),
            },
            tls: TlsConfig::default(),
            rest_timeout_ns: 10_000 * MS_NS,
            rest_body_bytes_max: 8 << 20,
            snapshot_backoff_initial_ns: 250 * MS_NS,
            snapshot_backoff_max_ns: 30_000 * MS_NS,
            snapshot_diff_wait_ns: 1_000 * MS_NS,
        }
    }

    /// REST snapshots from the stream's own host and port (`http` for
    /// `ws`, `https` for `wss`), as the simulated venue serves them.
    pub fn rest_beside(stream: &StreamUrl) -> BinanceFeedOptions {
        BinanceFeedOptions::rest(stream.rest_base_url())
    }

    /// WebSocket-API `depth` requests on the stream socket, asked for at
    /// once on connecting (the behaviour of [`super::BinanceWsFeed::new`]).
    pub fn web_socket_api() -> BinanceFeedOptions {
        BinanceFeedOptions {
            snapshots: SnapshotSource::WebSocketApi,
            snapshot_diff_wait_ns: 0,
            ..BinanceFeedOptions::rest(String::new())
        }
    }
}

/// `ws://{host_port}/stream?streams=a@bookTicker/a@depth@100ms/…`.
pub fn combined_stream_url(host_port: &str, symbols: &[&str]) -> String {
    let mut url = format!("ws://{host_port}/stream?streams=");
    for (index, symbol) in symbols.iter().enumerate() {
        let lower = symbol.to_ascii_lowercase();
        if index > 0 {
            url.push('/');
        }
        let _ = write!(url, "{lower}@bookTicker/{lower}@depth@100ms");
    }
    url
}
