//! Helpers shared by the simulator's integration tests: a venue on a
//! loopback FIX port fed by a given market flow (with ITCH and WebSocket
//! outputs if asked), a board that moves, a walk paced by the clock, and the
//! venue thread's context switches.
//! Each test binary uses a different part.
#![allow(dead_code)]

use genesis_sim::{
    ItchPorts, MarketFlow, MarketMove, SimConfig, Top, TopBoard, VenueSim, VenueSimSetup,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A market that never moves, read as a walk is (on every loop iteration
/// while the market moves): only the participants' orders rest.
pub struct Still;

impl MarketFlow for Still {
    fn poll(&mut self, _moves: &mut dyn FnMut(MarketMove)) {}
}

/// A walk paced by the clock, as the engine's seeded walk is: move `k`
/// (a top on instrument 0) is due `k` intervals after the start, at most 64
/// a read, and the flow says when the next one is due. Counts its moves.
pub struct Paced {
    started: Instant,
    interval_ns: u64,
    moved: u64,
    pub moves: Arc<AtomicU64>,
}

impl Paced {
    pub fn new(moves_per_sec: u64) -> Paced {
        Paced {
            started: Instant::now(),
            interval_ns: 1_000_000_000 / moves_per_sec,
            moved: 0,
            moves: Arc::new(AtomicU64::new(0)),
        }
    }

    fn elapsed_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }
}

impl MarketFlow for Paced {
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove)) {
        let elapsed_ns = self.elapsed_ns();
        let mut count = 0;
        while count < 64 && self.moved * self.interval_ns <= elapsed_ns {
            let n = self.moved as i64;
            let top = Top {
                bid_px: 10_000 + n % 7,
                bid_qty: 5,
                ask_px: 10_010 + n % 7,
                ask_qty: 5,
            };
            moves(MarketMove::Top { instrument: 0, top });
            self.moved += 1;
            count += 1;
        }
        self.moves.fetch_add(count, Ordering::Relaxed);
    }

    fn next_move_in_ns(&self) -> Option<u64> {
        Some((self.moved * self.interval_ns).saturating_sub(self.elapsed_ns()))
    }
}

/// Waits until `moves` reaches `count` (30 s deadline), looking every
/// millisecond so that the waiting thread does not compete with the venue's.
pub fn wait_for_moves(moves: &AtomicU64, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while moves.load(Ordering::Relaxed) < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} moves in 30 s",
            moves.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
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

/// A SoupBinTCP login request for the GLIMPSE server: no credentials, any
/// session, from the start.
pub fn glimpse_login_request() -> Vec<u8> {
    use genesis_io::itch::{Credentials, LoginRequest, Session, SoupPacket};
    let mut login = Vec::new();
    SoupPacket::LoginRequest(LoginRequest {
        credentials: Credentials::new("", "").unwrap(),
        requested_session: Session([b' '; 10]),
        requested_sequence_number: 0,
    })
    .encode(&mut login);
    login
}
