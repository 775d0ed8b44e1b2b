//! `[market_data]`: where market data comes from (the source kind), the
//! synthetic walk's seed and rate, and the sockets of the feeds: ITCH 5.0
//! over MoldUDP64 (`[market_data.itch]`), Binance-compatible WebSocket
//! (`[market_data.binance]`), and their options (`[market_data.socket]`).

use super::instruments::{instrument_grid, InstrumentConfig};
use super::kind::config_kind;
use super::{ConfigError, Invalid};
use genesis_io::net::{SocketOptions, WsConfig};
use serde::{Deserialize, Serialize};

config_kind! {
    /// Where market data comes from.
    pub enum MarketDataSource (key "market_data.source", unknown "source") {
        /// A seeded random walk generated in ingest.
        Synthetic = "synthetic",
        /// The default: the same walk published by the simulated venue as
        /// ITCH 5.0 over MoldUDP64 on UDP loopback, with a retransmission
        /// request port.
        ItchSim = "itch-sim",
        /// An external ITCH 5.0 / MoldUDP64 feed (a standalone simulator or
        /// a venue) at the addresses of `[market_data.itch]`.
        Itch = "itch",
        /// The simulated venue serves Binance-compatible WebSocket streams
        /// in-process (its URL is filled in at run time).
        BinanceSim = "binance-sim",
        /// An external Binance-compatible WebSocket endpoint at
        /// `market_data.binance.url`.
        BinanceWs = "binance-ws",
    }
}

impl MarketDataSource {
    /// The sources that read ITCH over MoldUDP64.
    pub fn is_itch(self) -> bool {
        matches!(self, MarketDataSource::ItchSim | MarketDataSource::Itch)
    }

    /// The sources that read Binance-compatible WebSocket streams.
    pub fn is_binance(self) -> bool {
        matches!(
            self,
            MarketDataSource::BinanceSim | MarketDataSource::BinanceWs
        )
    }

    /// The sources the simulated venue serves (it moves the market itself).
    pub fn is_simulated(self) -> bool {
        matches!(
            self,
            MarketDataSource::ItchSim | MarketDataSource::BinanceSim
        )
    }
}

/// Where market data comes from, and how its sockets are set up.
///
/// How the sockets are waited on: ingest reads every market-data socket
/// without blocking (a zero-timeout poll) on every iteration of its loop,
/// because the same thread also drives the venue session and the control
/// lane; nothing ever blocks in a socket call. When a round brings nothing,
/// the ingest thread idles by its wait strategy (`topology.wait`, or its
/// core's entry in `topology.waits`): `busy-spin` in prod, and in dev
/// `sleep` for `topology.sleep_us`, which is the dev "short timeout".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketDataConfig {
    /// Where the market comes from (see [`MarketDataSource`]).
    pub source: MarketDataSource,
    pub seed: u64,
    /// Market-data events per second; 0 means as fast as the engine takes them.
    pub rate_per_sec: u64,
    /// One update in this many is a trade print.
    pub trade_every: u64,
    /// "itch-sim" only, for tests: the simulator drops one packet in this
    /// many (keeping it for retransmission), so gaps and recovery happen. 0: never.
    pub sim_drop_every: u64,
    /// Period of timer events for strategies, in milliseconds (0: none).
    pub timer_interval_ms: u64,
    /// Options of the market-data sockets (UDP feed and request sockets, the WebSocket's TCP).
    pub socket: MarketDataSocketConfig,
    /// Addresses of an external ITCH feed (`source = "itch"`).
    pub itch: ItchAddressConfig,
    /// The Binance-compatible WebSocket feed (`source = "binance-sim"` or `"binance-ws"`).
    pub binance: BinanceConfig,
}

impl Default for MarketDataConfig {
    fn default() -> MarketDataConfig {
        MarketDataConfig {
            source: MarketDataSource::ItchSim,
            seed: 42,
            rate_per_sec: 100_000,
            trade_every: 8,
            sim_drop_every: 0,
            timer_interval_ms: 100,
            socket: MarketDataSocketConfig::default(),
            itch: ItchAddressConfig::default(),
            binance: BinanceConfig::default(),
        }
    }
}

impl MarketDataConfig {
    /// The socket options of `[market_data.socket]` (0 leaves an option at the system's default).
    pub fn socket_options(&self) -> SocketOptions {
        let socket = &self.socket;
        SocketOptions {
            busy_poll_us: (socket.busy_poll_us > 0).then_some(socket.busy_poll_us),
            recv_buffer_bytes: (socket.recv_buffer_bytes > 0).then_some(socket.recv_buffer_bytes),
            tcp_nodelay: socket.tcp_nodelay,
        }
    }

