//! Starts one thread per group, connects them with rings, and stops them in
//! order: ingest stops polling, publishes what waits, and drops its producer;
//! each later thread drains its ring before it sees the shutdown.
//!
//! A thread that panics, or a stage that hits a fatal error, sets `failed`
//! and `stop`; producers publish with `try_publish` and give up once
//! `failed` is set, so no thread spins forever on a ring nobody drains.
//!
//! A ring whose reader waits by `spin-park` has a [`Doorbell`]: its
//! producer rings it after each batch it publishes and once more when it
//! drops its end, so a parked reader wakes for new events and for the
//! shutdown alike.
//!
//! A run armed with `topology::trace::arm` stamps every event on every
//! thread (taken, each stage's exit, handed to the next ring, the CPU);
//! the threads are generic over [`Stamps`], so an unarmed run runs the
//! [`NoTrace`] instance, with no stamp and no branch for it.

use crate::event::Event;
use crate::ingest::{Ingest, Sink, POLL_BUDGET_MAX};
use crate::telemetry::Board;
use crate::topology::chain::Chain;
use crate::topology::side_work::SideWork;
use crate::topology::trace::{GroupTrace, NoTrace, Stamps};
use crate::topology::wait::{Doorbell, Wait, PARK_MAX};
use crate::topology::Group;
use disruptor::{
    BusySpin, EventPoller, Polling, Producer, SingleConsumerBarrier, SingleProducer,
    SingleProducerBarrier,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type RingProducer = SingleProducer<Slot, SingleConsumerBarrier>;
type RingPoller = EventPoller<Slot, SingleProducerBarrier>;

/// A ring slot: one `Event` on whole cache lines of its own.
///
/// `Event` is 8-byte aligned, so a ring of bare events starts wherever the
/// allocator puts it (16 or 32 bytes into a cache line here): every
/// 128-byte event then spans three lines and shares one with each
/// neighbour, so the producer writing event `n + 1` takes from the consumer
/// the line it is reading event `n` from, on every hop. Aligned, an event
/// is exactly two lines and neighbours share none.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot(Event);

const _: () = assert!(core::mem::size_of::<Slot>() == crate::event::EVENT_BYTES);
const _: () = assert!(core::mem::align_of::<Slot>() == 64);

/// Flags every thread of a run watches.
pub struct Shared {
    pub stop: Arc<AtomicBool>,
    pub failed: AtomicBool,
    pub fatal: Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, message: String) {
        self.failed.store(true, Ordering::Release);
        self.stop.store(true, Ordering::Release);
        let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        fatal.get_or_insert(message);
    }
}

/// Marks the run failed if the thread holding it unwinds.
struct PanicGuard<'a>(&'a Shared, String);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(format!("thread {} panicked", self.1));
        }
    }
}

/// What each thread hands back when it ends.
pub struct GroupResult {
    pub ingest: Option<Ingest>,
    pub chain: Chain,
}

/// One thread's share of the pipeline.
pub struct GroupPlan {
    pub group: Group,
    /// Position in the plan: 0 runs ingest; group `i` reads ring `i - 1`.
    pub index: usize,
    pub board: Arc<Board>,
    pub wait: Wait,
    pub pin: bool,
    /// `SCHED_FIFO` priority of the thread once pinned (0: a normal thread).
    pub realtime_priority: u8,
    pub batch_max: u64,
    pub ingest: Option<Ingest>,
    pub chain: Chain,
    /// Work this thread does between its batches (a thread after the
    /// first only; see [`SideWork`]).
    pub side: Option<Box<dyn SideWork>>,
    /// The first thread waits for room in its ring rather than leave an
    /// event pending, so every event has been through its stages when the
    /// source's emit returns (a backtest's venue relies on it).
    pub head_blocks: bool,
}

