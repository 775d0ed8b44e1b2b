//! A venue that starts with the process: the in-process simulated venue
//! (`venue.kind = "fix-sim"`), which the CLI starts fresh for every run.
//!
//! Orders the engine restored as open lived in the previous process's
//! venue, which died with it (as a venue that cancels on disconnect would
//! have cancelled them): this source answers each with a cancel ack before
//! the first message of the new venue, journaled like any venue message, so
//! the stages' book matches the venue's from the first event. A venue that
//! outlives the engine (`kind = "fix"`) is asked instead (reconciliation
//! at logon), never answered for.
//!
//! Owning thread: ingest's. The answers are built at start-up
//! ([`Source::on_restored`]); polling only drains them, without allocating.

use crate::clock::EpochClock;
use crate::event::{Event, Input};
use crate::ingest::{Restored, Source};

pub struct FreshVenue {
    inner: Box<dyn Source>,
    /// Cancel acks still to emit, in order-id order.
    answers: Vec<Event>,
    answers_emitted: usize,
}

impl FreshVenue {
    pub fn new(inner: Box<dyn Source>) -> FreshVenue {
        FreshVenue {
            inner,
            answers: Vec::new(),
            answers_emitted: 0,
        }
    }
}

impl Source for FreshVenue {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let pending = &self.answers[self.answers_emitted..];
        let taken = pending.len().min(budget);
        for event in &pending[..taken] {
            emit(*event);
        }
        self.answers_emitted += taken;
        // Always polled, with what budget is left: a zero budget is ingest
        // asking the session to send what the fused stages just decided.
        taken + self.inner.poll(clock, budget - taken, emit)
    }

    fn is_exhausted(&self) -> bool {
        self.answers_emitted == self.answers.len() && self.inner.is_exhausted()
    }

    fn feed_health(&self) -> Option<std::sync::Arc<crate::telemetry::feed_health::FeedHealth>> {
        self.inner.feed_health()
    }

    fn tick_to_trade(&mut self) -> Option<&mut crate::telemetry::tick_to_trade::TickToTrade> {
        self.inner.tick_to_trade()
    }

    fn send_due(&self) -> bool {
        self.inner.send_due()
    }

    fn on_restored(&mut self, restored: &Restored<'_>) {
        assert_eq!(
            self.answers_emitted, 0,
            "shown the restored state before the first poll"
        );
        self.answers = restored
            .open_orders
            .iter()
            .map(|order| Event::new(order.instrument, order.side, Input::CancelAck(order.id)))
            .collect();
        if !self.answers.is_empty() {
            tracing::warn!(
                orders = self.answers.len(),
                "the in-process venue starts empty: the orders the last run left open are closed as cancelled"
            );
        }
        self.inner.on_restored(restored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::NoSource;
    use crate::orders::Order;
    use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

    // Restored open orders come out as cancel acks, within the poll budget, before the venue's own messages.
    #[test]
    fn restored_orders_are_cancelled_first() {
        let mut venue = FreshVenue::new(Box::new(NoSource));
        let orders: Vec<Order> = (1..=3)
            .map(|id| {
                Order::pending_new(OrderId(id), InstrumentId(0), Side::Buy, Price(100), Qty(5))
            })
            .collect();
        venue.on_restored(&Restored {
            open_orders: &orders,
            seq_first: 10,
            order_id_next: 40,
            lineage: None,
        });
        let clock = EpochClock::new();
        let mut seen = Vec::new();
        assert_eq!(venue.poll(&clock, 2, &mut |e| seen.push(e.input())), 2);
        assert_eq!(venue.poll(&clock, 2, &mut |e| seen.push(e.input())), 1);
        assert_eq!(venue.poll(&clock, 2, &mut |e| seen.push(e.input())), 0);
        let ids: Vec<Input> = (1..=3).map(|id| Input::CancelAck(OrderId(id))).collect();
        assert_eq!(seen, ids);
    }

    // A zero-budget poll (ingest asking the session to send what the fused
    // stages just decided) reaches the session inside.
    #[test]
    fn a_zero_budget_poll_reaches_the_session() {
        struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);
        impl Source for Counting {
            fn poll(&mut self, _: &EpochClock, _: usize, _: &mut dyn FnMut(Event)) -> usize {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                0
            }
        }
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut venue = FreshVenue::new(Box::new(Counting(std::sync::Arc::clone(&polls))));
        venue.poll(&EpochClock::new(), 0, &mut |_| {});
        assert_eq!(polls.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
