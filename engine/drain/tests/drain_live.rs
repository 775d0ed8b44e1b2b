//! The live drain follows a journal being written, survives PostgreSQL
//! going down for more than ten seconds, reports its lag meanwhile, and
//! catches up: the database ends with every journaled event exactly once.
//!
//! The engine's own p99 under a database outage is not measured here (the
//! journal is written by the test); the drain only ever reads the journal,
//! so the engine cannot wait for it.

mod pg;

use genesis_drain::{self as drain, DbUrl, DrainOptions, FolderMode, JournalFeed, LiveDrain};
use genesis_engine::clock::EpochClock;
use genesis_engine::event::EVENT_BYTES;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Appends events to a segmented journal in `dir` (1 MiB segments, so it
/// rolls over often) at about `per_tick` every 10 ms until stopped; when
/// `roll` is set, closes and reopens the journal once, as a restarted engine
/// would (the sequence runs on), and then sets `rolled`.
///
/// Dropping it stops and joins the thread, so a failed assertion never
/// leaves it appending into a folder the test's `TempDir` is removing.
struct JournalWriter {
    /// The last sequence written and flushed.
    seq_written: Arc<AtomicU64>,
    roll: Arc<AtomicBool>,
    rolled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl JournalWriter {
    fn start(dir: &Path, per_tick: u64) -> JournalWriter {
        let seq_written = Arc::new(AtomicU64::new(0));
        let roll = Arc::new(AtomicBool::new(false));
        let rolled = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (dir, seq_written, roll, rolled, stop) = (
                dir.to_path_buf(),
                seq_written.clone(),
                roll.clone(),
                rolled.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let clock = EpochClock::new();
                let mut config = genesis_journal::JournalConfig::new(&dir, EVENT_BYTES);
                config.segment_size_bytes = 1 << 20;
                let (mut writer, _) = genesis_journal::Writer::open(&config).unwrap();
                let mut bytes = [0u8; EVENT_BYTES];
                while !stop.load(Ordering::Relaxed) {
                    if roll.load(Ordering::Relaxed) && !rolled.load(Ordering::Relaxed) {
                        writer.close().unwrap();
                        writer = genesis_journal::Writer::open(&config).unwrap().0;
                        rolled.store(true, Ordering::Release);
                    }
                    let seq = writer.seq_next();
                    for event in pg::journal::synthetic(seq, per_tick, clock.now_ns(), 1_000) {
                        event.encode(&mut bytes);
                        writer.append(&bytes).unwrap();
                    }
                    writer.flush().unwrap();
                    seq_written.store(writer.seq_next() - 1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
                writer.close().unwrap();
            })
        };
        JournalWriter {
            seq_written,
            roll,
            rolled,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread and waits for it; the last sequence it wrote.
    /// Panics if the writer thread failed.
    fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        self.seq_written.load(Ordering::Relaxed)
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // A writer that failed is reported by the test's own assertion.
            let _ = thread.join();
        }
    }
}

// PostgreSQL stops for 10+ s while events keep being journaled; the drain
// reports the outage and its lag, reconnects, and ends with the journal's
// exact contents, across segment rollovers and a journal reopened by a new run.
// It stops the server, so it always starts a private one (DATABASE_URL or not).
#[test]
fn live_drain_survives_a_database_outage() {
    let db = pg::TestDb::private_server();
    let url = DbUrl::parse(db.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Declared after `dir`, so it is dropped (stopped and joined) first.
    // About 8,000 events a second: the 10 s outage leaves more than the
    // 50,000 the test asks for, and catching up stays a few seconds of work
    // on a loaded debug build (at 20,000 a second it was over 200,000
    // events, and a loaded host could not load them within the deadline).
    let mut writer = JournalWriter::start(dir.path(), 80);
    let options = DrainOptions {
        chunk_events: 5_000,
        backoff_max: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
        ..DrainOptions::default()
    };
    let feed = JournalFeed::new(
        dir.path(),
        drain::JOURNAL_STREAM_DEFAULT,
        FolderMode::Follow,
    )
    .with_seq_written(writer.seq_written.clone());
    let live = LiveDrain::spawn(url.clone(), Box::new(feed), options).unwrap();
    let stats = live.stats();
    // Conditions, not deadlines: each wait goes on while the writer (or
    // the drain) makes progress, however slowly a loaded host lets it, and
    // fails only when it has stopped for 30 s.
    const STALL: Duration = Duration::from_secs(30);
    let written_now = || writer.seq_written.load(Ordering::Relaxed);
    pg::wait_progressing(
        "the drain to load events",
        STALL,
        || stats.events_loaded.load(Ordering::Relaxed),
        || stats.events_loaded.load(Ordering::Relaxed) > 2_000,
    );

    db.stop_server();
    pg::wait_progressing(
        "the drain to see the outage for 10 s",
        STALL,
        written_now,
        || {
            let now = stats.snapshot();
            !now.connected && now.lag_seconds >= 10.0 && now.lag_events > 50_000
        },
    );
    let during = stats.snapshot();
    assert!(during.connection_failures > 0);
    assert!(during.last_error.is_some());
    db.start_server();
    writer.roll.store(true, Ordering::Relaxed);
    // The journal is closed and reopened, and appended to after that; then
    // the writer stops, so catching up is reaching a fixed end, not racing
    // a writer that keeps appending on a loaded machine.
    let seq_at_roll = writer.seq_written.load(Ordering::Relaxed);
    pg::wait_progressing(
        "the journal to be reopened and appended to",
        STALL,
        written_now,
        || {
            writer.rolled.load(Ordering::Acquire)
                && writer.seq_written.load(Ordering::Relaxed) > seq_at_roll + 1_000
        },
    );
    let written = writer.stop();
    pg::wait_progressing(
        "the drain to reconnect and load every written event",
        STALL,
        || stats.seq_last.load(Ordering::Relaxed),
        || {
            let now = stats.snapshot();
            now.connected && stats.seq_last.load(Ordering::Relaxed) == written
        },
    );
    let mut probe = db.client();
    assert_eq!(
        pg::check::count(&mut probe, "SELECT count(*) FROM events"),
        written as i64
    );
    let last = live.stop(Duration::from_secs(5)).unwrap();
    assert_eq!(last.events_loaded, written, "{last:?}");
    assert_eq!(last.lag_events, 0);

    let mut client = db.client();
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        written as i64
    );
    pg::check::exactly_once(&mut client);
    let journal = genesis_engine::journal_stage::EventReader::read_all(dir.path()).unwrap();
    assert_eq!(journal.len() as u64, written);
    assert_eq!(
        pg::check::stored_events(&mut client, drain::JOURNAL_STREAM_DEFAULT),
        journal
    );
}
