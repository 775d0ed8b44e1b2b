//! The latest top of book per instrument, shared from ingest's thread to the
//! simulated venue's thread when the engine generates the market itself
//! (`market_data.source = "synthetic"`): the venue's liquidity provider
//! quotes what ingest sees. One writer; readers retry while a write is in
//! progress (a sequence lock over atomics).

use crate::event::TopOfBook;
use crate::units::{Price, Qty};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

struct Slot {
    version: AtomicU64,
    words: [AtomicI64; 4],
}

pub struct MarketView {
    slots: Vec<Slot>,
}

impl MarketView {
    pub fn new(instrument_count: usize) -> MarketView {
        MarketView {
            slots: (0..instrument_count)
                .map(|_| Slot {
                    version: AtomicU64::new(0),
                    words: std::array::from_fn(|_| AtomicI64::new(0)),
                })
                .collect(),
        }
    }

    /// Publishes a new top of book (from the one writer thread).
    pub fn publish(&self, instrument: usize, top: &TopOfBook) {
        let Some(slot) = self.slots.get(instrument) else {
            return;
        };
        let version = slot.version.load(Ordering::Relaxed);
        slot.version.store(version + 1, Ordering::Release);
        std::sync::atomic::fence(Ordering::Release);
        for (word, value) in
            slot.words
                .iter()
                .zip([top.bid_px.0, top.bid_qty.0, top.ask_px.0, top.ask_qty.0])
        {
            word.store(value, Ordering::Relaxed);
        }
        slot.version.store(version + 2, Ordering::Release);
    }

    /// The latest top of book and its version, if one was published since `seen_version`.
    pub fn read_if_newer(&self, instrument: usize, seen_version: u64) -> Option<(u64, TopOfBook)> {
        let slot = self.slots.get(instrument)?;
        loop {
            let before = slot.version.load(Ordering::Acquire);
            if before == seen_version || before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let words: [i64; 4] = std::array::from_fn(|i| slot.words[i].load(Ordering::Relaxed));
            std::sync::atomic::fence(Ordering::Acquire);
            if slot.version.load(Ordering::Relaxed) == before {
                let top = TopOfBook {
                    bid_px: Price(words[0]),
                    bid_qty: Qty(words[1]),
                    ask_px: Price(words[2]),
                    ask_qty: Qty(words[3]),
                };
                return Some((before, top));
            }
        }
    }

    pub fn instrument_count(&self) -> usize {
        self.slots.len()
    }
}
