//! Position and PnL of one instrument, by average cost, in integer tick-lots.
//!
//! `cost_tick_lots` is the sum of price × signed quantity of the open lots, so
//! realized plus unrealized PnL is exact however the position was built.

use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{Price, Qty, Side};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub qty: Qty,
    pub cost_tick_lots: i128,
    pub realized_tick_lots: i128,
}

impl Position {
    /// Applies a fill; returns the realized PnL it produced, in tick-lots.
    pub fn apply_fill(&mut self, side: Side, price: Price, qty: Qty) -> i128 {
        let signed = side.sign() * qty.0;
        if signed == 0 {
            return 0;
        }
        let position = self.qty.0;
        if position == 0 || position.signum() == signed.signum() {
            self.cost_tick_lots += price.0 as i128 * signed as i128;
            self.qty = Qty(position + signed);
            debug_assert!(self.qty.0 != 0, "adding to a position never flattens it");
            return 0;
        }
        let closed = signed.abs().min(position.abs());
        let cost_closed = cost_share(self.cost_tick_lots, closed, position.abs());
        let realized = price.0 as i128 * closed as i128 * position.signum() as i128 - cost_closed;
        self.realized_tick_lots += realized;
        self.cost_tick_lots -= cost_closed;
        let remaining = position + signed;
        if remaining.signum() == signed.signum() && remaining != 0 {
            // The fill flipped the position: what is left opens at the fill price.
            self.cost_tick_lots = price.0 as i128 * remaining as i128;
        } else if remaining == 0 {
            self.cost_tick_lots = 0;
        }
        self.qty = Qty(remaining);
        debug_assert!(
            self.qty.0 != 0 || self.cost_tick_lots == 0,
            "a flat position carries no cost"
        );
        realized
    }

    /// Unrealized PnL at `mark`, in tick-lots.
    pub fn unrealized_tick_lots(&self, mark: Price) -> i128 {
        mark.0 as i128 * self.qty.0 as i128 - self.cost_tick_lots
    }

    pub fn save_state(&self, out: &mut StateWriter) {
        out.i64(self.qty.0);
        out.i128(self.cost_tick_lots);
        out.i128(self.realized_tick_lots);
    }

    pub fn restore_state(input: &mut StateReader<'_>) -> Result<Position, StateError> {
        let position = Position {
            qty: Qty(input.i64("position.qty")?),
            cost_tick_lots: input.i128("position.cost_tick_lots")?,
            realized_tick_lots: input.i128("position.realized_tick_lots")?,
        };
        if position.qty.0 == 0 && position.cost_tick_lots != 0 {
            return Err(StateError::Inconsistent {
                what: "position",
                detail: "a flat position carries a cost",
            });
        }
        Ok(position)
    }
}

/// `cost × closed ÷ held`, truncated toward zero: in `i64` when the product
/// fits (a 64-bit division; the 128-bit one is a library call of ~80
/// instructions), in `i128` otherwise, with the same answer. `held` is
/// positive.
#[inline]
fn cost_share(cost: i128, closed: i64, held: i64) -> i128 {
    debug_assert!(held > 0, "a position being reduced is held");
    match i64::try_from(cost)
        .ok()
        .and_then(|cost| cost.checked_mul(closed))
    {
        Some(product) => i128::from(product / held),
        None => cost * i128::from(closed) / i128::from(held),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The closed lots' share of the cost is the 128-bit formula's, over
        // small costs (the 64-bit path) and ones that overflow it.
        #[test]
        fn cost_share_answers_as_the_wide_formula(
            cost in prop_oneof![-1_000_000_000i128..1_000_000_000, any::<i64>().prop_map(i128::from), (i128::from(i64::MIN) * 4)..(i128::from(i64::MAX) * 4)],
            // Below 2^60: the 128-bit product itself never overflows.
            closed in prop_oneof![0i64..1_000, 0i64..(1 << 60)],
            held in prop_oneof![1i64..1_000, 1i64..=i64::MAX],
        ) {
            prop_assert_eq!(
                cost_share(cost, closed, held),
                cost * i128::from(closed) / i128::from(held)
            );
        }
    }

    // Buying then selling at a higher price realizes the difference.
    #[test]
    fn round_trip_realizes_pnl() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, Price(100), Qty(10));
        assert_eq!(p.unrealized_tick_lots(Price(103)), 30);
        let realized = p.apply_fill(Side::Sell, Price(105), Qty(10));
        assert_eq!(realized, 50);
        assert_eq!(p.qty, Qty(0));
        assert_eq!(p.cost_tick_lots, 0);
    }

    // A sell larger than the long position flips to short at the fill price.
    #[test]
    fn flip_opens_at_fill_price() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, Price(100), Qty(5));
        let realized = p.apply_fill(Side::Sell, Price(90), Qty(8));
        assert_eq!(realized, -50);
        assert_eq!(p.qty, Qty(-3));
        assert_eq!(p.unrealized_tick_lots(Price(80)), 30);
    }

    // Average cost with uneven lots keeps realized + unrealized exact when flat.
    #[test]
    fn uneven_average_cost_is_exact_when_flat() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, Price(100), Qty(1));
        p.apply_fill(Side::Buy, Price(101), Qty(2));
        p.apply_fill(Side::Sell, Price(102), Qty(1));
        p.apply_fill(Side::Sell, Price(102), Qty(2));
        // Bought for 302, sold for 306.
        assert_eq!(p.realized_tick_lots, 4);
        assert_eq!(p.qty, Qty(0));
    }
}
