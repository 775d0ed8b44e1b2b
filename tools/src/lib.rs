//! Genesis operator tools: latency reports (`histo-dump`, over the engine's
//! HdrHistogram interval logs, read through `genesis-histlog`). Journal
//! inspection is a subcommand of the binary (`genesis journal …`).
//!
//! Each tool keeps its logic in a module here and a thin `src/bin/` entry
//! point, so integration tests can drive the logic and the binary alike.

pub mod histo_dump;
