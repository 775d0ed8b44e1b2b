//! Configuration: TOML with every key documented in `engine/config/dev.toml`.
//!
//! Unknown keys and bad values are refused by serde with the key's name and
//! position; `validate` then checks what serde cannot (an impossible core
//! plan, limits that contradict each other) and names the offending key.

use genesis_io::binance::{DecimalGrid, InstrumentGrid};
use genesis_io::net::{SocketOptions, WsConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("config {origin}: `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Development: sleeping waits are fine, nothing is locked in memory.
    #[default]
    Dev,
    /// Production: pinned, spinning threads.
    Prod,
}

/// How a thread waits when it has nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitKind {
    /// Spin on the ring: lowest latency, burns the core (prod).
    BusySpin,
    /// Spin with the CPU's pause hint: kinder to a hyper-thread sibling.
    SpinHint,
    /// Yield the core to the scheduler.
    Yield,
    /// Sleep `topology.sleep_us`: for dev, tests and small hosts.
    Sleep,
}

impl WaitKind {
    pub fn name(self) -> &'static str {
        match self {
            WaitKind::BusySpin => "busy-spin",
            WaitKind::SpinHint => "spin-hint",
            WaitKind::Yield => "yield",
            WaitKind::Sleep => "sleep",
        }
    }
}

/// A key left out takes its built-in default; `instruments` left out gives the four synthetic ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub mode: Mode,
    pub topology: TopologyConfig,
    pub instruments: Vec<InstrumentConfig>,
    pub risk: RiskConfig,
    pub strategy: StrategyConfig,
    pub market_data: MarketDataConfig,
    pub venue: VenueConfig,
    pub journal: JournalConfig,
    pub metrics: MetricsConfig,
    pub alerts: AlertConfig,
    pub host: HostConfig,
    pub postgres: PostgresConfig,
}

/// The PostgreSQL drain: a thread that follows the journal into a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/db`; "" falls back to $DATABASE_URL,
    /// and with neither the engine runs without a drain.
    pub url: String,
    /// Events per COPY chunk (one transaction each, with the watermark).
    pub chunk_events: usize,
}

impl Default for PostgresConfig {
    fn default() -> PostgresConfig {
        PostgresConfig {
            url: String::new(),
            chunk_events: 10_000,
        }
    }
}

impl PostgresConfig {
    /// The configured URL, else $DATABASE_URL.
    pub fn effective_url(&self) -> Option<String> {
        if !self.url.is_empty() {
            return Some(self.url.clone());
        }
        std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Length of one latency interval, in milliseconds.
    pub interval_ms: u64,
    /// Address of the Prometheus endpoint (`GET /metrics`); "" turns it off.
    pub listen: String,
    /// Folder for the HdrHistogram interval log of each run (`run-<secs>-<pid>.hlog`,
    /// read with `histo-dump`); "" turns the log off.
    pub latency_log_dir: PathBuf,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            interval_ms: 1_000,
            listen: "127.0.0.1:9464".into(),
            latency_log_dir: PathBuf::from("genesis-data/latency"),
        }
    }
}

/// `[alerts]`: thresholds the reporter checks once per interval (see `alerts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Events per second below which to warn, and to go critical (while the feed is connected).
    pub event_rate_warn_below: f64,
    pub event_rate_critical_below: f64,
    /// End-to-end p99 (receive → journal exit) over an interval, in ns.
    pub latency_p99_warn_ns: u64,
    pub latency_p99_critical_ns: u64,
    /// Resident memory, in bytes.
    pub memory_warn_bytes: u64,
    pub memory_critical_bytes: u64,
    /// Errors per event over an interval (0.01 = 1 %).
    pub error_rate_warn: f64,
    pub error_rate_critical: f64,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            event_rate_warn_below: 500.0,
            event_rate_critical_below: 100.0,
            latency_p99_warn_ns: 100_000_000,
            latency_p99_critical_ns: 500_000_000,
            memory_warn_bytes: 1 << 30,
            memory_critical_bytes: 2 << 30,
            error_rate_warn: 0.01,
            error_rate_critical: 0.05,
        }
    }
}

