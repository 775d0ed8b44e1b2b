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

/// One instrument's rules and what pre-trade knows of it, side by side:
/// a check looks its instrument up once (one bounds check) and the gross
/// walk reads the positions from the same records.
#[derive(Clone, Copy, Debug)]
struct Slot {
    position: i64,
    mid: Option<i64>,
    rules: InstrumentRules,
    gate: Gate,
    stale: bool,
}

pub struct PreTrade {
    slots: Vec<Slot>,
    gate_global: Gate,
    max_open_orders: usize,
    gross_position_limit: i64,
    throttle: Throttle,
}

impl PreTrade {
    pub fn new(config: &Config) -> PreTrade {
        let slots: Vec<Slot> = config
            .instruments
            .iter()
            .map(|i| Slot {
                position: 0,
                mid: None,
                rules: InstrumentRules {
                    tick_value: i.tick_value,
                    max_order_qty: i.limits.max_order_qty,
                    max_order_notional: i.limits.max_order_notional,
                    price_band_bps: i.limits.price_band_bps,
                    position_limit: i.limits.position_limit,
                },
                gate: Gate::Open,
                stale: false,
            })
            .collect();
        PreTrade {
            slots,
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
        if let Some(slot) = self.slots.get_mut(instrument.index()) {
            slot.mid = Some(mid);
        }
    }

    /// Whether the instrument's book is stale (from the market data's flag).
    pub fn set_stale(&mut self, instrument: InstrumentId, stale: bool) {
        if let Some(slot) = self.slots.get_mut(instrument.index()) {
            slot.stale = stale;
        }
    }

    pub fn is_stale(&self, instrument: InstrumentId) -> bool {
        self.slots
            .get(instrument.index())
            .is_some_and(|slot| slot.stale)
    }

    pub fn set_gates(&mut self, instrument: InstrumentId, global: Gate, own: Gate) {
        self.gate_global = global;
        if let Some(slot) = self.slots.get_mut(instrument.index()) {
            slot.gate = own;
        }
    }

    pub fn apply_fill(&mut self, instrument: InstrumentId, side: Side, qty: Qty) {
        if let Some(slot) = self.slots.get_mut(instrument.index()) {
            slot.position += side.sign() * qty.0;
        }
    }

    pub fn position(&self, instrument: InstrumentId) -> Qty {
        Qty(self
            .slots
            .get(instrument.index())
            .map_or(0, |slot| slot.position))
    }

    pub fn mid(&self, instrument: InstrumentId) -> Option<Price> {
        self.slots
            .get(instrument.index())
            .and_then(|slot| slot.mid)
            .map(Price)
    }

    /// The strictest of the global gate and the instrument's own.
    pub fn gate(&self, instrument: InstrumentId) -> Gate {
        let own = self
            .slots
            .get(instrument.index())
            .map_or(Gate::Open, |slot| slot.gate);
        self.gate_global.strictest(own)
    }

    pub fn rules(&self, instrument: InstrumentId) -> Option<&InstrumentRules> {
        self.slots.get(instrument.index()).map(|slot| &slot.rules)
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
        out.count(self.slots.len());
        for slot in &self.slots {
            out.i64(slot.position);
            out.option_i64(slot.mid);
            out.u8(slot.gate as u8);
            out.bool(slot.stale);
        }
        out.u8(self.gate_global as u8);
        self.throttle.save_state(out);
    }

    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        input.count_exact("instruments", self.slots.len())?;
        for slot in &mut self.slots {
            slot.position = input.i64("pretrade.position")?;
            slot.mid = input.option_i64("pretrade.mid")?;
            slot.gate = input.code("pretrade.gate", Gate::from_u8)?;
            slot.stale = input.bool("pretrade.stale")?;
        }
        self.gate_global = input.code("pretrade.gate_global", Gate::from_u8)?;
        self.throttle.restore_state(input)
    }

