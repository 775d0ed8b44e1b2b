//! The reporter thread: collects each stage's finished latency intervals,
//! writes them to the interval log, and keeps run totals for the report.
//!
//! It runs off the hot path on its own (unpinned, sleeping) thread. Once per
//! interval it offers every stage an empty histogram set; the stage swaps at
//! its next check and hands the full set back (see `metrics`). The reporter
//! allocates nothing per interval either: sets travel in a loop.

use crate::metrics::{Exchange, Interval, StageMetrics};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where finished intervals go (the HdrHistogram interval log).
pub trait IntervalSink: Send {
    /// One interval of one tag.
    fn write(
        &mut self,
        tag: &str,
        interval_start_ns: u64,
        interval_end_ns: u64,
        histogram: &hdrhistogram::Histogram<u64>,
    ) -> std::io::Result<()>;

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Reported {
    name: &'static str,
    processing_tag: String,
    exchange: Exchange,
    totals: StageMetrics,
    // Boxed because they travel through the exchange queues as they are.
    #[allow(clippy::vec_box)]
    spares: Vec<Box<Interval>>,
}

pub struct Reporter {
    stages: Vec<Reported>,
    interval: Duration,
    sink: Option<Box<dyn IntervalSink>>,
    /// Intervals written to the sink.
    pub intervals_written: u64,
    /// The first error the sink returned; logging stops after it.
    pub sink_error: Option<String>,
}

impl Reporter {
    pub fn new(interval: Duration, sink: Option<Box<dyn IntervalSink>>) -> Reporter {
        Reporter {
            stages: Vec::new(),
            interval,
            sink,
            intervals_written: 0,
            sink_error: None,
        }
    }

    /// Connects a stage; its intervals start at `now_ns`.
    pub fn attach(&mut self, metrics: &mut StageMetrics, now_ns: u64) {
        let exchange = Exchange::new();
        metrics.attach(exchange.clone(), now_ns);
        self.stages.push(Reported {
            name: metrics.name,
            processing_tag: format!("{}.processing", metrics.name),
            exchange,
            totals: StageMetrics::new(metrics.name),
            spares: vec![Box::new(Interval::new()), Box::new(Interval::new())],
        });
    }

    /// Takes in finished intervals, then offers each stage an empty set.
    pub fn tick(&mut self) {
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
        let stage = &mut self.stages[index];
        if let (Some(sink), None) = (&mut self.sink, &self.sink_error) {
            let written = sink
                .write(
                    stage.name,
                    interval.start_ns,
                    interval.end_ns,
                    &interval.since_recv_ns,
                )
                .and_then(|_| {
                    sink.write(
                        &stage.processing_tag,
                        interval.start_ns,
                        interval.end_ns,
                        &interval.processing_ns,
                    )
                });
            match written {
                Ok(()) => self.intervals_written += 1,
                Err(err) => self.sink_error = Some(format!("latency log: {err}")),
            }
        }
        let _ = stage.totals.since_recv_ns.add(&interval.since_recv_ns);
        let _ = stage.totals.processing_ns.add(&interval.processing_ns);
        interval.since_recv_ns.reset();
        interval.processing_ns.reset();
        stage.spares.push(interval);
    }

    /// Runs `tick` every interval on its own thread until `done` is set.
    pub fn spawn(mut self, done: Arc<AtomicBool>) -> JoinHandle<Reporter> {
        std::thread::Builder::new()
            .name("reporter".into())
            .spawn(move || {
                let step = Duration::from_millis(5).min(self.interval);
                let mut waited = Duration::ZERO;
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(step);
                    waited += step;
                    if waited >= self.interval {
                        waited = Duration::ZERO;
                        self.tick();
                        if let Some(sink) = &mut self.sink {
                            let _ = sink.flush();
                        }
                    }
                }
                self
            })
            .expect("spawning the reporter thread")
    }

    /// Adds the stages' last, unrotated figures (from the finished threads)
    /// and returns the run totals in stage order.
    pub fn finish(&mut self, finals: Vec<StageMetrics>, now_ns: u64) -> Vec<StageMetrics> {
        self.tick();
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
