//! Ingest: the first stage. It polls its sources in priority order, control
//! first, then the venue (acks and fills), then market data; gives every
//! event its sequence number; flags fills whose exec id it has seen before;
//! and offers events downstream.
//!
//! When the downstream ring is full, the priority lanes of DESIGN.md apply:
//! control and venue events wait in a bounded FIFO and are never dropped
//! (the sources stay unpolled while it is full, so their own bounded queues
//! hold the rest); market data is parked one slot per instrument, a newer
//! update replacing an older one, each replacement counted and the
//! published survivor flagged `FLAG_CONFLATED`. With conflation off
//! (backtests, replay) market data waits in the FIFO too.
//!
//! Orders leave as soon as they are made: after each market-data event it
//! hands over, ingest asks the venue source whether execution queued a
//! request ([`Source::send_due`]) and, if so, polls it with a zero budget
//! (send only) before the next event of the batch; after the round it does
//! the same for orders made on control and venue events. What the journal
//! records does not change, only when the order's bytes are written (the
//! journal is write-behind either way: DESIGN.md, docs/restart.md).
//!
//! Ingest's own latency (receipt to hand-off) is timed, like the chains'
//! stages, on the events its `telemetry::metrics::LapSampler` chooses (about
//! one in 16, by a countdown over gaps drawn at random), asked as ingest
//! numbers the event and carried in the event (`FLAG_LAP_SAMPLE`, never
//! journaled), so every chain times the same events by reading one bit.
//! The countdown moves on only when the hand-off succeeds: an event offered
//! again after a refused hand-off gets the same answer. The other events are counted in the
//! buckets of the last measurement (`StageMetrics::record_repeat_unclocked`),
//! so every event is still counted once and a hand-off costs no clock read
//! most of the time.
//!
//! For the engine's tick-to-trade (`telemetry::tick_to_trade`), when the
//! venue session measures it, ingest stamps when it read each poll's input
//! (one clock read at the poll's first hand-off) and leaves every
//! market-data event's receive and read stamps in the session's table.
//!
//! Its state across a restart is the exec-id memory: every fill journaled
//! inserts its exec id in journal order, so replaying the journal rebuilds it.
//!
//! Owning thread: the first group's. Invariants, asserted: sequence numbers
//! rise by one per published event; the FIFO never holds more than
//! [`PENDING_MAX`] and a source is polled only with room for its whole
//! budget; at most one parked event per instrument.

pub mod bad_input;
pub mod source;
pub mod synthetic;

use crate::clock::EpochClock;
use crate::event::{Event, EventKind, Input, Lane, FLAG_CONFLATED, FLAG_DUPLICATE};
use crate::recent::RecentMap;
use crate::telemetry::metrics::{mark_lap_sample, LapSampler, StageMetrics};
use crate::telemetry::tick_to_trade::TriggerStamps;
use crate::units::{InstrumentId, Side};
pub use source::{
    ControlInbox, ControlSender, NoSource, Restored, ScriptedSource, Source, Tap, Tapped,
    POLL_BUDGET_MAX,
};
use std::collections::VecDeque;
use std::sync::Arc;

/// Events the priority FIFO holds while the ring is full.
pub const PENDING_MAX: usize = 4_096;
// A source is polled only with room for its whole budget.
const _: () = assert!(POLL_BUDGET_MAX <= PENDING_MAX);

/// Where ingest hands events: the fused stages, or the first ring.
pub trait Sink {
    /// Takes the event, or returns false if there is no room now.
    fn offer(&mut self, event: &Event) -> bool;

