//! A fixed-capacity set of recently seen ExecIDs, to drop duplicate fills.
//!
//! Owning thread: the thread that applies order updates (one owner).
//! Invariants: allocated once in [`ExecIdSet::with_capacity`]; holds the
//! last `capacity` distinct ExecIDs and forgets the oldest first; never
//! allocates afterwards. Entries are 64-bit hashes of the ExecID bytes, so
//! two different ExecIDs collide with probability about n²/2⁶⁴ (below
//! 10⁻¹² for n = 4096) — accepted, and documented for the engine.

/// Recently seen ExecIDs (linear probing with backward-shift deletion).
#[derive(Debug)]
pub struct ExecIdSet {
    slots: Box<[u64]>,
    fifo: Box<[u64]>,
    fifo_next_index: usize,
    len: usize,
}

/// FNV-1a, then a SplitMix64 finaliser; never returns 0 (the empty slot).
fn hash(bytes: &[u8]) -> u64 {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        state = (state ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    state = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    state = (state ^ (state >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (state ^ (state >> 31)) | 1
}

impl ExecIdSet {
    /// A set remembering the last `capacity` ExecIDs (at least 1).
    pub fn with_capacity(capacity: usize) -> ExecIdSet {
        let capacity = capacity.max(1);
        let slots_len = (capacity * 2).next_power_of_two();
        ExecIdSet {
            slots: vec![0; slots_len].into_boxed_slice(),
            fifo: vec![0; capacity].into_boxed_slice(),
            fifo_next_index: 0,
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn find(&self, key: u64) -> Result<usize, usize> {
        let mut index = key as usize & self.mask();
        loop {
            match self.slots[index] {
                0 => return Err(index),
                found if found == key => return Ok(index),
                _ => index = (index + 1) & self.mask(),
            }
        }
    }

    /// Records `exec_id`; returns `true` if it is new, `false` for a duplicate.
    pub fn insert(&mut self, exec_id: &[u8]) -> bool {
        let key = hash(exec_id);
        if self.find(key).is_ok() {
            return false;
        }
        if self.len == self.fifo.len() {
            let oldest = self.fifo[self.fifo_next_index];
            self.remove(oldest);
        }
        if let Err(index) = self.find(key) {
            self.slots[index] = key;
        }
        self.fifo[self.fifo_next_index] = key;
        self.fifo_next_index = (self.fifo_next_index + 1) % self.fifo.len();
        self.len += 1;
        true
    }

    /// True if `exec_id` was seen recently.
    pub fn contains(&self, exec_id: &[u8]) -> bool {
        self.find(hash(exec_id)).is_ok()
    }

    fn remove(&mut self, key: u64) {
        let Ok(mut hole) = self.find(key) else { return };
        let mask = self.mask();
        let mut index = hole;
        loop {
            index = (index + 1) & mask;
            let moved = self.slots[index];
            if moved == 0 {
                break;
            }
            let home = moved as usize & mask;
            // `moved` may fill the hole unless its home lies cyclically in (hole, index].
            let home_after_hole = if hole <= index {
                hole < home && home <= index
            } else {
                hole < home || home <= index
            };
            if !home_after_hole {
                self.slots[hole] = moved;
                hole = index;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_detected() {
        // The same ExecID twice is a duplicate; a new one is not.
        let mut set = ExecIdSet::with_capacity(4);
        assert!(set.insert(b"E1"));
        assert!(!set.insert(b"E1"));
        assert!(set.insert(b"E2"));
    }

    #[test]
    fn oldest_is_forgotten_first() {
        // Past capacity the oldest ExecID is evicted and the rest stay.
        let mut set = ExecIdSet::with_capacity(100);
        for index in 0..1000u32 {
            assert!(set.insert(&index.to_le_bytes()));
        }
        for index in 900..1000u32 {
            assert!(set.contains(&index.to_le_bytes()), "{index} kept");
        }
        for index in 0..900u32 {
            assert!(!set.contains(&index.to_le_bytes()), "{index} evicted");
        }
    }
}
