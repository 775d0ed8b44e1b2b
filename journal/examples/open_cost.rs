//! What opening a big journal costs: `Writer::open` with each
//! `ClosedCheck`, and `verify` for comparison, on a journal of `records`
//! 128-byte records in `segments` segments (default 10 M in 70), created in
//! DIR on the first run and reused after.
//!
//! `cargo run --release -p genesis-journal --example open_cost -- DIR [records] [segments] [--cold]`
//!
//! `--cold` drops the page cache before each measurement (root only: it
//! writes to /proc/sys/vm/drop_caches, which slows every process on the
//! host for a moment). Runs on the caller's thread plus the writer's helper.

use genesis_journal::{ClosedCheck, JournalConfig, Writer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RECORD_BYTES: usize = 128;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cold = args.iter().any(|a| a == "--cold");
    let numbers: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(dir) = numbers.first().map(PathBuf::from) else {
        eprintln!("usage: open_cost DIR [records] [segments] [--cold]");
        std::process::exit(2);
    };
    let parse = |index: usize, default: u64| {
        numbers
            .get(index)
            .map_or(default, |n| n.parse().expect("a number"))
    };
    let (records, segments) = (parse(1, 10_000_000), parse(2, 70));
    let mut config = JournalConfig::new(&dir, RECORD_BYTES);
    let frame_bytes = (16 + RECORD_BYTES) as u64;
    config.segment_size_bytes = 64 + frame_bytes * records.div_ceil(segments);
    if !dir.exists() {
        let took = write(&config, records);
        println!("wrote {records} records in {took:?}");
    }
    for check in [ClosedCheck::Full, ClosedCheck::Seals] {
        config.closed_check = check;
        let took = measure(cold, || {
            let (writer, report) = Writer::open(&config).expect("open");
            assert_eq!(report.seq_next, records + 1);
            drop(writer);
        });
        println!("Writer::open, ClosedCheck::{check:?}: {took:?}");
    }
    let took = measure(cold, || {
        let report = genesis_journal::verify(&dir).expect("verify");
        assert!(report.is_clean() && report.records == records);
    });
    println!("verify: {took:?}");
    println!("({} cache)", if cold { "cold" } else { "warm" });
}

fn write(config: &JournalConfig, records: u64) -> Duration {
    let start = Instant::now();
    let (mut writer, _) = Writer::open(config).expect("create");
    let mut payload = [0u8; RECORD_BYTES];
    for seq in 1..=records {
        payload[..8].copy_from_slice(&seq.to_le_bytes());
        writer.append(&payload).expect("append");
    }
    writer.close().expect("close");
    start.elapsed()
}

/// The second of two runs (the first warms the cache), or one run after
/// dropping the page cache.
fn measure(cold: bool, mut run: impl FnMut()) -> Duration {
    if cold {
        drop_caches(Path::new("/proc/sys/vm/drop_caches"));
    } else {
        run();
    }
    let start = Instant::now();
    run();
    start.elapsed()
}

fn drop_caches(control: &Path) {
    // `sync` first so writing dirty pages back is not what gets measured.
    std::process::Command::new("sync").status().expect("sync");
    std::fs::write(control, "3").expect("drop caches (needs root)");
}