/// Ingest's sink: the fused stages, then the next ring if there is one.
struct HeadSink<'a, T: Stamps> {
    chain: Chain,
    producer: Option<RingProducer>,
    /// Wait for room in a full ring (see [`GroupPlan::head_blocks`]):
    /// how, the ring's doorbell, and the run's flags.
    blocks: Option<(Wait, Option<Arc<Doorbell>>, &'a Shared)>,
    trace: T,
}

/// Runs `chain` on `event`; a traced thread (`T::ON`) stamps the event
/// taken now, on this CPU, and its stage exits.
#[inline(always)]
fn process_stamped<T: Stamps>(chain: &mut Chain, trace: &mut T, event: &mut Event) {
    if T::ON {
        let taken = taken_now(chain);
        process_taken(chain, trace, event, taken);
    } else {
        chain.process(event);
    }
}

/// A traced thread's "taken" stamp: the clock and the CPU it runs on.
#[inline]
fn taken_now(chain: &Chain) -> (u64, u32) {
    let cpu = crate::sys::current_cpu().unwrap_or(u32::MAX);
    (chain.clock.now_ns(), cpu)
}

/// Runs `chain` on `event`, taken at `taken` (a traced thread stamps it and the stage exits).
#[inline(always)]
fn process_taken<T: Stamps>(
    chain: &mut Chain,
    trace: &mut T,
    event: &mut Event,
    taken: (u64, u32),
) {
    if T::ON {
        trace.begin(event, taken.0, taken.1);
        let exits_ns = chain.process_traced(event);
        trace.exits(exits_ns);
    } else {
        chain.process(event);
    }
}

impl<T: Stamps> Sink for HeadSink<'_, T> {
    #[inline]
    fn offer(&mut self, event: &Event) -> bool {
        let chain = &mut self.chain;
        let trace = &mut self.trace;
        match &mut self.producer {
            // The chain runs inside the slot only once the slot is ours, so a full ring costs nothing.
            Some(producer) => loop {
                let published = producer.try_publish(|slot| {
                    slot.0 = *event;
                    process_stamped(chain, trace, &mut slot.0);
                });
                if T::ON && published.is_ok() {
                    trace.sent(chain.clock.now_ns());
                }
                let Some((wait, bell, shared)) = &self.blocks else {
                    break published.is_ok();
                };
                if published.is_ok() || shared.failed.load(Ordering::Acquire) {
                    break published.is_ok();
                }
                // Full: its reader may have parked on the last batch. Wait
                // as an idle thread does (a sleeping plan sleeps: yielding
                // in a loop burnt a core while the journal caught up).
                ring(bell);
                wait.idle();
            },
            None => {
                let mut copy = *event;
                process_stamped(chain, trace, &mut copy);
                true
            }
        }
    }

    /// Fused (no ring after the chain): the stages run on ingest's own
    /// copy, with no second copy of the event.
    #[inline]
    fn offer_mut(&mut self, event: &mut Event) -> bool {
        if self.producer.is_some() {
            return self.offer(event);
        }
        process_stamped(&mut self.chain, &mut self.trace, event);
        true
    }
}

