//! The backtest's clock: one loop that merges, in tape time, what the
//! engine receives (tape rows, the venue's replies) with what the backtest
//! venue receives (tape rows, the engine's orders), and the two sources
//! ingest polls for it ([`DriverLane`]): the market-data lane hands the
//! engine the tape's rows (and the venue's replies that fall between them,
//! so one poll runs the merge as far as its budget), the venue lane the
//! replies that come first in a round.
//!
//! Four streams, each already in time order, merged by (time, rank):
//!
//! | rank | item | time |
//! |---:|---|---|
//! | 0 | the venue sees a tape row | its exchange time (or local, by `backtest.venue_time`), never after its local time nor before the row before |
//! | 1 | the engine receives a tape row | its local time (`ts_recv_ns`) |
//! | 2 | the engine receives a venue reply | the venue's time + `response_latency_ns` |
//! | 3 | the venue receives an order | the engine's decision time (`ts_decided_ns`) + `entry_latency_ns` |
//!
//! So at one instant the venue applies the tape before orders arriving
//! then, as hftbacktest does. Each stream's next item is kept as one number
//! (time, then rank), updated only when that stream moves: the merge is
//! the least of four numbers. A synchronous market lane (a backtest's
//! every poll but the venue lane's) merges in the same order without the
//! keys: the times are compared as plain numbers, the tape's rows run in a
//! tight loop while they come before the front reply and the front order
//! (unbounded while none waits), the reply or the order is taken when it
//! comes first, and the four keys are put right once, when the poll
//! stops. Rows are read ahead (at most
//! `backtest.lookahead_rows_max`) so the venue can see them before the
//! engine does: by the driver, or, with `backtest.tape_core`, by the
//! tape's core, which also makes each row's touch and event; then, when
//! the next row is not yet published, the merge stops until it is (it
//! never moves past a row it has not seen, so the order is the same).
//!
//! Why it is deterministic: an order decided at time t reaches the venue at
//! t + entry latency or later, so the venue may run up to there before the
//! engine's decisions are known. With every stage up to execution on
//! ingest's thread, an event handed over is decided before the hand-over
//! returns (synchronous: orders are taken right after each hand-over) —
//! `genesis backtest` runs every plan so, ingest's thread waiting for room
//! in the journal's ring (`RunHooks::head_blocks`). A driver that is not
//! synchronous (its events may wait in ingest) hands over in one poll only
//! what falls within the entry latency of its first event, and takes the
//! orders at the next poll. No clock is read but to measure latency.
//!
//! After the last row, orders and replies are still answered and delivered
//! up to the last row's time plus both latencies; later ones are dropped
//! and counted. Owning thread: ingest's (the lanes share the driver behind
//! a mutex only that thread takes). Invariants, asserted in debug builds:
//! every time handed to the engine is at or after the one before; the
//! venue has seen every row the engine receives; the kept keys are the
//! streams' own; queues never outgrow what was reserved for them.

use super::in_flight::{InFlight, Timed};
use super::order_link::OrderReceiver;
use super::read_ahead::{ReadAhead, Taken};
use super::tape_core::{venue_time_of, TapeAhead};
use super::translate;
use genesis_engine::adapters::tape_source::{event_of_record, write_event_of_record, TapeFeed};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{Config, VenueTime};
use genesis_engine::event::{Event, FLAG_MESSAGE_CONTINUES};
use genesis_engine::execution::gateway::{OrderRequest, RequestKind};
use genesis_engine::ingest::Source;
use genesis_engine::telemetry::metrics::LapSampler;
use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};
use genesis_io::tape::records::TapeRecord;
use genesis_io::tape::TapeError;
use genesis_sim::backtest::{BacktestVenue, BacktestVenueConfig, Reply};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Orders and replies in flight the queues reserve room for.
const IN_FLIGHT_RESERVED: usize = 4_096;
/// What an empty slot of the order queue holds.
const BLANK_REQUEST: OrderRequest = OrderRequest {
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
/// Rows the driver reads from the tape at once (when it reads it itself).
const READ_RUN_ROWS: usize = 64;
/// Rows between two updates of the progress counters (looked at once per
/// poll, not per row).
const PROGRESS_EVERY_ROWS: u64 = 4_096;

/// What the merge takes next, in rank order for equal times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    VenueTape = 0,
    EngineTape = 1,
    EngineReply = 2,
    VenueRequest = 3,
}

impl Item {
    const BY_RANK: [Item; 4] = [
        Item::VenueTape,
        Item::EngineTape,
        Item::EngineReply,
        Item::VenueRequest,
    ];
}

/// A stream's next item as one number: its time, then its rank, so the
/// merge is a `min` of four numbers; [`NONE`] when the stream has none.
type MergeKey = u128;
/// A stream with nothing to take (above every real key).
const NONE: MergeKey = MergeKey::MAX;

#[inline]
fn merge_key(time_ns: u64, item: Item) -> MergeKey {
    (MergeKey::from(time_ns) << 2) | item as MergeKey
}

/// Which of ingest's sources is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Market,
    Venue,
}

