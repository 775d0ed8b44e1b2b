//! A moving walk tells the venue when its next move is due, and the venue
//! waits until then: a walk at 1,000 moves a second wakes it on the order
//! of 1,000 times a second, not every 20 µs (up to 50,000 times a second,
//! each a preemption of an engine thread on a small host). Counted from
//! the kernel's side (`/proc/self/task/<tid>/status`: the thread's
//! voluntary and involuntary context switches) and by the venue's own
//! waits, never timed. One test in this binary, so the venue's thread is
//! the only `venue-sim` of the process.

mod common;

use common::{start_venue_with, venue_switches, wait_for_moves, Paced};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The walk's pace, and the moves the test watches it make.
const MOVES_PER_SEC: u64 = 1_000;
const MOVES: u64 = 300;

#[test]
fn a_walk_at_1000_moves_a_second_wakes_the_venue_once_per_move() {
    let flow = Paced::new(MOVES_PER_SEC);
    let moves = Arc::clone(&flow.moves);
    let mut venue = start_venue_with(Box::new(flow), false);
    // Settled: the first iteration ran.
    wait_for_moves(&moves, 10);
    let (moves_before, switches_before) = (moves.load(Ordering::Relaxed), venue_switches());
    wait_for_moves(&moves, moves_before + MOVES);
    let switches = venue_switches() - switches_before;
    let moved = moves.load(Ordering::Relaxed) - moves_before;
    // One wake-up per move, and as much again for preemptions on a loaded
    // host; the old 20 µs cap made 14 to 50 per move (each wait 20 µs plus
    // up to 50 µs of timer slack).
    assert!(
        switches <= 3 * moved + 20,
        "the venue was switched in {switches} times for {moved} moves of a walk"
    );
    let report = venue.stop();
    let moved = moves.load(Ordering::Relaxed);
    assert!(
        report.waits <= 3 * moved + 20,
        "{} waits for {moved} moves: {report:?}",
        report.waits
    );
    assert!(
        report.waits_timed_out >= 1,
        "the walk's next move ended waits: {report:?}"
    );
}
