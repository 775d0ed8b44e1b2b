//! Genesis benchmarks. Every benchmark reports its result beside a baseline
//! measured in the same run, as a ratio, and names the core plan and wait
//! strategy it used: the machine is shared and noisy, so only ratios travel.
//!
//! - `cargo run --release -p genesis-perf --bin bench -- --quick` runs the
//!   whole harness and writes `report.md` and `report.json`
//!   (see `src/bin/bench.rs`); `perf/compare.sh` checks a report against
//!   `perf/baseline/report.json`.
//! - `cargo run --release -p genesis-perf --bin readme-table` regenerates
//!   the README's performance table from the committed baseline
//!   (`tests/readme_table.rs` fails when they disagree).
//! - `cargo run --release -p genesis-perf --bin profile` runs a fixed number
//!   of events through the fused path for callgrind (`docs/performance.md`).
//! - `cargo run --release -p genesis-perf --bin pipeline` runs the older
//!   fused-against-crossbeam-against-raw-append benchmark.
//! - `cargo run --release -p genesis-perf --bin restart` times the start-up
//!   rebuild of stage state over a 10 M-event journal: snapshot + tail
//!   beside a full replay (see `src/bin/restart.rs`).
//! - `cargo run --release -p genesis-perf --bin md_recovery` times ITCH gap
//!   recovery (retransmission and snapshot) beside a loopback TCP round trip.
//!
//! Modules: the variants (`genesis`, `threaded`, `tokio_pipeline`, sharing
//! `setup` and `drive`), the load generator (`schedule`), where a traced
//! run's slow events waited (`event_trace`), the hardware floor
//! (`floor`), the engine over loopback sockets (`loopback`), memory
//! (`memory`, `counting_alloc`, the soak's plot in `svg` and its
//! breakdown by mapping and thread in `soak_breakdown`), and the report (`report`, `markdown`,
//! `ratios`, with `latency`, `outcome` and `machine`; `readme` renders the
//! README's table from a report).

pub mod counting_alloc;
pub mod drive;
pub mod event_trace;
pub mod floor;
pub mod genesis;
pub mod latency;
pub mod loopback;
pub mod machine;
pub mod markdown;
pub mod memory;
pub mod outcome;
pub mod ratios;
pub mod readme;
pub mod report;
pub mod schedule;
pub mod setup;
pub mod soak_breakdown;
pub mod svg;
pub mod thread_cpu;
pub mod threaded;
pub mod throughput;
pub mod tokio_pipeline;
