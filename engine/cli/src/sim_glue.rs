//! The simulated venue around an engine run: what the engine's config asks
//! of it, in the simulator's own terms.
//!
//! - [`sim_config`]: the instruments and limits it lists, from the config.
//! - [`WalkFlow`]: the config's seeded random walk (the engine's synthetic
//!   source) as the simulator's market flow.
//! - [`board_tap`]: when the market comes from elsewhere (the synthetic walk
//!   in ingest, an external feed) and orders go to the simulator, a tap on
//!   ingest's market-data source publishes every top of book on a
//!   [`TopBoard`] the simulator's liquidity provider quotes from.
//! - [`SimHooks`]: releases the held market when the engine starts reading,
//!   stops the simulator when the run ends and hands back its tick-to-trade.
//!
//! Owning threads: the flow runs on the simulator's thread, the tap on
//! ingest's, the hooks on the run's caller's.

use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::event::{Event, Input};
use genesis_engine::ingest::synthetic::Synthetic;
use genesis_engine::ingest::{Source, Tap};
use genesis_engine::run::ReportNote;
use genesis_engine::units::Side;
use genesis_sim::venue::NowNs;
use genesis_sim::{
    MarketFlow, MarketMove, SimConfig, SimInstrument, Top, TopBoard, VenueSim, VenueSimReport,
};
use hdrhistogram::Histogram;
use std::sync::Arc;

/// The simulator's view of the config: its instruments, book size, and the
/// ITCH feed's deliberate loss (periodic, and a share seeded by `seed`).
pub fn sim_config(config: &Config) -> SimConfig {
    SimConfig {
        instruments: config
            .instruments
            .iter()
            .map(|i| SimInstrument {
                symbol: i.symbol.clone(),
                tick_size: i.tick_size.clone(),
                lot_size: i.lot_size.clone(),
            })
            .collect(),
        resting_orders_max: config.venue.resting_orders_max,
        itch_drop_every: config.market_data.sim_drop_every,
        itch_loss_ppm: config.market_data.sim_loss_ppm,
        itch_loss_seed: config.market_data.seed,
    }
}

/// The simulator's clock: CLOCK_REALTIME, the clock of the kernel's
/// receive stamps. Its tick-to-trade is the kernel's stamp of an order's
/// arrival minus the ITCH header time of the market data that triggered
/// it, which the simulator stamped itself: one clock at both ends. (The
/// engine converts kernel stamps to its own clock, see
/// `genesis_engine::clock::RealtimeBridge`.)
pub fn now_ns() -> NowNs {
    Box::new(genesis_engine::clock::realtime_ns)
}

/// The config's seeded random walk, as moves of the simulated market.
pub struct WalkFlow {
    walk: Synthetic,
    clock: EpochClock,
    /// The walk's pace: one move every `interval_ns` (0: unpaced, as many
    /// as a read takes), as [`Synthetic`] schedules them.
    interval_ns: u64,
    /// When the next move is due on `clock`: the last move's venue time
    /// plus the interval (0: before the first read, due at once).
    due_ns: u64,
}

impl WalkFlow {
    pub fn new(config: &Config, clock: &EpochClock) -> WalkFlow {
        let rate = config.market_data.rate_per_sec;
        WalkFlow {
            walk: Synthetic::new(config),
            clock: clock.clone(),
            interval_ns: 1_000_000_000u64.checked_div(rate).map_or(0, |ns| ns.max(1)),
            due_ns: 0,
        }
    }
}

impl MarketFlow for WalkFlow {
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove)) {
        let mut last_ns = None;
        self.walk.poll(&self.clock, 64, &mut |event| {
            last_ns = Some(event.ts_venue_ns);
            if let Some(market_move) = move_of(&event) {
                moves(market_move);
            }
        });
        // The walk stamps each move with its due time and schedules the
        // next one interval on (a walk that fell a second behind restarts
        // its schedule at the read, which stamps that move too).
        if let Some(last_ns) = last_ns {
            self.due_ns = last_ns + self.interval_ns;
        }
    }

    /// The walk's next move is due one interval after its last: the venue
    /// waits until then instead of polling for it.
    fn next_move_in_ns(&self) -> Option<u64> {
        Some(self.due_ns.saturating_sub(self.clock.now_ns()))
    }
}

/// The market move a walk's event makes: a top the provider quotes, or a
/// print the taker trades (a sell print sells, anything else buys).
fn move_of(event: &Event) -> Option<MarketMove> {
    let instrument = event.instrument.index();
    match event.input() {
        Input::TopOfBook(top) => Some(MarketMove::Top {
            instrument,
            top: top_of(&top),
        }),
        Input::Trade(trade) => Some(MarketMove::Print {
            instrument,
            aggressor: if event.side == Side::Sell {
                genesis_sim::exchange::Side::Sell
            } else {
                genesis_sim::exchange::Side::Buy
            },
            price: trade.price.0,
            qty: trade.qty.0,
        }),
        _ => None,
    }
}

