//! Genesis's simulated exchange: what the engine trades against in its
//! default run, in tests and in benchmarks, and what `genesis venue-sim`
//! runs on its own.
//!
//! It speaks only protocols, as a real venue does: orders arrive over FIX
//! 4.4 ([`fix`]), its books go out as ITCH 5.0 in MoldUDP64 over UDP with a
//! retransmission request port and a GLIMPSE snapshot server ([`itch`]),
//! and as Binance-compatible WebSocket streams with depth snapshots over
//! REST on the same port ([`ws`]). Inside, one
//! price-time-priority matching engine per instrument
//! (`genesis_io::venue`) holds a liquidity provider's quotes, a taker's
//! prints and the sessions' orders ([`exchange`]). The market moves by a
//! [`MarketFlow`]: a walk its caller runs, or tops published on a
//! [`TopBoard`] ([`BoardFlow`]). It knows nothing of the engine: its
//! caller builds a [`SimConfig`] and hands it a clock. Apart from these,
//! [`backtest`] is the venue `genesis backtest` matches orders in: a
//! recorded tape's book with a queue-position model, in tape time, driven
//! through plain values rather than a protocol.
//!
//! Threads: [`VenueSim`] owns one thread, which runs everything here, polls
//! while busy and, when idle, blocks on the sockets it serves (FIX, ITCH,
//! WebSocket) and a doorbell until one is ready or a timer is due
//! ([`wait`]); a [`TopBoard`] is
//! written by one other thread.

pub mod backtest;
pub mod board;
pub mod config;
pub mod exchange;
pub mod fix;
pub mod flow;
pub mod itch;
pub mod venue;
pub mod wait;
pub mod ws;

pub use board::{SeqlockBoard, TopBoard};
pub use config::{SimConfig, SimInstrument};
pub use exchange::{ExchangeCounters, Side};
pub use fix::{OpenOrderSummary, ParticipantSummary};
pub use flow::{BoardFlow, MarketFlow, MarketMove, Top};
pub use itch::{ItchOutCounters, ItchPorts};
pub use venue::{NowNs, VenueCommand, VenueSim, VenueSimReport, VenueSimSetup};
pub use ws::WsOutCounters;

#[cfg(test)]
mod tests {
    /// Four instruments on a cent tick and a one-share lot, as the engine's
    /// built-in config lists them.
    pub fn config() -> crate::SimConfig {
        crate::SimConfig::cents(&["ALPHA", "BRAVO", "CHARLIE", "DELTA"], 4_096)
    }
}
