//! A venue that follows an in-process engine's board reads it at most once
//! per [`BOARD_POLL_INTERVAL_NS`], and only on a timer while something
//! depends on the market; otherwise it blocks until a FIX socket or its
//! doorbell wakes it, however fast the board moves: it is not a third busy
//! thread beside the engine's two. Counts, not times: the loop's
//! iterations, flow reads and waits against the number of intervals the
//! run lasted (the old loop read the flow and yielded on every iteration,
//! thousands of times per interval; then once per interval).

mod common;

use common::{move_board, start_venue_with, wait_for_moves, Still};
use genesis_sim::flow::BOARD_POLL_INTERVAL_NS;
use genesis_sim::venue::WAIT_MIN_NS;
use genesis_sim::{BoardFlow, TopBoard, VenueSim};
use genesis_sim::{MarketFlow, MarketMove, Top};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tops the test publishes, one every few µs (the engine publishes one per event).
const TOPS: i64 = 5_000;

fn start_venue(board: &Arc<TopBoard>, hold_market: bool) -> VenueSim {
    start_venue_with(Box::new(BoardFlow::new(Arc::clone(board))), hold_market)
}

/// Publishes [`TOPS`] tops, one every 10 µs or more.
fn publish_tops(board: &TopBoard) {
    move_board(board, Duration::from_micros(10), |n| n < TOPS);
}

// The board moves every few µs; with no session order resting and no
// market-data output, nothing depends on it between FIX messages: the
// venue reads it once at the start and then blocks (no timer at all).
#[test]
fn a_board_flow_is_read_on_its_interval_not_on_every_top() {
    let board = Arc::new(TopBoard::new(1));
    let started = Instant::now();
    let mut venue = start_venue(&board, false);
    publish_tops(&board);
    let report = venue.stop();
    let intervals = started.elapsed().as_nanos() as u64 / BOARD_POLL_INTERVAL_NS + 1;
    assert!(report.flow_polls >= 1, "the venue read the board");
    assert!(
        report.flow_polls <= intervals + 1,
        "{} board reads in {intervals} intervals",
        report.flow_polls
    );
    assert!(
        report.loop_iterations <= 4,
        "{} loop iterations in {intervals} intervals of a board read: the idle venue wakes up",
        report.loop_iterations
    );
    assert_eq!(
        report.waits_timed_out, 0,
        "no timer ended a wait: {report:?}"
    );
}

// A held market (no session connected, never released) is not read at all,
// and the venue blocks: no timer is due.
#[test]
fn a_held_board_flow_is_not_read_and_the_venue_sleeps() {
    let board = Arc::new(TopBoard::new(1));
    let started = Instant::now();
    let mut venue = start_venue(&board, true);
    publish_tops(&board);
    let report = venue.stop();
    let intervals = started.elapsed().as_nanos() as u64 / BOARD_POLL_INTERVAL_NS + 1;
    assert_held_quietly(&report, &format!("{intervals} ms"));
}

// A walk (read on every iteration while the market moves) that is held is
// not read, so it sets no timer: the venue blocks until the release, a
// command or a FIX session (it woke every 20 µs, thousands of times here).
#[test]
fn a_held_walk_is_not_read_and_the_venue_sleeps() {
    let mut venue = start_venue_with(Box::new(Still), true);
    // Settled: the first iteration ran and the thread waits.
    assert!(venue.summary_now(Duration::from_secs(10)).is_some());
    // The span observed, not a wait for something.
    std::thread::sleep(Duration::from_millis(100));
    let report = venue.stop();
    assert_held_quietly(&report, "100 ms");
}

/// A walk whose next move is always a fifth of [`WAIT_MIN_NS`] away (one
/// faster than one move per [`WAIT_MIN_NS`]), moving on every 1,000th read: how often the venue
/// reads it is what the test counts, not how fast the host is.
struct Imminent {
    reads: u64,
    moves: Arc<AtomicU64>,
}

