//! Market data in and orders out over loopback sockets, end to end, at
//! several offered rates (see `genesis_perf::loopback` for what runs and
//! what tick-to-trade means here). `bench` runs the same rows at its
//! offered rate in its main report; this binary runs a grid of rates.
//!
//! `cargo run --release -p genesis-perf --bin loopback`

use anyhow::Result;
use clap::Parser;
use genesis_perf::loopback::{run_row, wait_kind, Row};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;

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

fn markdown(rows: &[Row], args: &Args) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# End to end over loopback sockets\n");
    let _ = writeln!(
        out,
        "{} s per row; engine: {} (wait `{}`, unpinned); simulated venue on its own thread (polls while busy; otherwise blocks on its sockets until one is ready or a timer is due, the walk's next move included, and does not block for one due within 2 µs); journal in the page cache (durability `none`). Tick-to-trade (the engine's own and the venue's) and the TCP round trip are measured in the same row, so the ratio columns survive a noisy machine. µs throughout.\n",
        args.seconds,
        rows.first().map_or("-", |r| r.plan.as_str()),
        args.wait
    );
    genesis_perf::loopback::markdown_tables(&mut out, rows);
    out
}

fn main() -> Result<()> {
    let args = Args::parse();
    let wait = wait_kind(&args.wait)?;
    let mut rows = Vec::new();
    for feed in &args.feeds {
        for &rate in &args.rates {
            eprintln!("loopback: {feed} at {rate}/s for {} s", args.seconds);
            let scratch = tempfile::tempdir_in(".")?;
            rows.push(run_row(feed, rate, wait, args.seconds, scratch.path())?);
        }
    }
    let text = markdown(&rows, &args);
    print!("{text}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("loopback.md"), &text)?;
    let json_rows: Vec<_> = rows.iter().map(Row::to_json).collect();
    std::fs::write(
        args.out.join("loopback.json"),
        serde_json::to_string_pretty(&json!({ "seconds": args.seconds, "rows": json_rows }))?,
    )?;
    Ok(())
}
