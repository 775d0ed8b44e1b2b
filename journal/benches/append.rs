//! The writer's hot path: `Writer::append` of a 128-byte record (an engine
//! event), `pwrite` path, no fsync, with 64 MiB segments (the default) and
//! with 1 MiB ones, where a rollover (and the closed segment's hand-off to
//! the sealing helper) comes every 7281 records and is part of the cost.
//!
//! What is measured is the CPU time of the writer's thread
//! (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a shared 2-core machine
//! wall time mostly measures the neighbours, and the helper threads'
//! work (preparing and sealing segments) is by design not the writer's.
//! The journal lives in /dev/shm when there is one, so the disk's
//! writeback throttling is not measured either; its size stays under 150 MB
//! (every million appends it is closed and removed, outside the timing, and
//! the next one warmed up with a few thousand appends).
//!
//! Run: `cargo bench -p genesis-journal --bench append -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use genesis_journal::{JournalConfig, Writer};
use std::hint::black_box;
use std::time::Duration;

mod common;
use common::thread_cpu;

const RECORD_BYTES: usize = 128;
const APPENDS_PER_JOURNAL: u64 = 1_000_000;
/// Appends made after open and before timing: the first touch of the write
/// buffer's pages is start-up, not the hot path.
const WARM_UP_APPENDS: u64 = 4096;

fn fresh_writer(segment_size_bytes: u64) -> (tempfile::TempDir, Writer) {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temporary folder");
    let mut config = JournalConfig::new(dir.path(), RECORD_BYTES);
    config.segment_size_bytes = segment_size_bytes;
    let (mut writer, _) = Writer::open(&config).expect("open");
    for _ in 0..WARM_UP_APPENDS {
        writer.append(&[7u8; RECORD_BYTES]).expect("append");
    }
    (dir, writer)
}

fn append(c: &mut Criterion) {
    let payload = [7u8; RECORD_BYTES];
    for (name, segment_size_bytes) in [("64MiB", 64u64 << 20), ("1MiB", 1 << 20)] {
        c.bench_function(&format!("append_128B_pwrite_{name}_segments"), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let (dir, mut writer) = fresh_writer(segment_size_bytes);
                    let batch = left.min(APPENDS_PER_JOURNAL);
                    let start = thread_cpu();
                    for _ in 0..batch {
                        black_box(writer.append(black_box(&payload)).expect("append"));
                    }
                    timed += thread_cpu() - start;
                    writer.close().expect("close");
                    drop(dir);
                    left -= batch;
                }
                timed
            })
        });
    }
}

criterion_group!(benches, append);
criterion_main!(benches);
