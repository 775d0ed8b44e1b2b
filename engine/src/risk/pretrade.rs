//! Pre-trade checks on one intent, in a fixed order; the first failure is the verdict.
//!
//! Gates (kill switch, daily loss, stop-loss, circuit breaker) → quantity and
//! price sanity → max order quantity → max notional → price band around the
//! reference mid → position limit counting open orders → gross limit across
//! instruments → max open orders → rate throttle. Cancels always pass: getting
//! out must never be blocked.
//!
//! Owned by the strategy stage, which feeds it positions, mids and gates from
//! the events it sees, and the open exposure from its order-table replica.
//! All of that, and the throttle's window, is carried across a restart
//! (`save_state`/`restore_state`); the limits come from the config.

use crate::config::Config;
use crate::decision::{Gate, GateMode, RejectReason};
use crate::orders::{Exposure, Orders};
use crate::risk::throttle::Throttle;
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{InstrumentId, Price, Qty, Side};

/// Limits of one instrument, resolved from config.
#[derive(Clone, Copy, Debug)]
pub struct InstrumentRules {
    pub tick_value: i64,
    pub max_order_qty: i64,
    pub max_order_notional: i64,
    pub price_band_bps: i64,
    pub position_limit: i64,
}

/// What an order would change, for the checks.
#[derive(Clone, Copy, Debug)]
pub struct OrderCheck {
    pub instrument: InstrumentId,
    pub side: Side,
    pub price: Price,
    /// Total quantity of the order (after a replace: the new total).
    pub qty: Qty,
    /// Open quantity this order already counts in the exposure (replace), else 0.
    pub leaves_now: i64,
    /// Quantity already filled (replace), else 0.
    pub filled: i64,
    pub is_new: bool,
}

pub struct PreTrade {
    rules: Vec<InstrumentRules>,
    positions: Vec<i64>,
    mids: Vec<Option<i64>>,
    gates: Vec<Gate>,
    gate_global: Gate,
    stale: Vec<bool>,
    max_open_orders: usize,
    gross_position_limit: i64,
    throttle: Throttle,
}

impl PreTrade {
    pub fn new(config: &Config) -> PreTrade {
        let rules: Vec<InstrumentRules> = config
            .instruments
            .iter()
            .map(|i| InstrumentRules {
                tick_value: i.tick_value,
                max_order_qty: i.limits.max_order_qty,
                max_order_notional: i.limits.max_order_notional,
                price_band_bps: i.limits.price_band_bps,
                position_limit: i.limits.position_limit,
            })
            .collect();
        let count = rules.len();
        PreTrade {
            rules,
            positions: vec![0; count],
            mids: vec![None; count],
            gates: vec![Gate::Open; count],
            stale: vec![false; count],
            gate_global: Gate::Open,
            max_open_orders: config.risk.max_open_orders,
            gross_position_limit: config.risk.gross_position_limit,
            throttle: Throttle::new(
                config.risk.orders_per_window,
                config.risk.throttle_window_ms * 1_000_000,
            ),
        }
    }

    pub fn set_mid(&mut self, instrument: InstrumentId, mid: i64) {
        if let Some(slot) = self.mids.get_mut(instrument.index()) {
            *slot = Some(mid);
        }
    }

    /// Whether the instrument's book is stale (from the market data's flag).
    pub fn set_stale(&mut self, instrument: InstrumentId, stale: bool) {
        if let Some(slot) = self.stale.get_mut(instrument.index()) {
            *slot = stale;
        }
    }

    pub fn is_stale(&self, instrument: InstrumentId) -> bool {
        self.stale.get(instrument.index()).copied().unwrap_or(false)
    }

    pub fn set_gates(&mut self, instrument: InstrumentId, global: Gate, own: Gate) {
        self.gate_global = global;
        if let Some(slot) = self.gates.get_mut(instrument.index()) {
            *slot = own;
        }
    }

    pub fn apply_fill(&mut self, instrument: InstrumentId, side: Side, qty: Qty) {
        if let Some(position) = self.positions.get_mut(instrument.index()) {
            *position += side.sign() * qty.0;
        }
    }

    pub fn position(&self, instrument: InstrumentId) -> Qty {
        Qty(self.positions.get(instrument.index()).copied().unwrap_or(0))
    }

