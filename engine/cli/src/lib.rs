//! The `genesis` binary's library: the run as the binary assembles it
//! (the engine with the simulated venue and the PostgreSQL drain around it,
//! [`assembly`]), a backtest over recorded tapes ([`backtest`]), and the
//! operator commands behind its subcommands
//! ([`commands`], [`doctor`]). The binary (`src/bin/genesis.rs`) parses
//! arguments and calls these; tests and benchmarks call them directly.
//!
//! This is the one crate that names both the engine and what runs beside
//! it: the engine takes them through its `RunHooks` and `ingest::Tapped`.

pub mod assembly;
pub mod backtest;
pub mod commands;
pub mod doctor;
pub mod drain_glue;
pub mod floor;
pub mod sim_glue;

pub use assembly::{assemble, run, Assembly};