    /// The verdict on a new order or a replace at event time `ts_ns`.
    /// The instrument's record is looked up once; with both gates open
    /// (`Gate::Open` is 0) the gate's refusal is not looked for.
    pub fn check(&self, order: &OrderCheck, orders: &Orders, ts_ns: u64) -> RejectReason {
        let Some(slot) = self.slots.get(order.instrument.index()) else {
            return RejectReason::UnknownInstrument;
        };
        let rules = &slot.rules;
        let exposure = orders.exposure(order.instrument);
        let position = slot.position;
        if (self.gate_global as u8 | slot.gate as u8) != 0 {
            if let Some(reason) = self.check_gate(order, position, exposure) {
                return reason;
            }
        }
        if slot.stale {
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
        let Some(mid) = slot.mid else {
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
    #[cold]
    #[inline(never)]
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
            self.slots.len(),
            orders.exposures().len(),
            "the table counts the instruments pre-trade does"
        );
        let mut gross = 0i64;
        for (index, (slot, &exposure)) in self.slots.iter().zip(orders.exposures()).enumerate() {
            gross += if index == instrument.index() {
                worst
            } else {
                worst_abs(slot.position, exposure)
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
    use crate::units::OrderId;
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

    /// The checks as stated before the per-instrument record and the open
    /// gates' shortcut: each value looked up on its own through the public
    /// getters, the gate's refusal always looked for.
    fn check_by_lookups(
        pretrade: &PreTrade,
        order: &OrderCheck,
        orders: &Orders,
        ts_ns: u64,
    ) -> RejectReason {
        let Some(rules) = pretrade.rules(order.instrument) else {
            return RejectReason::UnknownInstrument;
        };
        let exposure = orders.exposure(order.instrument);
        let position = pretrade.position(order.instrument).0;
        if let Some(reason) = pretrade.check_gate(order, position, exposure) {
            return reason;
        }
        if pretrade.is_stale(order.instrument) {
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
        if price_qty_tick(order.price.0, order.qty.0, rules.tick_value)
            > rules.max_order_notional as i128
        {
            return RejectReason::MaxNotional;
        }
        let Some(mid) = pretrade.mid(order.instrument) else {
            return RejectReason::NoReferencePrice;
        };
        let band = (mid.0 as i128 * rules.price_band_bps as i128 / 10_000).max(1);
        if (order.price.0 as i128 - mid.0 as i128).abs() > band {
            return RejectReason::PriceBand;
        }
        let added = (order.qty.0 - order.filled) - order.leaves_now;
        let worst = worst_abs(position, with_added(exposure, order.side, added));
        if worst > rules.position_limit {
            return RejectReason::PositionLimit;
        }
        let mut gross = 0i64;
        for index in 0..orders.exposures().len() {
            let id = InstrumentId(index as u16);
            gross += if id == order.instrument {
                worst
            } else {
                worst_abs(pretrade.position(id).0, orders.exposure(id))
            };
        }
        if gross > pretrade.gross_position_limit {
            return RejectReason::GrossPositionLimit;
        }
        if order.is_new && orders.open_count() >= pretrade.max_open_orders {
            return RejectReason::MaxOpenOrders;
        }
        if !pretrade.throttle_allows(ts_ns) {
            return RejectReason::RateThrottle;
        }
        RejectReason::None
    }

    fn price_qty_tick(price: i64, qty: i64, tick_value: i64) -> i128 {
        price as i128 * qty as i128 * tick_value as i128
    }

    fn side(code: u8) -> Side {
        match code % 5 {
            0 => Side::None,
            1 | 2 => Side::Buy,
            _ => Side::Sell,
        }
    }

    fn gate(code: u8) -> Gate {
        // Open half the time; each other gate otherwise.
        if code < 8 {
            Gate::Open
        } else {
            Gate::from_u8(code % 8).unwrap_or(Gate::Open)
        }
    }

    // The check with one record per instrument and the open gates'
    // shortcut refuses as the look-up-per-value statement of it: every
    // refusal, in the same order, over gates (global and own), stale
    // books, missing mids, positions, open orders on every instrument,
    // replaces, unknown instruments and a throttle at and under its limit.
    proptest! {
        #[test]
        fn check_answers_as_the_lookups_did(
            instruments in prop::collection::vec(
                (
                    (1i64..4, 1i64..12, 1i64..3_000, 0i64..300, 0i64..15),
                    (-12i64..12, prop::option::of(90i64..110), 0u8..16, any::<bool>()),
                ),
                1..5,
            ),
            open in prop::collection::vec((0u16..5, 0u8..5, 1i64..6), 0..8),
            fills in prop::collection::vec((0usize..8, 1i64..6), 0..4),
            global in 0u8..16,
            order in (0u16..5, 0u8..5, -2i64..120, 0i64..14, 0i64..6, 0i64..3, any::<bool>()),
            max_open in 0usize..9,
            gross_limit in 0i64..40,
            throttle in (1usize..4, prop::collection::vec(0u64..20, 0..5), 0u64..30),
        ) {
            let count = instruments.len();
            let slots = instruments
                .iter()
                .map(|&((tick_value, max_qty, max_notional, bps, limit), (position, mid, own, stale))| Slot {
                    position,
                    mid,
                    rules: InstrumentRules {
                        tick_value,
                        max_order_qty: max_qty,
                        max_order_notional: max_notional,
                        price_band_bps: bps,
                        position_limit: limit,
                    },
                    gate: gate(own),
                    stale,
                })
                .collect();
            let (throttle_limit, recorded, ts_ns) = throttle;
            let mut pretrade = PreTrade {
                slots,
                gate_global: gate(global),
                max_open_orders: max_open,
                gross_position_limit: gross_limit,
                throttle: Throttle::new(throttle_limit, 10),
            };
            let mut recorded = recorded;
            recorded.sort_unstable();
            for at in recorded {
                pretrade.record_order(at);
            }
            let mut orders = Orders::new(count, 16, 16);
            for (id, &(instrument, side_code, qty)) in open.iter().enumerate() {
                let instrument = InstrumentId(instrument % count as u16);
                let _ = orders.open_new(OrderId(id as u64 + 1), instrument, side(side_code), Price(100), Qty(qty));
            }
            for &(which, qty) in &fills {
                if let Some(&(instrument, side_code, _)) = open.get(which) {
                    let _ = orders.on_fill(
                        side(side_code),
                        &crate::event::Fill {
                            order_id: OrderId(which as u64 + 1),
                            exec_id: crate::units::ExecId(which as u64 + 100),
                            price: Price(100),
                            qty: Qty(qty),
                        },
                    );
                    let instrument = InstrumentId(instrument % count as u16);
                    pretrade.apply_fill(instrument, side(side_code), Qty(qty));
                }
            }
            let (instrument, side_code, price, qty, leaves_now, filled, is_new) = order;
            let order = OrderCheck {
                instrument: InstrumentId(instrument),
                side: side(side_code),
                price: Price(price),
                qty: Qty(qty),
                leaves_now,
                filled,
                is_new,
            };
            prop_assert_eq!(
                pretrade.check(&order, &orders, ts_ns),
                check_by_lookups(&pretrade, &order, &orders, ts_ns)
            );
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
