//! `[strategy]`: which bundled strategy runs, and the parameters of the
//! market maker and the touch quoter.

use super::kind::config_kind;
use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};

config_kind! {
    /// The bundled strategies.
    pub enum StrategyName (key "strategy.name", unknown "strategy") {
        /// Quotes both sides around the mid, skewed against inventory.
        MarketMaker = "market-maker",
        /// Quotes both sides at the touch every Nth book update (the race's
        /// market maker, for L2 tapes).
        TouchQuoter = "touch-quoter",
        /// Trades nothing (replays and backtests of the inputs alone).
        None = "none",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// The bundled strategy to run: "market-maker", "touch-quoter" or "none".
    pub name: StrategyName,
    pub market_maker: MarketMakerConfig,
    pub touch_quoter: TouchQuoterConfig,
}

impl Default for StrategyConfig {
    fn default() -> StrategyConfig {
        StrategyConfig {
            name: StrategyName::MarketMaker,
            market_maker: MarketMakerConfig::default(),
            touch_quoter: TouchQuoterConfig::default(),
        }
    }
}

/// The touch quoter: on every Nth book update of an instrument, a buy of
/// `order_lots` at the best bid and a sell at the best ask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TouchQuoterConfig {
    /// Requote an instrument on every Nth of its book updates (one feed
    /// message is one update: a snapshot's rows count once).
    pub requote_every_updates: u64,
    /// Size of each order, in lots.
    pub order_lots: i64,
    /// Do not quote the side whose fill would take the position past this
    /// many lots either way.
    pub max_position_lots: i64,
}

impl Default for TouchQuoterConfig {
    fn default() -> TouchQuoterConfig {
        TouchQuoterConfig {
            requote_every_updates: 8,
            order_lots: 1,
            max_position_lots: 10,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketMakerConfig {
    /// Distance of each quote from the skewed mid, in ticks.
    pub half_spread_ticks: i64,
    pub quote_qty: i64,
    /// Mid skew per lot of inventory, in hundredths of a tick.
    pub skew_centiticks_per_lot: i64,
    /// Stop quoting the side that would grow inventory past this many lots.
    pub max_inventory_lots: i64,
    /// Move a quote only when its target moved at least this many ticks.
    pub requote_threshold_ticks: i64,
}

impl Default for MarketMakerConfig {
    fn default() -> MarketMakerConfig {
        MarketMakerConfig {
            half_spread_ticks: 2,
            quote_qty: 5,
            skew_centiticks_per_lot: 20,
            max_inventory_lots: 200,
            requote_threshold_ticks: 1,
        }
    }
}

impl StrategyConfig {
    /// The market maker quotes a positive size at a spread and threshold that are not negative.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        let mm = &self.market_maker;
        if mm.quote_qty <= 0 || mm.half_spread_ticks < 0 || mm.requote_threshold_ticks < 0 {
            return Err(invalid(
                "strategy.market_maker",
                "quote_qty must be positive, half_spread_ticks and requote_threshold_ticks not negative".into(),
            ));
        }
        let tq = &self.touch_quoter;
        if tq.requote_every_updates == 0
            || tq.order_lots <= 0
            || tq.max_position_lots < tq.order_lots
        {
            return Err(invalid(
                "strategy.touch_quoter",
                "requote_every_updates and order_lots must be positive, max_position_lots at least order_lots".into(),
            ));
        }
        Ok(())
    }
}