    /// The WebSocket client settings of `[market_data.binance]`, with the
    /// socket options of `[market_data.socket]` and a reconnect jitter
    /// seeded from `market_data.seed`.
    pub fn ws_config(&self) -> WsConfig {
        const MS_NS: u64 = 1_000_000;
        const SECOND_NS: u64 = 1_000_000_000;
        let binance = &self.binance;
        WsConfig {
            ping_interval_ns: binance.ping_interval_s.saturating_mul(SECOND_NS),
            ping_timeout_ns: binance.ping_timeout_s.saturating_mul(SECOND_NS),
            close_timeout_ns: binance.close_timeout_s.saturating_mul(SECOND_NS),
            connect_timeout_ns: binance.connect_timeout_s.saturating_mul(SECOND_NS),
            message_bytes_max: binance.message_bytes_max,
            reconnect_initial_ns: binance.reconnect_initial_ms.saturating_mul(MS_NS),
            reconnect_max_ns: binance.reconnect_max_ms.saturating_mul(MS_NS),
            reconnect_jitter_seed: self.seed,
            socket: self.socket_options(),
            ..WsConfig::default()
        }
    }

    /// True for the sources that read ITCH over MoldUDP64.
    pub fn is_itch(&self) -> bool {
        self.source.is_itch()
    }

    /// True for the sources that read Binance-compatible WebSocket streams.
    pub fn is_binance(&self) -> bool {
        self.source.is_binance()
    }

    /// The feed's own settings, and that every instrument can be carried
    /// by the feed the source reads.
    pub(super) fn validate(
        &self,
        instruments: &[InstrumentConfig],
        invalid: &Invalid<'_>,
    ) -> Result<(), ConfigError> {
        let market_data = self;
        if market_data.trade_every == 0 {
            return Err(invalid(
                "market_data.trade_every",
                "must be at least 1".into(),
            ));
        }
        if market_data.is_itch() {
            for (index, instrument) in instruments.iter().enumerate() {
                if instrument.symbol.len() > 8
                    || genesis_io::itch::arith::price4_per_tick(&instrument.tick_size).is_none()
                {
                    return Err(invalid(
                        &format!("instruments[{index}]"),
                        "an ITCH feed needs symbols of at most 8 bytes and tick sizes of at least 0.0001".into(),
                    ));
                }
            }
        }
        if market_data.source == MarketDataSource::Itch {
            let itch = &market_data.itch;
            for (key, text) in [
                ("market_data.itch.feed_bind", &itch.feed_bind),
                ("market_data.itch.request_server", &itch.request_server),
            ] {
                if text.parse::<std::net::SocketAddr>().is_err() {
                    return Err(invalid(
                        key,
                        format!("{text:?} is not a socket address such as \"127.0.0.1:26400\""),
                    ));
                }
            }
        }
        if market_data.is_binance() {
            self.validate_binance(instruments, invalid)?;
        }
        Ok(())
    }

    fn validate_binance(
        &self,
        instruments: &[InstrumentConfig],
        invalid: &Invalid<'_>,
    ) -> Result<(), ConfigError> {
        for (index, instrument) in instruments.iter().enumerate() {
            if !instrument.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid(
                    &format!("instruments[{index}].symbol"),
                    format!(
                        "{:?}: a Binance symbol is letters and digits only",
                        instrument.symbol
                    ),
                ));
            }
            instrument_grid(instrument).map_err(|(field, message)| {
                invalid(&format!("instruments[{index}].{field}"), message)
            })?;
        }
        let binance = &self.binance;
        if self.source == MarketDataSource::BinanceWs {
            if binance.url.is_empty() {
                return Err(invalid(
                    "market_data.binance.url",
                    "source \"binance-ws\" needs the endpoint's combined-stream URL, such as \"ws://127.0.0.1:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms\"".into(),
                ));
            }
            let symbols: Vec<&str> = instruments.iter().map(|i| i.symbol.as_str()).collect();
            check_binance_url(&binance.url, &symbols)
                .map_err(|message| invalid("market_data.binance.url", message))?;
        }
        let positive = [
            ("ping_interval_s", binance.ping_interval_s),
            ("ping_timeout_s", binance.ping_timeout_s),
            ("close_timeout_s", binance.close_timeout_s),
            ("connect_timeout_s", binance.connect_timeout_s),
            ("snapshot_retry_ms", binance.snapshot_retry_ms),
            ("reconnect_initial_ms", binance.reconnect_initial_ms),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(
                    &format!("market_data.binance.{field}"),
                    "must be positive".into(),
                ));
            }
        }
        if binance.reconnect_max_ms < binance.reconnect_initial_ms {
            return Err(invalid(
                "market_data.binance.reconnect_max_ms",
                format!(
                    "{} is below reconnect_initial_ms = {}",
                    binance.reconnect_max_ms, binance.reconnect_initial_ms
                ),
            ));
        }
        if !(1..=5_000).contains(&binance.snapshot_limit) {
            return Err(invalid(
                "market_data.binance.snapshot_limit",
                format!("{} is not within 1..=5000", binance.snapshot_limit),
            ));
        }
        if binance.message_bytes_max < 4_096 {
            return Err(invalid(
                "market_data.binance.message_bytes_max",
                format!("{} is below 4096", binance.message_bytes_max),
            ));
        }
        Ok(())
    }
}

