//! The reporter thread: collects each stage's finished latency intervals,
//! writes them to the interval log, and keeps run totals for the report.
//!
//! It runs off the hot path on its own (unpinned, sleeping) thread, which
//! wakes once per interval and at the end, never in between (a helper's
//! every wake-up takes a hot core for a moment when the pipeline's threads
//! fill the machine). Once per interval it offers every stage an empty histogram set; the stage swaps at
//! its next check and hands the full set back (see `metrics`). The reporter
//! allocates nothing per interval either: sets travel in a loop.
//!
//! A tick's work comes in steps of one histogram each (write its log line;
//! take its percentiles, add it to the totals and clear it), and the thread
//! yields its CPU after every step ([`Reporter::step_done`]). When the
//! pipeline's spinning threads hold every CPU, the reporter's wake-up
//! preempts one of them; yielding hands the CPU back after one step (at
//! most ~0.7 M instructions of a tick's ~18 M) instead of after the whole
//! tick (2–4 ms measured), and the scheduler gives the reporter its next
//! step later. With a CPU free the yield returns at once.

use crate::telemetry::alerts::{Alerts, Observed};
use crate::telemetry::metrics::{Exchange, Interval, Percentiles, StageMetrics};
use crate::telemetry::tick_to_trade::{
    SendStamp, T2tExchange, T2tInterval, T2tSplit, TickToTrade, PARTS, TAGS, WAITS,
};
use crate::telemetry::{Board, Counter, Snapshot};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use genesis_histlog::IntervalSink;

/// Empty sets the reporter holds per stage (and for the tick-to-trade).
/// One is enough: a stage swaps only for the set offered, which it hands
/// back full, and each tick takes the full sets back before offering again,
/// so the loop is the stage's set, the offered one and this spare. Every
/// set is written in full when created (224 KiB of counts per histogram,
/// all resident), so a second spare was resident memory (448 KiB per stage,
/// 1.1 MiB for the tick-to-trade's five parts) that never carried an
/// interval.
const SPARES: usize = 1;

struct Reported {
    name: &'static str,
    processing_tag: String,
    exchange: Exchange,
    totals: StageMetrics,
    last_since_recv: Percentiles,
    last_processing: Percentiles,
    // Boxed because they travel through the exchange queues as they are.
    #[allow(clippy::vec_box)]
    spares: Vec<Box<Interval>>,
}

/// The engine's tick-to-trade, as the reporter follows it.
struct ReportedT2t {
    exchange: T2tExchange,
    totals: [hdrhistogram::Histogram<u64>; PARTS],
    /// The triggers' receive → read by whether they waited behind a write.
    wait_totals: [hdrhistogram::Histogram<u64>; WAITS],
    last: T2tSplit,
    /// What ended `decide-send` in the latest interval.
    send_stamp: SendStamp,
    #[allow(clippy::vec_box)]
    spares: Vec<Box<T2tInterval>>,
}

pub struct Reporter {
    stages: Vec<Reported>,
    tick_to_trade: Option<ReportedT2t>,
    interval: Duration,
    sink: Option<Box<dyn IntervalSink>>,
    /// Intervals written to the sink.
    pub intervals_written: u64,
    /// The first error the sink returned; logging stops after it.
    pub sink_error: Option<String>,
    watch: Option<Watch>,
    wakes: Arc<ReporterWakes>,
}

/// What the reporter's thread did while it ran: returns from its sleep,
/// and intervals it handled. A healthy reporter wakes about once per tick.
#[derive(Debug, Default)]
pub struct ReporterWakes {
    /// Times the thread returned from its sleep (timeouts, the final unpark, spurious wakes).
    pub wakeups: AtomicU64,
    /// Intervals handled (`tick`).
    pub ticks: AtomicU64,
    /// Times the thread yielded its CPU between two steps of a tick.
    pub yields: AtomicU64,
}

