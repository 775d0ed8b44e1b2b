//! Genesis operator tools: latency reports (`histo-dump`, over the engine's
//! HdrHistogram interval logs) and journal inspection (`genesis journal …`,
//! the journal issue).
//!
//! Each tool keeps its logic in a module here and a thin `src/bin/` entry
//! point, so integration tests can drive the logic and the binary alike.

pub mod histo_dump;