    pub fn mid(&self, instrument: InstrumentId) -> Option<Price> {
        self.mids
            .get(instrument.index())
            .copied()
            .flatten()
            .map(Price)
    }

    /// The strictest of the global gate and the instrument's own.
    pub fn gate(&self, instrument: InstrumentId) -> Gate {
        let own = self
            .gates
            .get(instrument.index())
            .copied()
            .unwrap_or(Gate::Open);
        self.gate_global.strictest(own)
    }

    pub fn rules(&self, instrument: InstrumentId) -> Option<&InstrumentRules> {
        self.rules.get(instrument.index())
    }

    /// Would the rate throttle take another order at `ts_ns`?
    pub fn throttle_allows(&self, ts_ns: u64) -> bool {
        self.throttle.allows(ts_ns)
    }

    /// Records an accepted new order or replace against the throttle.
    pub fn record_order(&mut self, ts_ns: u64) {
        self.throttle.record(ts_ns);
    }

    pub fn save_state(&self, out: &mut StateWriter) {
        out.count(self.rules.len());
        for index in 0..self.rules.len() {
            out.i64(self.positions[index]);
            out.option_i64(self.mids[index]);
            out.u8(self.gates[index] as u8);
            out.bool(self.stale[index]);
        }
        out.u8(self.gate_global as u8);
        self.throttle.save_state(out);
    }

    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        input.count_exact("instruments", self.rules.len())?;
        for index in 0..self.rules.len() {
            self.positions[index] = input.i64("pretrade.position")?;
            self.mids[index] = input.option_i64("pretrade.mid")?;
            self.gates[index] = input.code("pretrade.gate", Gate::from_u8)?;
            self.stale[index] = input.bool("pretrade.stale")?;
        }
        self.gate_global = input.code("pretrade.gate_global", Gate::from_u8)?;
        self.throttle.restore_state(input)
    }

    /// The verdict on a new order or a replace at event time `ts_ns`.
    pub fn check(&self, order: &OrderCheck, orders: &Orders, ts_ns: u64) -> RejectReason {
        let Some(rules) = self.rules.get(order.instrument.index()) else {
            return RejectReason::UnknownInstrument;
        };
        let exposure = orders.exposure(order.instrument);
        let position = self.positions[order.instrument.index()];
        if let Some(reason) = self.check_gate(order, position, exposure) {
            return reason;
        }
        if self.stale[order.instrument.index()] {
            return RejectReason::StaleBook;
        }
        if order.qty.0 <= order.filled || order.side == Side::None {
            return RejectReason::InvalidQty;
        }
        if order.price.0 <= 0 {
            return RejectReason::InvalidPrice;
        }
        if order.qty.0 > rules.max_order_qty {
            return RejectReason::MaxOrderQty;
        }
        if notional_exceeds(order.price.0, order.qty.0, rules) {
            return RejectReason::MaxNotional;
        }
        let Some(mid) = self.mids[order.instrument.index()] else {
            return RejectReason::NoReferencePrice;
        };
        if outside_band(order.price.0, mid, rules.price_band_bps) {
            return RejectReason::PriceBand;
        }
        let added = (order.qty.0 - order.filled) - order.leaves_now;
        let after = with_added(exposure, order.side, added);
        if worst_abs(position, after) > rules.position_limit {
            return RejectReason::PositionLimit;
        }
        if self.gross_with(order.instrument, worst_abs(position, after), orders)
            > self.gross_position_limit
        {
            return RejectReason::GrossPositionLimit;
        }
        if order.is_new && orders.open_count() >= self.max_open_orders {
            return RejectReason::MaxOpenOrders;
        }
        if !self.throttle.allows(ts_ns) {
            return RejectReason::RateThrottle;
        }
        RejectReason::None
    }

    /// Refusal by a gate, if any: halts refuse everything, reduce-only refuses what could grow the position.
    fn check_gate(
        &self,
        order: &OrderCheck,
        position: i64,
        exposure: Exposure,
    ) -> Option<RejectReason> {
        let gate = self.gate(order.instrument);
        match gate.mode() {
            GateMode::Open => None,
            GateMode::Halt | GateMode::CancelAll => Some(gate.reject_reason()),
            GateMode::ReduceOnly => {
                let added = (order.qty.0 - order.filled) - order.leaves_now;
                let after = with_added(exposure, order.side, added);
                let reduces = match order.side {
                    Side::Sell => position > 0 && after.sell_lots <= position,
                    Side::Buy => position < 0 && after.buy_lots <= -position,
                    Side::None => false,
                };
                (!reduces).then(|| gate.reject_reason())
            }
        }
    }

    /// Gross worst-case position if `instrument`'s worst case became `worst`.
    /// One walk over the positions beside the table's exposures, no look-up
    /// per instrument (each new order or replace asks).
    fn gross_with(&self, instrument: InstrumentId, worst: i64, orders: &Orders) -> i64 {
        debug_assert_eq!(
            self.positions.len(),
            orders.exposures().len(),
            "the table counts the instruments pre-trade does"
        );
        let mut gross = 0i64;
        for (index, (&position, &exposure)) in
            self.positions.iter().zip(orders.exposures()).enumerate()
        {
            gross += if index == instrument.index() {
                worst
            } else {
                worst_abs(position, exposure)
            };
        }
        gross
    }
}