/// The reporter's running thread and the flag that ends it.
pub struct ReporterThread {
    done: Arc<AtomicBool>,
    handle: JoinHandle<Reporter>,
}

impl ReporterThread {
    /// Ends the thread (it wakes at once) and hands the reporter back.
    pub fn finish(self) -> Reporter {
        self.done.store(true, Ordering::Release);
        self.handle.thread().unpark();
        self.handle
            .join()
            .expect("the reporter thread does not panic")
    }
}

/// The board the reporter reads counters from, and the alerts it evaluates.
pub struct Watch {
    pub board: Arc<Board>,
    pub alerts: Alerts,
    events_last: u64,
    errors_last: u64,
    tick_last: Option<std::time::Instant>,
}

impl Watch {
    pub fn new(board: Arc<Board>, alerts: Alerts) -> Watch {
        Watch {
            board,
            alerts,
            events_last: 0,
            errors_last: 0,
            tick_last: None,
        }
    }
}

impl Reporter {
    pub fn new(interval: Duration, sink: Option<Box<dyn IntervalSink>>) -> Reporter {
        Reporter {
            stages: Vec::new(),
            tick_to_trade: None,
            interval,
            sink,
            intervals_written: 0,
            sink_error: None,
            watch: None,
            wakes: Arc::default(),
        }
    }

    /// Publishes a snapshot to `watch.board` and evaluates alerts every interval.
    pub fn with_watch(mut self, watch: Watch) -> Reporter {
        self.watch = Some(watch);
        self
    }

    /// Connects a stage; its intervals start at `now_ns`.
    pub fn attach(&mut self, metrics: &mut StageMetrics, now_ns: u64) {
        // A stage with a reporter records for the whole run: its tallies'
        // pages are made resident now, not page by page minutes in.
        metrics.make_resident();
        let exchange = Exchange::new();
        metrics.attach(exchange.clone(), now_ns);
        self.stages.push(Reported {
            name: metrics.name,
            processing_tag: format!("{}.processing", metrics.name),
            exchange,
            totals: StageMetrics::new(metrics.name),
            last_since_recv: Percentiles::default(),
            last_processing: Percentiles::default(),
            spares: (0..SPARES).map(|_| Box::new(Interval::new())).collect(),
        });
    }

    /// Connects the venue session's tick-to-trade; its intervals start at `now_ns`.
    pub fn attach_tick_to_trade(&mut self, recorder: &mut TickToTrade, now_ns: u64) {
        let exchange = T2tExchange::new();
        recorder.attach(exchange.clone(), now_ns);
        self.tick_to_trade = Some(ReportedT2t {
            exchange,
            totals: std::array::from_fn(|_| crate::telemetry::metrics::new_histogram()),
            wait_totals: std::array::from_fn(|_| {
                crate::telemetry::tick_to_trade::new_wait_histogram()
            }),
            last: T2tSplit::default(),
            send_stamp: SendStamp::default(),
            spares: (0..SPARES).map(|_| Box::new(T2tInterval::new())).collect(),
        });
    }

