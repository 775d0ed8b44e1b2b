//! `[market_data]`: where market data comes from (the source kind), the
//! synthetic walk's seed and rate, the simulated feed's deliberate loss,
//! and the sockets of the feeds: ITCH 5.0 over MoldUDP64
//! (`[market_data.itch]`, in `itch.rs`), Binance-compatible WebSocket
//! (`[market_data.binance]`, in `binance.rs`), and their options
//! (`[market_data.socket]`).

use super::binance::BinanceConfig;
use super::instruments::{instrument_grid, InstrumentConfig};
use super::itch::ItchConfig;
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
        /// request port and a GLIMPSE snapshot server.
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
    /// "itch-sim" and `genesis venue-sim`, for tests: the simulator drops
    /// one packet in this many (keeping it for retransmission), so gaps and
    /// recovery happen. 0: never.
    pub sim_drop_every: u64,
    /// Likewise, a seeded share of packets lost, in parts per million
    /// (10000 = 1 %); the seed is `seed`. 0: none.
    pub sim_loss_ppm: u64,
    /// Period of timer events for strategies, in milliseconds (0: none).
    pub timer_interval_ms: u64,
    /// Options of the market-data sockets (UDP feed and request sockets, the WebSocket's TCP).
    pub socket: MarketDataSocketConfig,
    /// An ITCH feed's addresses (`source = "itch"`) and its recovery.
    pub itch: ItchConfig,
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
            sim_loss_ppm: 0,
            timer_interval_ms: 100,
            socket: MarketDataSocketConfig::default(),
            itch: ItchConfig::default(),
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
        if market_data.is_itch() {
            let external = market_data.source == MarketDataSource::Itch;
            market_data.itch.validate(external, invalid)?;
        }
        if market_data.is_binance() {
            validate_binance_instruments(instruments, invalid)?;
            let url_required = market_data.source == MarketDataSource::BinanceWs;
            market_data.binance.validate(url_required, invalid)?;
        }
        if market_data.sim_loss_ppm > 1_000_000 {
            return Err(invalid(
                "market_data.sim_loss_ppm",
                format!(
                    "{} is more than 1000000 (all of them)",
                    market_data.sim_loss_ppm
                ),
            ));
        }
        Ok(())
    }
}

/// A Binance symbol is letters and digits, and its tick and lot sizes fit the feed's grid.
fn validate_binance_instruments(
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
    Ok(())
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
