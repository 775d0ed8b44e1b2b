//! The matching engine's order pool: a slab of resting-order slots with a
//! free list, and the intrusive FIFO list that queues the orders of one
//! price level through each slot's `prev`/`next` links.
//!
//! Owning thread: the engine's owner. Invariants: the slab is allocated at
//! construction and never grows; a slot is either on the free list (linked
//! through `next`) or live in exactly one level's queue; a level's queue is
//! oldest first (`head`) to newest (`tail`).

use super::types::{OrderRef, RestingOrder, Side};

/// "No slot": the end of a list.
pub(super) const NIL: u32 = u32::MAX;

/// One resting order and its queue links.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) order_ref: OrderRef,
    pub(super) owner: u32,
    pub(super) client_id: u64,
    pub(super) side: Side,
    pub(super) price: i64,
    pub(super) leaves: i64,
    prev: u32,
    next: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        order_ref: 0,
        owner: 0,
        client_id: 0,
        side: Side::Buy,
        price: 0,
        leaves: 0,
        prev: NIL,
        next: NIL,
    };

    /// The public view of this order.
    pub(super) fn resting(&self) -> RestingOrder {
        RestingOrder {
            owner: self.owner,
            client_id: self.client_id,
            side: self.side,
            price: self.price,
            leaves: self.leaves,
        }
    }

    /// The next (younger) order of the same level, or [`NIL`].
    pub(super) fn next(&self) -> u32 {
        self.next
    }
}

/// The head and tail of one level's FIFO queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Queue {
    pub(super) head: u32,
    pub(super) tail: u32,
}

impl Queue {
    pub(super) const EMPTY: Queue = Queue {
        head: NIL,
        tail: NIL,
    };

    pub(super) fn is_empty(&self) -> bool {
        self.head == NIL
    }
}

/// Preallocated resting-order slots.
#[derive(Clone, Debug)]
pub(super) struct OrderPool {
    slots: Vec<Slot>,
    free_head: u32,
    live_count: usize,
}

impl OrderPool {
    /// A pool of `orders_max` slots, all free.
    pub(super) fn with_capacity(orders_max: usize) -> OrderPool {
        assert!(
            orders_max > 0 && orders_max < NIL as usize,
            "orders_max must be in 1..u32::MAX"
        );
        let mut slots = vec![Slot::EMPTY; orders_max];
        for (index, slot) in slots.iter_mut().enumerate() {
            slot.next = if index + 1 < orders_max {
                (index + 1) as u32
            } else {
                NIL
            };
        }
        OrderPool {
            slots,
            free_head: 0,
            live_count: 0,
        }
    }

    /// Orders resting.
    pub(super) fn live_count(&self) -> usize {
        self.live_count
    }

    /// Whether every slot is taken.
    pub(super) fn is_full(&self) -> bool {
        self.free_head == NIL
    }

    pub(super) fn get(&self, index: u32) -> &Slot {
        &self.slots[index as usize]
    }

    pub(super) fn get_mut(&mut self, index: u32) -> &mut Slot {
        &mut self.slots[index as usize]
    }

    /// Take a free slot holding `order` (links cleared); `None` when full.
    pub(super) fn alloc(&mut self, order: Slot) -> Option<u32> {
        let index = self.free_head;
        if index == NIL {
            return None;
        }
        self.free_head = self.slots[index as usize].next;
        self.slots[index as usize] = Slot {
            prev: NIL,
            next: NIL,
            ..order
        };
        self.live_count += 1;
        Some(index)
    }

    /// A slot from its fields (links unset until queued).
    pub(super) fn slot(
        order_ref: OrderRef,
        owner: u32,
        client_id: u64,
        side: Side,
        price: i64,
        leaves: i64,
    ) -> Slot {
        Slot {
            order_ref,
            owner,
            client_id,
            side,
            price,
            leaves,
            prev: NIL,
            next: NIL,
        }
    }

    /// Return an unlinked slot to the free list.
    pub(super) fn free(&mut self, index: u32) {
        debug_assert!(self.live_count > 0, "freeing a slot of an empty pool");
        self.slots[index as usize] = Slot {
            next: self.free_head,
            ..Slot::EMPTY
        };
        self.free_head = index;
        self.live_count -= 1;
    }

    /// Append slot `index` at the back of `queue`.
    pub(super) fn push_back(&mut self, queue: &mut Queue, index: u32) {
        let tail = queue.tail;
        {
            let slot = &mut self.slots[index as usize];
            slot.prev = tail;
            slot.next = NIL;
        }
        if tail == NIL {
            queue.head = index;
        } else {
            self.slots[tail as usize].next = index;
        }
        queue.tail = index;
    }

    /// Take slot `index` out of `queue` (it stays allocated).
    pub(super) fn unlink(&mut self, queue: &mut Queue, index: u32) {
        let Slot { prev, next, .. } = self.slots[index as usize];
        if prev == NIL {
            queue.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            queue.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let slot = &mut self.slots[index as usize];
        slot.prev = NIL;
        slot.next = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(order_ref: OrderRef) -> Slot {
        OrderPool::slot(order_ref, 1, order_ref, Side::Buy, 100, 10)
    }

    fn refs(pool: &OrderPool, queue: &Queue) -> Vec<OrderRef> {
        let mut out = Vec::new();
        let mut index = queue.head;
        while index != NIL {
            out.push(pool.get(index).order_ref);
            index = pool.get(index).next();
        }
        out
    }

    // The pool hands out every slot once, then reports full; freed slots come back.
    #[test]
    fn alloc_until_full_then_reuse() {
        let mut pool = OrderPool::with_capacity(2);
        let a = pool.alloc(order(1)).unwrap();
        let b = pool.alloc(order(2)).unwrap();
        assert_ne!(a, b);
        assert!(pool.is_full() && pool.alloc(order(3)).is_none());
        pool.free(a);
        assert_eq!(pool.alloc(order(4)), Some(a));
        assert_eq!(pool.live_count(), 2);
    }

    // Unlinking the head, middle and tail keeps the queue in FIFO order.
    #[test]
    fn queue_unlink_anywhere() {
        let mut pool = OrderPool::with_capacity(4);
        let mut queue = Queue::EMPTY;
        let slots: Vec<u32> = (1..=4).map(|r| pool.alloc(order(r)).unwrap()).collect();
        for &s in &slots {
            pool.push_back(&mut queue, s);
        }
        pool.unlink(&mut queue, slots[1]);
        assert_eq!(refs(&pool, &queue), vec![1, 3, 4]);
        pool.unlink(&mut queue, slots[0]);
        pool.unlink(&mut queue, slots[3]);
        assert_eq!(refs(&pool, &queue), vec![3]);
        pool.unlink(&mut queue, slots[2]);
        assert!(queue.is_empty() && queue.tail == NIL);
    }
}
