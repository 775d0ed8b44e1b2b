//! A fixed-capacity memory of recently seen ids: an FxHashMap plus a ring
//! that evicts the oldest id once the capacity is reached. Both are sized at
//! construction, so inserting never allocates after start-up.
//!
//! Its state (the ids, oldest first, with their values) is saved and
//! restored for restarts; restoring into a smaller memory keeps the newest.
//!
//! Both are written through at construction ([`RecentMap::with_capacity`];
//! `with_capacity_on_demand` for memories written rarely), so the memory
//! they reserve is resident from start-up: left to the kernel, the ring's pages would
//! become resident one by one as ids land in them, and the table's as
//! hashes hit them, which at a live order rate takes many minutes and reads
//! as a slow leak in a soak.

use crate::state_codec::{StateError, StateReader, StateWriter};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;

/// Most ids a saved memory may list (the config caps memories at 2^24).
const SAVED_IDS_MAX: usize = 1 << 24;

pub struct RecentMap<V: Copy> {
    values: FxHashMap<u64, V>,
    ring: Box<[u64]>,
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
            next_index: 0,
            len: 0,
        }
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<V> {
        self.values.get(&id).copied()
    }

    /// Remembers `id`; returns false (and keeps the old value) if it was already known.
    #[inline]
    pub fn insert(&mut self, id: u64, value: V) -> bool {
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
        self.next_index += 1;
        if self.next_index == self.ring.len() {
            self.next_index = 0;
        }
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
        if let Some(slot) = self.values.get_mut(&id) {
            *slot = value;
        } else {
            self.insert(id, value);
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
        let start = if self.len == self.ring.len() {
            self.next_index
        } else {
            0
        };
        (0..self.len).map(move |offset| {
            let id = self.ring[(start + offset) % self.ring.len()];
            let value = self.values.get(&id).copied();
            (id, value.expect("every id in the ring is remembered"))
        })
    }

    /// Forgets every id, keeping the memory's allocation.
    pub fn clear(&mut self) {
        self.values.clear();
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
}