/// Runs the plan until ingest drains, `shared.stop` is set or `duration` passes.
#[allow(clippy::disallowed_methods)] // the run's deadline is wall time
pub fn run_groups(
    plans: Vec<GroupPlan>,
    ring_capacity: usize,
    shared: Arc<Shared>,
    duration: Option<Duration>,
) -> Vec<GroupResult> {
    assert!(
        ring_capacity.is_power_of_two(),
        "a ring's capacity is a power of two"
    );
    assert!(!plans.is_empty(), "a run has at least one thread");
    assert!(
        plans[0].side.is_none(),
        "side work runs on a thread after the first"
    );
    assert!(
        plans.len() - 1 <= crate::telemetry::RINGS_MAX,
        "the board tracks every ring"
    );
    tracing::info!(
        sample_every = crate::topology::chain::LAP_SAMPLE_EVERY,
        "stage timing: one clock read per event as it leaves each thread's stages \
         (on the first thread, only while ingest keeps up: while its polls come back full, \
         on the sample too); each stage's processing time is measured on a 1-in-{} sample \
         of events (the rest are counted in the last measured buckets, so counts are exact)",
        crate::topology::chain::LAP_SAMPLE_EVERY
    );
    let ring_count = plans.len() - 1;
    let mut producers: Vec<Option<RingProducer>> = Vec::with_capacity(ring_count + 1);
    let mut pollers: Vec<Option<RingPoller>> = vec![None];
    for _ in 0..ring_count {
        let (poller, builder) =
            disruptor::build_single_producer(ring_capacity, || Slot(Event::EMPTY), BusySpin)
                .new_event_poller();
        producers.push(Some(builder.build()));
        pollers.push(Some(poller));
    }
    producers.push(None);
    // Ring i's doorbell, if its reader (group i + 1) parks.
    let bells: Vec<Option<Arc<Doorbell>>> = plans
        .iter()
        .skip(1)
        .map(|plan| plan.wait.parks().then(|| Arc::new(Doorbell::default())))
        .collect();
    // A traced run's tables, every page resident before the first event.
    let mut traces: Vec<Option<GroupTrace>> = match crate::topology::trace::take_armed(plans.len())
    {
        Some(tables) => tables.into_iter().map(Some).collect(),
        None => (0..plans.len()).map(|_| None).collect(),
    };
    // Threads are built (rings and all) before any is pinned: see DESIGN.md's pitfalls.
    let started = Instant::now();
    let mut waiter = Waiter::new(plans.len());
    let handles: Vec<JoinHandle<GroupResult>> = plans
        .into_iter()
        .zip(producers)
        .zip(pollers)
        .map(|((plan, producer), poller)| {
            let index = plan.index;
            let bell_in = index.checked_sub(1).and_then(|i| bells[i].clone());
            let bell_out = bells.get(index).cloned().flatten();
            spawn_group(
                (plan, traces[index].take()),
                (producer, bell_out),
                (poller, bell_in),
                Arc::clone(&shared),
                waiter.on_exit(),
            )
        })
        .collect();
    waiter.wait(&shared, started, duration);
    handles
        .into_iter()
        .filter_map(|handle| match handle.join() {
            Ok(result) => Some(result),
            Err(_) => {
                shared.fail("a pipeline thread panicked".into());
                None
            }
        })
        .collect()
}

/// Longest park of the thread that waits for the groups: it only bounds a
/// wake-up lost to a bug, since every group unparks the waiter as it ends.
const WAIT_MAX: Duration = Duration::from_secs(1);

/// The caller's thread while the groups run: parked, not polling. On a
/// machine with as many cores as hot threads every wake-up of this thread
/// preempts one of them, so it wakes only at the run's deadline and when a
/// group ends (each group unparks it, however it ends).
struct Waiter {
    thread: std::thread::Thread,
    groups: usize,
    ended: Arc<AtomicUsize>,
    /// Returns from park, for tests.
    wakeups: u64,
}

impl Waiter {
    fn new(groups: usize) -> Waiter {
        Waiter {
            thread: std::thread::current(),
            groups,
            ended: Arc::new(AtomicUsize::new(0)),
            wakeups: 0,
        }
    }

    /// What a group's thread holds: it counts the group ended and wakes the waiter when dropped.
    fn on_exit(&self) -> WakeOnExit {
        WakeOnExit {
            waiter: self.thread.clone(),
            ended: Arc::clone(&self.ended),
        }
    }

    /// Parks until every group ended; sets `shared.stop` once `duration` passed.
    #[allow(clippy::disallowed_methods)] // the run's deadline is wall time
    fn wait(&mut self, shared: &Shared, started: Instant, duration: Option<Duration>) {
        while self.ended.load(Ordering::Acquire) < self.groups {
            let elapsed = started.elapsed();
            let until_deadline = match duration {
                Some(d) if elapsed >= d => {
                    shared.stop.store(true, Ordering::Release);
                    WAIT_MAX
                }
                Some(d) => d - elapsed,
                None => WAIT_MAX,
            };
            std::thread::park_timeout(until_deadline.min(WAIT_MAX));
            self.wakeups += 1;
        }
    }
}

