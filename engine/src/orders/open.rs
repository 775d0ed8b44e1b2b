//! The open orders of one order table, found by id without hashing:
//! a direct-mapped array indexed by the id's low bits, and a hash map for
//! the few ids whose slot another open order holds.
//!
//! Owned by the thread of the stage that owns the table (execution, or the
//! strategy stage for its replica). Engine order ids are issued in sequence,
//! and an order is open for a short while, so the slot an id maps to is
//! almost always free when the order opens: the look-ups of its replies
//! read one slot and compare the id. An order that stays open while the
//! ids run once round the array keeps its slot; the newer id that maps to
//! it goes to the spill map, which is searched only when it holds any.
//!
//! Invariants: an id is held at most once, in its slot or in the spill map,
//! never both; a free slot holds [`FREE_ID`], which no order may use (it is
//! refused on insert and never found); `len` counts both places. Everything
//! is allocated at construction: inserts never allocate.

use super::Order;
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;

/// The id a free slot holds; no order can have it.
pub const FREE_ID: u64 = u64::MAX;

/// Where an open order is held ([`OpenOrders::find_mut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// In the direct-mapped array, at this index.
    Slot(usize),
    /// In the spill map.
    Spill,
}

/// Most slots in the array: beyond this the spill map takes the rest
/// (a table of 2^21 open orders would otherwise need 180 MB of slots).
const SLOTS_MAX: usize = 1 << 12;

pub struct OpenOrders {
    slots: Box<[Order]>,
    mask: u64,
    spill: FxHashMap<u64, Order>,
    len: usize,
}

impl OpenOrders {
    /// Room for `capacity` open orders: slots for twice as many ids (a
    /// power of two, at most `SLOTS_MAX`), the spill map for all of them.
    pub fn with_capacity(capacity: usize) -> OpenOrders {
        let slot_count = (capacity.max(8) * 2).next_power_of_two().min(SLOTS_MAX);
        let free = Order::pending_new(
            OrderId(FREE_ID),
            InstrumentId(0),
            Side::None,
            Price(0),
            Qty(0),
        );
        let mut spill = FxHashMap::default();
        spill.reserve(capacity + 1);
        OpenOrders {
            slots: vec![free; slot_count].into_boxed_slice(),
            mask: slot_count as u64 - 1,
            spill,
            len: 0,
        }
    }

