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

use crate::flow::Top;
use std::sync::atomic::{fence, AtomicI64, AtomicU64, Ordering};

struct Slot<const WORDS: usize> {
    version: AtomicU64,
    words: [AtomicI64; WORDS],
}

pub struct SeqlockBoard<const WORDS: usize> {
    slots: Vec<Slot<WORDS>>,
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
