//! A venue that follows an in-process engine's board reads it once per
//! [`BOARD_POLL_INTERVAL_NS`] and sleeps in between, however fast the
//! board moves: it is not a third busy thread beside the engine's two.
//! Counts, not times: the loop's iterations and flow reads against the
//! number of intervals the run lasted (the old loop read the flow and
//! yielded on every iteration, thousands of times per interval).

use genesis_sim::flow::BOARD_POLL_INTERVAL_NS;
use genesis_sim::venue::IDLE_YIELDS_MAX;
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

/// FIX connections the test opens, a few ms apart.
const CONNECTIONS: usize = 20;

// After FIX traffic (here: each accepted connection, and what it sends) the
// venue yields the core between polls at most IDLE_YIELDS_MAX (1) times, then
// sleeps: it no longer stays runnable, yielding, for 50 µs after every
// message (dozens of yields each, each a preemption of an engine thread on
// a host whose cores the engine spins on).
#[test]
fn after_fix_traffic_the_venue_yields_a_bounded_number_of_times() {
    use std::io::Write;
    let board = Arc::new(TopBoard::new(1));
    let mut venue = start_venue(&board, true);
    let mut streams = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = std::net::TcpStream::connect(venue.fix_addr).unwrap();
        let _ = stream.write_all(b"8=FIX.4.4\x019=5\x0135=0\x01");
        streams.push(stream);
        std::thread::sleep(Duration::from_millis(3));
    }
    let report = venue.stop();
    assert!(
        report.busy_iterations >= 1,
        "the connections were FIX traffic: {report:?}"
    );
    assert!(
        report.yields <= u64::from(IDLE_YIELDS_MAX) * report.busy_iterations,
        "{} yields after {} busy iterations (at most {IDLE_YIELDS_MAX} each)",
        report.yields,
        report.busy_iterations
    );
}
