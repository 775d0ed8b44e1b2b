//! The driver's queues of what is in flight between the engine and the
//! backtest venue: orders on their way to the venue (with their arrival
//! times) and replies on their way to the engine (as the engine events
//! they become).
//!
//! A ring of a power-of-two number of slots, allocated once with room for
//! what a run normally has in flight: push, front and drop are a mask and
//! an add, an item is written in its slot ([`InFlight::push_with`]) and
//! handed on where it lies ([`InFlight::front_mut`]), never copied out to
//! be dropped. A full ring doubles (the only allocation, on a cold path:
//! a queue in tape time cannot refuse what the venue or the engine made).
//! The front item's time is kept beside the ring ([`InFlight::front_ns`]):
//! the merge asks for it several times per item it takes, and it changes
//! only when the front does (a push into an empty ring, a drop).
//!
//! Owning thread: the driver's (ingest's). Invariants: `len <=
//! slots.len()`, a power of two; the items are the `len` slots from
//! `head` on, in the order they were pushed; `front_ns` is the front
//! item's time, `u64::MAX` when there is none.

/// An item with a time in the merge: an order's arrival at the venue, a
/// reply's at the engine.
pub(crate) trait Timed {
    fn time_ns(&self) -> u64;
}

/// A first-in first-out ring of `Copy` items (see the module header).
pub(crate) struct InFlight<T: Copy + Timed> {
    slots: Box<[T]>,
    mask: usize,
    /// Slot of the front item.
    head: usize,
    len: usize,
    /// The front item's time; `u64::MAX` when the ring is empty.
    front_ns: u64,
    /// What an empty slot holds.
    blank: T,
}

impl<T: Copy + Timed> InFlight<T> {
    /// Room for at least `capacity` items before it first grows.
    pub(crate) fn with_capacity(capacity: usize, blank: T) -> InFlight<T> {
        let slot_count = capacity.max(1).next_power_of_two();
        InFlight {
            slots: vec![blank; slot_count].into_boxed_slice(),
            mask: slot_count - 1,
            head: 0,
            len: 0,
            front_ns: u64::MAX,
            blank,
        }
    }

    /// The front item's time, `u64::MAX` if none waits (one load; an
    /// item whose time is `u64::MAX` reads the same: ask
    /// [`InFlight::is_empty`] where that matters).
    #[inline(always)]
    pub(crate) fn front_ns(&self) -> u64 {
        debug_assert_eq!(
            self.front_ns,
            self.front().map_or(u64::MAX, Timed::time_ns),
            "the front's time follows the front"
        );
        self.front_ns
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(crate) fn front(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(self.head)
    }

    /// The front item, lent to be handed on in place; the caller drops it
    /// next if it changed its time ([`InFlight::front_ns`] keeps the time
    /// it had).
    #[inline]
    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        if self.len == 0 {
            return None;
        }
        self.slots.get_mut(self.head)
    }

    #[inline]
    pub(crate) fn back(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        self.slots.get((self.head + self.len - 1) & self.mask)
    }

    /// Drops the front item (there is one). An item lent by
    /// [`InFlight::front_mut`] may have had its time changed: the next
    /// front's is read here.
    #[inline]
    pub(crate) fn drop_front(&mut self) {
        debug_assert!(self.len > 0, "an item to drop");
        self.head = (self.head + 1) & self.mask;
        self.len -= 1;
        self.front_ns = if self.len == 0 {
            u64::MAX
        } else {
            self.slots[self.head].time_ns()
        };
    }

    /// Writes the next item in its slot, at the back.
    #[inline(always)]
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut T)) {
        if self.len == self.slots.len() {
            self.grow();
        }
        let index = (self.head + self.len) & self.mask;
        let slot = &mut self.slots[index];
        write(slot);
        if self.len == 0 {
            self.front_ns = slot.time_ns();
        }
        self.len += 1;
    }

    /// Twice the slots, the items in order from the first.
    #[cold]
    fn grow(&mut self) {
        let slot_count = self.slots.len() * 2;
        let mut slots = vec![self.blank; slot_count].into_boxed_slice();
        for (offset, slot) in slots.iter_mut().take(self.len).enumerate() {
            *slot = self.slots[(self.head + offset) & self.mask];
        }
        self.slots = slots;
        self.mask = slot_count - 1;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Timed for u64 {
        fn time_ns(&self) -> u64 {
            *self
        }
    }

    // Items come out in the order they went in, across the wrap of the
    // slots and across a growth from full.
    #[test]
    fn items_come_out_in_order_across_wraps_and_growth() {
        let mut ring = InFlight::with_capacity(4, 0u64);
        let (mut next_in, mut next_out) = (1u64, 1u64);
        for round in 0..40u64 {
            for _ in 0..(round % 7) {
                ring.push_with(|slot| *slot = next_in);
                next_in += 1;
            }
            assert_eq!(
                ring.back().copied(),
                (next_in > next_out).then_some(next_in - 1)
            );
            assert_eq!(
                ring.front_ns(),
                if next_in > next_out {
                    next_out
                } else {
                    u64::MAX
                },
                "the front's time is the front item's"
            );
            for _ in 0..(round % 5) {
                match ring.front_mut() {
                    Some(item) => {
                        assert_eq!(*item, next_out);
                        next_out += 1;
                        ring.drop_front();
                    }
                    None => assert_eq!(next_in, next_out, "empty only when all came out"),
                }
            }
        }
        while let Some(item) = ring.front().copied() {
            assert_eq!(item, next_out);
            next_out += 1;
            ring.drop_front();
        }
        assert_eq!(next_out, next_in);
        assert!(ring.is_empty() && ring.front().is_none() && ring.back().is_none());
        assert_eq!(ring.front_ns(), u64::MAX);
        assert!(ring.slots.len() > 4, "the test made it grow");
    }
}