impl MarketFlow for Imminent {
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove)) {
        self.reads += 1;
        if self.reads.is_multiple_of(1_000) {
            let top = Top {
                bid_px: 10_000,
                bid_qty: 5,
                ask_px: 10_010,
                ask_qty: 5,
            };
            moves(MarketMove::Top { instrument: 0, top });
            self.moves.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn next_move_in_ns(&self) -> Option<u64> {
        Some(WAIT_MIN_NS / 5)
    }
}

// A walk whose next move is due sooner than [`WAIT_MIN_NS`] is not waited for
// in ppoll (which would cost more than the gap): the thread spins until it is
// due and goes round (it waited 20 µs before).
#[test]
fn a_walk_due_within_the_shortest_wait_is_not_waited_for() {
    let moves = Arc::new(AtomicU64::new(0));
    let flow = Imminent {
        reads: 0,
        moves: Arc::clone(&moves),
    };
    let mut venue = start_venue_with(Box::new(flow), false);
    wait_for_moves(&moves, 5);
    let report = venue.stop();
    assert_eq!(report.waits, 0, "no ppoll between moves: {report:?}");
    assert!(
        report.waits_spun >= 4 * 999,
        "the loop went round between moves: {report:?}"
    );
    assert!(
        report.flow_polls >= 5_000,
        "the walk was read on every round: {report:?}"
    );
}

/// FIX connections the test opens, a few ms apart.
const CONNECTIONS: usize = 20;

// FIX traffic (here: each accepted connection, and what it sends, which is
// not yet a whole Logon, so the first 8 fill the slots and wait for their
// Logon deadline) wakes the venue through its sockets; between messages it
// blocks, woken by a timer only for the pending Logons' deadline (a wait
// of at most 100 ms): it no longer yields or sleeps in 20 µs steps.
#[test]
fn fix_traffic_wakes_the_venue_and_between_messages_it_blocks() {
    use std::io::Write;
    let board = Arc::new(TopBoard::new(1));
    let started = Instant::now();
    let mut venue = start_venue(&board, true);
    let mut streams = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = std::net::TcpStream::connect(venue.fix_addr).unwrap();
        let _ = stream.write_all(b"8=FIX.4.4\x019=5\x0135=0\x01");
        streams.push(stream);
        std::thread::sleep(Duration::from_millis(3));
    }
    let report = venue.stop();
    let tenths = started.elapsed().as_millis() as u64 / 100 + 1;
    assert!(
        report.busy_iterations >= 1,
        "the connections were FIX traffic: {report:?}"
    );
    // Every wake-up has a cause: a connection to accept, bytes arriving
    // on one (at most one burst per connection here), the stop's ring, or
    // a pending Logon's timer. The old loop slept 20 µs at a time:
    // thousands of iterations in this test.
    let causes = CONNECTIONS as u64 + report.waits_timed_out + 2;
    assert!(
        report.waits <= report.busy_iterations + causes,
        "{} waits after {} busy iterations: {report:?}",
        report.waits,
        report.busy_iterations
    );
    assert!(
        report.loop_iterations <= 2 * (CONNECTIONS as u64 + tenths) + 8,
        "{} loop iterations for {CONNECTIONS} connections in {tenths} tenths of a second: {report:?}",
        report.loop_iterations
    );
    assert!(
        report.waits_timed_out <= tenths + 1,
        "{} waits ended by a timer in {tenths} tenths of a second: {report:?}",
        report.waits_timed_out
    );
}

/// A held venue's report: its market never read, a few loop iterations at
/// most over `span`, and no wait ended by a timer.
fn assert_held_quietly(report: &genesis_sim::VenueSimReport, span: &str) {
    assert_eq!(report.flow_polls, 0, "a held market is not read");
    assert!(
        report.loop_iterations <= 4,
        "{} loop iterations in {span} while held: the venue polls",
        report.loop_iterations
    );
    assert_eq!(
        report.waits_timed_out, 0,
        "no timer ended a wait: {report:?}"
    );
}
