//! Helpers shared by the simulator's integration tests: a venue on a
//! loopback FIX port fed by a given market flow, and a board that moves.
//! Each test binary uses a different part.
#![allow(dead_code)]

use genesis_sim::{MarketFlow, SimConfig, Top, TopBoard, VenueSim, VenueSimSetup};
use std::time::{Duration, Instant};

/// A venue for one instrument (ALPHA, cents) on a free loopback FIX port,
/// fed by `flow`, its market held until released when `hold_market`, its
/// participants' orders kept across disconnects.
pub fn start_venue_with(flow: Box<dyn MarketFlow>, hold_market: bool) -> VenueSim {
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
