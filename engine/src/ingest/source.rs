//! What ingest polls: the [`Source`] trait, the control inbox, scripted
//! input, and [`Tapped`]: a source whose events something beside the
//! engine sees first (the paper venue's touch, a simulator following the
//! market).

use crate::clock::EpochClock;
use crate::event::{ControlCommand, Event, Input};
use crate::orders::Order;
use crate::telemetry::feed_health::FeedHealth;
use crate::units::{InstrumentId, Side};
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// Most events one `poll` may emit.
pub const POLL_BUDGET_MAX: usize = 64;

/// An input ingest polls. `poll` never blocks; it emits at most `budget`
/// events, each stamped with `ts_recv_ns` when its bytes were read.
pub trait Source: Send {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize;

    /// As [`Source::poll`], but each event is lent where the source keeps
    /// it: ingest numbers it and a fused sink runs the stages on it in
    /// place, with no copy on the way (the backtest's read-ahead hands its
    /// slots so; the synthetic walk and the benchmarks' load generator
    /// write each event into one slot and lend that; [`Tapped`] passes the
    /// inner source's slot on). The source must not read the event back as
    /// its own afterwards, and a slot it reuses must be written whole: the
    /// sink may leave its decisions in it. By default, `poll` with each
    /// event lent from the stack.
    fn poll_in_place(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        self.poll(clock, budget, &mut |mut event| emit(&mut event))
    }

    /// True once the source will never emit again (scripted input ran out).
    fn is_exhausted(&self) -> bool {
        false
    }

    /// The feed's health (gaps, snapshots, stale books), for the metrics
    /// endpoint and the alerts, when the source keeps one.
    fn feed_health(&self) -> Option<Arc<FeedHealth>> {
        None
    }

    /// What the engine rebuilt from its snapshots and journal at start-up,
    /// shown to the venue source once, before its first poll (never to the
    /// other sources). A venue client asks the venue about these orders; a
    /// venue that forgot them (the in-process paper venue) answers for them.
    /// Whatever it emits is journaled like any venue message.
    fn on_restored(&mut self, _restored: &Restored<'_>) {}

    /// The engine's tick-to-trade, recorded by a venue session that sends
    /// orders over a socket (`telemetry::tick_to_trade`); ingest fills its
    /// stamp table.
    fn tick_to_trade(&mut self) -> Option<&mut crate::telemetry::tick_to_trade::TickToTrade> {
        None
    }

    /// A venue source: requests wait to be sent. Ingest then polls it with
    /// a zero budget right after the event that made them, rather than
    /// after the rest of its batch. A cheap look (one queue's emptiness).
    fn send_due(&self) -> bool {
        false
    }

    /// Whether [`Source::send_due`] may ever say true: asked once, when
    /// ingest is made, so that a venue source that never queues requests
    /// (a backtest's lane, which execution's own link feeds) costs no look
    /// after every market-data event. True unless the source knows.
    fn may_send(&self) -> bool {
        true
    }
}

/// The state a run starts from, as the venue source needs it.
#[derive(Clone, Copy, Debug)]
pub struct Restored<'a> {
    /// Orders open when the journal ended, in id order, as execution holds
    /// them: state, side, price, quantities, the venue's id from the ack,
    /// and the replace versions sent and accepted (for ClOrdIDs).
    pub open_orders: &'a [Order],
    /// This run's first sequence.
    pub seq_first: u64,
    /// The first order id this run gives out; every restored order's id is below it.
    pub order_id_next: u64,
    /// The journal's ClOrdID lineage (`orders::lineage`); none for a
    /// journal recorded before lineages existed.
    pub lineage: Option<crate::orders::Lineage>,
}

/// A source that never emits.
pub struct NoSource;

impl Source for NoSource {
    fn poll(&mut self, _clock: &EpochClock, _budget: usize, _emit: &mut dyn FnMut(Event)) -> usize {
        0
    }

    fn may_send(&self) -> bool {
        false
    }

    fn is_exhausted(&self) -> bool {
        true
    }
}

/// The sending half of the control lane: any thread may send commands.
#[derive(Clone)]
pub struct ControlSender {
    queue: Arc<ArrayQueue<ControlCommand>>,
}

impl ControlSender {
    /// Queues a command for ingest; fails only if 1024 commands are already waiting.
    pub fn send(&self, command: ControlCommand) -> Result<(), ControlCommand> {
        self.queue.push(command)
    }
}

