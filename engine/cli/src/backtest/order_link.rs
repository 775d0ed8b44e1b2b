//! The backtest's link from execution to its venue: execution's gateway
//! ([`LinkGateway`]) puts each order request into a bounded ring, and the
//! driver takes them out in order ([`OrderReceiver`]).
//!
//! Both ends run on ingest's thread (a backtest runs execution there), but
//! the gateway lives in the execution stage and the receiver in the
//! driver, so the ring is shared as between two threads: one producer and
//! one consumer, each end owned by one value (neither is `Clone`), slots
//! handed over by a release store of the count pushed (acquired by the
//! receiver) and freed by a release store of the count taken (acquired by
//! the sender). No compare-and-swap per request, as a queue for many
//! producers needs. A full ring refuses the request
//! (`SendError::Backpressure`, journaled by execution as a failed send),
//! at the capacity asked for (`venue.queue_capacity`), as the lock-free
//! queue it replaces did.
//!
//! Invariants: `taken <= pushed <= taken + capacity` (absolute counts);
//! the sender writes only slots in `[pushed, taken + capacity)` as it last
//! read `taken`, the receiver reads only slots in `[taken, pushed)` as it
//! last read `pushed`; nothing is allocated after [`order_link`].

#![allow(unsafe_code)]

use genesis_engine::execution::gateway::{Gateway, OrderRequest, RequestKind, SendError};
use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A count alone on its cache lines (each end writes one).
#[repr(align(128))]
#[derive(Default)]
struct Cursor(AtomicUsize);

struct Ring {
    cells: Box<[UnsafeCell<OrderRequest>]>,
    mask: usize,
    capacity: usize,
    /// Requests pushed (absolute count): the sender's release store.
    pushed: Cursor,
    /// Requests taken (absolute count): the receiver's release store.
    taken: Cursor,
}

// SAFETY: one sender and one receiver (each end is a single value) touch
// disjoint ranges of cells, handed over by the release/acquire counts (see
// the module header); the counts themselves are atomic.
unsafe impl Sync for Ring {}

impl Ring {
    #[inline]
    fn cell(&self, index: usize) -> *mut OrderRequest {
        // SAFETY: masked by `cells.len() - 1` (a power of two): in bounds.
        unsafe { self.cells.get_unchecked(index & self.mask) }.get()
    }
}

/// The link's two ends, with room for `capacity` requests in flight.
pub fn order_link(capacity: usize) -> (OrderSender, OrderReceiver) {
    assert!(capacity > 0, "the link holds at least one request");
    let slot_count = capacity.next_power_of_two();
    let blank = OrderRequest {
        kind: RequestKind::New,
        order_id: OrderId(0),
        instrument: InstrumentId(0),
        side: Side::None,
        price: Price(0),
        qty: Qty(0),
        ts_trigger_ns: 0,
        ts_decided_ns: 0,
        trigger_seq: 0,
    };
    let ring = Arc::new(Ring {
        cells: (0..slot_count).map(|_| UnsafeCell::new(blank)).collect(),
        mask: slot_count - 1,
        capacity,
        pushed: Cursor::default(),
        taken: Cursor::default(),
    });
    let sender = OrderSender {
        ring: Arc::clone(&ring),
        pushed: 0,
        taken_seen: 0,
    };
    let receiver = OrderReceiver {
        ring,
        taken: 0,
        pushed_seen: 0,
    };
    (sender, receiver)
}

/// The sending end (execution's, through [`LinkGateway`]).
pub struct OrderSender {
    ring: Arc<Ring>,
    pushed: usize,
    /// The receiver's count as last read: room is known without a read
    /// while it lasts.
    taken_seen: usize,
}

impl OrderSender {
    /// Puts `request` at the back; false if the ring is full.
    #[inline]
    pub fn push(&mut self, request: &OrderRequest) -> bool {
        let capacity = self.ring.capacity;
        if self.pushed.wrapping_sub(self.taken_seen) == capacity {
            self.taken_seen = self.ring.taken.0.load(Ordering::Acquire);
            if self.pushed.wrapping_sub(self.taken_seen) == capacity {
                return false;
            }
        }
        // SAFETY: `pushed < taken + capacity`: the receiver has taken this
        // slot's last request (acquired above) and reads it again only
        // after the release store below; no one else writes it.
        unsafe { *self.ring.cell(self.pushed) = *request };
        self.pushed = self.pushed.wrapping_add(1);
        self.ring.pushed.0.store(self.pushed, Ordering::Release);
        true
    }
}

/// The receiving end (the driver's).
pub struct OrderReceiver {
    ring: Arc<Ring>,
    taken: usize,
    /// The sender's count as last read.
    pushed_seen: usize,
}

impl OrderReceiver {
    /// True if no request waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.taken == self.ring.pushed.0.load(Ordering::Acquire)
    }

    /// Takes the front request, if one waits.
    #[inline]
    pub fn pop(&mut self) -> Option<OrderRequest> {
        if self.taken == self.pushed_seen {
            self.pushed_seen = self.ring.pushed.0.load(Ordering::Acquire);
            if self.taken == self.pushed_seen {
                return None;
            }
        }
        // SAFETY: `taken < pushed`: the sender wrote this slot before its
        // release store of `pushed` (acquired above) and writes it again
        // only after the release store below frees it.
        let request = unsafe { *self.ring.cell(self.taken) };
        self.taken = self.taken.wrapping_add(1);
        self.ring.taken.0.store(self.taken, Ordering::Release);
        Some(request)
    }
}

/// Execution's gateway in a backtest: every request into the link.
pub struct LinkGateway(pub OrderSender);

impl Gateway for LinkGateway {
    #[inline]
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        if self.0.push(request) {
            Ok(())
        } else {
            Err(SendError::Backpressure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(order_id: u64) -> OrderRequest {
        OrderRequest {
            kind: RequestKind::Cancel,
            order_id: OrderId(order_id),
            instrument: InstrumentId(1),
            side: Side::Sell,
            price: Price(7),
            qty: Qty(1),
            ts_trigger_ns: order_id,
            ts_decided_ns: order_id,
            trigger_seq: order_id,
        }
    }

    // Requests come out in the order they went in, across the wrap of the
    // slots; a full link refuses one more, and takes it once one is taken.
    #[test]
    fn requests_come_out_in_order_and_a_full_link_refuses() {
        let (mut sender, mut receiver) = order_link(3);
        assert!(receiver.is_empty() && receiver.pop().is_none());
        let mut next_in = 1;
        let mut next_out = 1;
        for _ in 0..10 {
            while sender.push(&request(next_in)) {
                next_in += 1;
            }
            assert_eq!(
                next_in - next_out,
                3,
                "the capacity asked for, not the slots'"
            );
            assert!(!receiver.is_empty());
            for _ in 0..2 {
                assert_eq!(receiver.pop(), Some(request(next_out)));
                next_out += 1;
            }
        }
        while let Some(taken) = receiver.pop() {
            assert_eq!(taken, request(next_out));
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert!(receiver.is_empty());
    }

    // The gateway says backpressure when the link is full.
    #[test]
    fn the_gateway_refuses_when_the_link_is_full() {
        let (sender, mut receiver) = order_link(1);
        let mut gateway = LinkGateway(sender);
        assert_eq!(gateway.send(&request(1)), Ok(()));
        assert_eq!(gateway.send(&request(2)), Err(SendError::Backpressure));
        assert_eq!(receiver.pop(), Some(request(1)));
        assert_eq!(gateway.send(&request(2)), Ok(()));
    }
}