/// `[market_data.socket]`: latency and loss tuning of the market-data
/// sockets. An option the kernel refuses (busy poll without
/// `CAP_NET_ADMIN`, a buffer above `net.core.rmem_max`) is logged at
/// start-up and the socket is used anyway; `tuning/` explains the sysctls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketDataSocketConfig {
    /// `SO_BUSY_POLL`, in microseconds: the kernel polls the device queue
    /// from the receive call instead of waiting for an interrupt. 0 leaves it off.
    pub busy_poll_us: u32,
    /// `SO_RCVBUF`, in bytes: room for a burst while ingest is busy. 0 keeps
    /// the system default.
    pub recv_buffer_bytes: u32,
    /// `TCP_NODELAY` on the WebSocket's TCP connection (the snapshot
    /// requests and pongs go out at once).
    pub tcp_nodelay: bool,
}

impl Default for MarketDataSocketConfig {
    fn default() -> MarketDataSocketConfig {
        MarketDataSocketConfig {
            busy_poll_us: 0,
            recv_buffer_bytes: 4 << 20,
            tcp_nodelay: true,
        }
    }
}

/// `[market_data.itch]`: an external ITCH 5.0 feed in MoldUDP64 over UDP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItchAddressConfig {
    /// Where our feed socket binds, such as "0.0.0.0:26400": the address the
    /// venue publishes to (a multicast feed is not joined by this build).
    pub feed_bind: String,
    /// The venue's MoldUDP64 request (retransmission) port, such as "10.0.0.5:26401".
    pub request_server: String,
}

impl Default for ItchAddressConfig {
    fn default() -> ItchAddressConfig {
        ItchAddressConfig {
            feed_bind: "127.0.0.1:26400".into(),
            request_server: "127.0.0.1:26401".into(),
        }
    }
}

/// `[market_data.binance]`: the Binance-compatible WebSocket feed
/// (`<symbol>@bookTicker` and `<symbol>@depth@100ms` of every instrument on
/// one combined stream, depth snapshots requested over the same socket).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinanceConfig {
    /// Combined-stream URL, `ws://host:port/stream?streams=<symbol>@bookTicker/<symbol>@depth@100ms/...`
    /// with both streams of every instrument (symbols in lower case).
    /// Required with `source = "binance-ws"`; with "binance-sim" the run
    /// fills it in and a value here is ignored. TLS (`wss://`) is not in this build.
    pub url: String,
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
    /// Ask for a snapshot again when one is unanswered (or refused) this long.
    pub snapshot_retry_ms: u64,
    /// First reconnect delay; it doubles up to `reconnect_max_ms`, with jitter.
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
}

impl Default for BinanceConfig {
    fn default() -> BinanceConfig {
        BinanceConfig {
            url: String::new(),
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

/// Checks a Binance combined-stream URL: `ws://`, a `host:port`, the
/// `/stream?streams=` path, and both streams of every symbol.
pub fn check_binance_url(url: &str, symbols: &[&str]) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("ws://") else {
        return Err(format!(
            "{url:?} must start with \"ws://\" (TLS is not in this build)"
        ));
    };
    let host_port = rest.split(['/', '?']).next().unwrap_or("");
    if host_port.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let Some((_, query)) = rest.split_once("/stream?streams=") else {
        return Err(format!(
            "{url:?} is not a combined-stream URL (ws://host:port/stream?streams=...)"
        ));
    };
    let streams: Vec<&str> = query.split('/').collect();
    for symbol in symbols {
        let lower = symbol.to_ascii_lowercase();
        for stream in [
            format!("{lower}@bookTicker"),
            format!("{lower}@depth@100ms"),
        ] {
            if !streams.contains(&stream.as_str()) {
                return Err(format!("{url:?} lacks the stream {stream:?} of {symbol}"));
            }
        }
    }
    Ok(())
}
