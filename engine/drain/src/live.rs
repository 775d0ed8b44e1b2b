//! The live drain: a thread that follows a journal as the engine writes it
//! and loads it chunk by chunk, whatever the database does.
//!
//! Owns its thread, its `Loader` and its feed. The engine never waits for
//! it: the drain only reads the journal from disk. When PostgreSQL is slow
//! or down, it falls behind, publishes its lag in `DrainStats`, retries with
//! exponential backoff, and catches up from the journal. A chunk whose
//! commit was in flight when the connection broke is re-checked against the
//! committed watermark after reconnecting, so it is loaded exactly once.
//! The thread sleeps when idle or backing off; it never spins.

use crate::error::DrainError;
use crate::feed::{Batch, EventFeed};
use crate::loader::Loader;
use crate::options::DrainOptions;
use crate::partitions::day_of_ns;
use crate::stats::{DrainSnapshot, DrainStats};
use crate::url::DbUrl;
use genesis_engine::clock::EpochClock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running live drain.
pub struct LiveDrain {
    stats: Arc<DrainStats>,
    control: Arc<Control>,
    thread: Option<JoinHandle<Result<(), DrainError>>>,
}

#[derive(Default)]
struct Control {
    stop: AtomicBool,
    /// Epoch nanoseconds after which a stopping drain gives up catching up.
    stop_deadline_ns: AtomicU64,
}

impl LiveDrain {
    /// Starts the drain thread (`genesis-drain`) over `feed`.
    pub fn spawn(
        url: DbUrl,
        feed: Box<dyn EventFeed>,
        options: DrainOptions,
    ) -> std::io::Result<LiveDrain> {
        let stats = Arc::new(DrainStats::new());
        let control = Arc::new(Control::default());
        let thread = {
            let stats = Arc::clone(&stats);
            let control = Arc::clone(&control);
            std::thread::Builder::new()
                .name("genesis-drain".into())
                .spawn(move || {
                    let mut worker = Worker {
                        url,
                        feed,
                        options,
                        stats: Arc::clone(&stats),
                        control,
                        clock: EpochClock::new(),
                        loader: None,
                        feed_started: false,
                        batch: Batch::default(),
                    };
                    let result = worker.run();
                    if let Err(error) = &result {
                        stats.set_error(error.to_string());
                    }
                    stats.connected.store(false, Ordering::Relaxed);
                    result
                })?
        };
        Ok(LiveDrain {
            stats,
            control,
            thread: Some(thread),
        })
    }

    /// The drain's counters and lag, for the run report and the metrics endpoint.
    pub fn stats(&self) -> Arc<DrainStats> {
        Arc::clone(&self.stats)
    }

    /// Whether the thread has ended (a journal error stops it; see `stop`).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Asks the drain to load what is on disk, for at most `catch_up`, then
    /// stop; returns its final numbers (lag > 0 if it could not catch up).
    pub fn stop(mut self, catch_up: Duration) -> Result<DrainSnapshot, DrainError> {
        let deadline = EpochClock::new().now_ns() + catch_up.as_nanos() as u64;
        self.control
            .stop_deadline_ns
            .store(deadline, Ordering::Relaxed);
        self.control.stop.store(true, Ordering::Release);
        let result = match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(DrainError::Db {
                    url: String::new(),
                    what: "drain thread",
                    reason: "panicked".into(),
                })
            }),
            None => Ok(()),
        };
        result.map(|()| self.stats.snapshot())
    }
}

