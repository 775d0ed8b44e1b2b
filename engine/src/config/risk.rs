//! `[risk]`: the limits across instruments (open orders, throttle, daily
//! loss, gross position) and the duplicate-fill memory.

use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Most orders open at once across all instruments.
    pub max_open_orders: usize,
    /// Orders (new and replace) allowed per `throttle_window_ms` of event time.
    pub orders_per_window: usize,
    pub throttle_window_ms: u64,
    /// Loss for the day (realized + unrealized, account units) that makes everything reduce-only.
    pub daily_loss_limit: i64,
    /// Sum over instruments of the worst-case absolute position, in lots.
    pub gross_position_limit: i64,
    /// How many recent exec ids ingest remembers to drop duplicate fills.
    pub exec_id_memory: usize,
}

impl Default for RiskConfig {
    fn default() -> RiskConfig {
        RiskConfig {
            max_open_orders: 64,
            orders_per_window: 2_000,
            throttle_window_ms: 1_000,
            daily_loss_limit: 10_000_000,
            gross_position_limit: 1_500,
            exec_id_memory: 1 << 16,
        }
    }
}

impl RiskConfig {
    /// Every limit positive, every preallocated capacity sensible.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        let risk = self;
        let positive = [
            ("risk.max_open_orders", risk.max_open_orders as i64),
            ("risk.orders_per_window", risk.orders_per_window as i64),
            ("risk.throttle_window_ms", risk.throttle_window_ms as i64),
            ("risk.daily_loss_limit", risk.daily_loss_limit),
            ("risk.gross_position_limit", risk.gross_position_limit),
            ("risk.exec_id_memory", risk.exec_id_memory as i64),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return Err(invalid(key, format!("{value} must be positive")));
            }
        }
        if risk.max_open_orders > 1 << 20
            || risk.orders_per_window > 1 << 24
            || risk.exec_id_memory > 1 << 24
        {
            return Err(invalid("risk", "a capacity is beyond what is preallocated sensibly (max_open_orders <= 2^20, orders_per_window and exec_id_memory <= 2^24)".into()));
        }
        Ok(())
    }
}
