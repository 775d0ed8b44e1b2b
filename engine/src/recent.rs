//! A fixed-capacity memory of recently seen ids: an FxHashMap plus a ring
//! that evicts the oldest id once the capacity is reached. Both are sized at
//! construction, so inserting never allocates after start-up.

use rustc_hash::FxHashMap;

pub struct RecentMap<V: Copy> {
    values: FxHashMap<u64, V>,
    ring: Box<[u64]>,
    next_index: usize,
    len: usize,
}

impl<V: Copy> RecentMap<V> {
    pub fn with_capacity(capacity: usize) -> RecentMap<V> {
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
        if self.values.contains_key(&id) {
            return false;
        }
        if self.len == self.ring.len() {
            let evicted = self.ring[self.next_index];
            self.values.remove(&evicted);
        } else {
            self.len += 1;
        }
        self.ring[self.next_index] = id;
        self.next_index = (self.next_index + 1) % self.ring.len();
        self.values.insert(id, value);
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
}