/// Counts the group ended and wakes the waiting thread when the group's
/// thread ends, however it ends (a panic unwinds through it too).
struct WakeOnExit {
    waiter: std::thread::Thread,
    ended: Arc<AtomicUsize>,
}

impl Drop for WakeOnExit {
    fn drop(&mut self) {
        self.ended.fetch_add(1, Ordering::AcqRel);
        self.waiter.unpark();
    }
}

fn spawn_group(
    (plan, trace): (GroupPlan, Option<GroupTrace>),
    (producer, bell_out): (Option<RingProducer>, Option<Arc<Doorbell>>),
    (poller, bell_in): (Option<RingPoller>, Option<Arc<Doorbell>>),
    shared: Arc<Shared>,
    wake_on_exit: WakeOnExit,
) -> JoinHandle<GroupResult> {
    let name = plan.group.name();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let _wake = wake_on_exit;
            let _guard = PanicGuard(&shared, name.clone());
            if plan.pin && !core_affinity::set_for_current(core_affinity::CoreId { id: plan.group.core }) {
                tracing::warn!(thread = %name, core = plan.group.core, "could not pin thread to its core");
            }
            if let Err(message) = make_realtime(plan.realtime_priority, &name) {
                // The run stops at once: a plan asked for FIFO never runs without it.
                shared.fail(message);
            }
            let telemetry = Telemetry {
                board: plan.board,
                index: plan.index,
            };
            if let Some(bell) = &bell_in {
                bell.register_reader();
            }
            let rings = ((producer, bell_out), (poller, bell_in));
            let run = (&*shared, &telemetry);
            let stages = (plan.ingest, plan.chain, plan.side);
            let waits = (plan.wait, plan.head_blocks, plan.batch_max);
            match trace {
                Some(trace) => run_group(stages, rings, waits, run, trace),
                None => run_group(stages, rings, waits, run, NoTrace),
            }
        })
        .expect("spawning a pipeline thread")
}

/// The group's loop: the head's if it runs ingest, a ring reader's otherwise.
#[allow(clippy::type_complexity)] // the parts spawn_group unpacks, passed on whole
fn run_group<T: Stamps>(
    (ingest, chain, side): (Option<Ingest>, Chain, Option<Box<dyn SideWork>>),
    ((producer, bell_out), (poller, bell_in)): (
        (Option<RingProducer>, Option<Arc<Doorbell>>),
        (Option<RingPoller>, Option<Arc<Doorbell>>),
    ),
    (wait, head_blocks, batch_max): (Wait, bool, u64),
    (shared, telemetry): (&Shared, &Telemetry),
    trace: T,
) -> GroupResult {
    match (ingest, poller) {
        (Some(ingest), _) => run_head(
            ingest,
            chain,
            (producer, bell_out),
            (wait, head_blocks),
            (shared, telemetry),
            trace,
        ),
        (None, Some(poller)) => run_downstream(
            (poller, bell_in),
            (chain, side),
            (producer, bell_out),
            (wait, batch_max),
            (shared, telemetry),
            trace,
        ),
        (None, None) => unreachable!("every group after the first reads a ring"),
    }
}

/// Makes the calling stage thread `SCHED_FIFO` at `priority` (0: leaves it
/// a normal thread). The error names the config key and the refusal.
fn make_realtime(priority: u8, thread: &str) -> Result<(), String> {
    if priority == 0 {
        return Ok(());
    }
    crate::sys::set_thread_fifo(i32::from(priority)).map_err(|err| {
        format!(
            "topology.realtime_priority = {priority}: thread {thread} cannot run SCHED_FIFO: {err} (needs root or CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least {priority}; set it to 0 to run without)"
        )
    })?;
    tracing::info!(thread, priority, "stage thread runs SCHED_FIFO");
    Ok(())
}

