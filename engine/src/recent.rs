//! A fixed-capacity memory of recently seen ids: a ring of the last
//! `capacity` ids, oldest evicted first, and their values. Everything is
//! sized at construction, so inserting never allocates after start-up.
//!
//! While the ids arrive rising (each greater than the one before, as a
//! venue numbers its executions), the ring read from its oldest is sorted:
//! a new id is known to be new by one compare with the newest, its value
//! sits beside it in the ring, and a look-up is a binary search. The first
//! id that does not rise moves the remembered ids into an FxHashMap, which
//! answers from then on (until the memory is cleared). Both forms remember
//! and forget the same ids; the rising form touches one ring slot per id
//! where the table touched a bucket at a random place for the new id and
//! another for the evicted one.
//!
//! Its state (the ids, oldest first, with their values) is saved and
//! restored for restarts; restoring into a smaller memory keeps the newest.
//!
//! Everything is written through at construction ([`RecentMap::with_capacity`];
//! `with_capacity_on_demand` for memories written rarely), so the memory
//! it reserves is resident from start-up: left to the kernel, the ring's pages would
//! become resident one by one as ids land in them, and the table's as
//! hashes hit them, which at a live order rate takes many minutes and reads
//! as a slow leak in a soak.

use crate::state_codec::{StateError, StateReader, StateWriter};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;

/// Most ids a saved memory may list (the config caps memories at 2^24).
const SAVED_IDS_MAX: usize = 1 << 24;

pub struct RecentMap<V: Copy> {
    /// The remembered ids and their values once the ids stopped rising;
    /// empty while they rise.
    values: FxHashMap<u64, V>,
    ring: Box<[u64]>,
    /// While the ids rise: the value of `ring[index]` at `index` (filled
    /// as the ring is, then overwritten in place; room reserved for the
    /// whole ring).
    rising_values: Vec<V>,
    /// Every id remembered since the memory was last empty was greater
    /// than the one before it: the ring, from its oldest, is sorted and
    /// `rising_values` holds the values.
    rising: bool,
    next_index: usize,
    len: usize,
}

impl<V: Copy + Default> RecentMap<V> {
    /// An empty memory of `capacity` ids, its table and ring resident.
    pub fn with_capacity(capacity: usize) -> RecentMap<V> {
        let mut memory = RecentMap::with_capacity_on_demand(capacity);
        // Fill the table once and empty it (the allocation stays): the
        // multiplicative hash spreads consecutive keys over every bucket
        // page. Slots of the ring past `len` are never read, so any value
        // will do; a non-zero one is written, not left to a zeroed page.
        let keys = 0..capacity as u64;
        memory.values.extend(keys.map(|key| (key, V::default())));
        memory.values.clear();
        memory.ring.fill(u64::MAX);
        memory.rising_values.resize(capacity, V::default());
        memory
    }
}

