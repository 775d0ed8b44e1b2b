//! Everything one harness run measured, and the report's JSON form. The
//! markdown form is in `markdown.rs`, the regression ratios in `ratios.rs`.

use crate::floor::RoundTrip;
use crate::loopback::Row;
use crate::machine::Machine;
use crate::memory::{AllocFigure, Soak};
use crate::outcome::Outcome;
use crate::ratios;
use serde_json::{json, Value};

/// Variant names, shared by the tables and the ratio keys.
pub const FUSED: &str = "genesis fused";
/// At the offered rate this is the goal row, and it runs pinned whatever
/// `--no-pin` says: the engine's plans pin by default, so that is how it is
/// deployed. Unpaced it follows `--no-pin` like every Genesis row.
pub const PIPELINED: &str = "genesis pipelined";
/// The pipelined plan at the offered rate with its threads left unpinned
/// (`pin_threads = false`): the row the goal ratio used before, kept beside
/// the goal row (its ratio keeps the baseline's key, `p99_pipelined_over_fused`).
pub const PIPELINED_UNPINNED: &str = "genesis pipelined unpinned";
pub const CROSSBEAM: &str = "crossbeam thread-per-stage";
pub const MPSC: &str = "std mpsc thread-per-stage";
pub const TOKIO: &str = "tokio tasks";
/// Two threads: ingest, risk, strategy and execution fused on core 0, the
/// journal on core 1 (a two-thread plan; the goal row is [`FUSED`]).
pub const TWO_THREAD: &str = "genesis 2-thread (journal apart)";
/// The fused plan (all five stages on core 0, as [`FUSED`]) with the
/// journal's write thread on (`[journal] write_thread = true`): the
/// journal's `pwrite`s into the page cache run on a second thread,
/// `journal-write`, instead of the fused thread. Unpaced only; its ratios
/// stand beside the default fused row's, never in place of them.
pub const FUSED_WRITE_THREAD: &str = "genesis fused, journal write thread";
/// How the reports say what [`FUSED_WRITE_THREAD`] is, wherever they judge it.
pub const FUSED_WRITE_THREAD_IS: &str =
    "the fused plan plus the journal's write thread, `[journal] write_thread = true`: the five stages on one thread, the journal's `pwrite`s on a second, `journal-write`";
/// How the reports say what [`FUSED`] is beside [`FUSED_WRITE_THREAD`].
pub const FUSED_IS: &str =
    "the fused plan with the engine's default journal, `[journal] write_thread = false`: the five stages and the journal's `pwrite`s on one thread";

/// The original Python guide's targets.
pub const ORIGINAL_EVENTS_PER_SEC: f64 = 5_000.0;
pub const ORIGINAL_P50_NS: u64 = 2_000_000;
pub const ORIGINAL_P99_NS: u64 = 10_000_000;
pub const ORIGINAL_RSS_MIB: f64 = 100.0;
/// The harness's goals: steady RSS, soak growth, fused over crossbeam.
pub const GOAL_RSS_MIB: f64 = 64.0;
pub const GOAL_GROWTH_MIB: f64 = 1.0;
pub const GOAL_FUSED_OVER_CROSSBEAM: f64 = 2.0;
pub const GOAL_FUSED_OVER_TOKIO: f64 = 3.0;
pub const GOAL_TOKIO_P99_OVER_GENESIS: f64 = 10.0;
/// Pipelined p99 at the offered rate at most this multiple of fused p99.
pub const GOAL_PIPELINED_P99_OVER_FUSED: f64 = 3.0;
/// A stage hop p50 at most this multiple of the cache-line round trip.
pub const GOAL_HOP_OVER_PING_PONG: f64 = 3.0;