    /// Counters and latency of the interval just ended: snapshot for the endpoint, alerts.
    #[allow(clippy::disallowed_methods)] // the reporter thread measures its own interval
    fn watch(&mut self) {
        let Some(watch) = &mut self.watch else { return };
        let now = std::time::Instant::now();
        let seconds = watch
            .tick_last
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        watch.tick_last = Some(now);
        let events = watch.board.get(Counter::Events);
        let errors = watch.board.errors();
        let new_events = events.saturating_sub(watch.events_last);
        let new_errors = errors.saturating_sub(watch.errors_last);
        watch.events_last = events;
        watch.errors_last = errors;
        if seconds <= 0.0 {
            return;
        }
        let end_to_end = self
            .stages
            .last()
            .map(|s| s.last_since_recv)
            .filter(|p| p.count > 0);
        let observed = Observed {
            events_per_sec: new_events as f64 / seconds,
            latency_p99_ns: end_to_end.map(|p| p.p99),
            rss_bytes: crate::sys::rss_bytes().unwrap_or(0),
            errors_per_event: if new_events == 0 {
                0.0
            } else {
                new_errors as f64 / new_events as f64
            },
            feed_connected: true,
            reconcile_gate_held: watch.board.reconcile_gate_held(),
        };
        watch.alerts.evaluate(&observed);
        if let Some(health) = watch.board.feed_health.get() {
            watch.alerts.evaluate_feed(&health.observe());
        }
        let snapshot = Snapshot {
            stages: self
                .stages
                .iter()
                .map(|s| (s.name, s.last_since_recv, s.last_processing))
                .collect(),
            events_per_sec: observed.events_per_sec,
            rss_bytes: observed.rss_bytes,
            errors_per_event: observed.errors_per_event,
            alerts: watch.alerts.raised(),
            tick_to_trade: self.tick_to_trade.as_ref().map(|t| t.last),
        };
        *watch
            .board
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = snapshot;
    }

    /// Takes in finished intervals, then offers each stage an empty set;
    /// flushes the log, publishes the snapshot and evaluates the alerts.
    pub fn tick(&mut self) {
        self.take_and_offer();
        if let Some(sink) = &mut self.sink {
            let _ = sink.flush();
        }
        self.watch();
    }

    /// Ends one step of a tick: yields the CPU, so that a spinning stage
    /// thread this one preempted gets it back now rather than after the
    /// whole tick. Returns at once when nothing else waits for the CPU.
    fn step_done(&self) {
        self.wakes.yields.fetch_add(1, Ordering::Relaxed);
        std::thread::yield_now();
    }

    fn take_and_offer(&mut self) {
        self.take_and_offer_t2t();
        for index in 0..self.stages.len() {
            while let Some(interval) = self.stages[index].exchange.full.pop() {
                self.take(index, interval);
            }
            let stage = &mut self.stages[index];
            if stage.exchange.fresh.is_empty() {
                if let Some(spare) = stage.spares.pop() {
                    let _ = stage.exchange.fresh.push(spare);
                }
            }
        }
    }

    fn take(&mut self, index: usize, mut interval: Box<Interval>) {
        let (start_ns, end_ns) = (interval.start_ns, interval.end_ns);
        let name = self.stages[index].name;
        // Out for the call and back after: `log` takes the whole reporter.
        let processing_tag = std::mem::take(&mut self.stages[index].processing_tag);
        let written = self
            .log(name, start_ns, end_ns, &interval.since_recv_ns)
            .and_then(|_| self.log(&processing_tag, start_ns, end_ns, &interval.processing_ns));
        self.stages[index].processing_tag = processing_tag;
        self.logged(written);
        let stage = &mut self.stages[index];
        stage.last_since_recv = Percentiles::of(&interval.since_recv_ns);
        let _ = stage.totals.since_recv_ns.add(&interval.since_recv_ns);
        interval.since_recv_ns.reset();
        self.step_done();
        let stage = &mut self.stages[index];
        stage.last_processing = Percentiles::of(&interval.processing_ns);
        let _ = stage.totals.processing_ns.add(&interval.processing_ns);
        interval.processing_ns.reset();
        stage.spares.push(interval);
        self.step_done();
    }

    /// Writes one histogram's log line (a step of its own: encoding is the
    /// tick's largest part), unless there is no log or it already failed.
    /// `Ok(false)`: nothing was written.
    fn log(
        &mut self,
        tag: &str,
        start_ns: u64,
        end_ns: u64,
        histogram: &hdrhistogram::Histogram<u64>,
    ) -> std::io::Result<bool> {
        let (Some(sink), None) = (&mut self.sink, &self.sink_error) else {
            return Ok(false);
        };
        sink.write(tag, start_ns, end_ns, histogram)?;
        self.step_done();
        Ok(true)
    }

