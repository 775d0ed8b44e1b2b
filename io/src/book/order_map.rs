//! A fixed-capacity open-addressing hash map from order id (`u64`) to a slot
//! index (`u32`) in the L3 book's order pool.
//!
//! Owning thread: the book's owner. Invariants: the table length is a power
//! of two and at least twice the maximum number of entries, so probes stay
//! short and an empty slot always exists; deletion uses backward shifting,
//! so there are no tombstones and lookups stay correct after any sequence of
//! inserts and removes. The table never reallocates.

/// Marks an empty table slot.
const EMPTY: u32 = u32::MAX;

/// Order id → pool slot, preallocated.
#[derive(Clone, Debug)]
pub struct OrderMap {
    keys: Vec<u64>,
    slots: Vec<u32>,
    mask: usize,
    shift: u32,
    len: usize,
    len_max: usize,
}

impl OrderMap {
    /// A map that can hold `len_max` entries without allocating.
    pub fn with_capacity(len_max: usize) -> OrderMap {
        assert!(
            len_max > 0 && len_max < (EMPTY as usize),
            "order map capacity out of range"
        );
        let table_len = (len_max * 2).next_power_of_two().max(8);
        OrderMap {
            keys: vec![0; table_len],
            slots: vec![EMPTY; table_len],
            mask: table_len - 1,
            shift: 64 - table_len.trailing_zeros(),
            len: 0,
            len_max,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Remove every entry.
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
        self.len = 0;
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        // Fibonacci hashing: the top bits of a multiplicative hash.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The table index holding `key`, if present.
    #[inline]
    fn find_index(&self, key: u64) -> Option<usize> {
        let mut index = self.home(key);
        loop {
            let slot = self.slots[index];
            if slot == EMPTY {
                return None;
            }
            if self.keys[index] == key {
                return Some(index);
            }
            index = (index + 1) & self.mask;
        }
    }

    /// The pool slot of `key`, if present.
    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        self.find_index(key).map(|index| self.slots[index])
    }

    /// Insert `key → slot`. Returns `false` (and changes nothing) when the key
    /// is already present or the map is full.
    #[inline]
    pub fn insert(&mut self, key: u64, slot: u32) -> bool {
        debug_assert!(slot != EMPTY, "slot value is reserved");
        if self.len == self.len_max {
            return false;
        }
        let mut index = self.home(key);
        loop {
            if self.slots[index] == EMPTY {
                self.keys[index] = key;
                self.slots[index] = slot;
                self.len += 1;
                return true;
            }
            if self.keys[index] == key {
                return false;
            }
            index = (index + 1) & self.mask;
        }
    }

    /// Remove `key`, returning its slot.
    #[inline]
    pub fn remove(&mut self, key: u64) -> Option<u32> {
        let mut hole = self.find_index(key)?;
        let removed = self.slots[hole];
        self.len -= 1;
        // Backward-shift: move later entries of the probe run into the hole
        // when the hole lies between their home and their current index.
        let mut index = (hole + 1) & self.mask;
        while self.slots[index] != EMPTY {
            let home = self.home(self.keys[index]);
            let distance_current = index.wrapping_sub(home) & self.mask;
            let distance_hole = hole.wrapping_sub(home) & self.mask;
            if distance_hole < distance_current {
                self.keys[hole] = self.keys[index];
                self.slots[hole] = self.slots[index];
                hole = index;
            }
            index = (index + 1) & self.mask;
        }
        self.slots[hole] = EMPTY;
        Some(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    // Random inserts and removes agree with std's HashMap (no tombstone bugs).
    #[test]
    fn matches_std_hashmap() {
        let mut map = OrderMap::with_capacity(64);
        let mut reference = HashMap::new();
        let mut state = 0x1234_5678_u64;
        for step in 0..20_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = state % 200;
            if state & 1 == 0 && reference.len() < 64 {
                let fresh = !reference.contains_key(&key);
                assert_eq!(map.insert(key, step), fresh);
                reference.entry(key).or_insert(step);
            } else {
                assert_eq!(map.remove(key), reference.remove(&key));
            }
            assert_eq!(map.len(), reference.len());
        }
        for (key, slot) in &reference {
            assert_eq!(map.get(*key), Some(*slot));
        }
    }

    // A full map refuses new keys instead of growing.
    #[test]
    fn full_map_refuses() {
        let mut map = OrderMap::with_capacity(2);
        assert!(map.insert(1, 0));
        assert!(map.insert(2, 1));
        assert!(!map.insert(3, 2));
        assert_eq!(map.get(3), None);
    }
}