impl Lane {
    /// Whether a poll of this lane hands `item` over: the market lane hands
    /// over the rows and the replies between them (one poll runs the merge
    /// as far as its budget allows); the venue lane only replies.
    #[inline]
    fn hands(self, item: Item) -> bool {
        match self {
            Lane::Market => true,
            Lane::Venue => item == Item::EngineReply,
        }
    }
}

/// What the fast merge takes next, once the venue has seen the rows due
/// first ([`Driver::pump_rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// The engine's next row.
    Row,
    /// The front reply or the front order.
    Waiting,
    /// A reply or an order appeared while none waited: the rows go on
    /// bounded by it.
    Arrived,
    /// Nothing until the tape's next row is there (or the general merge
    /// finishes the tape).
    Tape,
}

/// What the backtest's clock did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Tape rows handed to the engine.
    pub rows: u64,
    /// Book deltas that end a feed message.
    pub book_updates: u64,
    pub trades: u64,
    /// Venue replies handed to the engine.
    pub replies: u64,
    /// Orders (new, cancel, replace) the venue received.
    pub requests: u64,
    /// Rows the venue saw later than their time (the read-ahead was full,
    /// or the tape's exchange times go backwards).
    pub venue_clock_held: u64,
    /// Orders that would have reached the venue after the tape's end.
    pub requests_unanswered: u64,
    /// Replies that would have reached the engine after the tape's end.
    pub replies_undelivered: u64,
}

/// Progress counters another thread may read while the backtest runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub rows: AtomicU64,
    pub file_bytes_read: AtomicU64,
}

/// The backtest's clock (see the module header).
pub struct Driver {
    /// The tape, read here; None when the tape's core reads it ahead
    /// (`backtest.tape_core`: the rows come through `rows`).
    feed: Option<TapeFeed>,
    /// The tape's core published its last row and the driver took it.
    ahead_ended: bool,
    /// Also the engine's books: the touch an engine event carries is the
    /// venue's book's after the same row (both apply every row of the tape
    /// in order, and orders never change the venue's book).
    venue: BacktestVenue,
    requests_in: OrderReceiver,
    rows: ReadAhead,
    rows_max: usize,
    /// Index in `rows` of the next row the venue has not seen.
    venue_next: usize,
    venue_clock_ns: u64,
    /// Orders on their way to the venue, with their arrival times.
    requests: InFlight<(u64, OrderRequest)>,
    /// The arrival time of the order pushed last (the back of `requests`
    /// while it holds any).
    request_back_ns: u64,
    /// Replies on their way to the engine, as its events.
    replies: InFlight<Event>,
    /// Each stream's next item as a [`MergeKey`], kept as the streams move
    /// (never recomputed per item): the row the venue sees next, the row the
    /// engine receives next, the front reply and the front request.
    venue_key: MergeKey,
    engine_key: MergeKey,
    reply_key: MergeKey,
    request_key: MergeKey,
    entry_ns: u64,
    response_ns: u64,
    venue_time: VenueTime,
    /// Every stage up to execution runs inside a hand-over.
    synchronous: bool,
    /// A synchronous market lane merges in [`Driver::pump_synchronous`]
    /// (off only to test it against the general merge).
    fast_merge: bool,
    now_ns: u64,
    /// The last hand-over's time, held only to check that the engine's
    /// time never goes back (debug builds).
    #[cfg(debug_assertions)]
    last_handed_ns: u64,
    /// Local time of the last row read: the tape's end, once it ends.
    last_read_local_ns: u64,
    end_ns: Option<u64>,
    counters: DriverCounters,
    latency: SampledLatency,
    progress: Arc<Progress>,
    /// Rows handed over at which the progress counters are next updated.
    progress_due_rows: u64,
}

/// Per-event latency of the hand-overs, timed on a sample: the clock is
/// read around the first hand-over and then about one in
/// [`LAP_SAMPLE_EVERY`](genesis_engine::telemetry::metrics::LAP_SAMPLE_EVERY)
/// (16), the gaps between timed hand-overs drawn at
/// random (geometric, mean 16: each hand-over is timed with probability
/// 1/16, independently of the others and of what it carries, so a requote
/// every Nth update cannot alias with it); every other hand-over counts
/// once more in the last measured value's bucket, so the histogram counts
/// every event exactly once. The sample is a [`LapSampler`] like ingest's,
/// on its own draw stream: had it ingest's draws, the hand-overs it times
/// would be the very events ingest times stage by stage (four histogram
/// records and five clock reads), and every latency measured would carry
/// that cost. A hand-over pays a countdown; a draw (one splitmix of the
/// draw's number) is made once per timed hand-over. An untimed hand-over
/// pays nothing more: the hand-overs counted as the last measured one are
/// the driver's count of hand-overs (rows and replies, which it keeps
/// anyway) since that one, recorded together at the next timed one (or
/// when the histogram is read), one histogram record per timed hand-over.
struct SampledLatency {
    histogram: Histogram<u64>,
    /// Which hand-overs are timed.
    sample: LapSampler,
    /// The last measured latency; 0 until one is.
    last_ns: u64,
    /// Hand-overs recorded in the histogram; those since (the last timed
    /// one and the repeats after it) count as `last_ns`, not yet recorded.
    recorded: u64,
}

