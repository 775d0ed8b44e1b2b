//! The synthetic market-data source of the built-in default: a seeded random
//! walk of the mid of each instrument, published as top-of-book updates with
//! a trade print every `trade_every` updates. The same seed gives the same
//! prices; only the timestamps depend on the clock.

use crate::clock::EpochClock;
use crate::config::Config;
use crate::event::{Event, Input, TopOfBook, Trade};
use crate::ingest::source::Source;
use crate::units::{InstrumentId, Price, Qty, Side};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub struct Synthetic {
    rng: Xoshiro256PlusPlus,
    mids: Vec<i64>,
    anchors: Vec<i64>,
    interval_ns: u64,
    due_ns: u64,
    trade_every: u64,
    updates: u64,
}

impl Synthetic {
    pub fn new(config: &Config) -> Synthetic {
        let mids: Vec<i64> = config
            .instruments
            .iter()
            .map(|i| i.start_price_ticks)
            .collect();
        let rate = config.market_data.rate_per_sec;
        Synthetic {
            rng: Xoshiro256PlusPlus::seed_from_u64(config.market_data.seed),
            anchors: mids.clone(),
            mids,
            interval_ns: 1_000_000_000u64.checked_div(rate).map_or(0, |ns| ns.max(1)),
            due_ns: 0,
            trade_every: config.market_data.trade_every,
            updates: 0,
        }
    }

    /// The next update, unstamped (a load generator that stamps its own
    /// times calls this instead of `poll`, which reads the clock per event):
    /// one instrument's mid takes a step of -1, 0 or +1 tick, pulled gently
    /// back towards where it started.
    pub fn next_event(&mut self) -> Event {
        let draw = self.rng.next_u64();
        let index = (draw % self.mids.len() as u64) as usize;
        let mid = self.mids[index];
        let anchor = self.anchors[index];
        let drift = (anchor - mid).signum() * (draw >> 20).is_multiple_of(16) as i64;
        let step = ((draw >> 8) % 3) as i64 - 1 + drift;
        let mid = (mid + step).max(2);
        self.mids[index] = mid;
        let half_spread = 1 + ((draw >> 12) % 2) as i64;
        let instrument = InstrumentId(index as u16);
        self.updates += 1;
        if self.updates.is_multiple_of(self.trade_every) {
            let buy = (draw >> 16) & 1 == 1;
            let price = if buy {
                mid + half_spread
            } else {
                mid - half_spread
            };
            let side = if buy { Side::Buy } else { Side::Sell };
            return Event::new(
                instrument,
                side,
                Input::Trade(Trade {
                    price: Price(price),
                    qty: Qty(1 + ((draw >> 24) % 20) as i64),
                    trade_id: self.updates,
                }),
            );
        }
        Event::new(
            instrument,
            Side::None,
            Input::TopOfBook(TopOfBook {
                bid_px: Price(mid - half_spread),
                bid_qty: Qty(1 + ((draw >> 32) % 100) as i64),
                ask_px: Price(mid + half_spread),
                ask_qty: Qty(1 + ((draw >> 40) % 100) as i64),
            }),
        )
    }
}

impl Source for Synthetic {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let mut emitted = 0;
        let mut now_ns = clock.now_ns();
        if self.interval_ns > 0 {
            if self.due_ns == 0 || now_ns.saturating_sub(self.due_ns) > 1_000_000_000 {
                // First poll, or more than a second behind: restart the schedule instead of bursting.
                self.due_ns = now_ns;
            }
            while emitted < budget && self.due_ns <= now_ns {
                let mut event = self.next_event();
                event.ts_venue_ns = self.due_ns;
                event.ts_recv_ns = now_ns;
                emit(event);
                self.due_ns += self.interval_ns;
                emitted += 1;
                now_ns = clock.now_ns();
            }
            return emitted;
        }
        while emitted < budget {
            let mut event = self.next_event();
            event.ts_venue_ns = now_ns;
            event.ts_recv_ns = now_ns;
            emit(event);
            emitted += 1;
            now_ns = clock.now_ns();
        }
        emitted
    }
}
