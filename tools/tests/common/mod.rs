//! Shared by the histo-dump integration tests: deterministic latency
//! histograms and interval logs written through the engine's writer.

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_histlog::new_latency_histogram as new_histogram;
use genesis_histlog::IntervalLogWriter;
use hdrhistogram::Histogram;

pub const START_TIME_UNIX_NS: u64 = 1_700_000_000_000_000_000;
pub const SECOND_NS: u64 = 1_000_000_000;
pub const TAGS: [&str; 3] = ["ingest", "risk", "strategy"];

/// (tag, interval start in s, histogram), in the order written.
pub type Entry = (&'static str, u64, Histogram<u64>);

/// Latencies from a fixed linear congruential sequence: mostly a few hundred
/// ns, one in 97 near 3 ms. `scale` multiplies every value.
pub fn sample_histogram(seed: u64, count: u64, scale: u64) -> Histogram<u64> {
    let mut histogram = new_histogram();
    let mut state = seed;
    for _ in 0..count {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let tail_ns = if state.is_multiple_of(97) {
            3_000_000
        } else {
            0
        };
        let value_ns = 100 + (state >> 33) % 2_000 + tail_ns;
        histogram.record(value_ns * scale).unwrap();
    }
    histogram
}

/// One interval per tag per second for `seconds` seconds; returns what was
/// written, in file order, as (tag, start s, histogram).
pub fn write_sample_log(path: &Path, seconds: u64, scale: u64) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut writer = IntervalLogWriter::new(Vec::new());
    writer
        .write_header(START_TIME_UNIX_NS, Some("Logged by genesis-tools tests"))
        .unwrap();
    for start_s in 0..seconds {
        for (index, tag) in TAGS.into_iter().enumerate() {
            let histogram = sample_histogram(start_s * 31 + index as u64 + 1, 2_000, scale);
            writer
                .write_interval(tag, start_s * SECOND_NS, SECOND_NS, &histogram)
                .unwrap();
            entries.push((tag, start_s, histogram));
        }
    }
    std::fs::write(path, writer.into_inner()).unwrap();
    entries
}

/// All entries of `tag` within [from_s, to_s], added together.
pub fn merged(entries: &[Entry], tag: &str, from_s: u64, to_s: u64) -> Histogram<u64> {
    let mut total = new_histogram();
    for (_, _, histogram) in entries
        .iter()
        .filter(|(t, start_s, _)| *t == tag && (from_s..=to_s).contains(start_s))
    {
        total.add(histogram).unwrap();
    }
    total
}

pub fn histo_dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_histo-dump"))
        .args(args)
        .output()
        .expect("histo-dump runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
