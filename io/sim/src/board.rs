//! A sequence-locked board: per slot, the latest `WORDS` integers one writer
//! thread published, read by other threads without locks. The simulator
//! uses it ([`TopBoard`]) to follow a market generated elsewhere: the
//! writer publishes each instrument's top of book, the venue's liquidity
//! provider quotes what it reads.
//!
//! One writer per board (each slot's version is bumped by it alone):
//! `publish` makes the version odd, stores the words, makes it even again.
//! A reader that sees an odd version, or a version that changed under its
//! reads, retries; it never returns words from two publications. Version 0
//! means "never published".
//!
//! A [`TopBoard`] may also wake its reader: the venue installs its
//! [`Doorbell`] and, per instrument, the prices its sessions' resting
//! orders would trade at ([`SeqlockBoard::watch_prices`]); a top whose bid
//! reaches the lowest resting sell, or whose ask reaches the highest
//! resting buy, rings it, once until the reader reads again. So a venue
//! with nothing to trade sleeps however fast the board moves, and one
//! with orders wakes only when the market reaches them. The writer pays
//! two loads and two compares per top (one more load while crossed).

use crate::flow::Top;
use crate::wait::Doorbell;
use std::sync::atomic::{fence, AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

struct Slot<const WORDS: usize> {
    version: AtomicU64,
    words: [AtomicI64; WORDS],
}

pub struct SeqlockBoard<const WORDS: usize> {
    slots: Vec<Slot<WORDS>>,
    /// Per slot, the highest resting buy and lowest resting sell the
    /// reader watches (`i64::MIN` / `i64::MAX`: none).
    watched: Vec<[AtomicI64; 2]>,
    /// The reader's doorbell, once it watches.
    bell: OnceLock<Arc<Doorbell>>,
    /// Rung since the reader last read (cleared by [`SeqlockBoard::take_ring`]).
    rung: AtomicBool,
}

/// Tops of book, one slot per instrument: bid price, bid quantity, ask
/// price, ask quantity.
pub type TopBoard = SeqlockBoard<4>;

impl<const WORDS: usize> SeqlockBoard<WORDS> {
    const NON_EMPTY: () = assert!(WORDS > 0, "a slot holds at least one word");

    pub fn new(slot_count: usize) -> SeqlockBoard<WORDS> {
        let () = Self::NON_EMPTY;
        SeqlockBoard {
            slots: (0..slot_count)
                .map(|_| Slot {
                    version: AtomicU64::new(0),
                    words: std::array::from_fn(|_| AtomicI64::new(0)),
                })
                .collect(),
            watched: (0..slot_count)
                .map(|_| [AtomicI64::new(i64::MIN), AtomicI64::new(i64::MAX)])
                .collect(),
            bell: OnceLock::new(),
            rung: AtomicBool::new(false),
        }
    }

    /// The reader's doorbell, rung by a top that reaches a watched price;
    /// false if another reader installed one first.
    pub fn install_bell(&self, bell: Arc<Doorbell>) -> bool {
        self.bell.set(bell).is_ok()
    }

    /// Whether the bell was rung since the last call (the reader, before it reads).
    pub fn take_ring(&self) -> bool {
        self.rung.swap(false, Ordering::AcqRel)
    }

    /// Whether the bell was rung and not yet taken.
    pub fn rung(&self) -> bool {
        self.rung.load(Ordering::Acquire)
    }

    /// Rings the reader's bell if `bid` reaches the slot's lowest watched
    /// sell or `ask` its highest watched buy, unless rung already.
    #[inline]
    fn ring_if_reached(&self, slot: usize, bid: i64, ask: i64) {
        let (Some(bell), Some([buy, sell])) = (self.bell.get(), self.watched.get(slot)) else {
            return;
        };
        let reached = bid >= sell.load(Ordering::Relaxed) || ask <= buy.load(Ordering::Relaxed);
        if reached && !self.rung.load(Ordering::Relaxed) && !self.rung.swap(true, Ordering::AcqRel)
        {
            bell.ring();
        }
    }

    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Publishes new words into `slot` (from the one writer thread); a slot
    /// out of range is ignored.
    pub fn publish(&self, slot: usize, words: [i64; WORDS]) {
        let Some(slot) = self.slots.get(slot) else {
            return;
        };
        let version = slot.version.load(Ordering::Relaxed);
        debug_assert!(version % 2 == 0, "one writer: no publication in progress");
        slot.version.store(version + 1, Ordering::Release);
        fence(Ordering::Release);
        for (word, value) in slot.words.iter().zip(words) {
            word.store(value, Ordering::Relaxed);
        }
        slot.version.store(version + 2, Ordering::Release);
    }

    /// The latest words of `slot` and their version, if published since
    /// `seen_version`.
    pub fn read_if_newer(&self, slot: usize, seen_version: u64) -> Option<(u64, [i64; WORDS])> {
        let slot = self.slots.get(slot)?;
        loop {
            let before = slot.version.load(Ordering::Acquire);
            if before == seen_version || before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let words: [i64; WORDS] =
                std::array::from_fn(|i| slot.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if slot.version.load(Ordering::Relaxed) == before {
                return Some((before, words));
            }
        }
    }
}

impl TopBoard {
    /// Publishes an instrument's top of book.
    pub fn publish_top(&self, instrument: usize, top: &Top) {
        self.publish(
            instrument,
            [top.bid_px, top.bid_qty, top.ask_px, top.ask_qty],
        );
        self.ring_if_reached(instrument, top.bid_px, top.ask_px);
    }

    /// The prices at which `instrument`'s resting orders would trade: the
    /// highest resting buy and the lowest resting sell (`None`: no order
    /// on that side).
    ///
    /// A top published between the reader's last read and this call saw
    /// the old prices and did not ring, so the board is checked once more
    /// after the prices are stored (behind a full fence): a top that
    /// already reaches them marks the ring taken by the next read. The
    /// writer does not fence (it runs on ingest's hot path), so a top whose
    /// store is still in flight during this check can be missed; the venue
    /// therefore still reads the board on a slow timer while orders rest
    /// (`venue::WATCH_FALLBACK_NS`).
    pub fn watch_prices(&self, instrument: usize, buy_max: Option<i64>, sell_min: Option<i64>) {
        let Some([buy, sell]) = self.watched.get(instrument) else {
            return;
        };
        let (buy_max, sell_min) = (buy_max.unwrap_or(i64::MIN), sell_min.unwrap_or(i64::MAX));
        buy.store(buy_max, Ordering::Relaxed);
        sell.store(sell_min, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if let Some((_, top)) = self.read_top_if_newer(instrument, 0) {
            if top.bid_px >= sell_min || top.ask_px <= buy_max {
                self.rung.store(true, Ordering::Release);
            }
        }
    }

    /// The instrument's latest top and its version, if published since `seen_version`.
    pub fn read_top_if_newer(&self, instrument: usize, seen_version: u64) -> Option<(u64, Top)> {
        self.read_if_newer(instrument, seen_version).map(
            |(version, [bid_px, bid_qty, ask_px, ask_qty])| {
                (
                    version,
                    Top {
                        bid_px,
                        bid_qty,
                        ask_px,
                        ask_qty,
                    },
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Nothing is read before a publication; each publication is read once, whole.
    #[test]
    fn reads_each_publication_once() {
        let board = TopBoard::new(2);
        assert_eq!(board.read_top_if_newer(0, 0), None);
        let top = Top {
            bid_px: 100,
            bid_qty: 3,
            ask_px: 102,
            ask_qty: 4,
        };
        board.publish_top(1, &top);
        assert_eq!(board.read_top_if_newer(0, 0), None, "another slot");
        let (version, read) = board.read_top_if_newer(1, 0).unwrap();
        assert_eq!(read, top);
        assert_eq!(board.read_top_if_newer(1, version), None, "already seen");
        board.publish_top(7, &top);
        assert_eq!(board.slot_count(), 2, "a slot out of range is ignored");
    }

    // With a bell installed, only a top that reaches a watched price rings,
    // once until the reader takes the ring.
    #[test]
    fn a_top_rings_only_when_it_reaches_a_resting_price() {
        let board = TopBoard::new(1);
        let bell = Arc::new(Doorbell::new().unwrap());
        assert!(board.install_bell(Arc::clone(&bell)));
        let top = |bid_px, ask_px| Top {
            bid_px,
            bid_qty: 1,
            ask_px,
            ask_qty: 1,
        };
        board.publish_top(0, &top(100, 101));
        assert!(!board.rung(), "nothing watched: no ring");
        board.watch_prices(0, Some(98), Some(104));
        board.publish_top(0, &top(102, 103));
        assert!(!board.rung(), "inside the resting prices");
        board.publish_top(0, &top(104, 105));
        assert!(board.rung(), "the bid reached the resting sell");
        assert!(board.take_ring());
        assert!(!board.take_ring(), "taken once");
        board.publish_top(0, &top(97, 98));
        assert!(board.take_ring(), "the ask reached the resting buy");
        board.watch_prices(0, None, None);
        board.publish_top(0, &top(1, 1_000));
        assert!(!board.rung(), "nothing resting: no ring");
    }

    // A top published before the prices were watched (it saw none and did
    // not ring) is found by the check the watch makes.
    #[test]
    fn watching_a_price_the_top_already_reaches_marks_the_ring() {
        let board = TopBoard::new(1);
        let bell = Arc::new(Doorbell::new().unwrap());
        assert!(board.install_bell(Arc::clone(&bell)));
        board.publish_top(
            0,
            &Top {
                bid_px: 104,
                bid_qty: 1,
                ask_px: 105,
                ask_qty: 1,
            },
        );
        assert!(!board.rung(), "nothing watched yet");
        board.watch_prices(0, Some(98), Some(104));
        assert!(
            board.take_ring(),
            "the bid already reaches the new resting sell"
        );
        board.watch_prices(0, Some(98), Some(110));
        assert!(!board.rung(), "the top does not reach these prices");
    }

    // A reader on another thread never sees words of two publications mixed.
    #[test]
    fn readers_never_see_a_torn_publication() {
        let board = std::sync::Arc::new(SeqlockBoard::<3>::new(1));
        let writer_board = std::sync::Arc::clone(&board);
        let writer = std::thread::spawn(move || {
            for n in 1..=20_000i64 {
                writer_board.publish(0, [n, n * 2, n * 3]);
            }
        });
        let mut seen = 0;
        let mut last = 0;
        while !writer.is_finished() || seen == 0 {
            if let Some((version, [a, b, c])) = board.read_if_newer(0, seen) {
                assert_eq!((b, c), (a * 2, a * 3), "words of one publication");
                assert!(a >= last, "publications are read in order");
                (seen, last) = (version, a);
            }
        }
        writer.join().unwrap();
    }
}