    /// Counts an interval whose lines were all written, or keeps the first error.
    fn logged(&mut self, written: std::io::Result<bool>) {
        match written {
            Ok(true) => self.intervals_written += 1,
            Ok(false) => {}
            Err(err) => self.sink_error = Some(format!("latency log: {err}")),
        }
    }

    /// The tick-to-trade's finished intervals in, an empty set offered.
    fn take_and_offer_t2t(&mut self) {
        let Some(exchange) = self.tick_to_trade.as_ref().map(|t| t.exchange.clone()) else {
            return;
        };
        while let Some(interval) = exchange.full.pop() {
            self.take_t2t(interval);
        }
        let Some(t2t) = &mut self.tick_to_trade else {
            return;
        };
        if t2t.exchange.fresh.is_empty() {
            if let Some(spare) = t2t.spares.pop() {
                let _ = t2t.exchange.fresh.push(spare);
            }
        }
    }

    /// Writes one tick-to-trade interval under its tags, adds it to the totals.
    fn take_t2t(&mut self, mut interval: Box<T2tInterval>) {
        if self.tick_to_trade.is_none() {
            return;
        }
        let (start_ns, end_ns) = (interval.start_ns, interval.end_ns);
        let mut written = Ok(false);
        for (tag, histogram) in TAGS.iter().zip(&interval.histograms) {
            written = self.log(tag, start_ns, end_ns, histogram);
            if written.is_err() {
                break;
            }
        }
        self.logged(written);
        let Some(t2t) = &mut self.tick_to_trade else {
            return;
        };
        t2t.last =
            T2tSplit::of(&interval.histograms, interval.send_stamp).with_waits(&interval.waits);
        t2t.send_stamp = interval.send_stamp;
        for (total, histogram) in t2t.wait_totals.iter_mut().zip(&mut interval.waits) {
            let _ = total.add(&*histogram);
            histogram.reset();
        }
        for (part, histogram) in interval.histograms.iter_mut().enumerate() {
            if let Some(t2t) = &mut self.tick_to_trade {
                let _ = t2t.totals[part].add(&*histogram);
            }
            histogram.reset();
            self.step_done();
        }
        if let Some(t2t) = &mut self.tick_to_trade {
            t2t.spares.push(interval);
        }
    }

    /// The engine's tick-to-trade over the run (after `finish`), if a venue session measured it.
    pub fn tick_to_trade_totals(&self) -> Option<&[hdrhistogram::Histogram<u64>; PARTS]> {
        self.tick_to_trade.as_ref().map(|t| &t.totals)
    }

    /// The run's tick-to-trade split (after `finish`), naming its send stamp.
    pub fn tick_to_trade_split(&self) -> Option<T2tSplit> {
        let t2t = self.tick_to_trade.as_ref()?;
        Some(T2tSplit::of(&t2t.totals, t2t.send_stamp).with_waits(&t2t.wait_totals))
    }

    /// Adds the tick-to-trade's last, unrotated interval (the recorder's thread has finished).
    pub fn finish_tick_to_trade(&mut self, last: T2tInterval) {
        self.take_and_offer_t2t();
        if self.tick_to_trade.is_some() {
            self.take_t2t(Box::new(last));
        }
    }

    /// How often the reporter's thread woke and how often it ticked; shared
    /// with whoever holds the returned handle, read after or during a run.
    pub fn wakes(&self) -> Arc<ReporterWakes> {
        Arc::clone(&self.wakes)
    }

    /// Runs the reporter on its own thread, kept off `keep_off` (the
    /// pipeline's pinned cores) when other CPUs remain.
    ///
    /// The thread sleeps (parked) until its next interval is due and wakes
    /// once per interval, never in between: on a host with as many cores as
    /// hot threads every wake-up of a helper preempts one of them. To end
    /// it, set `done` and unpark its thread ([`ReporterThread::finish`]).
    pub fn spawn(self, done: Arc<AtomicBool>, keep_off: Vec<usize>) -> ReporterThread {
        let thread_done = Arc::clone(&done);
        let handle = std::thread::Builder::new()
            .name("reporter".into())
            .spawn(move || self.run_until(&thread_done, &keep_off))
            .expect("spawning the reporter thread");
        ReporterThread { done, handle }
    }

