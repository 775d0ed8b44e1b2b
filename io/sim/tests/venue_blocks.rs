//! An idle venue makes no wake-ups: beside a board that moves every few
//! µs, with no session order resting and no market-data output, its thread
//! blocks until its doorbell or a FIX socket wakes it. Counted from the
//! kernel's side (`/proc/self/task/<tid>/status`: the thread's voluntary
//! and involuntary context switches), never timed. One test in this
//! binary, so the venue's thread is the only `venue-sim` of the process.

mod common;

use common::{move_board, start_venue_with, venue_switches};
use genesis_sim::{BoardFlow, TopBoard};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Moves the board every ~20 µs for `duration`.
fn move_board_for(board: &TopBoard, duration: Duration) {
    let started = Instant::now();
    move_board(board, Duration::from_micros(20), |_| {
        started.elapsed() < duration
    });
}

#[test]
fn an_idle_venue_beside_a_moving_board_is_never_switched_in() {
    let board = Arc::new(TopBoard::new(1));
    let mut venue = start_venue_with(Box::new(BoardFlow::new(Arc::clone(&board))), false);
    // Settled: the first iteration ran and the thread waits.
    assert!(
        venue.summary_now(Duration::from_secs(10)).is_some(),
        "the venue answers a command (its doorbell wakes it)"
    );
    let before = venue_switches();
    move_board_for(&board, Duration::from_millis(300));
    let idle = venue_switches() - before;
    // The old loop: ~300 (one sleep per board interval); before that, thousands.
    assert!(
        idle <= 2,
        "the idle venue was switched in {idle} times in 300 ms beside a moving board"
    );
    assert!(
        venue.summary_now(Duration::from_secs(10)).is_some(),
        "after the idle spell a command still wakes it"
    );
    // Its switch is counted when it blocks again, just after it handed
    // the summary over.
    let deadline = Instant::now() + Duration::from_secs(10);
    while venue_switches() <= before + idle {
        assert!(
            Instant::now() < deadline,
            "the command's wake-up is counted: the count is the venue thread's"
        );
        std::thread::yield_now();
    }
    let report = venue.stop();
    assert_eq!(
        report.waits_timed_out, 0,
        "no timer ended a wait: {report:?}"
    );
    assert!(report.flow_polls >= 1, "the board was read: {report:?}");
}
