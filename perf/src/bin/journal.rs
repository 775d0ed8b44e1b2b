//! Journal benchmark: append throughput with no fsync, append-to-durable lag
//! under group commit at a fixed rate, and recovery plus verify of a large
//! journal, each beside the raw speed of the same disk measured in this run.
//!
//! One thread does the work (the group-commit run paces by spinning on that
//! one thread; the journal's helper threads block, they never spin). Data
//! goes to a temporary folder under `--dir` (default: the current folder,
//! so the disk measured is the project's, not a tmpfs) and is removed at the
//! end. Figures are for a warm page cache: nothing here drops caches on a
//! shared machine.

use anyhow::{Context, Result};
use clap::Parser;
use genesis_journal::{verify, Durability, JournalConfig, Preallocate, WriteMode, Writer};
use hdrhistogram::Histogram;
use serde_json::json;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const PAYLOAD_BYTES: usize = 128;
const FRAME_BYTES: usize = 16 + PAYLOAD_BYTES;

#[derive(Parser)]
#[command(
    about = "Genesis journal: append, group-commit lag, recovery+verify, beside raw disk speed"
)]
struct Args {
    /// Records appended per write mode with policy `none`, and in the recovery journal.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Seconds of the paced group-commit run.
    #[arg(long, default_value_t = 3.0)]
    group_seconds: f64,
    /// Events per second in the group-commit run.
    #[arg(long, default_value_t = 1_000_000)]
    group_rate_per_sec: u64,
    /// Group commit: fdatasync after this many records...
    #[arg(long, default_value_t = 4096)]
    group_records: u64,
    /// ...or after this many microseconds.
    #[arg(long, default_value_t = 500)]
    group_interval_us: u64,
    /// Write path in the group-commit run: mmap or pwrite.
    #[arg(long, default_value = "pwrite")]
    group_mode: String,
    /// Segment preparation in the group-commit run: zero-fill or fallocate.
    #[arg(long, default_value = "fallocate")]
    group_prealloc: String,
    /// Folder under which a temporary folder is made.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let tmp = tempfile::Builder::new()
        .prefix("journal-bench-")
        .tempdir_in(&args.dir)
        .context("make a temporary folder")?;
    let root = tmp.path();
    println!(
        "journal benchmark in {} ({PAYLOAD_BYTES}-byte payloads, {FRAME_BYTES}-byte frames)",
        root.display()
    );
    let raw = raw_disk(root)?;
    print_raw(&raw);
    let appends = appends(root, args.records, &raw)?;
    let group = group_lag(&root.join("group"), &args)?;
    print_group(&group, &args, &raw);
    // Recovery and verify of the journal the last append run left behind.
    let (_, _, recovery_dir) = appends.last().expect("two append runs");
    let recovery = recover_and_verify(recovery_dir, args.records)?;
    print_recovery(&recovery, &raw);
    if let Some(path) = &args.json {
        let report = report_json(&args, &raw, &appends, &group, &recovery);
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

fn print_raw(raw: &Raw) {
    println!(
        "raw disk: page-cache write {:.0} MB/s ({:.1} M frames/s), write+fdatasync {:.0} MB/s, read {:.0} MB/s, 72 KiB overwrite+fdatasync p50 {:.0} us p99 {:.0} us max {:.0} us",
        raw.cached_write_mb_per_sec,
        raw.cached_write_mb_per_sec * 1e6 / FRAME_BYTES as f64 / 1e6,
        raw.durable_write_mb_per_sec,
        raw.read_mb_per_sec,
        raw.fdatasync_us_p50,
        raw.fdatasync_us_p99,
        raw.fdatasync_us_max
    );
}

/// Appends with policy `none` through each write path, printed beside the raw write.
fn appends(root: &Path, records: u64, raw: &Raw) -> Result<Vec<(WriteMode, Append, PathBuf)>> {
    let mut appends = Vec::new();
    for mode in [WriteMode::Pwrite, WriteMode::Mmap] {
        let dir = root.join(format!("append-{mode:?}"));
        let outcome = append_none(&dir, mode, records)?;
        println!(
            "append, policy none, {mode:?}: {:.2} M records/s = {:.0} MB/s, {:.2}x raw page-cache write (goal >= 8 M/s); rollover waits {}",
            outcome.rate_per_sec / 1e6,
            outcome.rate_per_sec * FRAME_BYTES as f64 / 1e6,
            outcome.rate_per_sec * FRAME_BYTES as f64 / 1e6 / raw.cached_write_mb_per_sec,
            outcome.rollover_waits
        );
        appends.push((mode, outcome, dir));
    }
    Ok(appends)
}

fn print_group(group: &Group, args: &Args, raw: &Raw) {
    println!(
        "group commit ({} records / {} us, {} {}) at {:.2} M events/s for {:.1} s: append->durable lag p50 {:.0} us p99 {:.0} us p99.9 {:.0} us max {:.0} us (goal p99 <= 2000 us); p99 is {:.1}x the raw fdatasync p99; {} syncs-worth behind at worst",
        args.group_records,
        args.group_interval_us,
        args.group_mode,
        args.group_prealloc,
        group.rate_per_sec / 1e6,
        args.group_seconds,
        group.lag_us_p50,
        group.lag_us_p99,
        group.lag_us_p999,
        group.lag_us_max,
        group.lag_us_p99 / raw.fdatasync_us_p99.max(1.0),
        group.records_behind_max
    );
}

fn print_recovery(recovery: &Recovery, raw: &Raw) {
    println!(
        "recovery+verify of {} records ({:.2} GB): open {:.3} s + verify {:.3} s = {:.3} s (goal < 2 s); verify reads {:.0} MB/s, {:.2}x raw read",
        recovery.records,
        recovery.bytes as f64 / 1e9,
        recovery.open_seconds,
        recovery.verify_seconds,
        recovery.open_seconds + recovery.verify_seconds,
        recovery.verify_mb_per_sec,
        recovery.verify_mb_per_sec / raw.read_mb_per_sec
    );
}

/// The same figures as JSON, for `--json`.
fn report_json(
    args: &Args,
    raw: &Raw,
    appends: &[(WriteMode, Append, PathBuf)],
    group: &Group,
    recovery: &Recovery,
) -> serde_json::Value {
    json!({
        "raw": {
            "cached_write_mb_per_sec": raw.cached_write_mb_per_sec,
            "durable_write_mb_per_sec": raw.durable_write_mb_per_sec,
            "read_mb_per_sec": raw.read_mb_per_sec,
            "fdatasync_us_p50": raw.fdatasync_us_p50,
            "fdatasync_us_p99": raw.fdatasync_us_p99,
        },
        "append_none": appends.iter().map(|(mode, o, _)| json!({
            "mode": format!("{mode:?}"),
            "records_per_sec": o.rate_per_sec,
            "ratio_to_raw_cached_write": o.rate_per_sec * FRAME_BYTES as f64 / 1e6 / raw.cached_write_mb_per_sec,
        })).collect::<Vec<_>>(),
        "group": {
            "records": args.group_records,
            "interval_us": args.group_interval_us,
            "rate_per_sec": group.rate_per_sec,
            "lag_us_p50": group.lag_us_p50,
            "lag_us_p99": group.lag_us_p99,
            "lag_us_p999": group.lag_us_p999,
            "lag_us_max": group.lag_us_max,
        },
        "recovery": {
            "records": recovery.records,
            "open_seconds": recovery.open_seconds,
            "verify_seconds": recovery.verify_seconds,
            "verify_mb_per_sec": recovery.verify_mb_per_sec,
        },
    })
}

struct Raw {
    cached_write_mb_per_sec: f64,
    durable_write_mb_per_sec: f64,
    read_mb_per_sec: f64,
    fdatasync_us_p50: f64,
    fdatasync_us_p99: f64,
    fdatasync_us_max: f64,
}

/// The disk itself: 1 MiB `write`s into the page cache, the same plus
/// `fdatasync`, sequential reads, and small write+fdatasync latency.
fn raw_disk(root: &Path) -> Result<Raw> {
    let chunk = vec![0x5au8; 1 << 20];
    let (cached_write_mb_per_sec, read_mb_per_sec) = raw_cached(root, &chunk)?;
    let durable_write_mb_per_sec = raw_durable(root, &chunk)?;
    let histogram = raw_fdatasync(root)?;
    Ok(Raw {
        cached_write_mb_per_sec,
        durable_write_mb_per_sec,
        read_mb_per_sec,
        fdatasync_us_p50: histogram.value_at_quantile(0.5) as f64,
        fdatasync_us_p99: histogram.value_at_quantile(0.99) as f64,
        fdatasync_us_max: histogram.max() as f64,
    })
}

/// 512 MiB written in `chunk`s into the page cache, then read back: MB/s of each.
fn raw_cached(root: &Path, chunk: &[u8]) -> Result<(f64, f64)> {
    let cached_bytes = 512u64 << 20;
    let path = root.join("raw-cached");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let start = Instant::now();
    for _ in 0..cached_bytes / chunk.len() as u64 {
        file.write_all(chunk)?;
    }
    let cached_write_mb_per_sec = cached_bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
    let mut buffer = vec![0u8; 4 << 20];
    let start = Instant::now();
    let mut offset = 0;
    loop {
        let got = file.read_at(&mut buffer, offset)?;
        if got == 0 {
            break;
        }
        offset += got as u64;
    }
    let read_mb_per_sec = offset as f64 / start.elapsed().as_secs_f64() / 1e6;
    drop(file);
    std::fs::remove_file(&path)?;
    Ok((cached_write_mb_per_sec, read_mb_per_sec))
}

/// 256 MiB written in `chunk`s and fdatasync'd: MB/s.
fn raw_durable(root: &Path, chunk: &[u8]) -> Result<f64> {
    let durable_bytes = 256u64 << 20;
    let path = root.join("raw-durable");
    let mut file = File::create(&path)?;
    let start = Instant::now();
    for _ in 0..durable_bytes / chunk.len() as u64 {
        file.write_all(chunk)?;
    }
    file.sync_data()?;
    let durable_write_mb_per_sec = durable_bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(durable_write_mb_per_sec)
}

/// Small overwrites of an already written file, as the journal's group
/// commit does on zero-filled segments: the disk's fdatasync floor, in µs.
fn raw_fdatasync(root: &Path) -> Result<Histogram<u64>> {
    let path = root.join("raw-fsync");
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    file.write_all_at(&vec![0u8; 8 << 20], 0)?;
    file.sync_all()?;
    let mut histogram = Histogram::<u64>::new(3)?;
    let write = [0x5au8; 72 << 10];
    let samples = 1000u64;
    for i in 0..samples {
        let start = Instant::now();
        file.write_all_at(&write, (i * write.len() as u64) % (8 << 20))?;
        file.sync_data()?;
        histogram.record(start.elapsed().as_micros() as u64)?;
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(histogram)
}

struct Append {
    rate_per_sec: f64,
    rollover_waits: u64,
}

/// Appends `records` as fast as one thread can with policy `none`.
fn append_none(dir: &Path, mode: WriteMode, records: u64) -> Result<Append> {
    let mut config = JournalConfig::new(dir, PAYLOAD_BYTES);
    config.write_mode = mode;
    config.durability = Durability::None;
    let (mut writer, _) = Writer::open(&config)?;
    let mut payload = [0u8; PAYLOAD_BYTES];
    let start = Instant::now();
    for i in 0..records {
        payload[..8].copy_from_slice(&i.to_le_bytes());
        writer.append(&payload)?;
        if i % 256 == 255 {
            writer.end_of_batch()?;
        }
    }
    writer.end_of_batch()?;
    let elapsed = start.elapsed();
    let rollover_waits = writer.rollover_waits();
    drop(writer);
    Ok(Append {
        rate_per_sec: records as f64 / elapsed.as_secs_f64(),
        rollover_waits,
    })
}

struct Group {
    rate_per_sec: f64,
    lag_us_p50: f64,
    lag_us_p99: f64,
    lag_us_p999: f64,
    lag_us_max: f64,
    records_behind_max: u64,
}

/// Appends at a fixed rate under group commit and measures, for every
/// record, the time from when it was due (coordinated omission corrected)
/// to when the published durable sequence covered it.
/// The group-commit journal the arguments describe.
fn group_config(dir: &Path, args: &Args) -> JournalConfig {
    let mut config = JournalConfig::new(dir, PAYLOAD_BYTES);
    config.write_mode = match args.group_mode.as_str() {
        "mmap" => WriteMode::Mmap,
        _ => WriteMode::Pwrite,
    };
    config.preallocate = match args.group_prealloc.as_str() {
        "zero-fill" => Preallocate::ZeroFill,
        _ => Preallocate::Fallocate,
    };
    config.durability = Durability::Group {
        records: args.group_records,
        interval_us: args.group_interval_us,
    };
    config
}

fn group_lag(dir: &Path, args: &Args) -> Result<Group> {
    let (mut writer, _) = Writer::open(&group_config(dir, args))?;
    let durable = writer.seq_durable_handle();
    let total = (args.group_seconds * args.group_rate_per_sec as f64) as u64;
    let period_ns = 1e9 / args.group_rate_per_sec as f64;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let mut payload = [0u8; PAYLOAD_BYTES];
    let mut seen_durable = 0u64;
    let mut records_behind_max = 0;
    let due_ns = |seq: u64| ((seq - 1) as f64 * period_ns) as u64;
    let start = Instant::now();
    let mut record_lags = |now_ns: u64, up_to: u64, seen: &mut u64| -> Result<()> {
        for seq in *seen + 1..=up_to {
            histogram.record(now_ns.saturating_sub(due_ns(seq)).max(1))?;
        }
        *seen = up_to;
        Ok(())
    };
    for i in 0..total {
        let due = due_ns(i + 1);
        let mut now_ns = start.elapsed().as_nanos() as u64;
        if now_ns < due {
            // Idle until the next event is due: hand the batch to the page cache.
            writer.flush()?;
            now_ns = start.elapsed().as_nanos() as u64;
        }
        while now_ns < due {
            std::hint::spin_loop();
            now_ns = start.elapsed().as_nanos() as u64;
        }
        payload[..8].copy_from_slice(&i.to_le_bytes());
        let seq = writer.append(&payload)?;
        let d = durable.load(Ordering::Acquire);
        if d > seen_durable {
            record_lags(start.elapsed().as_nanos() as u64, d, &mut seen_durable)?;
        }
        records_behind_max = records_behind_max.max(seq - seen_durable);
    }
    writer.flush()?;
    let elapsed = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen_durable < total {
        let d = durable.load(Ordering::Acquire);
        if d > seen_durable {
            record_lags(start.elapsed().as_nanos() as u64, d, &mut seen_durable)?;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "durable sequence stuck at {d} of {total}"
        );
        std::thread::yield_now();
    }
    writer.close()?;
    let us = |ns: u64| ns as f64 / 1e3;
    Ok(Group {
        rate_per_sec: total as f64 / elapsed.as_secs_f64(),
        lag_us_p50: us(histogram.value_at_quantile(0.5)),
        lag_us_p99: us(histogram.value_at_quantile(0.99)),
        lag_us_p999: us(histogram.value_at_quantile(0.999)),
        lag_us_max: us(histogram.max()),
        records_behind_max: records_behind_max / args.group_records.max(1),
    })
}

struct Recovery {
    records: u64,
    bytes: u64,
    open_seconds: f64,
    verify_seconds: f64,
    verify_mb_per_sec: f64,
}

/// Opens (recovers) and verifies a journal of `records` records.
fn recover_and_verify(dir: &Path, records: u64) -> Result<Recovery> {
    let config = JournalConfig::new(dir, PAYLOAD_BYTES);
    let start = Instant::now();
    let (writer, report) = Writer::open(&config)?;
    let open_seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.seq_next == records + 1,
        "recovery found {} records",
        report.seq_next - 1
    );
    drop(writer);
    let start = Instant::now();
    let verified = verify(dir)?;
    let verify_seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        verified.is_clean() && verified.records == records,
        "verify: {verified:?}"
    );
    let bytes = verified.segments as u64 * config.segment_size_bytes;
    Ok(Recovery {
        records,
        bytes,
        open_seconds,
        verify_seconds,
        verify_mb_per_sec: bytes as f64 / verify_seconds / 1e6,
    })
}