    /// As [`Sink::offer`], but the sink may work on the caller's event in
    /// place: a fused sink runs its stages on it and saves a copy. Ingest
    /// hands over a copy of its own and reads only the event's receipt
    /// time afterwards, which no stage changes; a sink that refuses the
    /// event leaves it unchanged.
    #[inline]
    fn offer_mut(&mut self, event: &mut Event) -> bool {
        self.offer(event)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounters {
    pub published: u64,
    pub control: u64,
    pub venue: u64,
    pub market_data: u64,
    pub timers: u64,
    /// Market-data updates replaced by a newer one while the ring was full.
    pub conflated: u64,
    /// Events lost. Ingest never drops; this stays zero and is reported to prove it.
    pub dropped: u64,
    pub duplicate_fills: u64,
    pub ring_full: u64,
}

/// The sources, in the order ingest polls them.
pub struct Sources {
    pub control: Box<dyn Source>,
    pub venue: Box<dyn Source>,
    pub market: Box<dyn Source>,
}

/// Everything but the sources, so a source's emit callback can borrow it.
struct Lanes {
    clock: EpochClock,
    seq_next: u64,
    /// Which events are timed lap by lap (decided as an event is numbered,
    /// counted once it is handed off).
    lap_sampler: LapSampler,
    pending: VecDeque<Event>,
    parked: Vec<Option<Event>>,
    parked_order: VecDeque<u16>,
    conflate: bool,
    exec_ids: RecentMap<()>,
    metrics: StageMetrics,
    counters: IngestCounters,
    /// The venue session's stamp table, when it measures tick-to-trade.
    trigger_stamps: Option<Arc<TriggerStamps>>,
    /// When this poll's input was read (0: nothing handed over yet).
    read_ns: u64,
}

pub struct Ingest {
    sources: Sources,
    /// The venue source may have requests to send after an event
    /// ([`Source::may_send`], asked once).
    venue_may_send: bool,
    lanes: Lanes,
    timer_interval_ns: u64,
    timer_due_ns: u64,
    timer_count: u64,
}

impl Ingest {
    pub fn new(
        sources: Sources,
        clock: EpochClock,
        instrument_count: usize,
        conflate: bool,
        exec_id_memory: usize,
        timer_interval_ns: u64,
    ) -> Ingest {
        let mut sources = sources;
        let trigger_stamps = sources.venue.tick_to_trade().map(|t2t| t2t.stamps());
        let venue_may_send = sources.venue.may_send();
        Ingest {
            sources,
            venue_may_send,
            lanes: Lanes {
                clock,
                seq_next: 1,
                lap_sampler: LapSampler::new(),
                pending: VecDeque::with_capacity(PENDING_MAX),
                parked: vec![None; instrument_count],
                parked_order: VecDeque::with_capacity(instrument_count),
                conflate,
                exec_ids: RecentMap::with_capacity(exec_id_memory),
                metrics: StageMetrics::new("ingest"),
                counters: IngestCounters::default(),
                trigger_stamps,
                read_ns: 0,
            },
            timer_interval_ns,
            timer_due_ns: 0,
            timer_count: 0,
        }
    }

    /// Remembers a fill's exec id seen before this run (from the journal), so
    /// that a venue resending it after a restart is recognised as a duplicate.
    pub fn remember_exec_id(&mut self, exec_id: u64) {
        self.lanes.exec_ids.insert(exec_id, ());
    }

    /// The exec-id memory, for a restart to restore (before the first poll).
    pub fn exec_ids_mut(&mut self) -> &mut RecentMap<()> {
        &mut self.lanes.exec_ids
    }

    pub fn exec_ids(&self) -> &RecentMap<()> {
        &self.lanes.exec_ids
    }

    /// Shows the venue source what the run starts from (see [`Source::on_restored`]).
    pub fn on_restored(&mut self, restored: &Restored<'_>) {
        self.sources.venue.on_restored(restored);
    }

    /// Starts numbering after `seq_last` (resuming a journal).
    pub fn set_seq_next(&mut self, seq_next: u64) {
        self.lanes.seq_next = seq_next;
    }

    pub fn seq_next(&self) -> u64 {
        self.lanes.seq_next
    }

    /// One round: flush waiting events, then poll control, venue, timer and
    /// market data. Returns how many events went downstream.
    pub fn poll(&mut self, sink: &mut dyn Sink) -> usize {
        let lanes = &mut self.lanes;
        let published_before = lanes.counters.published;
        if !lanes.flush_pending(sink) {
            return (lanes.counters.published - published_before) as usize;
        }
        lanes.flush_parked(sink);
        let Sources {
            control,
            venue,
            market,
        } = &mut self.sources;
        let clock = lanes.clock.clone();
        if lanes.pending_room() >= POLL_BUDGET_MAX {
            control.poll_in_place(&clock, POLL_BUDGET_MAX, &mut |ev| lanes.route(ev, sink));
        }
        if lanes.pending_room() >= POLL_BUDGET_MAX {
            venue.poll_in_place(&clock, POLL_BUDGET_MAX, &mut |ev| lanes.route(ev, sink));
        }
        if self.timer_interval_ns > 0 {
            let now_ns = clock.now_ns();
            if self.timer_due_ns == 0 {
                self.timer_due_ns = now_ns + self.timer_interval_ns;
            } else if now_ns >= self.timer_due_ns && lanes.pending_room() > 0 {
                self.timer_count += 1;
                self.timer_due_ns = now_ns + self.timer_interval_ns;
                let mut timer =
                    Event::new(InstrumentId(0), Side::None, Input::Timer(self.timer_count));
                timer.ts_recv_ns = now_ns;
                lanes.route(&mut timer, sink);
            }
        }
        let market_may_flow =
            lanes.pending.is_empty() || (lanes.conflate && lanes.pending_room() >= POLL_BUDGET_MAX);
        if market_may_flow {
            lanes.read_ns = 0;
            let venue_may_send = self.venue_may_send;
            if venue_may_send || lanes.trigger_stamps.is_some() {
                market.poll_in_place(&clock, POLL_BUDGET_MAX, &mut |ev| {
                    lanes.route_market::<true>(ev, sink);
                    // An order the fused stages made on this update leaves now,
                    // not after the rest of the batch is processed and journaled.
                    if venue_may_send && venue.send_due() {
                        venue.poll(&clock, 0, &mut |_| {});
                    }
                });
            } else {
                // A venue source that never sends and no tick-to-trade
                // stamps (a backtest's lanes): nothing to ask per event.
                market.poll_in_place(&clock, POLL_BUDGET_MAX, &mut |ev| {
                    lanes.route_market::<false>(ev, sink)
                });
            }
        }
        let published = (lanes.counters.published - published_before) as usize;
        if published > 0 {
            // Orders made on control or venue events leave now, not on the next
            // round: a zero budget lets the venue source send without emitting.
            venue.poll(&clock, 0, &mut |_| {});
        }
        published
    }

    /// True when no source will emit again and nothing waits.
    pub fn is_drained(&self) -> bool {
        let s = &self.sources;
        s.control.is_exhausted()
            && s.venue.is_exhausted()
            && s.market.is_exhausted()
            && self.lanes.pending.is_empty()
            && self.lanes.parked_order.is_empty()
    }

    /// Publishes whatever waits; false if the sink is still full.
    pub fn flush(&mut self, sink: &mut dyn Sink) -> bool {
        self.lanes.flush_pending(sink) && self.lanes.flush_parked(sink)
    }

    /// Events waiting in the priority FIFO or parked.
    pub fn waiting(&self) -> usize {
        self.lanes.pending.len() + self.lanes.parked_order.len()
    }

    pub fn counters(&self) -> IngestCounters {
        self.lanes.counters
    }

    pub fn metrics(&self) -> &StageMetrics {
        &self.lanes.metrics
    }

    pub fn metrics_mut(&mut self) -> &mut StageMetrics {
        &mut self.lanes.metrics
    }

    /// The venue session's tick-to-trade recorder, if it keeps one.
    pub fn tick_to_trade_mut(
        &mut self,
    ) -> Option<&mut crate::telemetry::tick_to_trade::TickToTrade> {
        self.sources.venue.tick_to_trade()
    }

    /// Copies the counters to the telemetry board.
    pub fn publish(&self, board: &crate::telemetry::Board) {
        use crate::telemetry::Counter;
        let c = &self.lanes.counters;
        for (counter, value) in [
            (Counter::Events, c.published),
            (Counter::MarketData, c.market_data),
            (Counter::VenueEvents, c.venue),
            (Counter::ControlEvents, c.control),
            (Counter::Timers, c.timers),
            (Counter::Conflated, c.conflated),
            (Counter::Dropped, c.dropped),
            (Counter::DuplicateFills, c.duplicate_fills),
            (Counter::RingFull, c.ring_full),
        ] {
            board.set(counter, value);
        }
    }

    /// Nothing came in: hand a finished interval to the reporter if it asked.
    pub fn on_idle(&mut self) {
        let now_ns = self.lanes.clock.now_ns();
        self.lanes.metrics.rotate_if_offered(now_ns);
    }
}

impl Lanes {
    fn pending_room(&self) -> usize {
        PENDING_MAX - self.pending.len()
    }

    /// [`Lanes::route`] for the market source's events: with conflation
    /// off and nothing waiting, a market-data event (a backtest's tape
    /// row) or a venue reply (a backtest's, handed over between the rows)
    /// is counted and published here, without the call and the other
    /// lanes' checks (nothing to park; a reply's fill looked up as `route`
    /// does).
    /// `STAMPED` false: the caller knows there is no tick-to-trade stamp
    /// table (the publish leaves out its look).
    #[inline(always)]
    fn route_market<const STAMPED: bool>(&mut self, event: &mut Event, sink: &mut dyn Sink) {
        debug_assert!(STAMPED || self.trigger_stamps.is_none());
        if self.conflate || !self.pending.is_empty() {
            return self.route(event, sink);
        }
        match event.kind.lane() {
            Lane::MarketData => self.counters.market_data += 1,
            Lane::Venue if event.kind != EventKind::Timer => {
                self.counters.venue += 1;
                self.flag_duplicate_fill(event);
            }
            Lane::Venue | Lane::Control => return self.route(event, sink),
        }
        if !self.publish_as::<STAMPED>(event, sink) {
            self.pending.push_back(*event);
        }
    }

    /// Flags a fill whose exec id was seen before (and counts it); every
    /// fill's exec id is remembered.
    #[inline(always)]
    fn flag_duplicate_fill(&mut self, event: &mut Event) {
        if let Some(fill) = event.fill() {
            // A source may know a fill is a resend before ingest does (the
            // FIX client: one reconciliation already counted).
            let seen = !self.exec_ids.insert(fill.exec_id.0, ());
            if seen || event.is_duplicate() {
                event.flags |= FLAG_DUPLICATE;
                self.counters.duplicate_fills += 1;
            }
        }
    }

    /// Sends `event` downstream now or keeps a copy by its lane's rule
    /// (the event is the source's, lent: a fused sink works on it in place).
    fn route(&mut self, event: &mut Event, sink: &mut dyn Sink) {
        let lane = event.kind.lane();
        match lane {
            Lane::Control => self.counters.control += 1,
            Lane::MarketData => self.counters.market_data += 1,
            Lane::Venue if event.kind == EventKind::Timer => self.counters.timers += 1,
            Lane::Venue => self.counters.venue += 1,
        }
        self.flag_duplicate_fill(event);
        let conflating = lane == Lane::MarketData && self.conflate;
        if conflating && !self.parked_order.is_empty() {
            return self.park(*event);
        }
        if self.pending.is_empty() && self.publish(event, sink) {
            return;
        }
        if conflating {
            return self.park(*event);
        }
        if self.pending.len() == PENDING_MAX {
            // Unreachable by construction: sources are polled only with room for a full budget.
            self.counters.dropped += 1;
            return;
        }
        self.pending.push_back(*event);
    }

    fn park(&mut self, mut event: Event) {
        let index = event.instrument.index();
        let Some(slot) = self.parked.get_mut(index) else {
            self.counters.dropped += 1;
            return;
        };
        if slot.is_some() {
            self.counters.conflated += 1;
            event.flags |= FLAG_CONFLATED;
        } else {
            self.parked_order.push_back(index as u16);
        }
        *slot = Some(event);
    }

    // Inlined into each caller: the tape's rows take it once per row, and
    // the call's own register saves were a fifth of its cost.
    #[inline(always)]
    fn publish(&mut self, event: &mut Event, sink: &mut dyn Sink) -> bool {
        self.publish_as::<true>(event, sink)
    }

    /// [`Lanes::publish`]; `STAMPED` false when the caller knows there is
    /// no tick-to-trade stamp table (its two looks left out).
    #[inline(always)]
    fn publish_as<const STAMPED: bool>(&mut self, event: &mut Event, sink: &mut dyn Sink) -> bool {
        debug_assert!(STAMPED || self.trigger_stamps.is_none());
        debug_assert!(self.pending.len() <= PENDING_MAX, "the FIFO is bounded");
        debug_assert!(
            self.parked_order.len() <= self.parked.len(),
            "one parked slot per instrument"
        );
        event.seq = self.seq_next;
        // Decided now, counted only once the hand-off succeeds: an event
        // offered again after a refusal gets the same answer.
        let sampled = self.lap_sampler.next_is_sampled();
        mark_lap_sample(event, sampled);
        // Ingest's exit is the hand-off; in a fused plan `offer` runs the later stages too.
        let clocked = self.needs_clock::<STAMPED>(event, sampled);
        let exit_ns = if clocked { self.clock.now_ns() } else { 0 };
        if let Some(stamps) = self.trigger_stamps.as_ref().filter(|_| STAMPED) {
            stamp_trigger(stamps, event, &mut self.read_ns, exit_ns);
        }
        if !sink.offer_mut(event) {
            self.counters.ring_full += 1;
            return false;
        }
        self.seq_next += 1;
        self.lap_sampler.advance();
        self.counters.published += 1;
        if clocked {
            let since_recv_ns = exit_ns.saturating_sub(event.ts_recv_ns);
            self.metrics.record_same(exit_ns, since_recv_ns);
        } else {
            self.metrics.record_repeat_unclocked();
        }
        true
    }

    /// Whether this hand-off reads the clock: on the chains' sample of
    /// events (`sampled`: the event's `FLAG_LAP_SAMPLE`, which every chain
    /// reads), when the metrics need a time, and for a poll's first
    /// market-data hand-off while the venue session takes tick-to-trade
    /// stamps (its read stamp).
    #[inline]
    fn needs_clock<const STAMPED: bool>(&self, event: &Event, sampled: bool) -> bool {
        sampled
            || self.metrics.repeat_needs_clock()
            || (STAMPED
                && self.trigger_stamps.is_some()
                && self.read_ns == 0
                && event.kind.lane() == Lane::MarketData)
    }

    fn flush_pending(&mut self, sink: &mut dyn Sink) -> bool {
        // Published later than read: their read stamp is not known.
        self.read_ns = u64::MAX;
        while let Some(mut event) = self.pending.front().copied() {
            if !self.publish(&mut event, sink) {
                return false;
            }
            self.pending.pop_front();
        }
        true
    }

    fn flush_parked(&mut self, sink: &mut dyn Sink) -> bool {
        self.read_ns = u64::MAX;
        while let Some(&index) = self.parked_order.front() {
            let Some(mut event) = self.parked[index as usize] else {
                self.parked_order.pop_front();
                continue;
            };
            if !self.publish(&mut event, sink) {
                return false;
            }
            self.parked[index as usize] = None;
            self.parked_order.pop_front();
        }
        true
    }
}

/// Leaves a market-data event's receive and read stamps for the venue
/// session's tick-to-trade. The read stamp is the poll's first hand-off
/// (`exit_ns` then); an event published from the FIFO or a parked slot,
/// read in an earlier poll (`read_ns` is `u64::MAX`), is left out.
#[inline]
fn stamp_trigger(stamps: &TriggerStamps, event: &Event, read_ns: &mut u64, exit_ns: u64) {
    if event.kind.lane() != Lane::MarketData {
        return;
    }
    if *read_ns == 0 {
        *read_ns = exit_ns;
    }
    if *read_ns != u64::MAX {
        stamps.put(event.seq, event.ts_recv_ns, *read_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TopOfBook;
    use crate::units::{Price, Qty};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    type Log = Arc<Mutex<Vec<String>>>;

    /// Execution stand-in: queues an order on the first event it sees.
    struct Stages {
        queued: Arc<AtomicBool>,
        log: Log,
    }

    impl Sink for Stages {
        fn offer(&mut self, event: &Event) -> bool {
            self.log
                .lock()
                .unwrap()
                .push(format!("event {}", event.seq));
            if event.seq == 1 {
                self.queued.store(true, Ordering::Release);
            }
            true
        }
    }

    /// Venue stand-in: sends what was queued on a zero-budget poll.
    struct Venue {
        queued: Arc<AtomicBool>,
        log: Log,
    }

    impl Source for Venue {
        fn poll(
            &mut self,
            _clock: &EpochClock,
            budget: usize,
            _emit: &mut dyn FnMut(Event),
        ) -> usize {
            if budget == 0 && self.queued.swap(false, Ordering::AcqRel) {
                self.log.lock().unwrap().push("sent".into());
            }
            0
        }

        fn send_due(&self) -> bool {
            self.queued.load(Ordering::Acquire)
        }
    }

    fn top(bid: i64) -> Event {
        Event::new(
            InstrumentId(0),
            Side::None,
            Input::TopOfBook(TopOfBook {
                bid_px: Price(bid),
                bid_qty: Qty(1),
                ask_px: Price(bid + 2),
                ask_qty: Qty(1),
            }),
        )
    }

    /// Records each event's number and whether it is on the lap sample.
    struct Marks(Vec<(u64, bool)>);

    impl Sink for Marks {
        fn offer(&mut self, event: &Event) -> bool {
            self.0.push((event.seq, event.on_lap_sample()));
            true
        }
    }

    // Ingest marks exactly the events its lap sample chooses (the first
    // event, then a countdown over gaps drawn at random), so every chain
    // after it times the same events by reading the flag; a stale mark an
    // event brings with it is put right.
    #[test]
    fn published_events_carry_the_lap_sample() {
        let mut stale = top(100);
        stale.flags = crate::event::FLAG_STALE | crate::event::FLAG_LAP_SAMPLE;
        let mut script = vec![stale];
        script.extend((0..499).map(|i| top(100 + i)));
        let sources = Sources {
            control: Box::new(NoSource),
            venue: Box::new(NoSource),
            market: Box::new(ScriptedSource::new(script)),
        };
        let mut ingest = Ingest::new(sources, EpochClock::new(), 1, false, 16, 0);
        let mut marks = Marks(Vec::new());
        while !ingest.is_drained() {
            ingest.poll(&mut marks);
        }
        assert_eq!(marks.0.len(), 500);
        let mut sampler = LapSampler::new();
        for &(seq, marked) in &marks.0 {
            assert_eq!(marked, sampler.take(), "event {seq}");
        }
        let sampled = marks.0.iter().filter(|&&(_, marked)| marked).count();
        assert!((10..=70).contains(&sampled), "{sampled} of 500 sampled");
    }

    /// Refuses every third offer; records every offer and whether it took it.
    struct Refusing(Vec<(u64, bool, bool)>);

    impl Sink for Refusing {
        fn offer(&mut self, event: &Event) -> bool {
            let taken = self.0.len() % 3 != 2;
            self.0.push((event.seq, event.on_lap_sample(), taken));
            taken
        }
    }

    // A refused hand-off does not count on the lap sample: the event is
    // offered again with the same number and the same mark, and the events
    // taken carry exactly the sample of an ingest that was never refused.
    #[test]
    fn a_refused_event_is_offered_again_with_the_same_lap_mark() {
        let script: Vec<Event> = (0..500).map(|i| top(100 + i)).collect();
        let sources = Sources {
            control: Box::new(NoSource),
            venue: Box::new(NoSource),
            market: Box::new(ScriptedSource::new(script)),
        };
        let mut ingest = Ingest::new(sources, EpochClock::new(), 1, false, 16, 0);
        let mut offers = Refusing(Vec::new());
        while !ingest.is_drained() {
            ingest.poll(&mut offers);
        }
        let refused = offers.0.iter().filter(|&&(_, _, taken)| !taken).count();
        assert!(refused >= 200, "{refused} refused");
        for pair in offers.0.windows(2) {
            let ((seq, marked, taken), (next_seq, next_marked, _)) = (pair[0], pair[1]);
            if !taken {
                assert_eq!((next_seq, next_marked), (seq, marked), "re-offer of {seq}");
            }
        }
        let taken: Vec<(u64, bool)> = offers
            .0
            .iter()
            .filter(|&&(_, _, taken)| taken)
            .map(|&(seq, marked, _)| (seq, marked))
            .collect();
        assert_eq!(taken.len(), 500);
        let mut sampler = LapSampler::new();
        for (&(seq, marked), expected_seq) in taken.iter().zip(1..) {
            assert_eq!(seq, expected_seq);
            assert_eq!(marked, sampler.take(), "event {seq}");
        }
        assert!(
            offers.0.iter().any(|&(_, marked, taken)| marked && !taken),
            "a sampled event was refused and offered again"
        );
    }

    // An order decided on the first update of a batch is sent before the
    // second update is handed over, not after the whole batch.
    #[test]
    fn an_order_leaves_before_the_rest_of_its_batch() {
        let queued = Arc::new(AtomicBool::new(false));
        let log: Log = Arc::default();
        let sources = Sources {
            control: Box::new(NoSource),
            venue: Box::new(Venue {
                queued: Arc::clone(&queued),
                log: Arc::clone(&log),
            }),
            market: Box::new(ScriptedSource::new(vec![top(100), top(101), top(102)])),
        };
        let mut ingest = Ingest::new(sources, EpochClock::new(), 1, true, 16, 0);
        let mut stages = Stages {
            queued,
            log: Arc::clone(&log),
        };
        assert_eq!(ingest.poll(&mut stages), 3, "one poll takes the batch");
        assert_eq!(
            *log.lock().unwrap(),
            ["event 1", "sent", "event 2", "event 3"],
            "the order went out right after the event it was decided on"
        );
    }

    /// Keeps every event published.
    struct Published(Vec<Event>);

    impl Sink for Published {
        fn offer(&mut self, event: &Event) -> bool {
            self.0.push(*event);
            true
        }
    }

    // Venue replies handed over by the market source (a backtest's, between
    // its rows) take the inline path; the same script through the venue
    // source takes `route`. Both publish the same events with the same
    // flags (a repeated exec id, and a fill its source already marked,
    // flagged duplicate) and count the same.
    #[test]
    fn replies_from_the_market_source_route_as_the_venue_source_does() {
        use crate::event::{Fill, OrderAck, FLAG_DUPLICATE};
        use crate::units::{ExecId, OrderId};
        let fill = |exec_id: u64| {
            let fill = Fill {
                order_id: OrderId(7),
                exec_id: ExecId(exec_id),
                price: Price(100),
                qty: Qty(1),
            };
            Event::new(InstrumentId(0), Side::Buy, Input::Fill(fill))
        };
        let ack = Event::new(
            InstrumentId(0),
            Side::Buy,
            Input::OrderAck(OrderAck {
                order_id: OrderId(7),
                venue_order_id: 70,
                price: Price(100),
                qty: Qty(2),
            }),
        );
        let mut marked = fill(4);
        marked.flags |= FLAG_DUPLICATE;
        let timer = Event::new(InstrumentId(0), Side::None, Input::Timer(1));
        let script = vec![
            top(100),
            ack,
            fill(1),
            top(101),
            fill(2),
            fill(1),
            timer,
            fill(3),
            marked,
            top(102),
            fill(2),
        ];
        let run = |as_market: bool| {
            let scripted = Box::new(ScriptedSource::new(script.clone()));
            let (venue, market): (Box<dyn Source>, Box<dyn Source>) = if as_market {
                (Box::new(NoSource), scripted)
            } else {
                (scripted, Box::new(NoSource))
            };
            let sources = Sources {
                control: Box::new(NoSource),
                venue,
                market,
            };
            let mut ingest = Ingest::new(sources, EpochClock::new(), 1, false, 16, 0);
            let mut published = Published(Vec::new());
            while !ingest.is_drained() {
                ingest.poll(&mut published);
            }
            (published.0, ingest.counters())
        };
        let (inline, inline_counters) = run(true);
        let (routed, routed_counters) = run(false);
        assert_eq!(inline.len(), script.len());
        assert_eq!(inline, routed, "the same events, numbers and flags");
        assert_eq!(inline_counters, routed_counters);
        assert_eq!(
            inline_counters.duplicate_fills, 3,
            "exec ids 1 and 2 again, and 4 marked"
        );
        assert_eq!(inline_counters.venue, 7);
        assert_eq!(inline_counters.timers, 1);
        let flagged: Vec<bool> = inline.iter().map(Event::is_duplicate).collect();
        assert_eq!(
            flagged,
            [false, false, false, false, false, true, false, false, true, false, true]
        );
    }
}