impl SampledLatency {
    fn new() -> SampledLatency {
        SampledLatency {
            histogram: genesis_engine::telemetry::metrics::new_histogram(),
            sample: LapSampler::with_stream(1),
            last_ns: 0,
            recorded: 0,
        }
    }

    /// Whether the next hand-over is timed; counts it.
    #[inline(always)]
    fn next_is_timed(&mut self) -> bool {
        self.sample.take()
    }

    /// A timed hand-over, the `handed`th, took `latency_ns`: the
    /// hand-overs before it counted as the last measured one are recorded,
    /// and this one starts the next count.
    #[inline]
    fn measured(&mut self, latency_ns: u64, handed: u64) {
        self.settle(handed - 1);
        self.last_ns = latency_ns.max(1);
    }

    /// Records the hand-overs counted and not yet recorded, `handed` of
    /// them handed over so far.
    fn settle(&mut self, handed: u64) {
        let count = handed - self.recorded;
        if count > 0 {
            debug_assert!(self.last_ns > 0, "a repeat follows a measurement");
            self.histogram.saturating_record_n(self.last_ns, count);
        }
        self.recorded = handed;
    }
}

impl Driver {
    /// A driver over `feed`, answering orders that execution puts in `requests_in`.
    pub fn new(
        config: &Config,
        feed: TapeFeed,
        requests_in: OrderReceiver,
        synchronous: bool,
    ) -> Driver {
        let rows = ReadAhead::with_capacity(config.backtest.lookahead_rows_max);
        Driver::over(config, (Some(feed), rows), requests_in, synchronous)
    }

    /// A driver whose rows the returned [`TapeAhead`] reads from `feed`
    /// and prepares ahead on the tape's core (`backtest.tape_core`).
    pub fn with_tape_core(
        config: &Config,
        feed: TapeFeed,
        requests_in: OrderReceiver,
        synchronous: bool,
    ) -> (Driver, TapeAhead) {
        let (rows, slots) = ReadAhead::ahead(config.backtest.lookahead_rows_max);
        let driver = Driver::over(config, (None, rows), requests_in, synchronous);
        (driver, TapeAhead::new(config, feed, slots))
    }

    fn over(
        config: &Config,
        (feed, rows): (Option<TapeFeed>, ReadAhead),
        requests_in: OrderReceiver,
        synchronous: bool,
    ) -> Driver {
        let backtest = &config.backtest;
        let venue = BacktestVenue::new(&BacktestVenueConfig {
            instruments: config.instruments.len(),
            orders_max: backtest.orders_max,
            book_levels_max: backtest.book_levels_max,
        });
        Driver {
            feed,
            ahead_ended: false,
            venue,
            requests_in,
            rows,
            rows_max: backtest.lookahead_rows_max,
            venue_next: 0,
            venue_clock_ns: 0,
            requests: InFlight::with_capacity(IN_FLIGHT_RESERVED, (0, BLANK_REQUEST)),
            request_back_ns: 0,
            replies: InFlight::with_capacity(IN_FLIGHT_RESERVED, Event::EMPTY),
            venue_key: NONE,
            engine_key: NONE,
            reply_key: NONE,
            request_key: NONE,
            entry_ns: backtest.entry_latency_ns,
            response_ns: backtest.response_latency_ns,
            venue_time: backtest.venue_time,
            synchronous,
            fast_merge: true,
            now_ns: 0,
            #[cfg(debug_assertions)]
            last_handed_ns: 0,
            last_read_local_ns: 0,
            end_ns: None,
            counters: DriverCounters::default(),
            latency: SampledLatency::new(),
            progress: Arc::new(Progress::default()),
            progress_due_rows: PROGRESS_EVERY_ROWS,
        }
    }

    /// Ingest's two sources over the shared driver: the venue lane, then
    /// the market-data lane.
    pub fn lanes(driver: &Arc<Mutex<Driver>>) -> (DriverLane, DriverLane) {
        let lane = |lane| DriverLane {
            driver: Arc::clone(driver),
            lane,
        };
        (lane(Lane::Venue), lane(Lane::Market))
    }

    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    pub fn counters(&self) -> DriverCounters {
        self.counters
    }

    /// Per event: from taking it off the read-ahead to the end of its
    /// hand-over (the journal's write, in a fused plan), timed on a sample
    /// (see [`SampledLatency`]); every hand-over is counted.
    pub fn latency_ns(&mut self) -> &Histogram<u64> {
        self.latency.settle(self.handed());
        &self.latency.histogram
    }

    pub fn venue(&self) -> &BacktestVenue {
        &self.venue
    }

    /// Takes the error that ended the tape, if one did.
    pub fn take_tape_error(&mut self) -> Option<TapeError> {
        match &mut self.feed {
            Some(feed) => feed.take_error(),
            None => self.rows.take_error(),
        }
    }

    /// Bytes of the tape files read so far.
    fn file_bytes_read(&self) -> u64 {
        match &self.feed {
            Some(feed) => feed.file_bytes_read(),
            None => self.rows.file_bytes_read(),
        }
    }

