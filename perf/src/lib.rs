//! Genesis benchmarks. Every benchmark reports its result beside a baseline
//! measured in the same run, as a ratio, and names the core plan and wait
//! strategy it used: the machine is shared and noisy, so only ratios travel.
//!
//! `cargo run --release -p genesis-perf --bin pipeline` runs the pipeline
//! benchmark (see `src/bin/pipeline.rs`).
