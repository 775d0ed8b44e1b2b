//! Market data in and orders out over loopback sockets, end to end, at
//! several offered rates: the simulated venue (price-time matching on its
//! own thread) publishes its books as ITCH 5.0 over MoldUDP64 on UDP, or as
//! Binance-compatible WebSocket streams, and takes the engine's orders over
//! FIX 4.4 on TCP; the engine runs fused on one thread.
//!
//! Every row is reported beside the floor measured in the same run: a
//! loopback TCP round trip (2,000 ping-pongs after the engine stops), so
//! tick-to-trade ÷ round trip is a ratio that survives a noisy machine.
//!
//! Tick-to-trade is the venue's receive time of an order (kernel stamp)
//! minus the venue time of the market data that triggered it: for ITCH the
//! message's send time; a bookTicker carries none, so on the WebSocket feed
//! it starts at the engine's receive and leaves out the feed's own delay.

use anyhow::Result;
use clap::Parser;
use genesis_engine::config::{Config, JournalDurability, WaitKind};
use genesis_engine::telemetry::metrics::Percentiles;
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "End to end over loopback sockets at several rates, beside a TCP round trip")]
struct Args {
    /// Seconds each row runs.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    /// Offered market-data rates (walk updates per second), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,400000")]
    rates: Vec<u64>,
    /// Feeds: itch-sim, binance-sim.
    #[arg(long, value_delimiter = ',', default_value = "itch-sim,binance-sim")]
    feeds: Vec<String>,
    /// The engine thread's wait strategy: spin-hint, busy-spin, yield, sleep.
    #[arg(long, default_value = "spin-hint")]
    wait: String,
    /// Where the markdown and JSON reports go.
    #[arg(long, default_value = "target/perf-report")]
    out: PathBuf,
}

struct Row {
    feed: String,
    rate_offered: u64,
    plan: String,
    market_data_per_sec: f64,
    fills: u64,
    journal_since_recv: Percentiles,
    tick_to_trade: Option<Percentiles>,
    tcp_rtt: Option<Percentiles>,
}

fn wait_kind(name: &str) -> Result<WaitKind> {
    Ok(match name {
        "spin-hint" => WaitKind::SpinHint,
        "busy-spin" => WaitKind::BusySpin,
        "yield" => WaitKind::Yield,
        "sleep" => WaitKind::Sleep,
        other => anyhow::bail!("unknown wait strategy {other:?}"),
    })
}

fn run_row(feed: &str, rate: u64, wait: WaitKind, seconds: f64) -> Result<Row> {
    let scratch = tempfile::tempdir_in(".")?;
    let mut config = Config::builtin();
    config.market_data.source = feed.parse().map_err(anyhow::Error::msg)?;
    config.market_data.rate_per_sec = rate;
    config.topology.wait = wait;
    config.topology.pin_threads = false;
    config.journal.dir = scratch.path().join("journal");
    config.journal.durability = JournalDurability::None;
    config.journal.sync_on_exit = false;
    config.metrics.listen = String::new();
    config.metrics.latency_log_dir = PathBuf::new();
    config.venue.fix.seq_file = PathBuf::new();
    config.validate("loopback bench")?;
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
        market_data_per_sec: report.ingest.market_data as f64 / report.elapsed.as_secs_f64(),
        fills: report.execution.fills,
        journal_since_recv: Percentiles::of(&journal.since_recv_ns),
        tick_to_trade: report.tick_to_trade,
        tcp_rtt: report.loopback_tcp_rtt,
    })
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1_000.0)
}

fn markdown(rows: &[Row], args: &Args) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# End to end over loopback sockets\n");
    let _ = writeln!(
        out,
        "{} s per row; engine: {} (wait `{}`, unpinned); simulated venue on its own thread (sleeps 20 µs when idle); journal in the page cache (durability `none`). Tick-to-trade and the TCP round trip are measured in the same row, so the last column is a ratio. µs throughout.\n",
        args.seconds,
        rows.first().map_or("-", |r| r.plan.as_str()),
        args.wait
    );
    let _ = writeln!(out, "| feed | offered/s | market data events/s | receive → journal p50 / p99 / p99.9 | tick-to-trade p50 / p99 | TCP round trip p50 | t2t p50 ÷ RTT p50 | fills |");
    let _ = writeln!(out, "|---|---:|---:|---|---|---:|---:|---:|");
    for row in rows {
        let j = &row.journal_since_recv;
        let t2t = row
            .tick_to_trade
            .as_ref()
            .map_or("-".into(), |t| format!("{} / {}", us(t.p50), us(t.p99)));
        let rtt = row.tcp_rtt.as_ref().map_or("-".into(), |r| us(r.p50));
        let ratio = match (&row.tick_to_trade, &row.tcp_rtt) {
            (Some(t), Some(r)) if r.p50 > 0 => format!("{:.1}×", t.p50 as f64 / r.p50 as f64),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} / {} / {} | {} | {} | {} | {} |",
            row.feed,
            row.rate_offered,
            row.market_data_per_sec,
            us(j.p50),
            us(j.p99),
            us(j.p99_9),
            t2t,
            rtt,
            ratio,
            row.fills
        );
    }
    let _ = writeln!(
        out,
        "\nOn `binance-sim` tick-to-trade starts at the engine's receive (a bookTicker carries no send time), so it leaves out the feed's own delay; on `itch-sim` it starts at the ITCH message's send time."
    );
    out
}

fn main() -> Result<()> {
    let args = Args::parse();
    let wait = wait_kind(&args.wait)?;
    let mut rows = Vec::new();
    for feed in &args.feeds {
        for &rate in &args.rates {
            eprintln!("loopback: {feed} at {rate}/s for {} s", args.seconds);
            rows.push(run_row(feed, rate, wait, args.seconds)?);
        }
    }
    let text = markdown(&rows, &args);
    print!("{text}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("loopback.md"), &text)?;
    let json_rows: Vec<_> = rows
        .iter()
        .map(|row| {
            json!({
                "feed": row.feed,
                "rate_offered": row.rate_offered,
                "plan": row.plan,
                "wait": args.wait,
                "market_data_per_sec": row.market_data_per_sec,
                "fills": row.fills,
                "journal_since_recv_ns": row.journal_since_recv,
                "tick_to_trade_ns": row.tick_to_trade,
                "tcp_rtt_ns": row.tcp_rtt,
            })
        })
        .collect();
    std::fs::write(
        args.out.join("loopback.json"),
        serde_json::to_string_pretty(&json!({ "seconds": args.seconds, "rows": json_rows }))?,
    )?;
    Ok(())
}