    /// Whether every row of the tape has been read (or it failed).
    #[inline]
    fn tape_done(&self) -> bool {
        match &self.feed {
            Some(feed) => feed.is_done(),
            None => self.ahead_ended,
        }
    }

    /// Levels dropped because a book side was full, over all books.
    pub fn levels_truncated(&self) -> u64 {
        self.venue.levels_truncated()
    }

    /// True once nothing more will happen.
    fn is_finished(&self) -> bool {
        self.tape_done()
            && self.rows.is_empty()
            && self.requests.is_empty()
            && self.replies.is_empty()
            && self.requests_in.is_empty()
    }

    /// One poll of `lane`: the merge runs until the next item is the other
    /// lane's, the budget is spent, or (pipelined) the entry latency of the
    /// first hand-over is reached. Returns the events handed over.
    fn pump(
        &mut self,
        lane: Lane,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        if budget == 0 {
            return 0;
        }
        self.take_requests();
        let mut handed = 0;
        if lane == Lane::Market && self.synchronous && self.fast_merge {
            handed = self.pump_synchronous(clock, budget, emit);
        }
        let mut window_end_ns = u64::MAX;
        while let Some((time_ns, item)) = self.next_item() {
            if time_ns > window_end_ns {
                break;
            }
            match item {
                Item::VenueTape => self.venue_sees_row(time_ns),
                Item::VenueRequest => self.venue_takes_request(time_ns),
                Item::EngineTape | Item::EngineReply => {
                    if !lane.hands(item) || handed == budget {
                        break;
                    }
                    self.hand_over(item, clock, emit);
                    handed += 1;
                    if self.synchronous {
                        self.take_requests();
                    } else {
                        window_end_ns = window_end_ns.min(time_ns.saturating_add(self.entry_ns));
                    }
                }
            }
        }
        self.progress_after_poll();
        handed
    }

    /// The merge of a synchronous market lane (most polls), in the
    /// general merge's order ([`Driver::next_item`]) without its keys: each
    /// stream's next time is a plain number, and the order of the tests
    /// keeps the ranks at equal times (the venue's row, the engine's row,
    /// a reply, an order). The rows run in an inner loop while they are
    /// due before the front reply and the front order
    /// ([`Driver::pump_rows`]); then the reply or the order is
    /// taken, and the rows go on. Stops when the budget is spent and the
    /// engine's item is next, or the tape's next row is not there (not
    /// published yet, or none is left of a finished tape: the general
    /// merge then drops what falls after the end); puts the four keys
    /// right and returns the events handed over.
    fn pump_synchronous(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        let mut handed = 0;
        loop {
            let waiting_ns = self.reply_front_ns().min(self.request_front_ns());
            // u64::MAX: neither a reply nor an order waits (a row due then
            // still ranks first), and the rows run without the bound.
            let next = if waiting_ns == u64::MAX {
                self.pump_rows::<false>(clock, budget, &mut handed, waiting_ns, emit)
            } else {
                self.pump_rows::<true>(clock, budget, &mut handed, waiting_ns, emit)
            };
            match next {
                Next::Row | Next::Tape => break,
                Next::Arrived => continue,
                Next::Waiting => {}
            }
            // The rows may have brought replies and orders: the fronts again.
            let reply_ns = self.reply_front_ns();
            let request_ns = self.request_front_ns();
            if !self.replies.is_empty() && reply_ns <= request_ns {
                if handed == budget {
                    break;
                }
                let started = self.timing_starts(clock);
                self.hand_over_reply(emit);
                self.timing_ends(clock, started);
                handed += 1;
                if self.requests_in.any_sent() {
                    self.move_sent_requests();
                }
            } else if !self.requests.is_empty() {
                self.venue_takes_front_request(request_ns);
            } else {
                break;
            }
        }
        self.venue_key = self.venue_key_now();
        self.engine_key = self.engine_key_now();
        self.reply_key = self.reply_key_now();
        self.request_key = self.request_key_now();
        handed
    }