    #[inline]
    fn index(&self, id: u64) -> usize {
        (id & self.mask) as usize
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Slots in the direct-mapped array (tests aim ids at taken slots).
    #[cfg(test)]
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<&Order> {
        let slot = &self.slots[self.index(id)];
        if slot.id.0 == id && id != FREE_ID {
            return Some(slot);
        }
        if self.spill.is_empty() {
            return None;
        }
        self.spill.get(&id)
    }

    #[inline]
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Order> {
        self.find_mut(id).map(|(order, _)| order)
    }

    /// [`OpenOrders::get_mut`], and where the order is held: a caller that
    /// then closes it takes it out there ([`OpenOrders::remove_held`])
    /// without looking it up again.
    #[inline(always)]
    pub fn find_mut(&mut self, id: u64) -> Option<(&mut Order, Held)> {
        let index = self.index(id);
        if self.slots[index].id.0 == id && id != FREE_ID {
            return Some((&mut self.slots[index], Held::Slot(index)));
        }
        if self.spill.is_empty() {
            return None;
        }
        self.spill.get_mut(&id).map(|order| (order, Held::Spill))
    }

    /// Adds an order whose id is not open; false (and nothing changed) if
    /// it is, or if the id is [`FREE_ID`].
    #[inline]
    pub fn insert_new(&mut self, order: Order) -> bool {
        if self.contains(order.id.0) {
            return false;
        }
        self.insert_absent(order)
    }

    /// Adds an order whose id the caller found not open; false (and nothing
    /// changed) if the id is [`FREE_ID`]. Inlined up to the free slot (an
    /// engine's new orders nearly always find theirs); a spill is a call.
    #[inline(always)]
    pub fn insert_absent(&mut self, order: Order) -> bool {
        let id = order.id.0;
        debug_assert!(!self.contains(id), "the caller checked the id is not open");
        if id == FREE_ID {
            return false;
        }
        let index = self.index(id);
        let slot = &mut self.slots[index];
        if slot.id.0 != FREE_ID {
            return self.insert_spilled(order);
        }
        *slot = order;
        self.len += 1;
        true
    }

    /// Opens a new order, pending new, whose id the caller found not open:
    /// [`OpenOrders::insert_absent`] of [`Order::pending_new`], the order
    /// written straight into its free slot (not built aside and copied
    /// in). False (and nothing changed) if the id is [`FREE_ID`].
    #[inline(always)]
    pub fn insert_pending_new(
        &mut self,
        id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> bool {
        debug_assert!(
            !self.contains(id.0),
            "the caller checked the id is not open"
        );
        if id.0 == FREE_ID {
            return false;
        }
        let index = self.index(id.0);
        let slot = &mut self.slots[index];
        if slot.id.0 != FREE_ID {
            return self.insert_spilled(Order::pending_new(id, instrument, side, price, qty));
        }
        *slot = Order::pending_new(id, instrument, side, price, qty);
        self.len += 1;
        true
    }

    /// The index of `id`'s slot if the slot is free and no order is
    /// spilled: then `id` is not open, and a new order with it goes there
    /// ([`OpenOrders::open_in_free_slot`]). One read of the slot answers
    /// both [`OpenOrders::contains`] and where the order goes.
    #[inline(always)]
    pub fn free_slot_for(&self, id: u64) -> Option<usize> {
        let index = self.index(id);
        (self.slots[index].id.0 == FREE_ID && id != FREE_ID && self.spill.is_empty())
            .then_some(index)
    }

    /// [`OpenOrders::insert_pending_new`] into the free slot `index` that
    /// [`OpenOrders::free_slot_for`] gave for `id` (nothing inserted since).
    #[inline(always)]
    pub fn open_in_free_slot(
        &mut self,
        index: usize,
        id: OrderId,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
    ) {
        debug_assert!(self.index(id.0) == index, "the id's slot");
        let slot = &mut self.slots[index];
        debug_assert!(slot.id.0 == FREE_ID && id.0 != FREE_ID, "the slot is free");
        *slot = Order::pending_new(id, instrument, side, price, qty);
        self.len += 1;
    }

    /// [`OpenOrders::insert_absent`] when an older open order holds the slot.
    #[inline(never)]
    fn insert_spilled(&mut self, order: Order) -> bool {
        let Entry::Vacant(slot) = self.spill.entry(order.id.0) else {
            unreachable!("the id is not open");
        };
        slot.insert(order);
        self.len += 1;
        true
    }

    /// Takes the order with `id` out, if it is open. Inlined up to its
    /// slot (a caller that drops the answer copies nothing); a spilled
    /// order is a call.
    #[inline(always)]
    pub fn remove(&mut self, id: u64) -> Option<Order> {
        let index = self.index(id);
        let slot = &mut self.slots[index];
        if slot.id.0 != id || id == FREE_ID {
            return self.remove_spilled(id);
        }
        let order = *slot;
        slot.id = OrderId(FREE_ID);
        self.len -= 1;
        debug_assert!(self.get(id).is_none(), "an id is held once");
        Some(order)
    }

    /// Takes out the open order `id`, held where [`OpenOrders::find_mut`]
    /// found it (and nothing was inserted or removed since): the slot is
    /// freed without comparing its id again.
    #[inline(always)]
    pub fn remove_held(&mut self, id: u64, held: Held) {
        match held {
            Held::Slot(index) => {
                let slot = &mut self.slots[index];
                debug_assert!(slot.id.0 == id && id != FREE_ID, "the slot holds the order");
                slot.id = OrderId(FREE_ID);
                self.len -= 1;
            }
            Held::Spill => {
                let removed = self.remove_spilled(id);
                debug_assert!(removed.is_some(), "the spill map holds the order");
            }
        }
        debug_assert!(self.get(id).is_none(), "an id is held once");
    }

    /// [`OpenOrders::remove`] for an id its slot does not hold.
    #[inline(never)]
    fn remove_spilled(&mut self, id: u64) -> Option<Order> {
        if self.spill.is_empty() {
            return None;
        }
        let removed = self.spill.remove(&id);
        if removed.is_some() {
            self.len -= 1;
        }
        debug_assert!(self.get(id).is_none(), "an id is held once");
        removed
    }

    /// Every open order, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.slots
            .iter()
            .filter(|order| order.id.0 != FREE_ID)
            .chain(self.spill.values())
    }

    /// Forgets every order, keeping the allocations.
    pub fn clear(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.id = OrderId(FREE_ID);
        }
        self.spill.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: u64) -> Order {
        Order::pending_new(OrderId(id), InstrumentId(0), Side::Buy, Price(100), Qty(1))
    }

    // Ids in sequence take their own slots; each is found, and gone once removed.
    #[test]
    fn sequential_ids_are_found_and_removed() {
        let mut open = OpenOrders::with_capacity(8);
        for id in 1..=8 {
            assert!(open.insert_new(order(id)));
        }
        assert_eq!(open.len(), 8);
        assert_eq!(open.get(5).map(|o| o.id), Some(OrderId(5)));
        assert_eq!(open.remove(5).map(|o| o.id), Some(OrderId(5)));
        assert!(open.get(5).is_none());
        assert!(open.remove(5).is_none(), "removed once only");
        assert_eq!(open.len(), 7);
    }

