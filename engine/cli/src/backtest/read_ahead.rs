//! The backtest's read-ahead: tape rows taken off the tape and not yet
//! handed to the engine, each with the time the venue sees it and, once
//! it has, the touch it left in the venue's book.
//!
//! A ring of a power-of-two number of slots, allocated once: front, push
//! and drop are a mask and an add. Rows are read and updated in their
//! slots (the venue writes the touch, the hand-over makes the event from
//! the slot), never copied out. Owning thread: the driver's (ingest's).
//! Invariants, asserted in debug builds: never more rows than slots; a row is popped only
//! once pushed.

use genesis_io::tape::records::TapeRecord;

/// A row of the read-ahead.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub record: TapeRecord,
    /// (best bid, best ask) after the row in the venue's book, 0 for an
    /// empty side; set when the venue sees the row.
    pub touch: (i64, i64),
    /// The row's own time at the venue (exchange or local, by
    /// `backtest.venue_time`), before the venue's clock holds it back.
    pub venue_ns: u64,
}

/// What an empty slot holds.
fn blank_row() -> Row {
    Row {
        record: TapeRecord::BLANK,
        touch: (0, 0),
        venue_ns: 0,
    }
}

/// Rows in tape order (see the module header).
pub struct ReadAhead {
    slots: Box<[Row]>,
    mask: usize,
    /// Slot index of the front row, not masked.
    head: usize,
    len: usize,
}

impl ReadAhead {
    /// Room for at least `rows_max` rows.
    pub fn with_capacity(rows_max: usize) -> ReadAhead {
        assert!(rows_max > 0, "the read-ahead holds at least one row");
        let slot_count = rows_max.next_power_of_two();
        ReadAhead {
            slots: vec![blank_row(); slot_count].into_boxed_slice(),
            mask: slot_count - 1,
            head: 0,
            len: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The row `index` places behind the front.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Row> {
        (index < self.len).then(|| &self.slots[self.head.wrapping_add(index) & self.mask])
    }

    /// The row `index` places behind the front; it must be there.
    #[inline]
    pub fn at_mut(&mut self, index: usize) -> &mut Row {
        debug_assert!(index < self.len, "a row of the read-ahead");
        &mut self.slots[self.head.wrapping_add(index) & self.mask]
    }

    #[inline]
    pub fn push_back(&mut self, row: Row) {
        debug_assert!(self.len < self.slots.len(), "the read-ahead has room");
        self.slots[self.head.wrapping_add(self.len) & self.mask] = row;
        self.len += 1;
    }

    /// The front row, if any (read in place: the merge hands it over from
    /// its slot).
    #[inline]
    pub fn front(&self) -> Option<&Row> {
        self.get(0)
    }

    /// Frees the front row's slot; there must be one.
    #[inline]
    pub fn drop_front(&mut self) {
        debug_assert!(self.len > 0, "a row to drop");
        self.head = self.head.wrapping_add(1);
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts_local_ns: u64) -> Row {
        let mut row = blank_row();
        row.record.ts_local_ns = ts_local_ns;
        row
    }

    #[test]
    fn rows_come_out_in_order_across_the_wrap() {
        // Three slots asked for, four made: pushing and popping past the end
        // of the slots keeps tape order.
        let mut rows = ReadAhead::with_capacity(3);
        let mut next_out = 0;
        for ts in 0..10 {
            rows.push_back(row(ts));
            if rows.len() == 3 {
                assert_eq!(rows.get(2).unwrap().record.ts_local_ns, ts);
                assert_eq!(rows.front().unwrap().record.ts_local_ns, next_out);
                rows.drop_front();
                next_out += 1;
            }
        }
        assert_eq!(rows.get(0).unwrap().record.ts_local_ns, next_out);
        assert!(rows.get(2).is_none());
        while !rows.is_empty() {
            rows.drop_front();
        }
        assert!(rows.is_empty());
    }
}
