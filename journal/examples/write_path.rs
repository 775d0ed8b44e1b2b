//! What each write path costs the writer's thread and the helpers, in
//! counts rather than wall time (which a shared host makes meaningless):
//! appends `records` 128-byte records (default 10 M, 1.44 GB) to a fresh
//! journal in DIR, unpaced, and prints the writer thread's page faults
//! (minor plus major), the user and system CPU of every journal thread
//! (in 10 ms ticks) and its time on a CPU (`schedstat`, in ns), and the
//! resident memory before closing.
//!
//! `cargo run --release -p genesis-journal --example write_path -- DIR pwrite|pwrite-thread|mmap none|group [records] [map_ahead_bytes] [zero-fill]`
//!
//! DIR must not exist (it is created and left behind). `group` is group
//! commit at 4,096 records or 1 ms, the engine's default.

use genesis_journal::{Durability, JournalConfig, Preallocate, WriteMode, Writer};
use std::path::PathBuf;

const RECORD_BYTES: usize = 128;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!(
            "usage: write_path DIR pwrite|pwrite-thread|mmap none|group [records] [map_ahead_bytes] [zero-fill]"
        );
        std::process::exit(2);
    };
    let (Some(dir), Some(mode), Some(durability)) = (args.first(), args.get(1), args.get(2)) else {
        usage()
    };
    let dir = PathBuf::from(dir);
    if dir.exists() {
        eprintln!("{} exists: give a new folder", dir.display());
        std::process::exit(2);
    }
    let mut config = JournalConfig::new(&dir, RECORD_BYTES);
    config.write_mode = match mode.as_str() {
        "pwrite" | "pwrite-thread" => WriteMode::Pwrite,
        "mmap" => WriteMode::Mmap,
        _ => usage(),
    };
    if mode == "pwrite-thread" {
        config.write_thread_buffers = genesis_journal::WRITE_THREAD_BUFFERS_DEFAULT;
    }
    config.durability = match durability.as_str() {
        "none" => Durability::None,
        "group" => Durability::Group {
            records: 4096,
            interval_us: 1000,
        },
        _ => usage(),
    };
    let number = |index: usize, default: u64| {
        args.get(index)
            .map_or(default, |n| n.parse().unwrap_or_else(|_| usage()))
    };
    let records = number(3, 10_000_000);
    config.map_ahead_bytes = number(4, config.map_ahead_bytes as u64) as usize;
    if args.get(5).is_some_and(|a| a == "zero-fill") {
        config.preallocate = Preallocate::ZeroFill;
    }

    let (mut writer, _) = Writer::open(&config).expect("open the journal");
    let faults_before = thread_faults();
    let mut payload = [0u8; RECORD_BYTES];
    for seq in 1..=records {
        payload[..8].copy_from_slice(&seq.to_le_bytes());
        writer.append(&payload).expect("append");
    }
    writer.drain().expect("drain");
    let writer_faults = thread_faults() - faults_before;
    println!(
        "{mode} {durability}: {records} records, map_ahead_bytes {}, {:?}",
        config.map_ahead_bytes, config.preallocate
    );
    println!("writer thread: {writer_faults} page faults (minor + major) while appending");
    for (name, user_s, system_s, on_cpu_s) in thread_cpu() {
        println!(
            "  thread {name:<16} user {user_s:6.2} s  system {system_s:6.2} s  on CPU {on_cpu_s:7.3} s"
        );
    }
    println!("resident before close: {} MiB", resident_kib() / 1024);
    if let Some(stats) = writer.write_thread_stats() {
        println!("write thread: {stats:?}");
    }
    if let Some(stats) = writer.map_window_stats() {
        println!("map window: {stats:?}");
    }
    writer.close().expect("close");
}

/// Minor plus major faults of the calling thread.
fn thread_faults() -> u64 {
    let fields = stat_fields("/proc/thread-self/stat");
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(7) + field(9)
}

/// The fields of a `stat` file after the command name.
fn stat_fields(path: &str) -> Vec<String> {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after_name = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    after_name.split(' ').map(str::to_string).collect()
}

/// (name, user s, system s, on-CPU s) of every thread of this process:
/// user and system in ticks (10 ms), the time on a CPU from `schedstat`.
fn thread_cpu() -> Vec<(String, f64, f64, f64)> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut threads = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let fields = stat_fields(&path.join("stat").to_string_lossy());
        let seconds = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
                / ticks
        };
        let on_cpu_ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split(' ').next().and_then(|n| n.parse::<f64>().ok()))
            .unwrap_or(0.0);
        threads.push((
            name.trim().to_string(),
            seconds(11),
            seconds(12),
            on_cpu_ns / 1e9,
        ));
    }
    threads
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
