//! The README's example strategy, run for two seconds on the built-in
//! defaults (the simulated venue's market and orders over FIX), assembled as
//! `genesis run` does: `cargo run --release -p genesis-cli --example tiny_strategy`.

use genesis_engine::config::Config;
use genesis_engine::event::{Event, Input};
use genesis_engine::strategy::{Actions, Strategy};
use genesis_engine::units::Qty;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Follows the tape: on every trade print, joins the aggressor with one lot
/// at the trade's price, up to ten lots of inventory per instrument.
struct FollowTheTape;

impl Strategy for FollowTheTape {
    fn name(&self) -> &'static str {
        "follow-the-tape"
    }

    fn on_market_data(&mut self, event: &Event, act: &mut Actions) {
        let Input::Trade(trade) = event.input() else {
            return;
        };
        if act.position(event.instrument).0.abs() >= 10 || !act.throttle_allows() {
            return;
        }
        // Pre-trade risk answers at once; a refusal is journaled with its reason.
        let _ = act.new_order(event.instrument, event.side, trade.price, Qty(1));
    }
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::builtin();
    config.journal.dir = dir.path().to_path_buf();
    let mut assembly = genesis_cli::assemble(&config)?;
    assembly.parts.strategy = Box::new(FollowTheTape);
    let report = genesis_cli::run(
        &config,
        assembly,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_secs(2)),
    )?;
    print!("{}", report.render());
    Ok(())
}
