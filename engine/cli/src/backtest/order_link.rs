//! The backtest's link from execution to its venue: execution's gateway
//! ([`LinkGateway`]) puts each order request into a bounded ring, and the
//! driver takes them out in order ([`OrderReceiver`]).
//!
//! Both ends run on ingest's thread (a backtest runs execution there), but
//! the gateway lives in the execution stage and the receiver in the
//! driver, so the ring is shared as between two threads: one producer and
//! one consumer, each end owned by one value. It is `rtrb`'s wait-free
//! ring: a release store per request, no compare-and-swap, as a queue for
//! many producers needs. A full ring refuses the request
//! (`SendError::Backpressure`, journaled by execution as a failed send),
//! at the capacity asked for (`venue.queue_capacity`), as the lock-free
//! queue it replaces did. Nothing is allocated after [`order_link`].
//!
//! The driver looks for requests after every hand-over, and almost always
//! finds none: a flag the sender raises after each push answers that with
//! one load ([`OrderReceiver::any_sent`]), where the ring's own emptiness
//! test reloads the producer's cursor every time it last found the ring
//! empty. The receiver lowers the flag (an acquiring swap) before it
//! takes what waits, so a request pushed meanwhile raises it again and is
//! taken at the next look, never missed.

use genesis_engine::execution::gateway::{Gateway, OrderRequest, SendError};
use rtrb::{Consumer, Producer, RingBuffer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The link's two ends, with room for `capacity` requests in flight.
pub fn order_link(capacity: usize) -> (OrderSender, OrderReceiver) {
    assert!(capacity > 0, "the link holds at least one request");
    let (producer, consumer) = RingBuffer::new(capacity);
    let sent = Arc::new(AtomicBool::new(false));
    (
        OrderSender {
            ring: producer,
            sent: Arc::clone(&sent),
        },
        OrderReceiver {
            ring: consumer,
            sent,
        },
    )
}

/// The sending end (execution's, through [`LinkGateway`]).
pub struct OrderSender {
    ring: Producer<OrderRequest>,
    /// Raised (release) after each push.
    sent: Arc<AtomicBool>,
}

impl OrderSender {
    /// Puts `request` at the back; false if the ring is full.
    #[inline]
    pub fn push(&mut self, request: &OrderRequest) -> bool {
        if self.ring.push(*request).is_err() {
            return false;
        }
        self.sent.store(true, Ordering::Release);
        true
    }
}

/// The receiving end (the driver's).
pub struct OrderReceiver {
    ring: Consumer<OrderRequest>,
    /// Raised by the sender after each push; lowered by [`OrderReceiver::take_sent_flag`].
    sent: Arc<AtomicBool>,
}

impl OrderReceiver {
    /// True if no request waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Whether a request was pushed since the flag was last lowered: if
    /// not, none waits that the receiver has not been told of (a hint,
    /// one load; [`OrderReceiver::take_sent_flag`] before taking).
    #[inline]
    pub fn any_sent(&self) -> bool {
        self.sent.load(Ordering::Relaxed)
    }

    /// Lowers the flag before the requests are taken: whatever was pushed
    /// before it was raised is visible to [`OrderReceiver::pop`] now.
    #[inline]
    pub fn take_sent_flag(&self) {
        self.sent.swap(false, Ordering::Acquire);
    }

    /// Takes the front request, if one waits.
    #[inline]
    pub fn pop(&mut self) -> Option<OrderRequest> {
        self.ring.pop().ok()
    }

    /// Takes every request that waits, in order, each lent to `take` in
    /// its slot (read once, not moved out first), and frees their slots
    /// with one store.
    #[inline]
    pub fn take_each(&mut self, mut take: impl FnMut(&OrderRequest)) {
        let waiting = self.ring.slots();
        let Ok(chunk) = self.ring.read_chunk(waiting) else {
            return;
        };
        // Two plain loops (a chained iterator tests which half it is in
        // for every request).
        let (first, second) = chunk.as_slices();
        for request in first {
            take(request);
        }
        for request in second {
            take(request);
        }
        chunk.commit_all();
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
    use genesis_engine::execution::gateway::RequestKind;
    use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};

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

    // Taking every waiting request lends them in the order they went in,
    // across the wrap of the slots, and frees their room: a full link
    // takes as many again.
    #[test]
    fn take_each_lends_every_waiting_request_in_order() {
        let (mut sender, mut receiver) = order_link(3);
        let mut taken = Vec::new();
        receiver.take_each(|request| taken.push(*request));
        assert!(taken.is_empty(), "nothing waits");
        let mut next_in = 1;
        for round in 0..10 {
            for _ in 0..(round % 3 + 1) {
                assert!(sender.push(&request(next_in)));
                next_in += 1;
            }
            receiver.take_each(|request| taken.push(*request));
            assert!(receiver.is_empty());
        }
        while sender.push(&request(next_in)) {
            next_in += 1;
        }
        receiver.take_each(|request| taken.push(*request));
        let expected: Vec<OrderRequest> = (1..next_in).map(request).collect();
        assert_eq!(taken, expected);
        assert!(receiver.is_empty() && sender.push(&request(next_in)));
    }

    // The flag rises with a push (not with a refused one) and stays up
    // until the receiver lowers it; a request pushed after it was lowered
    // raises it again.
    #[test]
    fn the_sent_flag_tells_of_every_push() {
        let (mut sender, mut receiver) = order_link(1);
        assert!(!receiver.any_sent());
        assert!(sender.push(&request(1)));
        assert!(receiver.any_sent());
        receiver.take_sent_flag();
        assert!(!receiver.any_sent());
        assert!(!sender.push(&request(2)), "full");
        assert!(!receiver.any_sent(), "a refused request raises nothing");
        assert_eq!(receiver.pop(), Some(request(1)));
        assert!(sender.push(&request(3)));
        assert!(receiver.any_sent());
        receiver.take_sent_flag();
        assert_eq!(receiver.pop(), Some(request(3)));
        assert!(!receiver.any_sent() && receiver.is_empty());
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
