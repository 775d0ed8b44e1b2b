//! The PostgreSQL drain's speed, beside its baseline in the same run:
//!
//! ```text
//! cargo run --release -p genesis-perf --bin drain            # ~1 minute
//! DATABASE_URL=postgres://… cargo run --release -p genesis-perf --bin drain
//! ```
//!
//! 1. **Sustained rate**: the same events, (a) as a raw binary `COPY` of
//!    prepared rows into a table shaped like `events` (same columns and
//!    indexes, not partitioned, one transaction), and (b) through the drain
//!    from a journal file (read, decode, partitions, fills/orders/positions,
//!    watermark, a transaction per chunk). Goal: drain ≥ 50 % of raw.
//! 2. **Lag at a fixed rate**: a writer appends to a journal at `--rate`
//!    events/s while the live drain follows it; lag (age of the oldest event
//!    not yet committed) is sampled every 50 ms. Goal: < 1 s at 100k/s.
//!
//! Uses `DATABASE_URL` when set (a fresh database is created in it), else a
//! throwaway server (see `engine/drain/tests/pg/mod.rs`, which this reuses).

#[allow(dead_code, clippy::all)]
#[path = "../../../engine/drain/tests/pg/mod.rs"]
mod pg;

use anyhow::Result;
use clap::Parser;
use genesis_drain::{self as drain, rows, DbUrl, DrainOptions, FolderMode, JournalFeed, LiveDrain};
use genesis_engine::clock::EpochClock;
use genesis_engine::event::{Event, EVENT_BYTES};
use postgres::binary_copy::BinaryCopyInWriter;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "PostgreSQL drain: sustained rate vs raw binary COPY, and lag at a fixed rate")]
struct Cli {
    /// Events per rate round.
    #[arg(long, default_value_t = 400_000)]
    events: u64,
    /// Rounds of (raw, drain); the best of each is reported.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Events per chunk.
    #[arg(long, default_value_t = drain::options::CHUNK_EVENTS_DEFAULT)]
    chunk: usize,
    /// Offered rate for the lag test, events/s (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Seconds of the lag test.
    #[arg(long, default_value_t = 10)]
    lag_seconds: u64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let db = pg::TestDb::new();
    let url = DbUrl::parse(db.url())?;
    drain::migrate(&url)?;
    let clock = EpochClock::new();
    let mut raw_best = 0f64;
    let mut drain_best = 0f64;
    for round in 0..cli.rounds {
        let ts_first = clock.now_ns();
        let events = pg::journal::synthetic(1, cli.events, ts_first, 1_000);
        let raw = raw_copy(&db, &events, round)?;
        let dir = tempfile::tempdir()?;
        write_journal(dir.path(), &events)?;
        let options = DrainOptions {
            chunk_events: cli.chunk,
            ..DrainOptions::default()
        };
        let stream = format!("bench-{round}");
        let mut feed = JournalFeed::new(dir.path(), &stream, FolderMode::Finished);
        let report = drain::drain_feed(&url, &mut feed, &options, &mut |_| {})?;
        anyhow::ensure!(
            report.events_loaded == cli.events,
            "drain loaded {report:?}"
        );
        let drained = report.events_loaded as f64 / (report.elapsed_ns as f64 / 1e9);
        println!(
            "round {round}: raw COPY {:.0} rows/s, drain {:.0} events/s ({:.0} %)",
            raw,
            drained,
            100.0 * drained / raw
        );
        raw_best = raw_best.max(raw);
        drain_best = drain_best.max(drained);
    }
    println!(
        "sustained: drain {:.2} M events/s = {:.0} % of raw binary COPY {:.2} M rows/s (goal >= 50 %), chunk {}",
        drain_best / 1e6,
        100.0 * drain_best / raw_best,
        raw_best / 1e6,
        cli.chunk
    );
    if cli.rate > 0 {
        lag_at_rate(&url, cli.rate, cli.lag_seconds, cli.chunk)?;
    }
    Ok(())
}

/// Writes `events` as a segmented journal, as the engine does.
fn write_journal(dir: &std::path::Path, events: &[Event]) -> Result<()> {
    let config = genesis_journal::JournalConfig::new(dir, EVENT_BYTES);
    let (mut writer, _) = genesis_journal::Writer::open(&config)?;
    let mut bytes = [0u8; EVENT_BYTES];
    for event in events {
        event.encode(&mut bytes);
        writer.append(&bytes)?;
    }
    writer.close()?;
    Ok(())
}

