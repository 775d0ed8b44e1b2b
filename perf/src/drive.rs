//! The baselines' ingest thread: the harness's own thread polls the engine's
//! `Ingest` (with the load generator as its market source) into the first
//! channel of a baseline pipeline, exactly as Genesis's head thread does into
//! its fused stages or first ring.

use genesis_engine::config::WaitKind;
use genesis_engine::ingest::{Ingest, Sink};
use genesis_engine::topology::wait::Wait;
use std::time::Instant;

/// How the baselines' ingest thread waits when nothing is due or the first
/// channel is full: it yields, leaving the core to the stage threads.
pub const BASELINE_INGEST_WAIT: WaitKind = WaitKind::Yield;

/// Polls for `seconds`, then publishes whatever ingest still holds.
/// Returns when polling started, for the caller's elapsed time.
#[allow(clippy::disallowed_methods)] // harness wall time, not stage logic
pub fn drive(ingest: &mut Ingest, sink: &mut dyn Sink, seconds: f64) -> Instant {
    let wait = Wait::new(BASELINE_INGEST_WAIT, 1);
    let started = Instant::now();
    let mut polls = 0u32;
    loop {
        if ingest.poll(sink) == 0 {
            wait.idle();
        }
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(64) && started.elapsed().as_secs_f64() >= seconds {
            break;
        }
    }
    while !ingest.flush(sink) {
        wait.backoff();
    }
    started
}