/// A thread's view of the telemetry board: which rings it feeds and drains.
struct Telemetry {
    board: Arc<Board>,
    /// The thread's place in the plan: it reads ring `index - 1` and feeds ring `index`.
    index: usize,
}

impl Telemetry {
    fn publish_head<T: Stamps>(&self, ingest: &Ingest, sink: &HeadSink<T>) {
        ingest.publish(&self.board);
        sink.chain.publish(&self.board);
        if sink.producer.is_some() {
            self.board.set_ring_in(0, ingest.counters().published);
        }
    }

    fn publish_downstream(&self, chain: &Chain, processed: u64, feeds_ring: bool) {
        chain.publish(&self.board);
        self.board.set_ring_out(self.index - 1, processed);
        if feeds_ring {
            self.board.set_ring_in(self.index, processed);
        }
    }
}

/// Polls between two telemetry publications on the head thread.
const PUBLISH_EVERY_POLLS: u32 = 1_024;

/// Empty polls between two rounds of idle work (flushes, interval
/// hand-over, the head's board publication). The first empty poll after
/// work always does it, so buffers are flushed as soon as input pauses;
/// the empty polls after it only look at the input, which keeps the gap
/// between an event's arrival and its pick-up near one ring read instead
/// of half a round of idle work (the stage hop's share of it).
const IDLE_WORK_EVERY_POLLS: u32 = 64;

/// Whether an empty poll, the `idle_polls`-th in a row (from 0), does the idle work.
#[inline]
fn idle_work_due(idle_polls: u32) -> bool {
    idle_polls.is_multiple_of(IDLE_WORK_EVERY_POLLS)
}

fn run_head<T: Stamps>(
    mut ingest: Ingest,
    chain: Chain,
    (producer, bell_out): (Option<RingProducer>, Option<Arc<Doorbell>>),
    (wait, head_blocks): (Wait, bool),
    (shared, telemetry): (&Shared, &Telemetry),
    trace: T,
) -> GroupResult {
    let blocks = head_blocks.then(|| (wait, bell_out.clone(), shared));
    let mut sink = HeadSink {
        chain,
        producer,
        blocks,
        trace,
    };
    let mut polls = 0u32;
    let mut idle_polls = 0u32;
    while !shared.stop.load(Ordering::Acquire) {
        let published = ingest.poll(&mut sink);
        // A full poll means ingest is behind: the next poll's exits are
        // timed on the sample only (see `topology::chain`).
        sink.chain.set_behind(published >= POLL_BUDGET_MAX);
        if published > 0 {
            idle_polls = 0;
            ring(&bell_out);
            sink.chain.end_of_batch();
            if T::ON {
                sink.trace.batch_end(sink.chain.clock.now_ns());
            }
        }
        if let Some(message) = sink.chain.fatal.take() {
            shared.fail(message);
            break;
        }
        polls += 1;
        if polls == PUBLISH_EVERY_POLLS {
            polls = 0;
            telemetry.publish_head(&ingest, &sink);
        }
        if published == 0 {
            if ingest.is_drained() {
                break;
            }
            if idle_work_due(idle_polls) {
                telemetry.publish_head(&ingest, &sink);
                ingest.on_idle();
                sink.chain.on_idle();
            }
            wait.idle_after(idle_polls);
            idle_polls = idle_polls.wrapping_add(1);
        }
    }
    // Control and venue events already read are published, never dropped.
    while !shared.failed.load(Ordering::Acquire) && !ingest.flush(&mut sink) {
        wait.backoff();
    }
    sink.chain.finish();
    telemetry.publish_head(&ingest, &sink);
    if let Some(message) = sink.chain.fatal.take() {
        shared.fail(message);
    }
    drop(sink.producer);
    ring(&bell_out);
    sink.trace.end();
    GroupResult {
        ingest: Some(ingest),
        chain: sink.chain,
    }
}

