//! A fixed-capacity set of recently seen executions, to drop duplicate fills.
//!
//! Owning thread: the thread that applies order updates (one owner).
//! Invariants: allocated once in [`ExecIdSet::with_capacity`]; holds the
//! last `capacity` distinct keys and forgets the oldest first; never
//! allocates afterwards. Entries are 64-bit hashes, so two different keys
//! collide with probability about n²/2⁶⁴ (below 10⁻¹² for n = 4096) —
//! accepted, and documented for the engine.
//!
//! The key of a fill is its [`ExecKey`]: ExecID(17) together with the
//! venue's OrderID(37) (ClOrdID(11) when the venue sends no usable
//! OrderID). A venue that restarts its ExecID counter reuses ExecIDs on
//! other orders; keyed on ExecID alone those real fills would be dropped as
//! duplicates. A PossDup resend repeats the original report, OrderID and
//! ExecID included, so it is still caught. Status reports (ExecType=I,
//! ExecID `0`) are not executions and must not be inserted.

/// OrderID(37) a venue sends when it has no order id to give.
const ORDER_ID_NONE: &[u8] = b"NONE";

/// What identifies one execution: the venue's order and the ExecID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecKey<'a> {
    order: &'a [u8],
    exec_id: &'a [u8],
}

impl<'a> ExecKey<'a> {
    /// The key of an execution: `order_id` (OrderID(37)) unless it is
    /// absent, empty or `NONE`, then `cl_ord_id` (ClOrdID(11)).
    pub fn new(
        order_id: Option<&'a [u8]>,
        cl_ord_id: Option<&'a [u8]>,
        exec_id: &'a [u8],
    ) -> ExecKey<'a> {
        let usable = |id: &&[u8]| !id.is_empty() && *id != ORDER_ID_NONE;
        let order = order_id.filter(usable).or(cl_ord_id).unwrap_or_default();
        ExecKey { order, exec_id }
    }

    /// The key of an ExecutionReport.
    pub fn of_report(report: &crate::fix::exec_report::ExecutionReport<'a>) -> ExecKey<'a> {
        ExecKey::new(Some(report.order_id), report.cl_ord_id, report.exec_id)
    }

    /// The key as a non-zero 64-bit hash (for an engine that keeps its own
    /// exec-id memory as integers): the order id, a separator no id contains
    /// (SOH), then the ExecID.
    pub fn hash(&self) -> u64 {
        finalise(fnv(fnv(fnv(FNV_OFFSET, self.order), &[0x01]), self.exec_id))
    }
}

/// Recently seen executions (linear probing with backward-shift deletion).
#[derive(Debug)]
pub struct ExecIdSet {
    slots: Box<[u64]>,
    fifo: Box<[u64]>,
    fifo_next_index: usize,
    len: usize,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `state`.
fn fnv(mut state: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        state = (state ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    state
}

/// FNV-1a, then a SplitMix64 finaliser; never returns 0 (the empty slot).
fn hash(bytes: &[u8]) -> u64 {
    finalise(fnv(FNV_OFFSET, bytes))
}

fn finalise(mut state: u64) -> u64 {
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

    /// Records `exec_id` alone; returns `true` if it is new, `false` for a
    /// duplicate. Prefer [`ExecIdSet::insert_exec`]: see the module notes.
    pub fn insert(&mut self, exec_id: &[u8]) -> bool {
        self.insert_hash(hash(exec_id))
    }

    /// Records the execution `key`; returns `true` if it is new, `false`
    /// for a duplicate (a resend of one already applied).
    pub fn insert_exec(&mut self, key: ExecKey<'_>) -> bool {
        self.insert_hash(key.hash())
    }

    /// True if the execution `key` was seen recently.
    pub fn contains_exec(&self, key: ExecKey<'_>) -> bool {
        self.find(key.hash()).is_ok()
    }

    fn insert_hash(&mut self, key: u64) -> bool {
        debug_assert!(key != 0, "0 marks an empty slot");
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
        debug_assert!(self.len <= self.fifo.len(), "never more keys than capacity");
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
    fn a_restarted_exec_id_counter_is_not_a_duplicate() {
        // After a venue restart ExecID "1" comes back on another order: a
        // real fill, kept. The same ExecID on the same order is a duplicate.
        let mut set = ExecIdSet::with_capacity(16);
        assert!(set.insert_exec(ExecKey::new(Some(b"V-1"), Some(b"C1"), b"1")));
        assert!(set.insert_exec(ExecKey::new(Some(b"V-2"), Some(b"C2"), b"1")));
        assert!(!set.insert_exec(ExecKey::new(Some(b"V-1"), Some(b"C1"), b"1")));
        assert!(set.contains_exec(ExecKey::new(Some(b"V-2"), None, b"1")));
    }

    #[test]
    fn a_poss_dup_resend_is_still_caught() {
        // The resend repeats OrderID and ExecID; a later ClOrdID (after a
        // replace) does not change the key, the venue's OrderID rules.
        let mut set = ExecIdSet::with_capacity(16);
        assert!(set.insert_exec(ExecKey::new(Some(b"V-7"), Some(b"C7"), b"X9")));
        assert!(!set.insert_exec(ExecKey::new(Some(b"V-7"), Some(b"C7.r1"), b"X9")));
    }

    #[test]
    fn without_an_order_id_the_cl_ord_id_keys_the_fill() {
        // OrderID absent, empty or NONE: ClOrdID takes its place.
        let key = ExecKey::new(Some(b"NONE"), Some(b"C1"), b"X1");
        assert_eq!(key, ExecKey::new(None, Some(b"C1"), b"X1"));
        assert_eq!(key, ExecKey::new(Some(b""), Some(b"C1"), b"X1"));
        assert_ne!(key.hash(), ExecKey::new(None, Some(b"C2"), b"X1").hash());
        // The separator keeps ("AB", "C") and ("A", "BC") apart.
        assert_ne!(
            ExecKey::new(Some(b"AB"), None, b"C").hash(),
            ExecKey::new(Some(b"A"), None, b"BC").hash()
        );
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