    /// Hands over the rows due before `waiting_ns` (the first reply or
    /// order waiting, brought forward by a reply a row makes or an order a
    /// hand-over sends; with `BOUNDED` false, none waits) until the budget
    /// is spent or something else is next; says what is: the engine's row
    /// (the budget is spent), the reply or order waiting, with `BOUNDED`
    /// false one that appeared ([`Next::Arrived`]), or nothing yet (the
    /// tape's next row is not read yet, and might be due first, or no row
    /// is left of a finished tape).
    ///
    /// The venue sees every row due at or before the engine's next row
    /// (and, with `BOUNDED`, at or before `waiting_ns`). The next row the
    /// venue has not seen is read once: its venue time stays in a local
    /// while the engine's rows due before it are handed over, each compared
    /// with it (a hand-over changes neither that row nor the venue's clock).
    #[inline(always)]
    fn pump_rows<const BOUNDED: bool>(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        handed: &mut usize,
        mut waiting_ns: u64,
        emit: &mut dyn FnMut(&mut Event),
    ) -> Next {
        loop {
            // `>=` for `==` (the venue never passes the rows held): the
            // compiler then knows the row below is there.
            if self.venue_next >= self.rows.len() {
                if !self.read_ahead() {
                    return Next::Tape;
                }
                if self.venue_next >= self.rows.len() {
                    // The tape ended or the read-ahead is full: no row to
                    // see; the engine's rows go on as they are due.
                    let next = match self.rows.front() {
                        Some(row) if !BOUNDED || row.record.ts_local_ns <= waiting_ns => Next::Row,
                        Some(_) => Next::Waiting,
                        None => Next::Tape,
                    };
                    if next != Next::Row || *handed == budget {
                        return next;
                    }
                    if !self.hand_over_front_row::<BOUNDED>(clock, handed, &mut waiting_ns, emit) {
                        return Next::Arrived;
                    }
                    continue;
                }
            }
            let row = self.rows.get(self.venue_next).expect("a row not yet seen");
            let venue_ns = row.venue_ns.max(self.venue_clock_ns);
            // The engine's rows due before the venue's next one.
            while self.venue_next > 0 {
                let front = self.rows.front().expect("a row the venue saw");
                let engine_ns = front.record.ts_local_ns;
                if venue_ns <= engine_ns {
                    break;
                }
                if BOUNDED && engine_ns > waiting_ns {
                    return Next::Waiting;
                }
                if *handed == budget {
                    return Next::Row;
                }
                if !self.hand_over_front_row::<BOUNDED>(clock, handed, &mut waiting_ns, emit) {
                    return Next::Arrived;
                }
            }
            if BOUNDED && venue_ns > waiting_ns {
                return Next::Waiting;
            }
            self.venue_applies_row(venue_ns);
            if !self.replies.is_empty() {
                if !BOUNDED {
                    return Next::Arrived;
                }
                waiting_ns = waiting_ns.min(self.reply_front_ns());
            }
        }
    }

    /// Hands over the engine's front row, timed if it is in the sample,
    /// and takes the orders it sent: the bound `waiting_ns` comes forward
    /// to the first; false if one was sent while none waited (unbounded).
    #[inline(always)]
    fn hand_over_front_row<const BOUNDED: bool>(
        &mut self,
        clock: &EpochClock,
        handed: &mut usize,
        waiting_ns: &mut u64,
        emit: &mut dyn FnMut(&mut Event),
    ) -> bool {
        let started = self.timing_starts(clock);
        self.hand_over_row(emit);
        self.timing_ends(clock, started);
        *handed += 1;
        if self.requests_in.any_sent() {
            self.move_sent_requests();
            if !BOUNDED {
                return false;
            }
            *waiting_ns = (*waiting_ns).min(self.request_front_ns());
        }
        true
    }

    /// The front reply's time at the engine; u64::MAX if none waits.
    #[inline(always)]
    fn reply_front_ns(&self) -> u64 {
        self.replies.front_ns()
    }

    /// The front order's time at the venue; u64::MAX if none waits.
    #[inline(always)]
    fn request_front_ns(&self) -> u64 {
        self.requests.front_ns()
    }

    /// The earliest item of the four streams, by (time, rank): the least
    /// of their keys; None also while the tape's core has not yet
    /// published the row the venue sees next (the merge waits for it).
    #[inline]
    fn next_item(&mut self) -> Option<(u64, Item)> {
        if self.venue_next == self.rows.len() {
            if !self.read_ahead() {
                return None;
            }
            self.venue_key = self.venue_key_now();
            if self.rows.is_empty() && self.tape_done() {
                self.drop_after_end();
            }
        }
        debug_assert!(self.keys_are_right(), "the merge keys follow the streams");
        let key = self
            .venue_key
            .min(self.engine_key)
            .min(self.reply_key)
            .min(self.request_key);
        (key != NONE).then(|| ((key >> 2) as u64, Item::BY_RANK[(key & 3) as usize]))
    }

    /// The key of the row the venue sees next: its time, held back to the
    /// venue's clock.
    #[inline]
    fn venue_key_now(&self) -> MergeKey {
        self.rows.get(self.venue_next).map_or(NONE, |row| {
            merge_key(row.venue_ns.max(self.venue_clock_ns), Item::VenueTape)
        })
    }

    /// The key of the row the engine receives next (one the venue has seen).
    #[inline]
    fn engine_key_now(&self) -> MergeKey {
        if self.venue_next == 0 {
            return NONE;
        }
        self.rows.get(0).map_or(NONE, |row| {
            merge_key(row.record.ts_local_ns, Item::EngineTape)
        })
    }

    #[inline]
    fn reply_key_now(&self) -> MergeKey {
        self.replies
            .front()
            .map_or(NONE, |reply| merge_key(reply.ts_recv_ns, Item::EngineReply))
    }

    #[inline]
    fn request_key_now(&self) -> MergeKey {
        self.requests
            .front()
            .map_or(NONE, |(time_ns, _)| merge_key(*time_ns, Item::VenueRequest))
    }

    /// The kept keys are the streams' (for debug assertions).
    fn keys_are_right(&self) -> bool {
        self.venue_key == self.venue_key_now()
            && self.engine_key == self.engine_key_now()
            && self.reply_key == self.reply_key_now()
            && self.request_key == self.request_key_now()
    }