fn run_downstream<T: Stamps>(
    (mut poller, bell_in): (RingPoller, Option<Arc<Doorbell>>),
    (mut chain, mut side): (Chain, Option<Box<dyn SideWork>>),
    (mut producer, bell_out): (Option<RingProducer>, Option<Arc<Doorbell>>),
    (wait, batch_max): (Wait, u64),
    (shared, telemetry): (&Shared, &Telemetry),
    mut trace: T,
) -> GroupResult {
    let mut processed = 0u64;
    let mut idle = ReaderIdle::default();
    'outer: loop {
        let side_worked = side.as_mut().is_some_and(|side| side.step());
        match poller.take(batch_max) {
            Ok(mut guard) => {
                idle.on_work(bell_in.as_deref());
                // A traced thread stamps the batch taken now, on this CPU.
                let taken = if T::ON { taken_now(&chain) } else { (0, 0) };
                for slot in &mut guard {
                    let mut event = slot.0;
                    process_taken(&mut chain, &mut trace, &mut event, taken);
                    processed += 1;
                    if let Some(producer) = &mut producer {
                        if !publish_blocking(producer, &event, (wait, &bell_out), shared) {
                            break 'outer;
                        }
                        if T::ON {
                            trace.sent(chain.clock.now_ns());
                        }
                    }
                }
                drop(guard);
                ring(&bell_out);
                chain.end_of_batch();
                telemetry.publish_downstream(&chain, processed, producer.is_some());
                if T::ON {
                    trace.batch_end(chain.clock.now_ns());
                }
            }
            Err(Polling::NoEvents) => {
                if shared.failed.load(Ordering::Acquire) {
                    break;
                }
                if side_worked {
                    idle.on_work(bell_in.as_deref());
                    continue;
                }
                if idle_work_due(idle.polls) {
                    chain.on_idle();
                }
                if idle.wait(wait, bell_in.as_deref()) {
                    // Parked and not rung: a timeout, so the idle work is due.
                    chain.on_idle();
                }
            }
            Err(Polling::Shutdown) => break,
        }
        if let Some(message) = chain.fatal.take() {
            shared.fail(message);
            break;
        }
    }
    chain.finish();
    telemetry.publish_downstream(&chain, processed, producer.is_some());
    if let Some(message) = chain.fatal.take() {
        shared.fail(message);
    }
    drop(producer);
    ring(&bell_out);
    trace.end();
    GroupResult {
        ingest: None,
        chain,
    }
}

/// Wakes the next ring's reader if it parks and said it sleeps.
#[inline]
fn ring(bell: &Option<Arc<Doorbell>>) {
    if let Some(bell) = bell {
        bell.ring();
    }
}

/// A ring reader's idle state: empty polls in a row, when they began, and
/// whether it announced it sleeps (`spin-park`).
#[derive(Default)]
struct ReaderIdle {
    polls: u32,
    since: Option<std::time::Instant>,
    announced: bool,
}

impl ReaderIdle {
    #[inline]
    fn on_work(&mut self, bell: Option<&Doorbell>) {
        self.polls = 0;
        self.since = None;
        if self.announced {
            self.announced = false;
            if let Some(bell) = bell {
                bell.withdraw();
            }
        }
    }

    /// After an empty poll: spins (or yields, or sleeps) by `wait`; a
    /// `spin-park` reader past its budget announces, polls once more, then
    /// parks. True if it parked and was not rung (a timeout).
    #[inline]
    fn wait(&mut self, wait: Wait, bell: Option<&Doorbell>) -> bool {
        let polls = self.polls;
        self.polls = self.polls.wrapping_add(1);
        let Some(bell) = bell else {
            wait.idle_after(polls);
            return false;
        };
        if self.announced {
            if !bell.sleep(PARK_MAX) {
                // Rung after the poll that found the ring empty: say it again.
                bell.announce();
                return false;
            }
            return bell.is_sleeping();
        }
        if wait.park_due(polls, &mut self.since) {
            bell.announce();
            self.announced = true;
        } else {
            wait.idle_after(polls);
        }
        false
    }
}

