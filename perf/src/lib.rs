//! Genesis benchmarks. Every benchmark reports its result beside a baseline
//! measured in the same run, as a ratio, and names the core plan and wait
//! strategy it used: the machine is shared and noisy, so only ratios travel.
//!
//! - `cargo run --release -p genesis-perf --bin bench -- --quick` runs the
//!   whole harness and writes `report.md` and `report.json`
//!   (see `src/bin/bench.rs`); `perf/compare.sh` checks a report against
//!   `perf/baseline/report.json`.
//! - `cargo run --release -p genesis-perf --bin pipeline` runs the older
//!   fused-against-crossbeam-against-raw-append benchmark.
//! - `cargo run --release -p genesis-perf --bin md_recovery` times ITCH gap
//!   recovery (retransmission and snapshot) beside a loopback TCP round trip.
//!
//! Modules: the variants (`genesis`, `threaded`, `tokio_pipeline`, sharing
//! `setup` and `drive`), the load generator (`schedule`), the hardware floor
//! (`floor`), memory (`memory`, `counting_alloc`), and the report (`report`,
//! `markdown`, `ratios`, with `latency`, `outcome` and `machine`).

pub mod counting_alloc;
pub mod drive;
pub mod floor;
pub mod genesis;
pub mod latency;
pub mod machine;
pub mod markdown;
pub mod memory;
pub mod outcome;
pub mod ratios;
pub mod report;
pub mod schedule;
pub mod setup;
pub mod threaded;
pub mod tokio_pipeline;