    /// Reads rows until the venue has one it has not seen (or the
    /// read-ahead is full, or the tape ended); the venue's key is left to
    /// the caller. False if the tape's core has not published the next
    /// row yet: the merge must wait.
    #[inline]
    fn read_ahead(&mut self) -> bool {
        while self.venue_next == self.rows.len() && !self.tape_done() {
            if self.rows.len() == self.rows_max {
                return true;
            }
            let Some(feed) = self.feed.as_mut() else {
                if !self.take_published() {
                    return false;
                }
                continue;
            };
            // A run of rows while there is room: the merge sees the same
            // rows in the same order (a row read early waits in the
            // read-ahead for its time; whenever the venue needs a row, the
            // rows held and the room left are what reading one at a time
            // leaves), for one pass through this loop per run.
            // The run's records go from the reader's decoding straight
            // into their slots.
            // The event is made when the venue sees the row. The venue
            // time's rule is chosen once per run, not per row.
            let run = (self.rows_max - self.rows.len()).min(READ_RUN_ROWS);
            let rows = &mut self.rows;
            let mut push = |record: &TapeRecord, venue_ns: u64| {
                rows.push_with(|row| {
                    row.record = *record;
                    row.venue_ns = venue_ns;
                })
            };
            let read = match self.venue_time {
                VenueTime::Exchange => feed.read_run(run, |record| {
                    push(record, venue_time_of(VenueTime::Exchange, record))
                }),
                VenueTime::Local => feed.read_run(run, |record| {
                    push(record, venue_time_of(VenueTime::Local, record))
                }),
            };
            if read > 0 {
                let last = self.rows.get(self.rows.len() - 1).expect("a row was read");
                self.last_read_local_ns = last.record.ts_local_ns;
            }
            if read < run {
                self.tape_ended();
            }
        }
        true
    }

    /// Takes the rows the tape's core published (their venue time, touch
    /// and event made there); false if there is none yet.
    #[inline]
    fn take_published(&mut self) -> bool {
        match self.rows.take_published(self.rows_max) {
            Taken::Row => {
                let row = self.rows.get(self.rows.len() - 1).expect("a row was taken");
                self.last_read_local_ns = row.record.ts_local_ns;
                true
            }
            Taken::Waiting => false,
            Taken::Ended => {
                self.ahead_ended = true;
                self.tape_ended();
                true
            }
        }
    }

    /// The tape ended: what arrives after its last row plus both latencies
    /// is dropped.
    fn tape_ended(&mut self) {
        self.end_ns = Some(
            self.last_read_local_ns
                .saturating_add(self.entry_ns)
                .saturating_add(self.response_ns),
        );
    }

    /// After the tape: drops orders and replies beyond its end (counted).
    fn drop_after_end(&mut self) {
        let Some(end_ns) = self.end_ns else { return };
        while self.requests.front().is_some_and(|(t, _)| *t > end_ns) {
            self.requests.drop_front();
            self.counters.requests_unanswered += 1;
        }
        while self.replies.front().is_some_and(|e| e.ts_recv_ns > end_ns) {
            self.replies.drop_front();
            self.counters.replies_undelivered += 1;
        }
        self.request_key = self.request_key_now();
        self.reply_key = self.reply_key_now();
    }

    /// Moves the orders execution sent into the arrival queue (after every
    /// hand-over of a fused plan: one load of the link's flag when none was sent).
    #[inline(always)]
    fn take_requests(&mut self) {
        if self.requests_in.any_sent() {
            self.take_sent_requests();
        }
    }

    fn take_sent_requests(&mut self) {
        self.move_sent_requests();
        self.request_key = self.request_key_now();
    }

    /// [`Driver::take_sent_requests`] without the merge key (the fast
    /// merge puts the keys right when it stops): each request is read in
    /// its slot of the link and written once, into its slot of the
    /// arrival queue.
    fn move_sent_requests(&mut self) {
        self.requests_in.take_sent_flag();
        let (requests, back_ns) = (&mut self.requests, &mut self.request_back_ns);
        let (now_ns, entry_ns) = (self.now_ns, self.entry_ns);
        self.requests_in.take_each(|request| {
            // An order is decided at the time of the event that made it,
            // never after the backtest's now, and the link to the venue is a
            // FIFO. Both hold for every order made on the driver's events;
            // an event from outside tape time (a wall-clock timer, which a
            // backtest does not run) is taken to happen now.
            let decided_ns = request.ts_decided_ns.min(now_ns);
            let mut arrival_ns = decided_ns.saturating_add(entry_ns);
            if !requests.is_empty() {
                arrival_ns = arrival_ns.max(*back_ns);
            }
            *back_ns = arrival_ns;
            requests.push_with(|slot| *slot = (arrival_ns, *request));
        });
    }

    /// The venue applies the next tape row in its slot of the read-ahead,
    /// and makes there the row's engine event with the touch it leaves
    /// (read ahead, the tape's core made it).
    #[inline]
    fn venue_sees_row(&mut self, time_ns: u64) {
        self.venue_applies_row(time_ns);
        if self.venue_next == 1 {
            self.engine_key = self.engine_key_now();
        }
        self.venue_key = self.venue_key_now();
        if self.reply_key == NONE {
            self.reply_key = self.reply_key_now();
        }
    }