impl<V: Copy> RecentMap<V> {
    /// An empty memory of `capacity` ids whose pages become resident as ids
    /// arrive: for a memory written rarely (status answers), where making
    /// it all resident up front would cost more than it settles.
    pub fn with_capacity_on_demand(capacity: usize) -> RecentMap<V> {
        assert!(capacity > 0, "capacity is positive");
        let mut values = FxHashMap::default();
        values.reserve(capacity + 1);
        RecentMap {
            values,
            ring: vec![0; capacity].into_boxed_slice(),
            rising_values: Vec::with_capacity(capacity),
            rising: true,
            next_index: 0,
            len: 0,
        }
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<V> {
        if self.rising {
            return self.rising_index(id).map(|index| self.rising_values[index]);
        }
        self.values.get(&id).copied()
    }

    /// Remembers `id`; returns false (and keeps the old value) if it was already known.
    #[inline]
    pub fn insert(&mut self, id: u64, value: V) -> bool {
        if self.rising {
            if self.newest().is_none_or(|newest| id > newest) {
                self.push_rising(id, value);
                return true;
            }
            if self.rising_index(id).is_some() {
                return false;
            }
            self.stop_rising();
        }
        // One probe for the check and the insert: the table has room for
        // one id more than the ring (reserved at construction), so the new
        // id goes in before the oldest leaves.
        match self.values.entry(id) {
            Entry::Occupied(_) => return false,
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
        if self.len == self.ring.len() {
            let evicted = self.ring[self.next_index];
            debug_assert_ne!(evicted, id, "a remembered id is not new");
            self.values.remove(&evicted);
        } else {
            self.len += 1;
        }
        self.ring[self.next_index] = id;
        self.advance();
        debug_assert_eq!(
            self.values.len(),
            self.len,
            "every remembered id is in the ring once"
        );
        debug_assert!(self.len <= self.ring.len(), "the memory is bounded");
        true
    }

    /// Sets `id`'s value, remembering it as a new id if it was not known.
    #[inline]
    pub fn set(&mut self, id: u64, value: V) {
        if self.rising {
            if let Some(index) = self.rising_index(id) {
                self.rising_values[index] = value;
                return;
            }
        } else if let Some(slot) = self.values.get_mut(&id) {
            *slot = value;
            return;
        }
        self.insert(id, value);
    }

    /// The newest id remembered, if any.
    #[inline]
    fn newest(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let index = self
            .next_index
            .checked_sub(1)
            .unwrap_or(self.ring.len() - 1);
        Some(self.ring[index])
    }

    /// Remembers `id`, greater than every id remembered, while they rise.
    #[inline]
    fn push_rising(&mut self, id: u64, value: V) {
        debug_assert!(self.rising && self.values.is_empty(), "the ring alone");
        let index = self.next_index;
        self.ring[index] = id;
        if index < self.rising_values.len() {
            self.rising_values[index] = value;
        } else {
            debug_assert_eq!(index, self.rising_values.len(), "filled in order");
            debug_assert!(index < self.rising_values.capacity(), "room reserved");
            self.rising_values.push(value);
        }
        if self.len < self.ring.len() {
            self.len += 1;
        }
        self.advance();
    }

    #[inline]
    fn advance(&mut self) {
        self.next_index += 1;
        if self.next_index == self.ring.len() {
            self.next_index = 0;
        }
    }

    /// Where `id` is in the ring while the ids rise: a binary search of
    /// the two sorted runs, the oldest ids from `next_index` to the end
    /// (once the ring is full) and the newer from the start.
    fn rising_index(&self, id: u64) -> Option<usize> {
        debug_assert!(self.rising, "the ring is sorted");
        let (older, newer) = if self.len == self.ring.len() {
            (&self.ring[self.next_index..], &self.ring[..self.next_index])
        } else {
            (&self.ring[..0], &self.ring[..self.len])
        };
        let older_start = self.ring.len() - older.len();
        match older.binary_search(&id) {
            Ok(index) => Some(older_start + index),
            Err(_) => newer.binary_search(&id).ok(),
        }
    }

    /// An id came that does not rise: the remembered ids and their values
    /// move into the table, which answers from now on.
    #[cold]
    fn stop_rising(&mut self) {
        debug_assert!(
            self.values.is_empty(),
            "the table is unused while the ids rise"
        );
        let start = self.oldest_index();
        for offset in 0..self.len {
            let index = (start + offset) % self.ring.len();
            self.values
                .insert(self.ring[index], self.rising_values[index]);
        }
        self.rising = false;
    }

    /// The ring slot of the oldest id remembered.
    fn oldest_index(&self) -> usize {
        if self.len == self.ring.len() {
            self.next_index
        } else {
            0
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// Every remembered id with its value, from the oldest to the newest.
    pub fn iter_oldest_first(&self) -> impl Iterator<Item = (u64, V)> + '_ {
        let start = self.oldest_index();
        (0..self.len).map(move |offset| {
            let index = (start + offset) % self.ring.len();
            let id = self.ring[index];
            let value = if self.rising {
                self.rising_values.get(index).copied()
            } else {
                self.values.get(&id).copied()
            };
            (id, value.expect("every id in the ring is remembered"))
        })
    }

    /// Forgets every id, keeping the memory's allocation.
    pub fn clear(&mut self) {
        self.values.clear();
        self.rising = true;
        self.next_index = 0;
        self.len = 0;
    }

    /// Writes the ids oldest first, each followed by what `value` writes.
    pub fn save_state(&self, out: &mut StateWriter, value: impl Fn(&mut StateWriter, V)) {
        out.count(self.len);
        for (id, v) in self.iter_oldest_first() {
            out.u64(id);
            value(out, v);
        }
    }

    /// Reads back what `save_state` wrote, replacing what is remembered.
    /// A memory smaller than the saved one keeps the newest ids.
    pub fn restore_state(
        &mut self,
        input: &mut StateReader<'_>,
        what: &'static str,
        mut value: impl FnMut(&mut StateReader<'_>) -> Result<V, StateError>,
    ) -> Result<(), StateError> {
        self.clear();
        let count = input.count(what, SAVED_IDS_MAX)?;
        let skipped = count.saturating_sub(self.ring.len());
        for index in 0..count {
            let id = input.u64(what)?;
            let v = value(input)?;
            if index >= skipped && !self.insert(id, v) {
                return Err(StateError::Inconsistent {
                    what,
                    detail: "an id is listed twice",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A repeated id is refused; once evicted by newer ids it is accepted again.
    #[test]
    fn remembers_the_last_capacity_ids() {
        let mut m = RecentMap::with_capacity(2);
        assert!(m.insert(1, ()));
        assert!(!m.insert(1, ()));
        assert!(m.insert(2, ()));
        assert!(m.insert(3, ()));
        assert_eq!(m.get(1), None);
        assert!(m.insert(1, ()));
        assert_eq!(m.len(), 2);
    }

    // Setting a known id updates it in place; an unknown one is remembered.
    #[test]
    fn set_updates_or_remembers() {
        let mut m = RecentMap::with_capacity(2);
        m.set(1, 10);
        m.set(1, 11);
        assert_eq!(m.get(1), Some(11));
        assert_eq!(m.len(), 1);
        m.set(2, 20);
        m.set(3, 30);
        assert_eq!(m.get(1), None, "the oldest id is evicted");
        assert_eq!(m.get(3), Some(30));
    }

    // Saved and restored, the memory lists the same ids in the same order and
    // evicts the same one next; a smaller memory keeps the newest.
    #[test]
    fn save_restore_keeps_order_and_eviction() {
        let mut m = RecentMap::with_capacity(3);
        for id in [5, 6, 7, 8] {
            m.insert(id, id * 10);
        }
        let mut out = StateWriter::new();
        m.save_state(&mut out, |w, v| w.u64(v));
        let bytes = out.into_bytes();
        let mut back = RecentMap::with_capacity(3);
        back.restore_state(&mut StateReader::new(&bytes), "ids", |r| r.u64("value"))
            .unwrap();
        assert_eq!(
            back.iter_oldest_first().collect::<Vec<_>>(),
            vec![(6, 60), (7, 70), (8, 80)]
        );
        let mut again = StateWriter::new();
        back.save_state(&mut again, |w, v| w.u64(v));
        assert_eq!(
            again.into_bytes(),
            bytes,
            "save → restore → save is identical"
        );
        back.insert(9, 90);
        assert_eq!(back.get(6), None, "the oldest is evicted first");
        let mut small = RecentMap::with_capacity(2);
        small
            .restore_state(&mut StateReader::new(&bytes), "ids", |r| r.u64("value"))
            .unwrap();
        assert_eq!(
            small.iter_oldest_first().collect::<Vec<_>>(),
            vec![(7, 70), (8, 80)]
        );
    }

    /// The memory as a plain list: the last `capacity` ids remembered,
    /// oldest first, with their values.
    struct Model {
        capacity: usize,
        ids: std::collections::VecDeque<(u64, u32)>,
    }

    impl Model {
        fn get(&self, id: u64) -> Option<u32> {
            self.ids.iter().find(|(i, _)| *i == id).map(|(_, v)| *v)
        }

        fn insert(&mut self, id: u64, value: u32) -> bool {
            if self.get(id).is_some() {
                return false;
            }
            if self.ids.len() == self.capacity {
                self.ids.pop_front();
            }
            self.ids.push_back((id, value));
            true
        }

        fn set(&mut self, id: u64, value: u32) {
            match self.ids.iter_mut().find(|(i, _)| *i == id) {
                Some(slot) => slot.1 = value,
                None => {
                    self.insert(id, value);
                }
            }
        }
    }

    // Ids that mostly rise (as a venue numbers its executions), now and
    // then an old or repeated one, a clear or a save and restore: the
    // memory answers every insert, get and set as the plain list does and
    // lists the same ids, oldest first, after every step, whether it is
    // still in its rising form or has moved to the table.
    proptest::proptest! {
        #[test]
        fn remembers_what_a_plain_list_does(
            capacity in 1usize..9,
            on_demand in proptest::bool::ANY,
            steps in proptest::collection::vec((0u8..20, 0u64..40, 1u64..4, proptest::num::u32::ANY), 1..200),
        ) {
            let mut memory: RecentMap<u32> = if on_demand {
                RecentMap::with_capacity_on_demand(capacity)
            } else {
                RecentMap::with_capacity(capacity)
            };
            let mut model = Model { capacity, ids: Default::default() };
            let mut last = 0u64;
            for (kind, old_id, delta, value) in steps {
                match kind {
                    0..=12 => {
                        last += delta;
                        proptest::prop_assert_eq!(memory.insert(last, value), model.insert(last, value));
                    }
                    13..=14 => {
                        proptest::prop_assert_eq!(memory.insert(old_id, value), model.insert(old_id, value));
                    }
                    15..=16 => {
                        let id = if kind == 15 { old_id } else { last };
                        memory.set(id, value);
                        model.set(id, value);
                    }
                    17 => {
                        let mut out = StateWriter::new();
                        memory.save_state(&mut out, |w, v| w.u64(u64::from(v)));
                        let bytes = out.into_bytes();
                        memory = RecentMap::with_capacity(capacity);
                        memory
                            .restore_state(&mut StateReader::new(&bytes), "ids", |r| {
                                r.u64("value").map(|v| v as u32)
                            })
                            .unwrap();
                    }
                    18 => {
                        memory.clear();
                        model.ids.clear();
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(memory.len(), model.ids.len());
                proptest::prop_assert_eq!(
                    memory.iter_oldest_first().collect::<Vec<_>>(),
                    model.ids.iter().copied().collect::<Vec<_>>()
                );
                for id in [old_id, last, last + 1] {
                    proptest::prop_assert_eq!(memory.get(id), model.get(id), "id {}", id);
                }
            }
        }
    }

    // Rising ids stay in the ring alone; the first one that does not rise
    // moves the memory to its table, and a clear brings the rising form back.
    #[test]
    fn rising_ids_keep_the_ring_form_until_one_does_not_rise() {
        let mut m = RecentMap::with_capacity(3);
        for id in 10..20 {
            assert!(m.insert(id, ()));
        }
        assert!(m.rising && m.values.is_empty());
        assert!(!m.insert(18, ()), "a remembered id, found by the search");
        assert!(m.rising);
        assert!(m.insert(12, ()), "an evicted id is new again");
        assert!(!m.rising && m.values.len() == 3);
        assert_eq!(
            m.iter_oldest_first().map(|(id, _)| id).collect::<Vec<_>>(),
            [18, 19, 12]
        );
        m.clear();
        assert!(m.rising && m.insert(1, ()));
    }
}