pub struct Report {
    pub machine: Machine,
    pub mode: &'static str,
    pub command: String,
    pub unix_time_s: u64,
    pub seconds_per_variant: f64,
    /// Whether Genesis's threads were pinned (`--no-pin` leaves them free).
    pub genesis_pinned: bool,
    /// Every variant unpaced: throughput.
    pub max: Vec<Outcome>,
    /// Every variant at the same offered rate: latency.
    pub offered_per_sec: u64,
    pub at_rate: Vec<Outcome>,
    pub ping_pong: RoundTrip,
    pub tcp: RoundTrip,
    /// Genesis fused at each fixed rate of the load generator.
    pub ladder: Vec<Outcome>,
    /// The engine over loopback sockets (ITCH and WebSocket in, FIX out) at
    /// the offered rate, each row beside its own TCP round trip.
    pub loopback: Vec<Row>,
    pub alloc: Option<AllocFigure>,
    pub soak: Option<Soak>,
    pub notes: Vec<String>,
    /// CPU pressure when the run ended (see `machine::cpu_pressure_pct`).
    pub cpu_pressure_pct_end: Option<f64>,
}

fn find<'a>(outcomes: &'a [Outcome], name: &str) -> Option<&'a Outcome> {
    outcomes.iter().find(|o| o.name == name)
}

impl Report {
    pub fn max_of(&self, name: &str) -> Option<&Outcome> {
        find(&self.max, name)
    }

    pub fn at_rate_of(&self, name: &str) -> Option<&Outcome> {
        find(&self.at_rate, name)
    }

    pub fn loopback_of(&self, feed: &str) -> Option<&Row> {
        self.loopback.iter().find(|r| r.feed == feed)
    }

    pub fn ladder_at(&self, offered_per_sec: u64) -> Option<&Outcome> {
        self.ladder
            .iter()
            .find(|o| o.offered_per_sec == offered_per_sec)
    }

    /// Time between Genesis's two pipelined threads at the offered rate:
    /// median entry into strategy (its exit less its processing) less the
    /// median exit from risk. A difference of medians, not a per-event figure.
    pub fn stage_hop_ns(&self) -> Option<i64> {
        let pipelined = self.at_rate_of(PIPELINED)?;
        let risk = pipelined.stage("risk")?;
        let strategy = pipelined.stage("strategy")?;
        Some(
            strategy.since_scheduled.p50_ns as i64
                - strategy.processing.p50_ns as i64
                - risk.since_scheduled.p50_ns as i64,
        )
    }

    pub fn to_json(&self) -> Value {
        let outcomes = |list: &[Outcome]| list.iter().map(Outcome::to_json).collect::<Vec<_>>();
        json!({
            "machine": self.machine.to_json(),
            "mode": self.mode,
            "command": self.command,
            "unix_time_s": self.unix_time_s,
            "seconds_per_variant": self.seconds_per_variant,
            "genesis_pinned": self.genesis_pinned,
            "input": "pipelines: in-process load generator (perf::schedule::ScheduledSource), latency from each event's scheduled time; loopback: the simulated venue's ITCH/WebSocket feeds and FIX port on loopback sockets",
            "throughput": outcomes(&self.max),
            "offered_per_sec": self.offered_per_sec,
            "at_offered_rate": outcomes(&self.at_rate),
            "floor": {
                "cache_line_ping_pong": self.ping_pong.to_json(),
                "loopback_tcp_64b": self.tcp.to_json(),
                "stage_hop_ns": self.stage_hop_ns(),
            },
            "load_ladder": outcomes(&self.ladder),
            "loopback": self.loopback.iter().map(Row::to_json).collect::<Vec<_>>(),
            "allocations": self.alloc.map(AllocFigure::to_json),
            "soak": self.soak.as_ref().map(Soak::to_json),
            "ratios": ratios::of(self).iter().map(|r| (r.key.clone(), r.to_json())).collect::<serde_json::Map<_, _>>(),
            "notes": self.notes,
            "cpu_pressure_pct_end": self.cpu_pressure_pct_end,
        })
    }
}