    /// [`Driver::venue_sees_row`] without putting the merge keys right
    /// (the caller does).
    #[inline(always)]
    fn venue_applies_row(&mut self, time_ns: u64) {
        let index = self.venue_next;
        self.venue_next += 1;
        if time_ns < self.now_ns {
            self.counters.venue_clock_held += 1;
        }
        let venue_ns = self.advance_to(time_ns);
        self.venue_clock_ns = venue_ns;
        // The reply closure holds the times themselves (fewer stores to
        // make it on every row than their addresses).
        let (replies, response_ns) = (&mut self.replies, self.response_ns);
        if self.rows.is_ahead() {
            // The tape's core made the touch and the event from its own books.
            let row = self.rows.get(index).expect("the merge saw the row");
            self.venue.on_record(&row.record, &mut move |reply| {
                push_reply(replies, &reply, venue_ns, response_ns)
            });
            debug_assert_eq!(
                row.event,
                event_of_record(
                    &row.record,
                    self.venue.touch(row.record.instrument).unwrap_or((0, 0))
                ),
                "the tape's core made the event the venue's book gives"
            );
        } else {
            let row = self.rows.at_mut(index);
            let touch = self.venue.on_record_touch(&row.record, &mut move |reply| {
                push_reply(replies, &reply, venue_ns, response_ns)
            });
            // The row's engine event, made in its slot with the touch the
            // row left (a trade's carries none: (0, 0) from the venue). The
            // two calls let each be made with the kind's half of the
            // writer's match.
            if row.record.kind.is_trade() {
                write_event_of_record(&row.record, (0, 0), &mut row.event);
            } else {
                write_event_of_record(&row.record, touch, &mut row.event);
            }
        }
    }

    /// The venue takes the next order; the merge keys follow.
    #[inline]
    fn venue_takes_request(&mut self, time_ns: u64) {
        self.venue_takes_front_request(time_ns);
        self.request_key = self.request_key_now();
        if self.reply_key == NONE {
            self.reply_key = self.reply_key_now();
        }
    }

    /// The venue takes the next order; the merge keys are left to the
    /// caller. Inlined into the merges (a call's saves and restores were
    /// a fifth of it).
    #[inline(always)]
    fn venue_takes_front_request(&mut self, time_ns: u64) {
        let Some((_, request)) = self.requests.front() else {
            return;
        };
        // A reconciliation note (no backtest venue reconciles) is dropped.
        let entry = request.kind.is_order_entry();
        let order = translate::request_of(request);
        let sideless = (entry && order.is_none()).then(|| translate::sideless_reject(request));
        self.requests.drop_front();
        if !entry {
            return;
        }
        self.counters.requests += 1;
        let venue_ns = self.advance_to(time_ns);
        let (replies, response_ns) = (&mut self.replies, self.response_ns);
        match (order, sideless) {
            (Some(order), _) => self.venue.on_request(&order, &mut |reply| {
                push_reply(replies, &reply, venue_ns, response_ns)
            }),
            (None, Some(mut event)) => {
                event.ts_venue_ns = venue_ns;
                event.ts_recv_ns = venue_ns + response_ns;
                replies.push_with(|slot| *slot = event);
            }
            (None, None) => {}
        }
    }

    /// Moves the backtest's clock to `time_ns` (never back); the time now.
    #[inline]
    fn advance_to(&mut self, time_ns: u64) -> u64 {
        self.now_ns = self.now_ns.max(time_ns);
        self.now_ns
    }

    /// Hands the engine its next row or reply, timing a sample of the
    /// hand-overs (the only clock reads of a backtest).
    #[inline]
    fn hand_over(&mut self, item: Item, clock: &EpochClock, emit: &mut dyn FnMut(&mut Event)) {
        self.hand_over_timed(clock, |driver| match item {
            Item::EngineTape => {
                driver.hand_over_row(emit);
                driver.engine_key = driver.engine_key_now();
            }
            _ => {
                driver.hand_over_reply(emit);
                driver.reply_key = driver.reply_key_now();
            }
        });
    }

    /// Hands over the front reply, lent in its place in the queue, then
    /// drops it; the reply's key is left to the caller.
    #[inline(always)]
    fn hand_over_reply(&mut self, emit: &mut dyn FnMut(&mut Event)) {
        self.counters.replies += 1;
        debug_assert!(!self.replies.is_empty(), "the merge saw a reply");
        self.engine_receives(self.replies.front_ns());
        if let Some(reply) = self.replies.front_mut() {
            emit(reply);
        }
        self.replies.drop_front();
    }

    /// Runs one hand-over, timed if it is in the sample.
    #[inline(always)]
    fn hand_over_timed(&mut self, clock: &EpochClock, hand_over: impl FnOnce(&mut Driver)) {
        let started = self.timing_starts(clock);
        hand_over(self);
        self.timing_ends(clock, started);
    }

    /// Counts a hand-over about to run; the clock's reading if it is timed.
    #[inline(always)]
    fn timing_starts(&mut self, clock: &EpochClock) -> Option<u64> {
        self.latency.next_is_timed().then(|| clock.raw())
    }