/// Rows/s of one binary COPY of `events` into a fresh unpartitioned twin of `events`.
fn raw_copy(db: &pg::TestDb, events: &[Event], round: u32) -> Result<f64> {
    let mut client = db.client();
    let table = format!("raw_events_{round}");
    client.batch_execute(&format!(
        "CREATE TABLE {table} (LIKE events);
         ALTER TABLE {table} ADD PRIMARY KEY (stream, seq, ts);
         CREATE INDEX ON {table} (kind, ts);
         CREATE INDEX ON {table} (stream, data0) WHERE kind IN (4, 5, 6, 7);
         CREATE INDEX ON {table} (stream, i0_order_id) WHERE i0_order_id IS NOT NULL;
         CREATE INDEX ON {table} (stream, i1_order_id) WHERE i1_order_id IS NOT NULL;"
    ))?;
    let copy = rows::EVENTS_COPY.replacen("COPY events", &format!("COPY {table}"), 1);
    let clock = EpochClock::new();
    let start = clock.now_ns();
    let mut tx = client.transaction()?;
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(&copy)?, &rows::EVENT_TYPES);
    for event in events {
        rows::write_event(&mut writer, "raw", event)?;
    }
    writer.finish()?;
    tx.commit()?;
    let seconds = (clock.now_ns() - start) as f64 / 1e9;
    client.batch_execute(&format!("DROP TABLE {table}"))?;
    Ok(events.len() as f64 / seconds)
}

/// Journals at `rate` events/s for `seconds` while a live drain follows; prints lag.
/// A live drain following the journal in `dir` up to `seq_written`.
fn follow(
    url: &DbUrl,
    dir: &Path,
    seq_written: &Arc<AtomicU64>,
    chunk: usize,
) -> Result<LiveDrain> {
    let options = DrainOptions {
        chunk_events: chunk,
        poll_interval: Duration::from_millis(5),
        ..DrainOptions::default()
    };
    let feed = JournalFeed::new(dir, drain::JOURNAL_STREAM_DEFAULT, FolderMode::Follow)
        .with_seq_written(Arc::clone(seq_written));
    Ok(LiveDrain::spawn(url.clone(), Box::new(feed), options)?)
}

fn lag_at_rate(url: &DbUrl, rate: u64, seconds: u64, chunk: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = genesis_journal::JournalConfig::new(dir.path(), EVENT_BYTES);
    let (mut writer, _) = genesis_journal::Writer::open(&config)?;
    let seq_written = Arc::new(AtomicU64::new(0));
    let live = follow(url, dir.path(), &seq_written, chunk)?;
    let stats = live.stats();
    let clock = EpochClock::new();
    let start = clock.now_ns();
    let tick_ns = 10_000_000u64;
    let per_tick = rate * tick_ns / 1_000_000_000;
    let mut seq = 1;
    let mut bytes = [0u8; EVENT_BYTES];
    let mut lags_ms: Vec<f64> = Vec::new();
    let mut tick = 0u64;
    while clock.now_ns() - start < seconds * 1_000_000_000 {
        // Events are stamped when written; the writer keeps to its schedule.
        for event in pg::journal::synthetic(seq, per_tick, clock.now_ns(), 1) {
            event.encode(&mut bytes);
            writer.append(&bytes)?;
        }
        writer.flush()?;
        seq += per_tick;
        seq_written.store(seq - 1, Ordering::Relaxed);
        tick += 1;
        if tick.is_multiple_of(5) {
            lags_ms.push(stats.snapshot().lag_seconds * 1e3);
        }
        let next = start + tick * tick_ns;
        let now = clock.now_ns();
        if next > now {
            std::thread::sleep(Duration::from_nanos(next - now));
        }
    }
    let written = seq - 1;
    let behind_at_end = stats.snapshot();
    writer.close()?;
    let last = live.stop(Duration::from_secs(30))?;
    lags_ms.sort_by(|a, b| a.total_cmp(b));
    let quantile = |q: f64| lags_ms[((lags_ms.len() - 1) as f64 * q) as usize];
    let offered = written as f64 / ((clock.now_ns() - start) as f64 / 1e9);
    println!(
        "lag at {rate} events/s offered ({} written, {:.0}/s achieved by the writer): \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; behind at the end {} events; \
         all loaded after stop: {} (goal: lag < 1 s)",
        written,
        offered,
        quantile(0.5),
        quantile(0.99),
        quantile(1.0),
        behind_at_end.lag_events,
        last.events_loaded == written
    );
    Ok(())
}
