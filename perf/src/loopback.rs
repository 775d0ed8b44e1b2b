//! Market data in and orders out over loopback sockets: the engine as
//! `genesis run` assembles it, fused on one thread, against the simulated
//! venue on its own thread, which publishes its books as ITCH 5.0 over
//! MoldUDP64 on UDP (`itch-sim`) or as Binance-compatible WebSocket streams
//! (`binance-sim`) and takes the engine's orders over FIX 4.4 on TCP.
//!
//! Every row carries the floor measured in the same run: a loopback TCP
//! round trip (ping-pongs after the engine stops), so tick-to-trade ÷ round
//! trip is a ratio that survives a noisy machine.
//!
//! Tick-to-trade here is the venue's: its kernel receive stamp of an order
//! minus the venue time of the market data that triggered it (for ITCH the
//! message's send time; a bookTicker carries none, so on the WebSocket feed
//! it starts at the engine's receive and leaves out the feed's own delay).
//! Used by `bench` (its loopback section) and the `loopback` binary.

use anyhow::Result;
use genesis_engine::config::{Config, JournalDurability, WaitKind};
use genesis_engine::telemetry::metrics::Percentiles;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// The feeds a loopback row can run, by `market_data.source` name.
pub const FEEDS: [&str; 2] = ["itch-sim", "binance-sim"];

/// One feed at one offered rate.
#[derive(Clone, Debug)]
pub struct Row {
    pub feed: String,
    pub rate_offered: u64,
    pub plan: String,
    pub wait: &'static str,
    pub seconds: f64,
    pub market_data_per_sec: f64,
    pub fills: u64,
    /// From the engine's receive stamp of the market data to the journal's exit.
    pub journal_since_recv: Percentiles,
    /// Market data's venue time → the order at the venue (see the module header).
    pub tick_to_trade: Option<Percentiles>,
    pub tcp_rtt: Option<Percentiles>,
}

impl Row {
    /// Tick-to-trade p50 ÷ the TCP round trip p50 of the same row.
    pub fn tick_to_trade_over_rtt(&self) -> Option<f64> {
        match (&self.tick_to_trade, &self.tcp_rtt) {
            (Some(t), Some(r)) if r.p50 > 0 && t.count > 0 => Some(t.p50 as f64 / r.p50 as f64),
            _ => None,
        }
    }

    /// Receive → journal exit p50 ÷ the TCP round trip p50 of the same row.
    pub fn journal_over_rtt(&self) -> Option<f64> {
        match &self.tcp_rtt {
            Some(r) if r.p50 > 0 && self.journal_since_recv.count > 0 => {
                Some(self.journal_since_recv.p50 as f64 / r.p50 as f64)
            }
            _ => None,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "feed": self.feed,
            "rate_offered": self.rate_offered,
            "plan": self.plan,
            "wait": self.wait,
            "seconds": self.seconds,
            "market_data_per_sec": self.market_data_per_sec,
            "fills": self.fills,
            "journal_since_recv_ns": self.journal_since_recv,
            "tick_to_trade_ns": self.tick_to_trade,
            "tcp_rtt_ns": self.tcp_rtt,
        })
    }
}

/// Parses a wait strategy's name as the command line gives it.
pub fn wait_kind(name: &str) -> Result<WaitKind> {
    Ok(match name {
        "spin-hint" => WaitKind::SpinHint,
        "busy-spin" => WaitKind::BusySpin,
        "yield" => WaitKind::Yield,
        "sleep" => WaitKind::Sleep,
        other => anyhow::bail!("unknown wait strategy {other:?}"),
    })
}

/// The config of one row: the built-in defaults with `feed` at `rate`,
/// unpinned, journal in `scratch` without syncs, no metrics endpoint or
/// latency log, FIX sequence numbers in memory.
pub fn row_config(feed: &str, rate: u64, wait: WaitKind, scratch: &Path) -> Result<Config> {
    let mut config = Config::builtin();
    config.market_data.source = feed.parse().map_err(anyhow::Error::msg)?;
    config.market_data.rate_per_sec = rate;
    config.topology.wait = wait;
    config.topology.pin_threads = false;
    config.journal.dir = scratch.join("journal");
    config.journal.durability = JournalDurability::None;
    config.journal.sync_on_exit = false;
    config.metrics.listen = String::new();
    config.metrics.latency_log_dir = PathBuf::new();
    config.venue.fix.seq_file = PathBuf::new();
    config.validate("loopback bench")?;
    Ok(config)
}

/// Runs `feed` at `rate` updates/s for `seconds`, journal under `scratch`.
pub fn run_row(feed: &str, rate: u64, wait: WaitKind, seconds: f64, scratch: &Path) -> Result<Row> {
    let config = row_config(feed, rate, wait, scratch)?;
    let assembly = genesis_cli::assemble(&config)?;
    let report = genesis_cli::run(
        &config,
        assembly,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_secs_f64(seconds)),
    )?;
    if let Some(error) = &report.error {
        anyhow::bail!("{feed} at {rate}/s stopped on an error: {error}");
    }
    let journal = report.stages.last().expect("a journal stage");
    Ok(Row {
        feed: feed.into(),
        rate_offered: rate,
        plan: report.plan.describe(),
        wait: wait.name(),
        seconds: report.elapsed.as_secs_f64(),
        market_data_per_sec: report.ingest.market_data as f64 / report.elapsed.as_secs_f64(),
        fills: report.execution.fills,
        journal_since_recv: Percentiles::of(&journal.since_recv_ns),
        tick_to_trade: report.tick_to_trade,
        tcp_rtt: report.loopback_tcp_rtt,
    })
}
