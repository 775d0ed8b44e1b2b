//! The benchmark's simulated venue: the simulator `genesis run` starts
//! (ITCH 5.0 over MoldUDP64 on loopback, its request port and GLIMPSE
//! server, the config's seeded walk), in process, with the walk's moves
//! counted, so the rate the venue achieved can be shown beside the rate it
//! was offered (`rate_per_sec`; on a loaded host the venue's thread may
//! reach less).
//!
//! Owning thread: the bench thread starts and stops it; the simulator runs
//! on its own thread, which alone bumps the move counter.

use anyhow::{anyhow, Result};
use genesis_cli::sim_glue::{self, WalkFlow};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_sim::{ItchPorts, MarketFlow, MarketMove, VenueSim, VenueSimSetup};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The config's walk, counting the moves it hands the venue.
struct CountingFlow {
    walk: WalkFlow,
    moves: Arc<AtomicU64>,
}

impl MarketFlow for CountingFlow {
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove)) {
        let mut count = 0;
        self.walk.poll(&mut |market_move| {
            count += 1;
            moves(market_move);
        });
        self.moves.fetch_add(count, Ordering::Relaxed);
    }

    fn next_move_in_ns(&self) -> Option<u64> {
        self.walk.next_move_in_ns()
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A running venue and its move counter.
pub struct Venue {
    sim: VenueSim,
    moves: Arc<AtomicU64>,
}

/// A reading of the move counter, to take a rate between two of them.
#[derive(Clone, Copy)]
pub struct Moves {
    count: u64,
    at: Instant,
}

impl Moves {
    /// Moves per second from `earlier` to this reading.
    pub fn rate_since(self, earlier: Moves) -> f64 {
        let seconds = self.at.duration_since(earlier.at).as_secs_f64();
        (self.count - earlier.count) as f64 / seconds.max(1e-9)
    }
}

impl Venue {
    /// Starts the venue publishing to `feed_addr` with its request port and
    /// snapshot server `ports`; the market holds still until
    /// [`Venue::release`] when `hold_market`.
    pub fn start(
        config: &Config,
        ports: ItchPorts,
        feed_addr: SocketAddr,
        hold_market: bool,
    ) -> Result<Venue> {
        let moves = Arc::new(AtomicU64::new(0));
        let flow = CountingFlow {
            walk: WalkFlow::new(config, &EpochClock::new()),
            moves: Arc::clone(&moves),
        };
        let fix = &config.venue.fix;
        let setup = VenueSimSetup {
            fix_addr: loopback(0),
            sender_comp_id: fix.target_comp_id.clone(),
            target_comp_id: fix.sender_comp_id.clone(),
            itch: Some((ports, feed_addr)),
            ws_addr: None,
            flow: Box::new(flow),
            now_ns: sim_glue::now_ns(),
            hold_market,
            cancel_on_disconnect: config.venue.cancel_on_disconnect,
        };
        let sim = VenueSim::start(&sim_glue::sim_config(config), setup)
            .map_err(|e| anyhow!("simulated venue: {e}"))?;
        Ok(Venue { sim, moves })
    }

    /// Lets a held market move.
    pub fn release(&self) {
        self.sim.release_market();
    }

    /// The move counter now.
    pub fn moves(&self) -> Moves {
        Moves {
            count: self.moves.load(Ordering::Relaxed),
            at: Instant::now(),
        }
    }
}