    #[allow(clippy::disallowed_methods)] // the reporter thread keeps its own interval
    fn run_until(mut self, done: &AtomicBool, keep_off: &[usize]) -> Reporter {
        super::leave_cores(keep_off, "reporter");
        let mut tick_due = std::time::Instant::now() + self.interval;
        while !done.load(Ordering::Acquire) {
            let now = std::time::Instant::now();
            if now >= tick_due {
                // Intervals missed while descheduled are not made up: one tick covers them.
                tick_due = (tick_due + self.interval).max(now + self.interval / 2);
                self.wakes.ticks.fetch_add(1, Ordering::Relaxed);
                self.tick();
                continue;
            }
            std::thread::park_timeout(tick_due - now);
            self.wakes.wakeups.fetch_add(1, Ordering::Relaxed);
        }
        self
    }

    /// Writes one interval of a histogram no stage owns (tick-to-trade, measured by the venue).
    pub fn write_extra(
        &mut self,
        tag: &str,
        start_ns: u64,
        end_ns: u64,
        histogram: &hdrhistogram::Histogram<u64>,
    ) {
        if let (Some(sink), None) = (&mut self.sink, &self.sink_error) {
            match sink
                .write(tag, start_ns, end_ns, histogram)
                .and_then(|_| sink.flush())
            {
                Ok(()) => self.intervals_written += 1,
                Err(err) => self.sink_error = Some(format!("latency log: {err}")),
            }
        }
    }