    // An id whose slot an older open order holds goes to the spill map; both
    // are found, and removing either leaves the other.
    #[test]
    fn a_taken_slot_spills() {
        let mut open = OpenOrders::with_capacity(8);
        let slots = open.slots.len() as u64;
        assert!(open.insert_new(order(3)));
        assert!(open.insert_new(order(3 + slots)));
        assert!(open.insert_new(order(3 + 2 * slots)));
        assert_eq!(open.len(), 3);
        assert_eq!(open.get(3 + slots).map(|o| o.id.0), Some(3 + slots));
        assert_eq!(open.remove(3).map(|o| o.id.0), Some(3));
        assert!(open.get(3).is_none());
        assert_eq!(open.get(3 + 2 * slots).map(|o| o.id.0), Some(3 + 2 * slots));
        // The freed slot takes the next id that maps to it.
        assert!(open.insert_new(order(3 + 3 * slots)));
        assert_eq!(open.len(), 3);
        let mut ids: Vec<u64> = open.iter().map(|o| o.id.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![3 + slots, 3 + 2 * slots, 3 + 3 * slots]);
    }

    // An order opened in place is the order the general insert stores, in
    // its free slot or, when an older open order holds the slot, in the
    // spill map; the free marker is refused.
    #[test]
    fn an_order_opened_in_place_is_the_general_insert_s() {
        let mut in_place = OpenOrders::with_capacity(8);
        let mut general = OpenOrders::with_capacity(8);
        let slots = in_place.slots.len() as u64;
        for id in [5, 6, 5 + slots, 5 + 2 * slots] {
            let (instrument, side) = (InstrumentId(1), Side::Sell);
            assert!(in_place.insert_pending_new(OrderId(id), instrument, side, Price(99), Qty(3)));
            let order = Order::pending_new(OrderId(id), instrument, side, Price(99), Qty(3));
            assert!(general.insert_absent(order));
            assert_eq!(in_place.get(id), general.get(id));
            assert_eq!(in_place.get(id), Some(&order));
        }
        assert_eq!(in_place.len(), 4);
        assert_eq!(in_place.spill.len(), 2, "two ids found their slot taken");
        assert!(!in_place.insert_pending_new(
            OrderId(FREE_ID),
            InstrumentId(0),
            Side::Buy,
            Price(1),
            Qty(1)
        ));
        assert_eq!(in_place.len(), 4);
    }

    // An order found with where it is held, then taken out there, leaves
    // the table as the general removal does: from its slot or the spill
    // map, the other ids still found, the count the same.
    #[test]
    fn a_removal_where_found_is_the_general_removal() {
        let mut held = OpenOrders::with_capacity(8);
        let mut general = OpenOrders::with_capacity(8);
        let slots = held.slots.len() as u64;
        let ids = [4, 5, 4 + slots, 4 + 2 * slots];
        for id in ids {
            assert!(held.insert_new(order(id)));
            assert!(general.insert_new(order(id)));
        }
        assert_eq!(held.find_mut(FREE_ID).map(|(_, at)| at), None);
        assert_eq!(held.find_mut(6).map(|(_, at)| at), None);
        for (id, at) in [
            (4 + slots, Held::Spill),
            (4, Held::Slot(4)),
            (5, Held::Slot(5)),
            (4 + 2 * slots, Held::Spill),
        ] {
            let (found, place) = held.find_mut(id).expect("the order is open");
            assert_eq!(found.id.0, id);
            assert_eq!(place, at, "where {id} is held");
            held.remove_held(id, place);
            assert_eq!(general.remove(id).map(|o| o.id.0), Some(id));
            assert_eq!(held.len(), general.len());
            for other in ids {
                assert_eq!(held.get(other), general.get(other), "{other} after {id}");
            }
        }
        assert_eq!(held.len(), 0);
        assert!(held.spill.is_empty());
    }

    // A duplicate id is refused wherever the first is held; the free marker
    // is never an order, never found.
    #[test]
    fn duplicates_and_the_free_marker_are_refused() {
        let mut open = OpenOrders::with_capacity(8);
        let slots = open.slots.len() as u64;
        assert!(open.insert_new(order(1)));
        assert!(!open.insert_new(order(1)));
        assert!(open.insert_new(order(1 + slots)));
        assert!(!open.insert_new(order(1 + slots)));
        assert!(!open.insert_new(order(FREE_ID)));
        assert!(open.get(FREE_ID).is_none());
        assert!(open.remove(FREE_ID).is_none());
        assert_eq!(open.len(), 2);
        open.clear();
        assert_eq!(open.len(), 0);
        assert!(open.get(1).is_none() && open.get(1 + slots).is_none());
    }
}