/// Publishes into a ring that may be full; false if the run failed meanwhile.
/// A full ring rings its doorbell: its reader may have parked on the
/// ring's last batch while this one was still being published into it.
fn publish_blocking(
    producer: &mut RingProducer,
    event: &Event,
    (wait, bell): (Wait, &Option<Arc<Doorbell>>),
    shared: &Shared,
) -> bool {
    loop {
        if producer.try_publish(|slot| slot.0 = *event).is_ok() {
            return true;
        }
        if shared.failed.load(Ordering::Acquire) {
            return false;
        }
        ring(bell);
        wait.backoff();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            stop: Arc::new(AtomicBool::new(false)),
            failed: AtomicBool::new(false),
            fatal: Mutex::new(None),
        }
    }

    /// Most wake-ups a waiter may have had over `elapsed`: the deadline,
    /// each group's end, and one per WAIT_MAX a slow (loaded) group took.
    fn wakeups_bound(elapsed: Duration) -> u64 {
        3 + (elapsed.as_millis() / WAIT_MAX.as_millis()) as u64
    }

    // The waiter sleeps until the deadline and wakes when the group ends,
    // not on a short polling step (the old 20 ms park woke 10 times in 200 ms).
    #[test]
    #[allow(clippy::disallowed_methods)] // the run's deadline is wall time
    fn waiter_wakes_at_the_deadline_and_at_the_end() {
        let shared = Arc::new(shared());
        let mut waiter = Waiter::new(1);
        let on_exit = waiter.on_exit();
        let thread_shared = Arc::clone(&shared);
        let group = std::thread::spawn(move || {
            let _wake = on_exit;
            while !thread_shared.stop.load(Ordering::Acquire) {
                std::thread::park_timeout(Duration::from_millis(1));
            }
        });
        let started = Instant::now();
        waiter.wait(&shared, started, Some(Duration::from_millis(200)));
        let elapsed = started.elapsed();
        group.join().unwrap();
        assert!(shared.stop.load(Ordering::Acquire), "the deadline set stop");
        assert!(
            waiter.wakeups <= wakeups_bound(elapsed),
            "{} wake-ups in a {elapsed:?} run: the waiter polls",
            waiter.wakeups
        );
    }

    // Idle work runs on the first empty poll after work and then every
    // IDLE_WORK_EVERY_POLLS-th, never on the polls between.
    #[test]
    fn idle_work_on_the_first_empty_poll_then_spaced() {
        let due: Vec<u32> = (0..200).filter(|&n| idle_work_due(n)).collect();
        assert_eq!(due, vec![0, 64, 128, 192]);
    }

    // Every slot of a ring starts on a cache line of its own, whatever
    // alignment the allocator gives a bare event.
    #[test]
    fn ring_slots_start_on_cache_lines() {
        use disruptor::Producer;
        let (_poller, builder) =
            disruptor::build_single_producer(64, || Slot(Event::EMPTY), BusySpin)
                .new_event_poller();
        let mut producer = builder.build();
        for _ in 0..64 {
            producer.publish(|slot| {
                let address = slot as *const Slot as usize;
                assert_eq!(address % 64, 0, "slot at {address:#x}");
            });
        }
    }

    // A group that panics still counts as ended and wakes the waiter.
    #[test]
    #[allow(clippy::disallowed_methods)] // the test's own clock
    fn a_panicking_group_wakes_the_waiter() {
        let shared = shared();
        let mut waiter = Waiter::new(2);
        let first = waiter.on_exit();
        let second = waiter.on_exit();
        let ok = std::thread::spawn(move || drop(first));
        let panics = std::thread::spawn(move || {
            let _wake = second;
            panic!("a stage failed");
        });
        let started = Instant::now();
        waiter.wait(&shared, started, None);
        let elapsed = started.elapsed();
        ok.join().unwrap();
        assert!(panics.join().is_err());
        assert!(
            waiter.wakeups <= wakeups_bound(elapsed),
            "{} wake-ups in {elapsed:?}",
            waiter.wakeups
        );
    }
}