fn top_of(top: &genesis_engine::event::TopOfBook) -> Top {
    Top {
        bid_px: top.bid_px.0,
        bid_qty: top.bid_qty.0,
        ask_px: top.ask_px.0,
        ask_qty: top.ask_qty.0,
    }
}

/// A tap that publishes every top of book ingest reads on `board`.
pub fn board_tap(board: &Arc<TopBoard>) -> Tap {
    let board = Arc::clone(board);
    Box::new(move |event: &Event| {
        if let Input::TopOfBook(top) = event.input() {
            board.publish_top(event.instrument.index(), &top_of(&top));
        }
    })
}

/// `source` with [`board_tap`] on it, when there is a board.
pub fn tapped(source: Box<dyn Source>, board: Option<&Arc<TopBoard>>) -> Box<dyn Source> {
    match board {
        Some(board) => Box::new(genesis_engine::ingest::Tapped::new(
            source,
            board_tap(board),
        )),
        None => source,
    }
}

/// The simulated venue a run started.
pub struct SimHooks {
    pub sim: VenueSim,
    /// Orders go to it over FIX, so it measures tick-to-trade.
    pub trades: bool,
    /// Its tick-to-trade once stopped, when it traded.
    pub tick_to_trade: Option<Histogram<u64>>,
    /// What it did, once stopped.
    pub report: Option<VenueSimReport>,
}

impl SimHooks {
    /// The engine is about to read: the held market starts moving, so
    /// nothing queued in the sockets while the journal recovered.
    pub fn on_ready(&mut self) {
        self.sim.release_market();
    }

    /// Stops the simulator; its tick-to-trade histogram when orders went to it.
    pub fn on_stopped(&mut self) -> Option<Histogram<u64>> {
        let counters = self.sim.stop();
        tracing::debug!(?counters, "simulated venue stopped");
        self.report = Some(counters);
        if !self.trades {
            return None;
        }
        let histogram = self
            .sim
            .tick_to_trade_ns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.tick_to_trade = Some(histogram.clone());
        Some(histogram)
    }
}

impl SimHooks {
    /// The simulator's market-data counters for the run's report, once stopped.
    pub fn report_note(&self) -> Option<ReportNote> {
        let report = self.report?;
        let (itch, ws) = (report.itch, report.ws);
        Some(ReportNote {
            line: format!(
                "venue-sim: ITCH {} packets, {} lost on purpose, {} retransmission requests answered, {} GLIMPSE snapshots; WebSocket {} snapshots ({} over REST)",
                itch.packets_sent,
                itch.packets_dropped,
                itch.retransmissions_answered,
                itch.snapshots_sent,
                ws.snapshots_sent,
                ws.rest_snapshots_sent
            ),
            key: "venue_sim",
            json: serde_json::json!({
                "itch_packets_sent": itch.packets_sent,
                "itch_packets_dropped": itch.packets_dropped,
                "itch_retransmissions_answered": itch.retransmissions_answered,
                "itch_snapshots_sent": itch.snapshots_sent,
                "ws_snapshots_sent": ws.snapshots_sent,
                "ws_rest_snapshots_sent": ws.rest_snapshots_sent,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk_at(rate_per_sec: u64) -> WalkFlow {
        let mut config = Config::builtin();
        config.market_data.rate_per_sec = rate_per_sec;
        WalkFlow::new(&config, &EpochClock::new())
    }

    /// Moves one read hands over.
    fn read(walk: &mut WalkFlow) -> usize {
        let mut count = 0;
        walk.poll(&mut |_| count += 1);
        count
    }

    // Before its first read a walk is due at once; after a read its next
    // move is at most one interval (1 ms at 1,000 a second) away.
    #[test]
    fn a_paced_walk_says_its_next_move_is_at_most_one_interval_away() {
        let mut walk = walk_at(1_000);
        assert_eq!(walk.next_move_in_ns(), Some(0), "due before the first read");
        assert!(read(&mut walk) >= 1, "the first read moves the market");
        let next_ns = walk.next_move_in_ns().expect("a walk can tell");
        assert!(next_ns <= 1_000_000, "next move in {next_ns} ns");
    }

    // An unpaced walk (rate 0) always has a move due.
    #[test]
    fn an_unpaced_walk_is_always_due() {
        let mut walk = walk_at(0);
        assert_eq!(read(&mut walk), 64, "a read takes its whole budget");
        assert_eq!(walk.next_move_in_ns(), Some(0));
    }
}