/// price × qty × tick value above the order's notional limit. In `i64`
/// when nothing overflows (a constant-time multiply); in `i128` otherwise,
/// with the same answer.
#[inline]
fn notional_exceeds(price: i64, qty: i64, rules: &InstrumentRules) -> bool {
    match price
        .checked_mul(qty)
        .and_then(|v| v.checked_mul(rules.tick_value))
    {
        Some(notional) => notional > rules.max_order_notional,
        None => {
            price as i128 * qty as i128 * rules.tick_value as i128
                > rules.max_order_notional as i128
        }
    }
}

/// The price further from the mid than `bps` basis points of it (at least
/// one tick). The band divides by a constant in `i64` when the product
/// fits (no 128-bit division call, inline), in `i128` otherwise: the same
/// answer.
#[inline(always)]
fn outside_band(price: i64, mid: i64, bps: i64) -> bool {
    match (mid.checked_mul(bps), price.checked_sub(mid)) {
        (Some(product), Some(off)) if off != i64::MIN => off.abs() > (product / 10_000).max(1),
        _ => outside_band_wide(price, mid, bps),
    }
}

#[inline(never)]
fn outside_band_wide(price: i64, mid: i64, bps: i64) -> bool {
    let band = (mid as i128 * bps as i128 / 10_000).max(1);
    (price as i128 - mid as i128).abs() > band
}

fn with_added(exposure: Exposure, side: Side, lots: i64) -> Exposure {
    match side {
        Side::Buy => Exposure {
            buy_lots: exposure.buy_lots + lots,
            ..exposure
        },
        Side::Sell => Exposure {
            sell_lots: exposure.sell_lots + lots,
            ..exposure
        },
        Side::None => exposure,
    }
}

/// The largest absolute position reachable if every open order filled.
pub fn worst_abs(position: i64, exposure: Exposure) -> i64 {
    (position + exposure.buy_lots)
        .abs()
        .max((position - exposure.sell_lots).abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(tick_value: i64, max_order_notional: i64) -> InstrumentRules {
        InstrumentRules {
            tick_value,
            max_order_qty: i64::MAX,
            max_order_notional,
            price_band_bps: 0,
            position_limit: i64::MAX,
        }
    }

    // The i64 fast paths answer as the i128 formulas they replace, over
    // small values (the i64 path) and extreme ones (the fallback).
    proptest! {
        #[test]
        fn fast_checks_answer_as_the_wide_formulas(
            price in prop_oneof![-1_000_000i64..1_000_000, any::<i64>()],
            mid in prop_oneof![1i64..1_000_000, any::<i64>()],
            // Wide enough to overflow i64 (the fallback), not i128.
            qty in prop_oneof![0i64..1_000, any::<i32>().prop_map(i64::from)],
            tick_value in prop_oneof![1i64..1_000, 1i64..1 << 20],
            limit in any::<i64>(),
            bps in prop_oneof![0i64..10_000, any::<i64>()],
        ) {
            let wide_notional = price as i128 * qty as i128 * tick_value as i128 > limit as i128;
            prop_assert_eq!(notional_exceeds(price, qty, &rules(tick_value, limit)), wide_notional);
            let band = (mid as i128 * bps as i128 / 10_000).max(1);
            let wide_band = (price as i128 - mid as i128).abs() > band;
            prop_assert_eq!(outside_band(price, mid, bps), wide_band);
        }
    }
}