    /// After a hand-over: its latency if it was timed.
    #[inline(always)]
    fn timing_ends(&mut self, clock: &EpochClock, started: Option<u64>) {
        // An untimed hand-over is counted by its own count (rows or
        // replies): nothing to do.
        if let Some(started) = started {
            let handed = self.handed();
            self.latency
                .measured(clock.delta_ns(started, clock.raw()), handed);
        }
    }

    /// Hand-overs so far: rows and replies.
    #[inline(always)]
    fn handed(&self) -> u64 {
        self.counters.rows + self.counters.replies
    }

    /// The engine's time moves to `ts_recv_ns` (never back).
    #[inline]
    fn engine_receives(&mut self, ts_recv_ns: u64) {
        #[cfg(debug_assertions)]
        {
            assert!(
                ts_recv_ns >= self.last_handed_ns,
                "engine time never goes back"
            );
            self.last_handed_ns = ts_recv_ns;
        }
        self.advance_to(ts_recv_ns);
    }

    /// Hands over the front row as the engine's event, lent in its slot
    /// (made there when the venue saw the row, or by the tape's core),
    /// then frees the slot; the engine's key is left to the caller.
    #[inline(always)]
    fn hand_over_row(&mut self, emit: &mut dyn FnMut(&mut Event)) {
        debug_assert!(self.venue_next > 0, "the venue saw the row first");
        let row = self.rows.front_mut().expect("the merge saw a row");
        let counters = &mut self.counters;
        counters.rows += 1;
        if row.record.kind.is_trade() {
            counters.trades += 1;
        } else if !row.record.continues() {
            counters.book_updates += 1;
        }
        let ts_recv_ns = row.record.ts_local_ns;
        #[cfg(debug_assertions)]
        {
            assert!(
                ts_recv_ns >= self.last_handed_ns,
                "engine time never goes back"
            );
            self.last_handed_ns = ts_recv_ns;
        }
        self.now_ns = self.now_ns.max(ts_recv_ns);
        debug_assert_eq!(
            row.event.flags & FLAG_MESSAGE_CONTINUES != 0,
            row.record.continues() && !row.record.kind.is_trade()
        );
        emit(&mut row.event);
        self.rows.drop_front();
        self.venue_next -= 1;
    }

    /// After a poll: the progress counters, once [`PROGRESS_EVERY_ROWS`]
    /// more rows were handed over (a poll hands over at most its budget).
    #[inline]
    fn progress_after_poll(&mut self) {
        let rows = self.counters.rows;
        if rows >= self.progress_due_rows {
            self.progress_due_rows = rows + PROGRESS_EVERY_ROWS;
            self.publish_progress();
        }
    }

    /// Final progress figures.
    pub fn publish_progress(&self) {
        self.progress
            .rows
            .store(self.counters.rows, Ordering::Relaxed);
        let bytes = self.file_bytes_read();
        self.progress
            .file_bytes_read
            .store(bytes, Ordering::Relaxed);
    }
}

/// A venue reply as the engine event it becomes, stamped with the venue's
/// time and its arrival at the engine, made in its slot of the queue.
#[inline]
fn push_reply(replies: &mut InFlight<Event>, reply: &Reply, venue_ns: u64, response_ns: u64) {
    let ts_recv_ns = venue_ns.saturating_add(response_ns);
    debug_assert!(
        replies.back().is_none_or(|e| e.ts_recv_ns <= ts_recv_ns),
        "replies arrive in the order the venue made them"
    );
    replies.push_with(|slot| {
        *slot = translate::event_of(reply);
        slot.ts_venue_ns = venue_ns;
        slot.ts_recv_ns = ts_recv_ns;
    });
}

/// An order on its way: its arrival time at the venue, then the request.
impl Timed for (u64, OrderRequest) {
    #[inline(always)]
    fn time_ns(&self) -> u64 {
        self.0
    }
}

/// A reply on its way: its arrival time at the engine.
impl Timed for Event {
    #[inline(always)]
    fn time_ns(&self) -> u64 {
        self.ts_recv_ns
    }
}

fn lock(driver: &Mutex<Driver>) -> MutexGuard<'_, Driver> {
    driver.lock().unwrap_or_else(|e| e.into_inner())
}

/// One of ingest's two sources over the shared driver: the market-data
/// lane (the tape's rows, and the replies that fall between them) or the
/// venue lane (the backtest venue's acks, fills, cancels and rejects that
/// come first in a round).
pub struct DriverLane {
    driver: Arc<Mutex<Driver>>,
    lane: Lane,
}

impl Source for DriverLane {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        self.poll_in_place(clock, budget, &mut |event| emit(*event))
    }

    fn poll_in_place(
        &mut self,
        clock: &EpochClock,
        budget: usize,
        emit: &mut dyn FnMut(&mut Event),
    ) -> usize {
        lock(&self.driver).pump(self.lane, clock, budget, emit)
    }

    fn is_exhausted(&self) -> bool {
        lock(&self.driver).is_finished()
    }

    /// Execution's orders reach the driver through its own link, taken
    /// after every hand-over: the lane has nothing to send.
    fn may_send(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
