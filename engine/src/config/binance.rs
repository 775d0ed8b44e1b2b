//! `[market_data.binance]`: a Binance-compatible feed: the stream URL (raw
//! or combined, `ws://` or `wss://`), where depth snapshots come from (REST
//! by default, as Binance documents; the WebSocket API as an option), TLS
//! roots, and the connection's timers. Units are in the key names.
//!
//! Read once at start-up ([`BinanceConfig::feed_options`] builds what the
//! io feed takes).

use super::kind::config_kind;
use super::{ConfigError, Invalid};
use genesis_io::net::{BinanceFeedOptions, SnapshotSource, StreamUrl, TlsConfig, TlsRoots};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

const MS_NS: u64 = 1_000_000;

config_kind! {
    /// Where depth snapshots come from.
    pub enum BinanceSnapshotSource (key "market_data.binance.snapshot_source", unknown "snapshot source") {
        /// `GET {rest_url}/api/v3/depth?symbol=…&limit=…` on a helper
        /// thread: Binance's documented procedure (the default).
        Rest = "rest",
        /// The WebSocket API's `depth` request on the stream socket.
        WebSocketApi = "websocket-api",
    }
}

config_kind! {
    /// Which root certificates `wss://` and `https://` trust.
    pub enum TlsRootsKind (key "market_data.binance.tls_roots", unknown "TLS roots") {
        /// Mozilla's roots, compiled in (the default).
        WebPki = "webpki",
        /// The operating system's store, read at start-up.
        System = "system",
    }
}

/// `[market_data.binance]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinanceConfig {
    /// Stream URL, raw (`wss://host:port/ws/<stream>…`) or combined
    /// (`…/stream?streams=<a>/<b>…`); streams of a configured instrument the
    /// URL does not name are subscribed on connecting. Required with
    /// `source = "binance-ws"`; "binance-sim" fills it in. Binance's:
    /// `wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms`.
    pub url: String,
    /// Where REST snapshots come from, such as "https://api.binance.com";
    /// "" derives it from `url` (see [`rest_url_for`]).
    pub rest_url: String,
    /// `"rest"` (default) or `"websocket-api"`.
    pub snapshot_source: BinanceSnapshotSource,
    /// A PEM file of certificates trusted besides the roots (a test or
    /// corporate CA); empty for none.
    pub ca_file: PathBuf,
    /// `"webpki"` (Mozilla's, compiled in; default) or `"system"`.
    pub tls_roots: TlsRootsKind,
    /// Limit on one REST call (connect, TLS, request, body).
    pub rest_timeout_ms: u64,
    /// A failed REST snapshot is retried after this long, doubling (with
    /// jitter) up to `snapshot_backoff_max_ms`.
    pub snapshot_backoff_initial_ms: u64,
    pub snapshot_backoff_max_ms: u64,
    /// REST: a snapshot is fetched once the stream's first diff is
    /// buffered (Binance's procedure), or after this long without one (a
    /// quiet symbol).
    pub snapshot_diff_wait_ms: u64,
    /// Send a ping after this long without one.
    pub ping_interval_s: u64,
    /// Drop the connection when a ping gets no pong within this long.
    pub ping_timeout_s: u64,
    /// Give the close handshake this long before dropping the socket.
    pub close_timeout_s: u64,
    /// Give TCP connect plus the WebSocket handshake this long.
    pub connect_timeout_s: u64,
    /// Largest message accepted; a larger one drops the connection.
    pub message_bytes_max: usize,
    /// Levels per side asked for in a depth snapshot (1..=5000), and kept in each book.
    pub snapshot_limit: u32,
    /// WebSocket API: ask for a snapshot again when one is unanswered (or refused) this long.
    pub snapshot_retry_ms: u64,
    /// First reconnect delay; it doubles up to `reconnect_max_ms`, with jitter.
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
}

impl Default for BinanceConfig {
    fn default() -> BinanceConfig {
        BinanceConfig {
            url: String::new(),
            rest_url: String::new(),
            snapshot_source: BinanceSnapshotSource::Rest,
            ca_file: PathBuf::new(),
            tls_roots: TlsRootsKind::WebPki,
            rest_timeout_ms: 10_000,
            snapshot_backoff_initial_ms: 250,
            snapshot_backoff_max_ms: 30_000,
            snapshot_diff_wait_ms: 1_000,
            ping_interval_s: 20,
            ping_timeout_s: 10,
            close_timeout_s: 5,
            connect_timeout_s: 10,
            message_bytes_max: 1 << 20,
            snapshot_limit: 1_000,
            snapshot_retry_ms: 5_000,
            reconnect_initial_ms: 100,
            reconnect_max_ms: 30_000,
        }
    }
}

/// The REST base a stream URL's snapshots come from when `rest_url` is
/// empty: Binance's own for its stream hosts (`stream.binance.com` →
/// `https://api.binance.com`, `data-stream.binance.vision` →
/// `https://data-api.binance.vision`, `stream.testnet.binance.vision` →
/// `https://testnet.binance.vision`), else the stream's own host and port
/// (`http` for `ws`, `https` for `wss`), as the simulated venue serves it.
pub fn rest_url_for(stream: &StreamUrl) -> String {
    match stream.host.to_ascii_lowercase().as_str() {
        "stream.binance.com" => "https://api.binance.com".into(),
        "data-stream.binance.vision" => "https://data-api.binance.vision".into(),
        "stream.testnet.binance.vision" => "https://testnet.binance.vision".into(),
        _ => stream.rest_base_url(),
    }
}

