//! The bundled market maker: one bid and one ask per instrument around the
//! mid, skewed against inventory.
//!
//! fair = mid − inventory × skew; bid = fair − half spread; ask = fair + half spread.
//! A quote is placed when missing, replaced when its target moved by the
//! requote threshold, and withdrawn on the side that would push inventory
//! past its maximum. Orders still pending at the venue are left alone.
//! Its state, carried across restarts, is the order id of each quote.

use crate::config::MarketMakerConfig;
use crate::decision::GateMode;
use crate::event::{Event, Input};
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::strategy::{Actions, Bundled, Strategy};
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Quotes {
    bid: Option<OrderId>,
    ask: Option<OrderId>,
}

pub struct MarketMaker {
    params: MarketMakerConfig,
    quotes: Vec<Quotes>,
}

impl MarketMaker {
    pub fn new(params: MarketMakerConfig, instrument_count: usize) -> MarketMaker {
        MarketMaker {
            params,
            quotes: vec![Quotes::default(); instrument_count],
        }
    }

    /// Target bid and ask for `mid` at inventory `position`.
    fn targets(&self, mid: i64, position: i64) -> (i64, i64) {
        let skew = position * self.params.skew_centiticks_per_lot / 100;
        let fair = mid - skew;
        let bid = fair - self.params.half_spread_ticks;
        let ask = (fair + self.params.half_spread_ticks).max(bid + 1);
        (bid, ask)
    }

    /// Places, moves or withdraws one side's quote.
    fn quote_side(
        &self,
        slot: &mut Option<OrderId>,
        instrument: InstrumentId,
        side: Side,
        target: Option<i64>,
        act: &mut Actions,
    ) {
        let live = slot.and_then(|id| act.order(id).copied());
        if live.is_none() {
            *slot = None;
        }
        // Pace ourselves rather than collect throttle rejects; cancels always
        // go. The throttle is asked only when an order would go out.
        match (live, target) {
            (None, Some(price)) if price > 0 && act.throttle_allows() => {
                let position = act.position(instrument).0;
                let reduce_only = act.gate(instrument).mode() == GateMode::ReduceOnly;
                let qty = if reduce_only {
                    Qty(self.params.quote_qty.min(position.abs()))
                } else {
                    Qty(self.params.quote_qty)
                };
                *slot = act.new_order(instrument, side, Price(price), qty).ok();
            }
            (Some(order), None) if order.state.is_working() => {
                let _ = act.cancel(order.id);
            }
            (Some(order), Some(price))
                if order.state.is_working()
                    && price > 0
                    && (order.price.0 - price).abs()
                        >= self.params.requote_threshold_ticks.max(1)
                    && act.throttle_allows() =>
            {
                let _ = act.replace(order.id, Price(price), order.qty);
            }
            _ => {}
        }
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &'static str {
        "market-maker"
    }

    fn take_bundled(&mut self) -> Option<Bundled> {
        let empty = MarketMaker {
            params: self.params.clone(),
            quotes: Vec::new(),
        };
        Some(Bundled::MarketMaker(std::mem::replace(self, empty)))
    }

    fn on_market_data(&mut self, event: &Event, act: &mut Actions) {
        let Input::TopOfBook(_) = event.input() else {
            return;
        };
        let instrument = event.instrument;
        let Some(mut quotes) = self.quotes.get(instrument.index()).copied() else {
            return;
        };
        let mode = act.gate(instrument).mode();
        if mode >= GateMode::Halt || act.is_stale(instrument) {
            return;
        }
        let Some(mid) = act.mid(instrument) else {
            return;
        };
        let position = act.position(instrument).0;
        let (bid, ask) = self.targets(mid.0, position);
        // Reduce-only (stop-loss, daily loss, kill switch): quote only the side that flattens.
        let reduce_only = mode == GateMode::ReduceOnly;
        let bid = (position < self.params.max_inventory_lots && (!reduce_only || position < 0))
            .then_some(bid);
        let ask = (position > -self.params.max_inventory_lots && (!reduce_only || position > 0))
            .then_some(ask);
        self.quote_side(&mut quotes.bid, instrument, Side::Buy, bid, act);
        self.quote_side(&mut quotes.ask, instrument, Side::Sell, ask, act);
        self.quotes[instrument.index()] = quotes;
    }

    fn save_state(&self, out: &mut StateWriter) {
        out.count(self.quotes.len());
        for quotes in &self.quotes {
            out.option_u64(quotes.bid.map(|id| id.0));
            out.option_u64(quotes.ask.map(|id| id.0));
        }
    }

    fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        input.count_exact("instruments", self.quotes.len())?;
        for quotes in &mut self.quotes {
            quotes.bid = input.option_u64("market_maker.bid")?.map(OrderId);
            quotes.ask = input.option_u64("market_maker.ask")?.map(OrderId);
        }
        Ok(())
    }

    fn replica(&self) -> Option<Box<dyn Strategy>> {
        Some(Box::new(MarketMaker::new(
            self.params.clone(),
            self.quotes.len(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A long inventory lowers both quotes; a short one raises them.
    #[test]
    fn inventory_skews_quotes() {
        let mm = MarketMaker::new(
            MarketMakerConfig {
                half_spread_ticks: 2,
                skew_centiticks_per_lot: 50,
                ..MarketMakerConfig::default()
            },
            1,
        );
        assert_eq!(mm.targets(1_000, 0), (998, 1_002));
        assert_eq!(mm.targets(1_000, 10), (993, 997));
        assert_eq!(mm.targets(1_000, -10), (1_003, 1_007));
    }
}
