//! The journal's per-record CRC, [`FrameCrc::frame`] over a sequence and a
//! 128-byte payload (an engine event), on every path this CPU has (the
//! crate's portable code, the serial chain of `crc32`s, the three
//! interleaved lanes), timed in the same run:
//!
//! - `chain_sequence`: each CRC feeds the next record's sequence, so a
//!   record cannot finish before the previous one's CRC is known, but the
//!   payload's words (known in advance) may start early: the latency of
//!   the lane that carries the sequence.
//! - `chain_payload`: each CRC feeds the next record's sequence and picks
//!   its payload, so no word of a record can start before the previous
//!   CRC is known: the whole CRC's latency plus a load's, the closer model
//!   of the fused thread, where the payload was stored just before.
//! - `independent`: the sequences are known in advance, so the CPU may
//!   overlap records: the CRC's throughput.
//!
//! After criterion's groups, the ratio serial ÷ interleaved of each mode is
//! printed from alternating batches timed with the thread's CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`), median of [`RATIO_PAIRS`] pairs, so it
//! survives a busy machine better than either figure alone.
//!
//! Run: `cargo bench -p genesis-journal --bench frame_crc -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput};
use genesis_journal::FrameCrc;
use std::hint::black_box;
use std::time::Duration;

mod common;
use common::thread_cpu;

const RECORD_BYTES: usize = 128;
/// Distinct payloads cycled through (8 KiB: they stay in L1).
const PAYLOADS: usize = 64;
/// Records per criterion iteration.
const RECORDS_PER_ITER: u64 = 1024;
/// Records per batch of the ratio's alternating timings.
const RATIO_BATCH_RECORDS: u64 = 2_000_000;
/// Alternating (serial, interleaved) pairs the ratio is the median of.
const RATIO_PAIRS: usize = 21;

fn payloads() -> Vec<[u8; RECORD_BYTES]> {
    (0..PAYLOADS)
        .map(|p| std::array::from_fn(|i| (p * 131 + i * 29 + 7) as u8))
        .collect()
}

/// `records` frame CRCs, each one's sequence taken from the previous CRC:
/// a dependency chain through the sequence only (the payload's words may
/// start before the previous CRC is known).
#[inline(never)]
fn chain_sequence(frame_crc: FrameCrc, payloads: &[[u8; RECORD_BYTES]], records: u64) -> u64 {
    let mut seq = 1u64;
    for record in 0..records {
        let payload = &payloads[record as usize % PAYLOADS];
        seq = u64::from(frame_crc.frame(seq, payload)) + record;
    }
    seq
}

/// `records` frame CRCs, each one's sequence and payload taken from the
/// previous CRC: one dependency chain through every record, and through
/// every word of each.
#[inline(never)]
fn chain_payload(frame_crc: FrameCrc, payloads: &[[u8; RECORD_BYTES]], records: u64) -> u64 {
    let mut crc = 1u32;
    for record in 0..records {
        let payload = &payloads[crc as usize % PAYLOADS];
        crc = frame_crc.frame(u64::from(crc) + record, payload);
    }
    u64::from(crc)
}

/// `records` frame CRCs whose sequences do not depend on each other.
#[inline(never)]
fn independent(frame_crc: FrameCrc, payloads: &[[u8; RECORD_BYTES]], records: u64) -> u64 {
    let mut sum = 0u64;
    for record in 0..records {
        let payload = &payloads[record as usize % PAYLOADS];
        sum = sum.wrapping_add(u64::from(frame_crc.frame(record, payload)));
    }
    sum
}

type Mode = fn(FrameCrc, &[[u8; RECORD_BYTES]], u64) -> u64;
const MODES: [(&str, Mode); 3] = [
    ("chain_sequence", chain_sequence),
    ("chain_payload", chain_payload),
    ("independent", independent),
];

fn frame_crc(c: &mut Criterion) {
    let payloads = payloads();
    for (mode, run) in MODES {
        let mut group = c.benchmark_group(format!("frame_crc_128B_{mode}"));
        group.throughput(Throughput::Elements(RECORDS_PER_ITER));
        for path in FrameCrc::every_path() {
            group.bench_function(path.name(), |b| {
                b.iter(|| run(black_box(path), black_box(&payloads), RECORDS_PER_ITER))
            });
        }
        group.finish();
    }
}

/// Thread CPU time of one batch of `mode` on `path`, per record.
fn batch_ns(run: Mode, path: FrameCrc, payloads: &[[u8; RECORD_BYTES]]) -> f64 {
    let start = thread_cpu();
    black_box(run(
        black_box(path),
        black_box(payloads),
        RATIO_BATCH_RECORDS,
    ));
    let spent: Duration = thread_cpu() - start;
    spent.as_nanos() as f64 / RATIO_BATCH_RECORDS as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Serial ÷ interleaved per mode, from alternating batches in this run.
fn ratios() {
    let paths = FrameCrc::every_path();
    let find = |name: &str| paths.iter().copied().find(|path| path.name() == name);
    let (Some(serial), Some(interleaved)) = (find("serial"), find("interleaved")) else {
        println!(
            "frame_crc ratio: this CPU lacks SSE4.2 or PCLMULQDQ, no interleaved path to compare"
        );
        return;
    };
    let payloads = payloads();
    for (mode, run) in MODES {
        let mut serial_ns = Vec::with_capacity(RATIO_PAIRS);
        let mut interleaved_ns = Vec::with_capacity(RATIO_PAIRS);
        let mut ratio = Vec::with_capacity(RATIO_PAIRS);
        for _ in 0..RATIO_PAIRS {
            let s = batch_ns(run, serial, &payloads);
            let i = batch_ns(run, interleaved, &payloads);
            serial_ns.push(s);
            interleaved_ns.push(i);
            ratio.push(s / i);
        }
        println!(
            "frame_crc_128B_{mode}: serial {:.2} ns/record, interleaved {:.2} ns/record, serial / interleaved {:.2} (median of {RATIO_PAIRS} alternating pairs of {RATIO_BATCH_RECORDS} records, thread CPU time)",
            median(serial_ns),
            median(interleaved_ns),
            median(ratio),
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    frame_crc(&mut criterion);
    criterion.final_summary();
    ratios();
}