impl BinanceConfig {
    /// How the io feed takes snapshots and trusts TLS, for the stream at `stream`.
    pub fn feed_options(&self, stream: &StreamUrl) -> BinanceFeedOptions {
        let tls = TlsConfig {
            roots: match self.tls_roots {
                TlsRootsKind::WebPki => TlsRoots::WebPki,
                TlsRootsKind::System => TlsRoots::System,
            },
            ca_file: (!self.ca_file.as_os_str().is_empty()).then(|| self.ca_file.clone()),
        };
        let base = match self.snapshot_source {
            BinanceSnapshotSource::Rest => {
                let base_url = if self.rest_url.is_empty() {
                    rest_url_for(stream)
                } else {
                    self.rest_url.trim_end_matches('/').to_string()
                };
                BinanceFeedOptions {
                    snapshot_diff_wait_ns: self.snapshot_diff_wait_ms.saturating_mul(MS_NS),
                    ..BinanceFeedOptions::rest(base_url)
                }
            }
            BinanceSnapshotSource::WebSocketApi => BinanceFeedOptions::web_socket_api(),
        };
        BinanceFeedOptions {
            tls,
            rest_timeout_ns: self.rest_timeout_ms.saturating_mul(MS_NS),
            snapshot_backoff_initial_ns: self.snapshot_backoff_initial_ms.saturating_mul(MS_NS),
            snapshot_backoff_max_ns: self.snapshot_backoff_max_ms.saturating_mul(MS_NS),
            ..base
        }
    }

    /// Where snapshots come from, for the log.
    pub fn snapshot_origin(options: &BinanceFeedOptions) -> String {
        match &options.snapshots {
            SnapshotSource::Rest { base_url } => format!("REST {base_url}/api/v3/depth"),
            SnapshotSource::WebSocketApi => "the WebSocket API's depth request".into(),
        }
    }

    /// The URL (when `url_required`), the REST base and the timers.
    pub(super) fn validate(
        &self,
        url_required: bool,
        invalid: &Invalid<'_>,
    ) -> Result<(), ConfigError> {
        if url_required {
            if self.url.is_empty() {
                return Err(invalid(
                    "market_data.binance.url",
                    "source \"binance-ws\" needs the endpoint's stream URL, such as \"wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms\"".into(),
                ));
            }
            StreamUrl::parse(&self.url)
                .map_err(|e| invalid("market_data.binance.url", e.to_string()))?;
        }
        if !self.rest_url.is_empty() {
            let scheme_ok = ["http://", "https://"]
                .iter()
                .any(|s| self.rest_url.to_ascii_lowercase().starts_with(s));
            if !scheme_ok || self.rest_url.len() <= "https://".len() {
                return Err(invalid(
                    "market_data.binance.rest_url",
                    format!("{:?} is not an http:// or https:// base URL such as \"https://api.binance.com\"", self.rest_url),
                ));
            }
        }
        self.validate_timers(invalid)
    }

    fn validate_timers(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        let positive = [
            ("ping_interval_s", self.ping_interval_s),
            ("ping_timeout_s", self.ping_timeout_s),
            ("close_timeout_s", self.close_timeout_s),
            ("connect_timeout_s", self.connect_timeout_s),
            ("snapshot_retry_ms", self.snapshot_retry_ms),
            ("reconnect_initial_ms", self.reconnect_initial_ms),
            ("rest_timeout_ms", self.rest_timeout_ms),
            (
                "snapshot_backoff_initial_ms",
                self.snapshot_backoff_initial_ms,
            ),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(
                    &format!("market_data.binance.{field}"),
                    "must be positive".into(),
                ));
            }
        }
        for (field, max, min_field, min) in [
            (
                "reconnect_max_ms",
                self.reconnect_max_ms,
                "reconnect_initial_ms",
                self.reconnect_initial_ms,
            ),
            (
                "snapshot_backoff_max_ms",
                self.snapshot_backoff_max_ms,
                "snapshot_backoff_initial_ms",
                self.snapshot_backoff_initial_ms,
            ),
        ] {
            if max < min {
                return Err(invalid(
                    &format!("market_data.binance.{field}"),
                    format!("{max} is below {min_field} = {min}"),
                ));
            }
        }
        if !(1..=5_000).contains(&self.snapshot_limit) {
            return Err(invalid(
                "market_data.binance.snapshot_limit",
                format!("{} is not within 1..=5000", self.snapshot_limit),
            ));
        }
        if self.message_bytes_max < 4_096 {
            return Err(invalid(
                "market_data.binance.message_bytes_max",
                format!("{} is below 4096", self.message_bytes_max),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The REST base: Binance's for its stream hosts, the stream's own host
    // and port otherwise, the configured one when set.
    #[test]
    fn rest_base_from_the_stream_url() {
        let binance = StreamUrl::parse("wss://stream.binance.com:9443/ws/btcusdt@depth").unwrap();
        assert_eq!(rest_url_for(&binance), "https://api.binance.com");
        let sim = StreamUrl::parse("ws://127.0.0.1:9443/stream?streams=a@bookTicker").unwrap();
        assert_eq!(rest_url_for(&sim), "http://127.0.0.1:9443");
        let config = BinanceConfig {
            rest_url: "https://api.example.com/".into(),
            ..BinanceConfig::default()
        };
        let options = config.feed_options(&binance);
        assert_eq!(
            options.snapshots,
            SnapshotSource::Rest {
                base_url: "https://api.example.com".into()
            }
        );
        assert_eq!(options.snapshot_diff_wait_ns, 1_000_000_000);
        let config = BinanceConfig {
            snapshot_source: BinanceSnapshotSource::WebSocketApi,
            ca_file: "/tmp/ca.pem".into(),
            ..BinanceConfig::default()
        };
        let options = config.feed_options(&sim);
        assert_eq!(options.snapshots, SnapshotSource::WebSocketApi);
        assert_eq!(options.tls.ca_file, Some(PathBuf::from("/tmp/ca.pem")));
    }
}
