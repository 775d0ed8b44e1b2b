//! Helpers shared by the binary's integration tests: the engine's own test
//! helpers (config, events), and running the `genesis` binary.
#![allow(dead_code)]

#[path = "../../../tests/common/mod.rs"]
mod engine;
pub mod process;
pub mod venue;

// Each test binary uses a different part.
#[allow(unused_imports)]
pub use engine::*;