impl Drop for LiveDrain {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Worker {
    url: DbUrl,
    feed: Box<dyn EventFeed>,
    options: DrainOptions,
    stats: Arc<DrainStats>,
    control: Arc<Control>,
    clock: EpochClock,
    loader: Option<Loader>,
    feed_started: bool,
    /// Read from the journal, not yet committed.
    batch: Batch,
}

impl Worker {
    fn run(&mut self) -> Result<(), DrainError> {
        let mut backoff = self.options.backoff_min;
        loop {
            let stopping = self.control.stop.load(Ordering::Acquire);
            if stopping
                && self.clock.now_ns() > self.control.stop_deadline_ns.load(Ordering::Relaxed)
            {
                return Ok(());
            }
            if self.loader.is_none() {
                if let Err(error) = self.connect() {
                    self.failed(&error, &mut backoff);
                    continue;
                }
                backoff = self.options.backoff_min;
            }
            if self.batch.is_empty() {
                self.feed
                    .next_batch(self.options.chunk_events.max(1), &mut self.batch)?;
            }
            self.publish_lag();
            if self.batch.is_empty() {
                if self.feed.is_finished() || stopping {
                    return Ok(());
                }
                self.sleep(self.options.poll_interval);
                continue;
            }
            let loader = self.loader.as_mut().expect("connected above");
            let today = day_of_ns(self.clock.now_ns());
            let ahead = self.options.partitions_ahead_days;
            let result = loader
                .create_partitions_ahead(today, ahead)
                .and_then(|()| loader.load(&self.batch));
            match result {
                Ok(chunk) => {
                    self.stats.record_chunk(chunk.events, chunk.seq_last);
                    self.batch.clear();
                    self.publish_lag();
                }
                Err(error) => self.failed(&error, &mut backoff),
            }
        }
    }

    /// Connects, then lines the feed (first time) or the pending batch up
    /// with the committed watermarks.
    fn connect(&mut self) -> Result<(), DrainError> {
        let today = day_of_ns(self.clock.now_ns());
        let mut loader = Loader::connect(
            &self.url,
            self.options.connect_timeout,
            &self.options.instruments,
            today,
            self.options.partitions_ahead_days,
        )?
        .with_fault(self.options.fault);
        let marks = loader.watermarks()?;
        if self.feed_started {
            // The last commit may have landed before the connection broke.
            let pending = self.batch.events.len() as u64;
            let mark = marks.get(&self.batch.stream);
            self.batch.trim_to(mark);
            let landed = pending - self.batch.events.len() as u64;
            if let (true, Some(mark)) = (landed > 0, mark) {
                self.stats.record_chunk(landed, mark.seq_last);
            }
        } else {
            self.feed.start_after(&marks)?;
            self.feed_started = true;
        }
        self.loader = Some(loader);
        self.stats.connected.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// A connection or chunk failed: drop the connection, say why, wait.
    fn failed(&mut self, error: &DrainError, backoff: &mut Duration) {
        self.loader = None;
        self.stats.connected.store(false, Ordering::Relaxed);
        self.stats
            .connection_failures
            .fetch_add(1, Ordering::Relaxed);
        let message = self.url.scrub(&error.to_string());
        tracing::warn!(target: "genesis::drain", "drain: {message}; retrying in {backoff:?}");
        self.stats.set_error(message);
        self.publish_lag();
        self.sleep(*backoff);
        *backoff = (*backoff * 2).min(self.options.backoff_max);
    }

    fn publish_lag(&self) {
        let pending = self.batch.events.len() as u64;
        let behind = self.feed.events_behind().unwrap_or(0) + pending;
        let lag_ns = match self.batch.events.first() {
            Some(oldest) => self.clock.now_ns().saturating_sub(oldest.ts_recv_ns),
            None => 0,
        };
        self.stats.set_lag(behind, lag_ns);
    }

    /// Sleeps `duration` in steps of at most the poll interval, waking early
    /// once a stop's catch-up deadline has passed.
    fn sleep(&self, duration: Duration) {
        let step = self.options.poll_interval.max(Duration::from_millis(1));
        let mut left = duration;
        while !left.is_zero() {
            let stopping = self.control.stop.load(Ordering::Acquire);
            let deadline_ns = self.control.stop_deadline_ns.load(Ordering::Relaxed);
            if stopping && self.clock.now_ns() > deadline_ns {
                return;
            }
            let nap = left.min(step);
            std::thread::sleep(nap);
            left -= nap;
        }
    }
}
