//! Helpers shared by the simulator's integration tests: a venue on a
//! loopback FIX port fed by a given market flow (with ITCH and WebSocket
//! outputs if asked), a board that moves, and the venue thread's context
//! switches.
//! Each test binary uses a different part.
#![allow(dead_code)]

use genesis_sim::{
    ItchPorts, MarketFlow, MarketMove, SimConfig, Top, TopBoard, VenueSim, VenueSimSetup,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A market that never moves, read as a walk is (on every loop iteration
/// while the market moves): only the participants' orders rest.
pub struct Still;

impl MarketFlow for Still {
    fn poll(&mut self, _moves: &mut dyn FnMut(MarketMove)) {}
}

/// A venue for one instrument (ALPHA, cents) on a free loopback FIX port,
/// fed by `flow`, its market held until released when `hold_market`, its
/// participants' orders kept across disconnects.
pub fn start_venue_with(flow: Box<dyn MarketFlow>, hold_market: bool) -> VenueSim {
    start_venue_serving(flow, hold_market, None, None)
}

/// [`start_venue_with`], also publishing ITCH (its ports, and the feed's
/// destination) and WebSocket streams (on this address) when given.
pub fn start_venue_serving(
    flow: Box<dyn MarketFlow>,
    hold_market: bool,
    itch: Option<(ItchPorts, SocketAddr)>,
    ws_addr: Option<SocketAddr>,
) -> VenueSim {
    let config = SimConfig::cents(&["ALPHA"], 64);
    let clock = Instant::now();
    VenueSim::start(
        &config,
        VenueSimSetup {
            fix_addr: "127.0.0.1:0".parse().unwrap(),
            sender_comp_id: "VENUE".into(),
            target_comp_id: "GENESIS".into(),
            itch,
            ws_addr,
            flow,
            now_ns: Box::new(move || clock.elapsed().as_nanos() as u64 + 1),
            hold_market,
            cancel_on_disconnect: false,
        },
    )
    .unwrap()
}

/// Publishes top `n` = 0, 1, 2 … on the board's instrument 0 while
/// `more(n)`, pausing `pause` after each (prices cycle over 7 ticks).
pub fn move_board(board: &TopBoard, pause: Duration, mut more: impl FnMut(i64) -> bool) {
    let mut n = 0i64;
    while more(n) {
        let top = Top {
            bid_px: 10_000 + n % 7,
            bid_qty: 5,
            ask_px: 10_010 + n % 7,
            ask_qty: 5,
        };
        board.publish_top(0, &top);
        n += 1;
        std::thread::sleep(pause);
    }
}

/// The venue thread's context switches so far (voluntary + involuntary),
/// from the kernel's side (`/proc/self/task/<tid>/status`). The process
/// must run one `venue-sim` thread: one such test per binary.
pub fn venue_switches() -> u64 {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("a task entry").path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() != "venue-sim" {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).expect("the task's status");
        let switches: u64 = status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        found.push(switches);
    }
    assert_eq!(found.len(), 1, "one venue-sim thread in this process");
    found[0]
}
