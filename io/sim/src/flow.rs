//! Where the simulated market's moves come from. The exchange's liquidity
//! provider quotes each [`Top`] a flow hands over and its taker prints each
//! trade: a flow is either a walk the caller runs (any [`MarketFlow`]) or
//! the tops another thread publishes on a [`TopBoard`] ([`BoardFlow`]).
//!
//! Owning thread: the simulator's; a flow is polled once per loop iteration,
//! and a walk says when its next move is due ([`MarketFlow::next_move_in_ns`])
//! so the venue waits until then between its moves.

use crate::board::TopBoard;
use crate::wait::Doorbell;
use genesis_io::venue::Side;
use std::sync::Arc;

/// A top of book in the instrument's ticks and lots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Top {
    pub bid_px: i64,
    pub bid_qty: i64,
    pub ask_px: i64,
    pub ask_qty: i64,
}

/// One move of the market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketMove {
    /// The liquidity provider quotes this top on `instrument`.
    Top { instrument: usize, top: Top },
    /// The taker prints a trade: an immediate-or-cancel order from the
    /// `aggressor`'s side at `price`.
    Print {
        instrument: usize,
        aggressor: Side,
        price: i64,
        qty: i64,
    },
}

/// Moves of the market, polled by the simulator's thread.
pub trait MarketFlow: Send {
    /// Hands over the moves due now, oldest first.
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove));

    /// How often the simulator polls the flow, in ns. Zero (the default):
    /// on every loop iteration, as a walk paced by its own clock needs. A
    /// flow that keeps only the latest state (a board holds one top per
    /// instrument) loses nothing between polls, so the simulator polls it
    /// this often and sleeps in between instead of following every top.
    fn poll_interval_ns(&self) -> u64 {
        0
    }

    /// For a flow read on every iteration (a walk paced by its clock): how
    /// long until its next move is due, in ns by the flow's own clock (0:
    /// due now), so the venue waits until then instead of polling for it.
    /// `None` (the default): the flow cannot tell, and the venue waits at
    /// most [`crate::venue::IDLE_SLEEP`] between reads.
    fn next_move_in_ns(&self) -> Option<u64> {
        None
    }

    /// Lets the flow ring `bell` when the market reaches a price given to
    /// [`MarketFlow::watch_prices`]; true if it will. Default: it cannot.
    fn ring_when_reached(&mut self, _bell: Arc<Doorbell>) -> bool {
        false
    }

    /// The prices at which the sessions' resting orders on `instrument`
    /// would trade (highest buy, lowest sell; `None`: none on that side).
    fn watch_prices(&mut self, _instrument: usize, _buy_max: Option<i64>, _sell_min: Option<i64>) {}

    /// Whether the flow wants a read for the resting orders' sake: always,
    /// unless it rings when the market reaches them and has not rung since
    /// its last read.
    fn read_wanted(&self) -> bool {
        true
    }
}

/// How often the simulator reads a [`BoardFlow`]: the engine beside it
/// publishes a top per market event (100 k/s in the benchmarks), and on a
/// small host a venue that follows each one is a third busy thread beside
/// the engine's two; read once a millisecond it quotes tops at most 1 ms old.
pub const BOARD_POLL_INTERVAL_NS: u64 = 1_000_000;

/// The tops another thread publishes on a board, one move per newer top.
pub struct BoardFlow {
    board: Arc<TopBoard>,
    versions: Vec<u64>,
    /// The board rings the simulator when the market reaches its sessions' orders.
    rings: bool,
}

impl BoardFlow {
    pub fn new(board: Arc<TopBoard>) -> BoardFlow {
        let versions = vec![0; board.slot_count()];
        BoardFlow {
            board,
            versions,
            rings: false,
        }
    }
}

impl MarketFlow for BoardFlow {
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove)) {
        // Taken before the read: a top that reaches a resting price after
        // it rings again.
        self.board.take_ring();
        for (instrument, version) in self.versions.iter_mut().enumerate() {
            if let Some((newer, top)) = self.board.read_top_if_newer(instrument, *version) {
                *version = newer;
                moves(MarketMove::Top { instrument, top });
            }
        }
    }

    fn poll_interval_ns(&self) -> u64 {
        BOARD_POLL_INTERVAL_NS
    }

    fn ring_when_reached(&mut self, bell: Arc<Doorbell>) -> bool {
        self.rings = self.board.install_bell(bell);
        self.rings
    }

    fn watch_prices(&mut self, instrument: usize, buy_max: Option<i64>, sell_min: Option<i64>) {
        self.board.watch_prices(instrument, buy_max, sell_min);
    }

    fn read_wanted(&self) -> bool {
        !self.rings || self.board.rung()
    }
}