/// The control lane ingest polls first.
pub struct ControlInbox {
    queue: Arc<ArrayQueue<ControlCommand>>,
}

impl ControlInbox {
    pub fn new() -> (ControlSender, ControlInbox) {
        let queue = Arc::new(ArrayQueue::new(1024));
        (
            ControlSender {
                queue: Arc::clone(&queue),
            },
            ControlInbox { queue },
        )
    }
}

impl Source for ControlInbox {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let mut emitted = 0;
        while emitted < budget {
            let Some(command) = self.queue.pop() else {
                break;
            };
            let mut event = Event::new(InstrumentId(0), Side::None, Input::Control(command));
            event.ts_recv_ns = clock.now_ns();
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

/// Replays a fixed list of events as they are, timestamps included: for
/// tests, backtests and replay.
pub struct ScriptedSource {
    events: Vec<Event>,
    next_index: usize,
}

impl ScriptedSource {
    pub fn new(events: Vec<Event>) -> ScriptedSource {
        ScriptedSource {
            events,
            next_index: 0,
        }
    }
}

impl Source for ScriptedSource {
    fn poll(&mut self, _clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let end = (self.next_index + budget).min(self.events.len());
        for index in self.next_index..end {
            emit(self.events[index]);
        }
        let emitted = end - self.next_index;
        self.next_index = end;
        emitted
    }

    fn is_exhausted(&self) -> bool {
        self.next_index == self.events.len()
    }
}

/// What a [`Tapped`] source shows each event to, before ingest routes it.
pub type Tap = Box<dyn FnMut(&Event) + Send>;

/// A source whose every event is shown to a tap first, then emitted: on
/// ingest's thread, in order, before ingest routes the event (so before
/// any stage sees it).
pub struct Tapped {
    inner: Box<dyn Source>,
    tap: Tap,
}

impl Tapped {
    pub fn new(inner: Box<dyn Source>, tap: Tap) -> Tapped {
        Tapped { inner, tap }
    }
}

impl Source for Tapped {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let tap = &mut self.tap;
        self.inner.poll(clock, budget, &mut |event| {
            tap(&event);
            emit(event)
        })
    }

    /// The inner source's events where it keeps them: the tap reads each
    /// by reference, then it is lent on, with no copy on the way.
    fn poll_in_place(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        let tap = &mut self.tap;
        self.inner.poll_in_place(clock, budget, &mut |event| {
            tap(event);
            emit(event)
        })
    }

    fn is_exhausted(&self) -> bool {
        self.inner.is_exhausted()
    }

    fn on_restored(&mut self, restored: &Restored<'_>) {
        self.inner.on_restored(restored);
    }

    fn feed_health(&self) -> Option<Arc<FeedHealth>> {
        self.inner.feed_health()
    }

    fn tick_to_trade(&mut self) -> Option<&mut crate::telemetry::tick_to_trade::TickToTrade> {
        self.inner.tick_to_trade()
    }

    fn send_due(&self) -> bool {
        self.inner.send_due()
    }

    fn may_send(&self) -> bool {
        self.inner.may_send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn script() -> Vec<Event> {
        (1..=5)
            .map(|id| Event::new(InstrumentId(id), Side::None, Input::Timer(u64::from(id))))
            .collect()
    }

    // In place as by value, a tapped source shows each event to its tap
    // first, then emits it, in order: the tap reads the event it lends.
    #[test]
    fn a_tapped_source_shows_each_event_to_its_tap_before_emitting_it() {
        let clock = EpochClock::new();
        for in_place in [true, false] {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let tap_seen = Arc::clone(&seen);
            let tap: Tap = Box::new(move |event: &Event| {
                tap_seen.lock().unwrap().push(("tap", *event));
            });
            let mut source = Tapped::new(Box::new(ScriptedSource::new(script())), tap);
            let emitted = if in_place {
                source.poll_in_place(&clock, 64, &mut |event| {
                    seen.lock().unwrap().push(("emit", *event));
                })
            } else {
                source.poll(&clock, 64, &mut |event| {
                    seen.lock().unwrap().push(("emit", event));
                })
            };
            assert_eq!(emitted, 5);
            let expected: Vec<(&str, Event)> = script()
                .into_iter()
                .flat_map(|event| [("tap", event), ("emit", event)])
                .collect();
            assert_eq!(*seen.lock().unwrap(), expected, "in place: {in_place}");
            assert!(source.is_exhausted());
        }
    }
}