/// What the engine does to the host it runs on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Lock all memory (mlockall) at start; default: on in prod, off in dev.
    pub mlockall: Option<bool>,
    /// Hold /dev/cpu_dma_latency at this many microseconds while running (0 keeps CPUs out of deep C-states).
    pub cpu_dma_latency_us: Option<i32>,
}

/// Which core runs each stage. Stages on the same core run fused on one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorePlan {
    pub ingest: usize,
    pub risk: usize,
    pub strategy: usize,
    pub execution: usize,
    pub journal: usize,
}

impl CorePlan {
    pub fn as_array(&self) -> [usize; 5] {
        [
            self.ingest,
            self.risk,
            self.strategy,
            self.execution,
            self.journal,
        ]
    }
}

/// The five stages, in pipeline order.
pub const STAGE_NAMES: [&str; 5] = ["ingest", "risk", "strategy", "execution", "journal"];

/// Stages that run fused on one core: a range of stage indices into [`STAGE_NAMES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub core: usize,
    pub stages: Range<usize>,
}

impl Group {
    /// "ingest+risk" style name of the group's stages.
    pub fn name(&self) -> String {
        STAGE_NAMES[self.stages.clone()].join("+")
    }
}

/// Splits a core plan into fused groups. A core may appear only in one run
/// of consecutive stages: a thread cannot run stages on both sides of another.
pub fn plan_groups(plan: &CorePlan) -> Result<Vec<Group>, String> {
    let cores = plan.as_array();
    let mut groups: Vec<Group> = Vec::new();
    for (stage, &core) in cores.iter().enumerate() {
        match groups.last_mut() {
            Some(group) if group.core == core => group.stages.end = stage + 1,
            _ => {
                if let Some(earlier) = groups.iter().find(|g| g.core == core) {
                    return Err(format!(
                        "stage `{}` is on core {core}, which already runs `{}` with another core in between; stages on one core must be consecutive in ingest → risk → strategy → execution → journal",
                        STAGE_NAMES[stage],
                        earlier.name()
                    ));
                }
                groups.push(Group {
                    core,
                    stages: stage..stage + 1,
                });
            }
        }
    }
    Ok(groups)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopologyConfig {
    pub cores: CorePlan,
    /// Pin each thread to its core with `core_affinity`.
    pub pin_threads: bool,
    /// Wait strategy of every thread unless `waits` overrides it.
    pub wait: WaitKind,
    /// Sleep length for the `sleep` wait strategy, in microseconds.
    pub sleep_us: u64,
    /// Per-thread wait strategy, keyed by core id ("1" = "busy-spin").
    pub waits: BTreeMap<String, WaitKind>,
    /// Slots in each ring between pipelined threads (a power of two).
    pub ring_capacity: usize,
    /// When the first ring is full, conflate market data per instrument
    /// (true) or hold ingest until there is room (false: backtests, replay).
    pub conflate_when_full: bool,
    /// Most events a thread takes from its ring in one batch.
    pub batch_max: u64,
}

impl Default for TopologyConfig {
    fn default() -> TopologyConfig {
        TopologyConfig {
            cores: CorePlan::default(),
            pin_threads: true,
            wait: WaitKind::SpinHint,
            sleep_us: 50,
            waits: BTreeMap::new(),
            ring_capacity: 1 << 13,
            conflate_when_full: true,
            batch_max: 256,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    pub symbol: String,
    /// Price of one tick, as a decimal string (prices inside are integer ticks).
    pub tick_size: String,
    /// Size of one lot, as a decimal string (quantities inside are integer lots).
    pub lot_size: String,
    /// Value of one tick on one lot, in integer account units (the PnL unit).
    #[serde(default = "one")]
    pub tick_value: i64,
    /// Starting mid of the synthetic feed, in ticks.
    #[serde(default = "default_start_price")]
    pub start_price_ticks: i64,
    #[serde(default)]
    pub limits: InstrumentLimits,
}

fn one() -> i64 {
    1
}
fn default_start_price() -> i64 {
    100_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentLimits {
    /// Largest quantity of one order, in lots.
    pub max_order_qty: i64,
    /// Largest price × quantity × tick value of one order, in account units.
    pub max_order_notional: i64,
    /// Fat-finger band: an order's price may be this many basis points from the reference mid.
    pub price_band_bps: i64,
    /// Largest absolute position, counting open orders as if they filled, in lots.
    pub position_limit: i64,
    /// Unrealized loss on the position, in account units, that makes the instrument reduce-only (0: off).
    pub stop_loss: i64,
    /// A mid move of this many ticks within `breaker_window_ms` halts the instrument (0: off).
    pub breaker_move_ticks: i64,
    pub breaker_window_ms: u64,
    /// How long a tripped breaker halts the instrument, in event time.
    pub breaker_halt_ms: u64,
}

impl Default for InstrumentLimits {
    fn default() -> InstrumentLimits {
        InstrumentLimits {
            max_order_qty: 100,
            max_order_notional: 50_000_000,
            price_band_bps: 200,
            position_limit: 500,
            stop_loss: 2_000_000,
            breaker_move_ticks: 500,
            breaker_window_ms: 1_000,
            breaker_halt_ms: 5_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Most orders open at once across all instruments.
    pub max_open_orders: usize,
    /// Orders (new and replace) allowed per `throttle_window_ms` of event time.
    pub orders_per_window: usize,
    pub throttle_window_ms: u64,
    /// Loss for the day (realized + unrealized, account units) that makes everything reduce-only.
    pub daily_loss_limit: i64,
    /// Sum over instruments of the worst-case absolute position, in lots.
    pub gross_position_limit: i64,
    /// How many recent exec ids ingest remembers to drop duplicate fills.
    pub exec_id_memory: usize,
}

impl Default for RiskConfig {
    fn default() -> RiskConfig {
        RiskConfig {
            max_open_orders: 64,
            orders_per_window: 2_000,
            throttle_window_ms: 1_000,
            daily_loss_limit: 10_000_000,
            gross_position_limit: 1_500,
            exec_id_memory: 1 << 16,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// The bundled strategy to run: "market-maker" or "none".
    pub name: String,
    pub market_maker: MarketMakerConfig,
}

impl Default for StrategyConfig {
    fn default() -> StrategyConfig {
        StrategyConfig {
            name: "market-maker".into(),
            market_maker: MarketMakerConfig::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketMakerConfig {
    /// Distance of each quote from the skewed mid, in ticks.
    pub half_spread_ticks: i64,
    pub quote_qty: i64,
    /// Mid skew per lot of inventory, in hundredths of a tick.
    pub skew_centiticks_per_lot: i64,
    /// Stop quoting the side that would grow inventory past this many lots.
    pub max_inventory_lots: i64,
    /// Move a quote only when its target moved at least this many ticks.
    pub requote_threshold_ticks: i64,
}

impl Default for MarketMakerConfig {
    fn default() -> MarketMakerConfig {
        MarketMakerConfig {
            half_spread_ticks: 2,
            quote_qty: 5,
            skew_centiticks_per_lot: 20,
            max_inventory_lots: 200,
            requote_threshold_ticks: 1,
        }
    }
}

/// The market-data sources this build has, as `market_data.source` spells them.
pub const MARKET_DATA_SOURCES: [&str; 5] =
    ["synthetic", "itch-sim", "itch", "binance-sim", "binance-ws"];

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
    /// "synthetic": a seeded random walk generated in ingest;
    /// "itch-sim" (the default): the same walk published by the simulated
    /// venue as ITCH 5.0 over MoldUDP64 on UDP loopback, with a
    /// retransmission request port;
    /// "itch": an external ITCH 5.0 / MoldUDP64 feed (a standalone
    /// simulator or a venue) at the addresses of `[market_data.itch]`;
    /// "binance-sim": the simulated venue serves Binance-compatible
    /// WebSocket streams in-process (its URL is filled in at run time);
    /// "binance-ws": an external Binance-compatible WebSocket endpoint at
    /// `market_data.binance.url`.
    pub source: String,
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
            source: "itch-sim".into(),
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
        matches!(self.source.as_str(), "itch-sim" | "itch")
    }

    /// True for the sources that read Binance-compatible WebSocket streams.
    pub fn is_binance(&self) -> bool {
        matches!(self.source.as_str(), "binance-sim" | "binance-ws")
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VenueConfig {
    /// "fix-sim": the simulated venue on a loopback FIX port (the default);
    /// "fix": a FIX 4.4 venue at `fix.host:fix.port`;
    /// "sim": the simulated venue in-process, no sockets (tests, benchmarks).
    pub kind: String,
    pub fix: FixVenueConfig,
    /// Capacity of the order queue from execution to the venue.
    pub queue_capacity: usize,
    /// Most orders resting at the simulated venue.
    pub resting_orders_max: usize,
}

impl Default for VenueConfig {
    fn default() -> VenueConfig {
        VenueConfig {
            kind: "fix-sim".into(),
            fix: FixVenueConfig::default(),
            queue_capacity: 1 << 14,
            resting_orders_max: 4_096,
        }
    }
}

/// When journaled events are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalDurability {
    /// Page cache only: the kernel writes back when it likes.
    None,
    /// fdatasync every `group_records` records or `group_interval_us`, whichever first, off the writer's thread.
    Group,
    /// fdatasync at the end of every batch, on the journal's thread.
    Batch,
}

/// How records reach the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalWriteMode {
    /// Straight into a memory map of the preallocated segment.
    Mmap,
    /// Through a buffer written with pwrite.
    Pwrite,
}

/// The FIX 4.4 session to the venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixVenueConfig {
    pub host: String,
    /// The venue's port; with `kind = "fix-sim"`, 0 picks a free loopback port.
    pub port: u16,
    pub sender_comp_id: String,
    pub target_comp_id: String,
    /// HeartBtInt(108) proposed at logon, in seconds.
    pub heartbeat_s: u64,
    /// Where outgoing and incoming sequence numbers persist across restarts ("" keeps them in memory).
    pub seq_file: PathBuf,
    /// Reconnect backoff, doubling from the first to the second, with jitter.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// A new order or replace that waited longer than this for the session
    /// (connecting, logging on) is rejected locally instead of sent: it was
    /// priced on market data that old. Cancels are always sent.
    pub pending_age_max_ms: u64,
}

impl Default for FixVenueConfig {
    fn default() -> FixVenueConfig {
        FixVenueConfig {
            host: "127.0.0.1".into(),
            port: 0,
            sender_comp_id: "GENESIS".into(),
            target_comp_id: "VENUE".into(),
            heartbeat_s: 30,
            seq_file: PathBuf::from("genesis-data/fix/GENESIS-VENUE.seq"),
            reconnect_min_ms: 100,
            reconnect_max_ms: 5_000,
            pending_age_max_ms: 10,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Folder of the journal: preallocated segments named by their first
    /// sequence; a restart resumes after the last record.
    pub dir: PathBuf,
    pub durability: JournalDurability,
    pub group_records: u64,
    pub group_interval_us: u64,
    /// Size of each preallocated segment file.
    pub segment_size_mib: u64,
    pub write_mode: JournalWriteMode,
    /// Buffer for `write_mode = "pwrite"`.
    pub buffer_bytes: usize,
    /// `fdatasync` the journal when the engine stops.
    pub sync_on_exit: bool,
}

impl Default for JournalConfig {
    fn default() -> JournalConfig {
        JournalConfig {
            dir: PathBuf::from("genesis-data/journal"),
            durability: JournalDurability::Group,
            group_records: 4_096,
            group_interval_us: 1_000,
            segment_size_mib: 64,
            write_mode: JournalWriteMode::Pwrite,
            buffer_bytes: 256 << 10,
            sync_on_exit: true,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::builtin()
    }
}

impl Config {
    /// The built-in default: four synthetic instruments, all stages fused on core 0.
    pub fn builtin() -> Config {
        let instrument = |symbol: &str, start_price_ticks: i64| InstrumentConfig {
            symbol: symbol.into(),
            tick_size: "0.01".into(),
            lot_size: "1".into(),
            tick_value: 1,
            start_price_ticks,
            limits: InstrumentLimits::default(),
        };
        Config {
            mode: Mode::default(),
            topology: TopologyConfig::default(),
            instruments: vec![
                instrument("ALPHA", 100_000),
                instrument("BRAVO", 25_000),
                instrument("CHARLIE", 250_000),
                instrument("DELTA", 5_000),
            ],
            risk: RiskConfig::default(),
            strategy: StrategyConfig::default(),
            market_data: MarketDataConfig::default(),
            venue: VenueConfig::default(),
            journal: JournalConfig::default(),
            metrics: MetricsConfig::default(),
            alerts: AlertConfig::default(),
            host: HostConfig::default(),
            postgres: PostgresConfig::default(),
        }
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Reads and parses a config file without the checks of `validate`
    /// (for `genesis doctor`, which reports them as checks of its own).
    pub fn load_unvalidated(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            origin: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Parses and validates TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks what the types cannot: the core plan, sizes, and limits.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            origin: origin.into(),
            key: key.into(),
            message,
        };
        self.validate_topology(&invalid)?;
        if self.instruments.is_empty() {
            return Err(invalid(
                "instruments",
                "at least one instrument is needed".into(),
            ));
        }
        if self.instruments.len() > u16::MAX as usize {
            return Err(invalid(
                "instruments",
                format!("{} instruments; at most 65535", self.instruments.len()),
            ));
        }
        for (index, instrument) in self.instruments.iter().enumerate() {
            validate_instrument(instrument, &format!("instruments[{index}]"), &invalid)?;
        }
        self.validate_risk(&invalid)?;
        self.validate_rest(&invalid)
    }

    fn validate_topology(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let topology = &self.topology;
        if !topology.ring_capacity.is_power_of_two() || topology.ring_capacity < 64 {
            return Err(invalid(
                "topology.ring_capacity",
                format!(
                    "{} is not a power of two of at least 64",
                    topology.ring_capacity
                ),
            ));
        }
        if topology.batch_max == 0 {
            return Err(invalid("topology.batch_max", "must be at least 1".into()));
        }
        plan_groups(&topology.cores).map_err(|message| invalid("topology.cores", message))?;
        let planned: Vec<usize> = topology.cores.as_array().to_vec();
        for key in topology.waits.keys() {
            let core: usize = key.parse().map_err(|_| {
                invalid(
                    &format!("topology.waits.{key}"),
                    "keys are core ids, such as \"1\"".into(),
                )
            })?;
            if !planned.contains(&core) {
                return Err(invalid(
                    &format!("topology.waits.{key}"),
                    format!("core {core} runs no stage in topology.cores"),
                ));
            }
        }
        if topology.pin_threads {
            let available = crate::sys::cpus_online().unwrap_or_else(|_| {
                core_affinity::get_core_ids()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.id)
                    .collect()
            });
            for (stage, core) in STAGE_NAMES.iter().zip(planned) {
                if !available.contains(&core) {
                    return Err(invalid(
                        &format!("topology.cores.{stage}"),
                        format!(
                            "core {core} does not exist on this machine (cores: {:?}); set topology.pin_threads = false to use it as a label",
                            available
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_risk(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let risk = &self.risk;
        let positive = [
            ("risk.max_open_orders", risk.max_open_orders as i64),
            ("risk.orders_per_window", risk.orders_per_window as i64),
            ("risk.throttle_window_ms", risk.throttle_window_ms as i64),
            ("risk.daily_loss_limit", risk.daily_loss_limit),
            ("risk.gross_position_limit", risk.gross_position_limit),
            ("risk.exec_id_memory", risk.exec_id_memory as i64),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return Err(invalid(key, format!("{value} must be positive")));
            }
        }
        if risk.max_open_orders > 1 << 20
            || risk.orders_per_window > 1 << 24
            || risk.exec_id_memory > 1 << 24
        {
            return Err(invalid("risk", "a capacity is beyond what is preallocated sensibly (max_open_orders <= 2^20, orders_per_window and exec_id_memory <= 2^24)".into()));
        }
        Ok(())
    }

    fn validate_rest(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        match self.strategy.name.as_str() {
            "market-maker" | "none" => {}
            other => {
                return Err(invalid(
                    "strategy.name",
                    format!("unknown strategy {other:?}; bundled: \"market-maker\", \"none\""),
                ))
            }
        }
        let mm = &self.strategy.market_maker;
        if mm.quote_qty <= 0 || mm.half_spread_ticks < 0 || mm.requote_threshold_ticks < 0 {
            return Err(invalid(
                "strategy.market_maker",
                "quote_qty must be positive, half_spread_ticks and requote_threshold_ticks not negative".into(),
            ));
        }
        self.validate_market_data(invalid)?;
        if !matches!(self.venue.kind.as_str(), "sim" | "fix-sim" | "fix") {
            return Err(invalid(
                "venue.kind",
                format!(
                    "unknown venue {:?}; this build has \"fix-sim\", \"fix\" and \"sim\"",
                    self.venue.kind
                ),
            ));
        }
        if self.venue.kind == "fix" && self.venue.fix.port == 0 {
            return Err(invalid(
                "venue.fix.port",
                "a FIX venue needs its port".into(),
            ));
        }
        if self.venue.fix.pending_age_max_ms == 0 {
            return Err(invalid(
                "venue.fix.pending_age_max_ms",
                "must be positive: 0 would refuse every order".into(),
            ));
        }
        if self.venue.fix.heartbeat_s == 0 || self.venue.fix.reconnect_min_ms == 0 {
            return Err(invalid(
                "venue.fix",
                "heartbeat_s and reconnect_min_ms must be positive".into(),
            ));
        }
        if self.venue.queue_capacity == 0 || self.venue.resting_orders_max == 0 {
            return Err(invalid(
                "venue",
                "queue_capacity and resting_orders_max must be positive".into(),
            ));
        }
        if !self.metrics.listen.is_empty()
            && self.metrics.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(invalid(
                "metrics.listen",
                format!("{:?} is not an address such as \"127.0.0.1:9464\" (\"\" turns the endpoint off)", self.metrics.listen),
            ));
        }
        if self.metrics.interval_ms == 0 {
            return Err(invalid("metrics.interval_ms", "must be at least 1".into()));
        }
        if self.journal.buffer_bytes < 4096 {
            return Err(invalid(
                "journal.buffer_bytes",
                format!("{} is below 4096", self.journal.buffer_bytes),
            ));
        }
        if self.journal.segment_size_mib == 0 || self.journal.segment_size_mib > 4096 {
            return Err(invalid(
                "journal.segment_size_mib",
                format!("{} is not within 1..=4096", self.journal.segment_size_mib),
            ));
        }
        if self.journal.durability == JournalDurability::Group
            && (self.journal.group_records == 0 || self.journal.group_interval_us == 0)
        {
            return Err(invalid(
                "journal.group_records",
                "group_records and group_interval_us must be positive with durability = \"group\""
                    .into(),
            ));
        }
        Ok(())
    }

    fn validate_market_data(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let market_data = &self.market_data;
        if !MARKET_DATA_SOURCES.contains(&market_data.source.as_str()) {
            return Err(invalid(
                "market_data.source",
                format!(
                    "unknown source {:?}; this build has {}",
                    market_data.source,
                    quoted_list(&MARKET_DATA_SOURCES)
                ),
            ));
        }
        if market_data.trade_every == 0 {
            return Err(invalid(
                "market_data.trade_every",
                "must be at least 1".into(),
            ));
        }
        if market_data.is_itch() {
            for (index, instrument) in self.instruments.iter().enumerate() {
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
        if market_data.source == "itch" {
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
            self.validate_binance(invalid)?;
        }
        Ok(())
    }

    fn validate_binance(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        for (index, instrument) in self.instruments.iter().enumerate() {
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
        let binance = &self.market_data.binance;
        if self.market_data.source == "binance-ws" {
            if binance.url.is_empty() {
                return Err(invalid(
                    "market_data.binance.url",
                    "source \"binance-ws\" needs the endpoint's combined-stream URL, such as \"ws://127.0.0.1:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms\"".into(),
                ));
            }
            let symbols: Vec<&str> = self.instruments.iter().map(|i| i.symbol.as_str()).collect();
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

    /// Wait strategy of the thread on `core`.
    pub fn wait_for_core(&self, core: usize) -> WaitKind {
        self.topology
            .waits
            .get(&core.to_string())
            .copied()
            .unwrap_or(self.topology.wait)
    }
}

fn validate_instrument(
    instrument: &InstrumentConfig,
    key: &str,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    for (field, text) in [
        ("tick_size", &instrument.tick_size),
        ("lot_size", &instrument.lot_size),
    ] {
        if !is_positive_decimal(text) {
            return Err(invalid(
                &format!("{key}.{field}"),
                format!("{text:?} is not a positive decimal such as \"0.01\""),
            ));
        }
    }
    if instrument.symbol.is_empty() {
        return Err(invalid(
            &format!("{key}.symbol"),
            "must not be empty".into(),
        ));
    }
    if instrument.tick_value <= 0 || instrument.start_price_ticks <= 0 {
        return Err(invalid(
            key,
            "tick_value and start_price_ticks must be positive".into(),
        ));
    }
    let limits = &instrument.limits;
    let positive = [
        ("max_order_qty", limits.max_order_qty),
        ("max_order_notional", limits.max_order_notional),
        ("price_band_bps", limits.price_band_bps),
        ("position_limit", limits.position_limit),
    ];
    for (field, value) in positive {
        if value <= 0 {
            return Err(invalid(
                &format!("{key}.limits.{field}"),
                format!("{value} must be positive"),
            ));
        }
    }
    if limits.stop_loss < 0 || limits.breaker_move_ticks < 0 {
        return Err(invalid(
            &format!("{key}.limits"),
            "stop_loss and breaker_move_ticks must not be negative (0 turns them off)".into(),
        ));
    }
    if limits.breaker_move_ticks > 0 && limits.breaker_window_ms == 0 {
        return Err(invalid(
            &format!("{key}.limits.breaker_window_ms"),
            "must be positive when breaker_move_ticks is set".into(),
        ));
    }
    Ok(())
}

fn is_positive_decimal(text: &str) -> bool {
    let mut parts = text.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    !text.is_empty()
        && digits(whole)
        && digits(fraction)
        && text.chars().any(|c| ('1'..='9').contains(&c))
}

/// The Binance price and quantity grids of an instrument: prices become
/// whole ticks of `tick_size`, quantities whole lots of `lot_size`. The
/// error names the field (`tick_size` or `lot_size`) and says why.
pub fn instrument_grid(
    instrument: &InstrumentConfig,
) -> Result<InstrumentGrid, (&'static str, String)> {
    let grid = |field: &'static str, text: &str| {
        DecimalGrid::from_step(text).map_err(|_| {
            (
                field,
                format!("{text:?} is not a grid step a Binance feed can use (a positive decimal of at most 18 decimals)"),
            )
        })
    };
    Ok(InstrumentGrid {
        price: grid("tick_size", &instrument.tick_size)?,
        qty: grid("lot_size", &instrument.lot_size)?,
    })
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

/// `"a", "b" and "c"`.
fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cores: [usize; 5]) -> CorePlan {
        CorePlan {
            ingest: cores[0],
            risk: cores[1],
            strategy: cores[2],
            execution: cores[3],
            journal: cores[4],
        }
    }

    // All stages on one core make one fused group.
    #[test]
    fn one_core_is_one_group() {
        let groups = plan_groups(&plan([0; 5])).unwrap();
        assert_eq!(
            groups,
            vec![Group {
                core: 0,
                stages: 0..5
            }]
        );
    }

    // Two cores split the pipeline where the core changes.
    #[test]
    fn two_cores_make_two_groups() {
        let groups = plan_groups(&plan([0, 0, 1, 1, 1])).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[1],
            Group {
                core: 1,
                stages: 2..5
            }
        );
        assert_eq!(groups[0].name(), "ingest+risk");
    }

    // A core that comes back after another is impossible, and the error names the stage.
    #[test]
    fn non_consecutive_core_is_refused() {
        let err = plan_groups(&plan([0, 1, 0, 0, 0])).unwrap_err();
        assert!(err.contains("stage `strategy` is on core 0"), "{err}");
    }
}