    /// Adds the stages' last, unrotated figures (from the finished threads)
    /// and returns the run totals in stage order.
    pub fn finish(&mut self, finals: Vec<StageMetrics>, now_ns: u64) -> Vec<StageMetrics> {
        self.take_and_offer();
        for last in finals {
            let Some(index) = self.stages.iter().position(|s| s.name == last.name) else {
                continue;
            };
            let start_ns = last.interval_start_ns();
            let interval = Box::new(Interval {
                since_recv_ns: last.since_recv_ns,
                processing_ns: last.processing_ns,
                start_ns,
                end_ns: now_ns.max(start_ns),
            });
            self.take(index, interval);
        }
        if let Some(sink) = &mut self.sink {
            let _ = sink.flush();
        }
        self.stages.iter().map(|s| s.totals.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::StageMetrics;

    // The thread sleeps a whole interval between ticks: it wakes about once
    // per tick (plus the final unpark), not on a short polling step.
    #[test]
    #[allow(clippy::disallowed_methods)] // the test's own deadline
    fn reporter_wakes_once_per_interval() {
        let mut reporter = Reporter::new(Duration::from_millis(20), None);
        let mut metrics = StageMetrics::new("risk");
        reporter.attach(&mut metrics, 0);
        let wakes = reporter.wakes();
        let thread = reporter.spawn(Arc::new(AtomicBool::new(false)), Vec::new());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while wakes.ticks.load(Ordering::Relaxed) < 5 {
            assert!(
                std::time::Instant::now() < deadline,
                "the reporter did not tick 5 times within 30 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let reporter = thread.finish();
        let ticks = reporter.wakes.ticks.load(Ordering::Relaxed);
        let wakeups = reporter.wakes.wakeups.load(Ordering::Relaxed);
        assert!(ticks >= 5);
        // One wake per tick and one for the end; a little room for spurious wakes.
        assert!(
            wakeups <= ticks + 3,
            "{wakeups} wake-ups for {ticks} ticks: the thread polls between intervals"
        );
    }

    // One spare keeps the loop going: over 100 intervals the stage finds an
    // empty set offered at every rotation, every interval reaches the
    // totals, and the reporter holds no more than its one spare.
    #[test]
    fn one_spare_carries_every_interval() {
        let mut reporter = Reporter::new(Duration::from_secs(1), None);
        let mut metrics = StageMetrics::new("risk");
        reporter.attach(&mut metrics, 0);
        reporter.tick();
        for interval in 1..=100u64 {
            let now_ns = interval * 1_000_000_000;
            metrics.record(now_ns - 1, 500, 100);
            assert_eq!(
                reporter.stages[0].exchange.fresh.len(),
                1,
                "interval {interval}: no empty set offered"
            );
            metrics.rotate_if_offered(now_ns);
            reporter.tick();
            let stage = &reporter.stages[0];
            assert!(stage.spares.len() <= SPARES, "interval {interval}");
            assert_eq!(
                stage.totals.since_recv_ns.len(),
                interval,
                "interval {interval} did not reach the totals"
            );
        }
    }

    /// A sink that notes, for every line, how often the reporter had
    /// yielded by then.
    struct YieldsAtWrite {
        wakes: Arc<ReporterWakes>,
        seen: Arc<std::sync::Mutex<Vec<u64>>>,
    }

    impl IntervalSink for YieldsAtWrite {
        fn write(
            &mut self,
            _tag: &str,
            _start_ns: u64,
            _end_ns: u64,
            _histogram: &hdrhistogram::Histogram<u64>,
        ) -> std::io::Result<()> {
            let yields = self.wakes.yields.load(Ordering::Relaxed);
            self.seen.lock().unwrap().push(yields);
            Ok(())
        }
    }

    // A tick hands the CPU back between any two histograms' work: five
    // stages (two histograms each) and the tick-to-trade (five) give 15
    // lines, each written after a yield the one before it did not see, and
    // 30 yields in all (one after each line, one after each histogram's
    // percentiles, totals and reset).
    #[test]
    fn a_tick_yields_between_every_two_histograms() {
        let mut reporter = Reporter::new(Duration::from_secs(1), None);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        reporter.sink = Some(Box::new(YieldsAtWrite {
            wakes: reporter.wakes(),
            seen: Arc::clone(&seen),
        }));
        let mut stages: Vec<StageMetrics> = ["ingest", "risk", "strategy", "execution", "journal"]
            .into_iter()
            .map(StageMetrics::new)
            .collect();
        for stage in &mut stages {
            reporter.attach(stage, 0);
        }
        let mut t2t = TickToTrade::new();
        reporter.attach_tick_to_trade(&mut t2t, 0);
        reporter.tick();
        assert_eq!(
            reporter.wakes.yields.load(Ordering::Relaxed),
            0,
            "nothing to take yet"
        );
        for stage in &mut stages {
            stage.record(999, 500, 100);
            stage.rotate_if_offered(1_000);
        }
        t2t.histograms[0].saturating_record(2_000);
        t2t.rotate_if_offered(1_000);
        reporter.tick();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 15, "one line per histogram");
        assert!(
            seen.windows(2).all(|pair| pair[0] < pair[1]),
            "two lines written in one run of the thread: {seen:?}"
        );
        assert_eq!(reporter.wakes.yields.load(Ordering::Relaxed), 30);
        assert_eq!(reporter.intervals_written, 6);
        assert_eq!(reporter.stages[0].totals.since_recv_ns.len(), 1);
        assert_eq!(reporter.tick_to_trade_totals().unwrap()[0].len(), 1);
    }

    // Finishing wakes the thread at once: a reporter with an hour-long
    // interval still ends when asked.
    #[test]
    fn finish_wakes_a_long_interval() {
        let reporter = Reporter::new(Duration::from_secs(3_600), None);
        let thread = reporter.spawn(Arc::new(AtomicBool::new(false)), Vec::new());
        let reporter = thread.finish();
        assert_eq!(reporter.wakes.ticks.load(Ordering::Relaxed), 0);
        assert!(reporter.wakes.wakeups.load(Ordering::Relaxed) <= 2);
    }
}
