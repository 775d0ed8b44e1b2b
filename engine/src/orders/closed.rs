//! The memory of closed orders of one order table: their final states,
//! found by id without hashing, so that a late message for a closed order
//! is recognised rather than called unknown, and a closed id is never
//! opened again.
//!
//! Owned by the thread of the stage that owns the table. A direct-mapped
//! array indexed by the id's low bits: each slot holds the highest closed id
//! of its residue and that order's final state. Engine order ids are issued
//! in sequence, so the memory holds every closed order among the last
//! `capacity` ids issued (an order closing after `capacity` newer ids were
//! issued is remembered unless a newer closed id already holds its slot).
//!
//! Invariants: a slot's id maps to that slot, or the slot is free
//! ([`FREE_ID`], an id no order may have); a slot's id only rises. Saved
//! state lists the remembered ids in slot order; restoring is independent
//! of the listing's order (each slot keeps its highest id), into a memory
//! of any capacity. Everything is allocated at construction.

use super::open::FREE_ID;
use super::OrderState;
use crate::state_codec::{StateError, StateReader, StateWriter};

/// Most ids a saved memory may list (the config caps memories at 2^24).
const SAVED_IDS_MAX: usize = 1 << 24;

#[derive(Clone, Copy)]
struct Slot {
    id: u64,
    state: OrderState,
}

pub struct ClosedOrders {
    slots: Box<[Slot]>,
    mask: u64,
    len: usize,
}

impl ClosedOrders {
    /// A memory of `capacity` slots (rounded up to a power of two), resident
    /// from start-up: every slot is written here.
    pub fn with_capacity(capacity: usize) -> ClosedOrders {
        let slot_count = capacity.max(1).next_power_of_two();
        let free = Slot {
            id: FREE_ID,
            state: OrderState::default(),
        };
        ClosedOrders {
            slots: vec![free; slot_count].into_boxed_slice(),
            mask: slot_count as u64 - 1,
            len: 0,
        }
    }

    #[inline]
    fn index(&self, id: u64) -> usize {
        (id & self.mask) as usize
    }

    /// The final state of `id`, if it is remembered.
    #[inline]
    pub fn get(&self, id: u64) -> Option<OrderState> {
        let slot = self.slots[self.index(id)];
        (slot.id == id && id != FREE_ID).then_some(slot.state)
    }

    /// Remembers `id` closed in `state`; an older id in its slot is
    /// forgotten, a newer one kept (then `id` is not remembered).
    #[inline]
    pub fn insert(&mut self, id: u64, state: OrderState) {
        debug_assert!(state.is_closed(), "only closed orders are remembered");
        if id == FREE_ID {
            return;
        }
        let index = self.index(id);
        let slot = &mut self.slots[index];
        if slot.id == FREE_ID {
            self.len += 1;
        } else if slot.id > id {
            return;
        }
        *slot = Slot { id, state };
        debug_assert!(self.len <= self.slots.len(), "the memory is bounded");
    }

    /// How many ids are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Forgets every id, keeping the allocation.
    pub fn clear(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.id = FREE_ID;
        }
        self.len = 0;
    }

    fn remembered(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|slot| slot.id != FREE_ID)
    }

    /// Writes the remembered ids in slot order, each with its state's code.
    pub fn save_state(&self, out: &mut StateWriter) {
        out.count(self.len);
        for slot in self.remembered() {
            out.u64(slot.id);
            out.u8(slot.state.code());
        }
    }

    /// Reads back what `save_state` wrote (or an older build's list, oldest
    /// first: the same bytes), replacing what is remembered. A listed state
    /// that is not closed, or an id listed twice, is refused.
    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        self.clear();
        let count = input.count("closed orders", SAVED_IDS_MAX)?;
        for _ in 0..count {
            let id = input.u64("closed orders")?;
            let state = input.code("closed order state", OrderState::from_code)?;
            if !state.is_closed() || self.get(id).is_some() {
                return Err(StateError::Inconsistent {
                    what: "closed orders",
                    detail: "an id is listed twice, or in a state that is not closed",
                });
            }
            self.insert(id, state);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A closed id is found with its state; an id never closed is not.
    #[test]
    fn remembers_closed_ids() {
        let mut closed = ClosedOrders::with_capacity(4);
        closed.insert(1, OrderState::Filled);
        closed.insert(2, OrderState::Cancelled);
        assert_eq!(closed.get(1), Some(OrderState::Filled));
        assert_eq!(closed.get(2), Some(OrderState::Cancelled));
        assert_eq!(closed.get(3), None);
        assert_eq!(closed.get(FREE_ID), None, "the free marker is never found");
        assert_eq!(closed.len(), 2);
    }

    // A newer id takes an older one's slot; an older id closing late does
    // not push a newer one out.
    #[test]
    fn the_newer_id_keeps_the_slot() {
        let mut closed = ClosedOrders::with_capacity(4);
        closed.insert(1, OrderState::Filled);
        closed.insert(5, OrderState::Cancelled);
        assert_eq!(closed.get(1), None, "forgotten: 4 ids later");
        assert_eq!(closed.get(5), Some(OrderState::Cancelled));
        closed.insert(1, OrderState::Rejected);
        assert_eq!(closed.get(5), Some(OrderState::Cancelled));
        assert_eq!(closed.get(1), None);
        assert_eq!(closed.len(), 1);
    }

    // Saved and restored, the same ids are remembered, and saving again gives
    // the same bytes; a smaller memory keeps the newest id of each slot; an
    // id listed twice is refused.
    #[test]
    fn save_restore_round_trips() {
        let mut closed = ClosedOrders::with_capacity(8);
        for id in [3, 4, 5, 12] {
            closed.insert(id, OrderState::Filled);
        }
        let mut out = StateWriter::new();
        closed.save_state(&mut out);
        let bytes = out.into_bytes();
        let mut back = ClosedOrders::with_capacity(8);
        back.restore_state(&mut StateReader::new(&bytes)).unwrap();
        let mut again = StateWriter::new();
        back.save_state(&mut again);
        assert_eq!(
            again.into_bytes(),
            bytes,
            "save → restore → save is identical"
        );
        let mut small = ClosedOrders::with_capacity(2);
        small.restore_state(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(small.get(12), Some(OrderState::Filled));
        assert_eq!(small.get(4), None, "12 holds the even slot");
        assert_eq!(small.get(5), Some(OrderState::Filled));
        let mut twice = StateWriter::new();
        twice.count(2);
        for _ in 0..2 {
            twice.u64(7);
            twice.u8(OrderState::Filled.code());
        }
        let twice = twice.into_bytes();
        assert!(back.restore_state(&mut StateReader::new(&twice)).is_err());
    }
}
