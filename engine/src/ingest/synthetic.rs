//! The synthetic market-data source of the built-in default: a seeded random
//! walk of the mid of each instrument, published as top-of-book updates with
//! a trade print every `trade_every` updates. The same seed gives the same
//! prices; only the timestamps depend on the clock.
//!
//! Owned by ingest's thread. The walk takes no division by a runtime value
//! on the common path (an instrument count that is a power of two picks by
//! mask; the trade print comes from a countdown), which gives the same
//! draws as `% len` and `% trade_every` would.

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
    /// `mids.len() - 1` when the count is a power of two.
    index_mask: Option<u64>,
    interval_ns: u64,
    due_ns: u64,
    trade_every: u64,
    /// Updates since the last trade print (a trade when it reaches `trade_every`).
    since_trade: u64,
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
            index_mask: mids.len().is_power_of_two().then(|| mids.len() as u64 - 1),
            mids,
            interval_ns: 1_000_000_000u64.checked_div(rate).map_or(0, |ns| ns.max(1)),
            due_ns: 0,
            trade_every: config.market_data.trade_every,
            since_trade: 0,
            updates: 0,
        }
    }

    /// The instrument a draw picks: `draw % count`.
    #[inline]
    fn pick(&self, draw: u64) -> usize {
        let index = match self.index_mask {
            Some(mask) => draw & mask,
            None => draw % self.mids.len() as u64,
        };
        index as usize
    }

    /// The next update, unstamped (a load generator that stamps its own
    /// times calls this instead of `poll`, which reads the clock per event):
    /// [`Synthetic::fill_next`] into a new event.
    pub fn next_event(&mut self) -> Event {
        let mut event = Event::EMPTY;
        self.fill_next(&mut event);
        event
    }

    /// The next update written over `event`, every field of it, unstamped
    /// (both timestamps zero): one instrument's mid takes a step of -1, 0
    /// or +1 tick, pulled gently back towards where it started.
    ///
    /// A source that lends one slot down to a fused sink (which may leave
    /// its decisions in it) writes each event here, where it is consumed:
    /// built on this frame's stack and copied out instead, the copy's
    /// 16-byte loads wait for the narrower stores that built it.
    #[inline(always)]
    pub fn fill_next(&mut self, event: &mut Event) {
        let draw = self.rng.next_u64();
        let index = self.pick(draw);
        let (Some(&mid), Some(&anchor)) = (self.mids.get(index), self.anchors.get(index)) else {
            unreachable!("pick returns an index below the instrument count");
        };
        let drift = (anchor - mid).signum() * (draw >> 20).is_multiple_of(16) as i64;
        let step = ((draw >> 8) % 3) as i64 - 1 + drift;
        let mid = (mid + step).max(2);
        self.mids[index] = mid;
        let half_spread = 1 + ((draw >> 12) % 2) as i64;
        let instrument = InstrumentId(index as u16);
        self.updates += 1;
        self.since_trade += 1;
        // `updates % trade_every == 0`, counted down (0 never trades).
        if self.since_trade == self.trade_every {
            self.since_trade = 0;
            let buy = (draw >> 16) & 1 == 1;
            let price = if buy {
                mid + half_spread
            } else {
                mid - half_spread
            };
            let side = if buy { Side::Buy } else { Side::Sell };
            *event = Event::new(
                instrument,
                side,
                Input::Trade(Trade {
                    price: Price(price),
                    qty: Qty(1 + ((draw >> 24) % 20) as i64),
                    trade_id: self.updates,
                }),
            );
            return;
        }
        *event = Event::new(
            instrument,
            Side::None,
            Input::TopOfBook(TopOfBook {
                bid_px: Price(mid - half_spread),
                bid_qty: Qty(1 + ((draw >> 32) % 100) as i64),
                ask_px: Price(mid + half_spread),
                ask_qty: Qty(1 + ((draw >> 40) % 100) as i64),
            }),
        );
    }

    /// Up to `budget` updates due by the clock, each written into one slot
    /// on this frame and lent to `emit`, stamped with its due time
    /// (`ts_venue_ns`) and the clock's read (`ts_recv_ns`); unpaced, both
    /// are the read. Both `Source` polls take this path.
    #[inline(always)]
    fn release(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        mut emit: impl FnMut(&mut Event),
    ) -> usize {
        let mut event = Event::EMPTY;
        let mut emitted = 0;
        let mut now_ns = clock.now_ns();
        if self.interval_ns > 0 {
            if self.due_ns == 0 || now_ns.saturating_sub(self.due_ns) > 1_000_000_000 {
                // First poll, or more than a second behind: restart the schedule instead of bursting.
                self.due_ns = now_ns;
            }
            while emitted < budget && self.due_ns <= now_ns {
                self.fill_next(&mut event);
                event.ts_venue_ns = self.due_ns;
                event.ts_recv_ns = now_ns;
                emit(&mut event);
                self.due_ns += self.interval_ns;
                emitted += 1;
                now_ns = clock.now_ns();
            }
            return emitted;
        }
        while emitted < budget {
            self.fill_next(&mut event);
            event.ts_venue_ns = now_ns;
            event.ts_recv_ns = now_ns;
            emit(&mut event);
            emitted += 1;
            now_ns = clock.now_ns();
        }
        emitted
    }
}

