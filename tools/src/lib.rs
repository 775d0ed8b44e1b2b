//! Genesis operator tools: latency reports (`histo-dump`, the latency issue)
//! and journal inspection (`genesis journal …`, the journal issue).
//!
//! Nothing ships here yet. Today the engine's own `genesis run` prints the
//! per-stage latency table and writes `--summary-json`, and
//! `genesis_engine::journal_stage::EventReader` reads a journal back.
