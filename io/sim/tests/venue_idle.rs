//! A venue that follows an in-process engine's board reads it once per
//! [`BOARD_POLL_INTERVAL_NS`] and sleeps in between, however fast the
//! board moves: it is not a third busy thread beside the engine's two.
//! Counts, not times: the loop's iterations and flow reads against the
//! number of intervals the run lasted (the old loop read the flow and
//! yielded on every iteration, thousands of times per interval).

use genesis_sim::flow::BOARD_POLL_INTERVAL_NS;
use genesis_sim::{BoardFlow, SimConfig, Top, TopBoard, VenueSim, VenueSimSetup};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tops the test publishes, one every few µs (the engine publishes one per event).
const TOPS: i64 = 5_000;

fn start_venue(board: &Arc<TopBoard>, hold_market: bool) -> VenueSim {
    let config = SimConfig::cents(&["ALPHA"], 64);
    let clock = Instant::now();
    VenueSim::start(
        &config,
        VenueSimSetup {
            fix_addr: "127.0.0.1:0".parse().unwrap(),
            sender_comp_id: "VENUE".into(),
            target_comp_id: "GENESIS".into(),
            itch: None,
            ws_addr: None,
            flow: Box::new(BoardFlow::new(Arc::clone(board))),
            now_ns: Box::new(move || clock.elapsed().as_nanos() as u64 + 1),
            hold_market,
            cancel_on_disconnect: false,
        },
    )
    .unwrap()
}

/// Publishes [`TOPS`] tops, one every 10 µs or more.
fn publish_tops(board: &TopBoard) {
    for n in 0..TOPS {
        let top = Top {
            bid_px: 10_000 + n % 7,
            bid_qty: 5,
            ask_px: 10_010 + n % 7,
            ask_qty: 5,
        };
        board.publish_top(0, &top);
        std::thread::sleep(Duration::from_micros(10));
    }
}

// The board moves every few µs; the venue reads it at most once per
// interval, and loops about as often (its sleeps end at the next read).
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
        report.loop_iterations <= 2 * intervals + 16,
        "{} loop iterations in {intervals} intervals of a board read: the venue polls between reads",
        report.loop_iterations
    );
}

// A held market (no session connected, never released) is not read at all,
// and the venue's idle sleeps still double to their bound: it loops at most
// about once per millisecond too.
#[test]
fn a_held_board_flow_is_not_read_and_the_venue_sleeps() {
    let board = Arc::new(TopBoard::new(1));
    let started = Instant::now();
    let mut venue = start_venue(&board, true);
    publish_tops(&board);
    let report = venue.stop();
    let intervals = started.elapsed().as_nanos() as u64 / BOARD_POLL_INTERVAL_NS + 1;
    assert_eq!(report.flow_polls, 0, "a held market is not read");
    assert!(
        report.loop_iterations <= 2 * intervals + 16,
        "{} loop iterations in {intervals} ms while held: the venue polls",
        report.loop_iterations
    );
}