impl Source for Synthetic {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        self.release(clock, budget, |event| emit(*event))
    }

    /// The path ingest takes: the event is written once, into the slot
    /// ingest and a fused sink then work on.
    fn poll_in_place(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        self.release(clock, budget, emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::testing::scribble_every_field;

    /// The walk as first written: `% len` and `% trade_every` per draw.
    fn reference(config: &Config, count: usize) -> Vec<(usize, bool, i64)> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.market_data.seed);
        let mut mids: Vec<i64> = config
            .instruments
            .iter()
            .map(|i| i.start_price_ticks)
            .collect();
        let anchors = mids.clone();
        (1..=count as u64)
            .map(|updates| {
                let draw = rng.next_u64();
                let index = (draw % mids.len() as u64) as usize;
                let drift = (anchors[index] - mids[index]).signum()
                    * (draw >> 20).is_multiple_of(16) as i64;
                mids[index] = (mids[index] + ((draw >> 8) % 3) as i64 - 1 + drift).max(2);
                let trade = updates.is_multiple_of(config.market_data.trade_every);
                (index, trade, mids[index])
            })
            .collect()
    }

    /// `event` without its stamps, which are the clock's.
    fn unstamped(event: &Event) -> Event {
        Event {
            ts_recv_ns: 0,
            ts_venue_ns: 0,
            ..*event
        }
    }

    // `poll_in_place` lends the events `poll` gives by value: the same
    // walk, field by field but for the clock's stamps, trade prints
    // included, though the sink scribbles on every event it is lent;
    // unpaced both stamps are the poll's read, paced the venue stamp is
    // the due time, one interval after the last, never after the read.
    #[test]
    fn poll_in_place_lends_the_events_poll_gives() {
        let clock = EpochClock::new();
        for rate_per_sec in [0, 1_000_000_000] {
            let mut config = Config::builtin();
            config.market_data.rate_per_sec = rate_per_sec;
            let (mut in_place, mut by_value) = (Synthetic::new(&config), Synthetic::new(&config));
            let (mut lent, mut given) = (Vec::new(), Vec::new());
            while lent.len() < 2_000 {
                in_place.poll_in_place(&clock, 64, &mut |event| {
                    lent.push(*event);
                    scribble_every_field(event);
                });
            }
            while given.len() < lent.len() {
                by_value.poll(&clock, 64, &mut |event| given.push(event));
            }
            let trades = lent.iter().filter(|e| e.kind == EventKind::Trade).count();
            assert!(
                trades >= 2_000 / 8,
                "{rate_per_sec}/s: {trades} trade prints"
            );
            for (index, (lent, given)) in lent.iter().zip(&given).enumerate() {
                assert_eq!(
                    unstamped(lent),
                    unstamped(given),
                    "{rate_per_sec}/s, event {index}"
                );
                assert!(lent.ts_venue_ns <= lent.ts_recv_ns, "event {index}");
                if rate_per_sec == 0 {
                    assert_eq!(lent.ts_venue_ns, lent.ts_recv_ns, "event {index}");
                }
            }
            if rate_per_sec > 0 {
                // Within a poll (up to the last second's restart) the
                // venue stamps are consecutive due times, 1 ns apart.
                let steps = lent
                    .windows(2)
                    .filter(|w| w[1].ts_venue_ns == w[0].ts_venue_ns + 1);
                assert!(
                    steps.count() >= lent.len() / 2,
                    "paced stamps step by the interval"
                );
            }
        }
    }

    // The mask and the countdown draw the same walk as the divisions, for
    // a power-of-two instrument count and for another.
    #[test]
    fn same_walk_as_the_division_formula() {
        for (instruments, trade_every) in [(4, 8), (3, 5), (1, 1)] {
            let mut config = Config::builtin();
            config.instruments.truncate(instruments);
            config.market_data.trade_every = trade_every;
            let mut walk = Synthetic::new(&config);
            for (index, trade, mid) in reference(&config, 5_000) {
                let event = walk.next_event();
                assert_eq!(event.instrument.index(), index);
                assert_eq!(event.kind == crate::event::EventKind::Trade, trade);
                assert_eq!(walk.mids[index], mid);
            }
        }
    }
}
