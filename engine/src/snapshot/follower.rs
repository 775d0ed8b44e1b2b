//! The snapshot thread: a replica of risk, strategy and execution (and
//! ingest's exec-id memory) that follows the journal as it is written, and
//! writes the replica's state as a snapshot every `events_between` events or
//! `interval_ms` (with at least one new event).
//!
//! The stages are deterministic, so the replica fed the journaled events is
//! in the live stages' state at every sequence, and it checks every
//! decision it re-derives against the journaled one: a divergence is logged
//! at error level as CRITICAL, counted on the board, reported, and ends
//! the snapshots of the run (state that disagrees with the journal is never
//! written). The hot path does nothing for snapshots: the follower reads the
//! journal's page cache through a `Tailer`, on a thread of its own that
//! lowers its priority and sleeps 1 ms each time it reaches the journal's
//! end, so at 100 k events/s it wakes about 1,000 times a second and
//! replays about 100 events each time.
//!
//! A snapshot's payload (hundreds of KiB, growing for many minutes as the
//! replica's id memories fill) is mapped on its own and unmapped when
//! freed ([`spawn`] sets `sys::map_large_allocations`): from the thread's
//! malloc arena, each larger payload would leave the arena larger for the
//! rest of the run.
//!
//! Periodic snapshots wait until their sequence is durable (under the
//! `group` and `batch` policies) so a snapshot never outlives the records
//! it stands for. Each snapshot also carries the CRC of the journal record at
//! its sequence; start-up refuses one the journal no longer matches.
//!
//! When start-up had to replay events, the thread first writes the state
//! start-up rebuilt, as a snapshot of the last run that journaled it
//! ([`StartSnapshot`]).
//!
//! A plan whose stage threads spin on every CPU the process may use leaves
//! no core for this thread: each of its wake-ups (about 1,000 a second at
//! 100 k events/s) preempts a stage thread.
//! Such a run starts it with [`spawn_deferred`]: it sleeps until the run
//! ends, then follows the journal to the end and writes the final
//! snapshot (within [`FINISH_DEADLINE`]); its report says so.
//!
//! Owning thread: the snapshot thread ([`spawn`]); in tests, the caller.

use super::file::{SnapshotMeta, StartSnapshot};
use super::store::SnapshotStore;
use crate::event::{Event, EVENT_BYTES};
use crate::replay::Replayer;
use crate::telemetry::{Board, Counter};
use genesis_journal::Tailer;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes per read of the follower's tailer.
const TAIL_BUFFER_BYTES: usize = 1 << 20;
/// Records applied per poll before the follower looks at the time again.
pub const POLL_RECORDS_MAX: usize = 4_096;
/// How long the thread sleeps once it has read to the journal's end.
const IDLE_SLEEP: Duration = Duration::from_millis(1);
/// Longest park of a deferred thread: it only bounds a wake-up lost to a
/// bug, since `finish` unparks it.
const DEFERRED_PARK_MAX: Duration = Duration::from_secs(1);
/// How long, once the run stopped, the thread may take to reach the
/// journal's end (a shutdown never waits longer on it).
pub const FINISH_DEADLINE: Duration = Duration::from_secs(10);
/// Allocations from this size up are mapped on their own (glibc's default
/// threshold, kept from rising): the snapshot payloads among them.
const LARGE_ALLOCATION_BYTES: usize = 128 << 10;
/// `end` while the run goes on.
const RUNNING: u64 = u64::MAX;

/// When to write.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotPolicy {
    pub events_between: u64,
    pub interval: Duration,
    pub keep: usize,
}

/// What the follower did, for the run report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowerReport {
    pub snapshots_written: u64,
    pub last_seq: Option<u64>,
    pub last_path: Option<PathBuf>,
    pub last_bytes: u64,
    pub events_followed: u64,
    /// The divergence or error that ended the follower early.
    pub stopped: Option<String>,
    /// Write errors (the follower keeps going after one), the last kept.
    pub write_errors: u64,
    pub last_write_error: Option<String>,
    /// Why the thread did not follow during the run (it caught up at the
    /// end instead): no CPU was free of a spinning stage thread.
    pub deferred: Option<String>,
    /// Times the thread woke while the run went on (polls, or returns
    /// from its park when deferred).
    pub wakeups_while_running: u64,
}

pub struct Follower {
    dir: PathBuf,
    store: SnapshotStore,
    replica: Replayer,
    tailer: Tailer,
    run_seq_first: u64,
    fingerprint: u64,
    policy: SnapshotPolicy,
    seq_durable: Option<Arc<AtomicU64>>,
    board: Option<Arc<Board>>,
    seq_applied: u64,
    /// The record at `seq_applied`, whose CRC a snapshot of it carries:
    /// computed when a snapshot is written, not for every record followed
    /// (a copy of 128 bytes costs less than their CRC).
    payload_last: [u8; EVENT_BYTES],
    seq_written: u64,
    events_since: u64,
    written_at: Option<Instant>,
    /// The journal's end state to write first (see `start_with_snapshot`).
    start_snapshot: Option<StartSnapshot>,
    pub report: FollowerReport,
}

impl Follower {
    /// A follower whose replica is in the state of sequence `seq_first - 1`,
    /// in the run starting at `seq_first`. `seq_durable` (when the journal
    /// syncs) holds snapshots back until their sequence is on disk.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        journal_dir: &Path,
        replica: Replayer,
        seq_first: u64,
        fingerprint: u64,
        policy: SnapshotPolicy,
        seq_durable: Option<Arc<AtomicU64>>,
        board: Option<Arc<Board>>,
    ) -> Result<Follower, genesis_journal::JournalError> {
        assert!(seq_first >= 1, "sequences start at 1");
        assert!(
            policy.keep > 0 && policy.events_between > 0,
            "a usable policy"
        );
        Ok(Follower {
            dir: journal_dir.to_path_buf(),
            store: SnapshotStore::of_journal(journal_dir),
            tailer: Tailer::open(journal_dir, seq_first, TAIL_BUFFER_BYTES)?,
            replica,
            run_seq_first: seq_first,
            fingerprint,
            policy,
            seq_durable,
            board,
            seq_applied: seq_first - 1,
            payload_last: [0; EVENT_BYTES],
            seq_written: 0,
            events_since: 0,
            written_at: None,
            start_snapshot: None,
            report: FollowerReport::default(),
        })
    }

    /// The last sequence the replica applied.
    pub fn seq_applied(&self) -> u64 {
        self.seq_applied
    }

    pub fn replica(&self) -> &Replayer {
        &self.replica
    }

    pub fn is_stopped(&self) -> bool {
        self.report.stopped.is_some()
    }

    /// Has the thread write the journal's end state first (see
    /// `write_start`), when start-up replayed events to rebuild it.
    pub fn start_with_snapshot(&mut self, start: Option<StartSnapshot>) {
        self.start_snapshot = start;
    }

    /// Writes the state start-up rebuilt at the journal's end, as a snapshot
    /// of the run that journaled it: a start-up that replayed events need
    /// not replay them again next time.
    pub fn write_start(&mut self, start: &StartSnapshot) {
        assert_eq!(
            start.meta.seq,
            self.run_seq_first - 1,
            "the start snapshot stands at the journal's end"
        );
        let written = self
            .store
            .write(&start.meta, &start.payload)
            .and_then(|path| self.store.prune(self.policy.keep).map(|_| path));
        self.record_written(written, start.meta.seq, start.payload.len());
    }

    /// Applies up to `budget` new records, writing a snapshot when one is due at `now`.
    pub fn poll(&mut self, budget: usize, now: Instant) -> usize {
        if self.is_stopped() {
            return 0;
        }
        let mut applied = 0;
        // `now` is fixed for the poll, so whether the interval has passed
        // changes only when a write moves `written_at`: it is looked at
        // once here and after each write, not for every record.
        let mut by_time = self.interval_passed(now);
        while applied < budget {
            let record = match self.tailer.poll() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(err) => {
                    self.stop(format!("reading the journal: {err}"));
                    return applied;
                }
            };
            let event = match decode(&self.dir, record.seq, record.payload) {
                Ok(event) => event,
                Err(message) => {
                    self.stop(message);
                    return applied;
                }
            };
            // Kept for the CRC a snapshot of this sequence carries.
            self.payload_last.copy_from_slice(record.payload);
            if !self.apply(&event) {
                return applied;
            }
            applied += 1;
            let by_count = self.events_since >= self.policy.events_between;
            if by_count || by_time || self.written_at.is_none() {
                self.write_if_due(now);
                by_time = self.interval_passed(now);
            }
        }
        if applied == 0 {
            self.write_if_due(now);
        }
        applied
    }

    /// Steps the replica; false (and stopped) on a divergence.
    fn apply(&mut self, event: &Event) -> bool {
        debug_assert_eq!(
            event.seq,
            self.seq_applied + 1,
            "the follower reads in order"
        );
        if !self.replica.step(event) {
            let divergence = self.replica.summary.divergence.clone();
            let message = match divergence {
                Some(d) => format!(
                    "DIVERGENCE at sequence {}: the snapshot replica derives other decisions than the live stages journaled (journaled {:?}, replica {:?})",
                    d.seq, d.journaled, d.produced
                ),
                None => "the replica stopped".into(),
            };
            if let Some(board) = &self.board {
                board.set(Counter::SnapshotDivergences, 1);
            }
            self.stop(message);
            return false;
        }
        self.seq_applied = event.seq;
        self.events_since += 1;
        self.report.events_followed += 1;
        true
    }

    fn stop(&mut self, message: String) {
        tracing::error!(%message, "CRITICAL: snapshots stop for this run");
        self.report.stopped = Some(message);
    }

    fn write_if_due(&mut self, now: Instant) {
        if self.events_since == 0 {
            return;
        }
        let by_count = self.events_since >= self.policy.events_between;
        let by_time = self.interval_passed(now);
        if self.written_at.is_none() {
            self.written_at = Some(now);
        }
        let durable = self
            .seq_durable
            .as_ref()
            .is_none_or(|d| d.load(Ordering::Acquire) >= self.seq_applied);
        if (by_count || by_time) && durable {
            self.write(Some(now));
        }
    }

    /// True when `interval` has passed at `now` since the last write.
    fn interval_passed(&self, now: Instant) -> bool {
        self.written_at
            .is_some_and(|at| now.saturating_duration_since(at) >= self.policy.interval)
    }

    /// Writes the replica's state as the snapshot of `seq_applied`, then prunes.
    fn write(&mut self, now: Option<Instant>) {
        let payload = self.replica.save_state();
        let meta = SnapshotMeta {
            seq: self.seq_applied,
            run_seq_first: self.run_seq_first,
            fingerprint: self.fingerprint,
            event_crc32c: crc32c::crc32c(&self.payload_last),
        };
        let written = self
            .store
            .write(&meta, &payload)
            .and_then(|path| self.store.prune(self.policy.keep).map(|_| path));
        self.events_since = 0;
        self.written_at = now.or(self.written_at);
        self.record_written(written, self.seq_applied, payload.len());
    }

    /// Counts a snapshot written at `seq` (or the error).
    fn record_written(&mut self, written: std::io::Result<PathBuf>, seq: u64, bytes: usize) {
        match written {
            Ok(path) => {
                self.seq_written = self.seq_written.max(seq);
                self.report.snapshots_written += 1;
                self.report.last_seq = Some(seq);
                self.report.last_bytes = bytes as u64;
                tracing::debug!(seq, path = %path.display(), bytes, "snapshot written");
                self.report.last_path = Some(path);
                if let Some(board) = &self.board {
                    board.set(Counter::SnapshotsWritten, self.report.snapshots_written);
                    board.set(Counter::SnapshotSeqLast, seq);
                }
            }
            Err(err) => {
                tracing::error!(%err, dir = %self.store.dir().display(), "writing a snapshot failed; the next one is tried when due");
                self.report.write_errors += 1;
                self.report.last_write_error = Some(err.to_string());
            }
        }
    }

    /// The run ended at `seq_last`: a final snapshot if anything is new.
    pub fn write_final(&mut self) {
        if !self.is_stopped() && self.seq_applied > self.seq_written && self.events_since > 0 {
            self.write(None);
        }
    }
}

/// A journal record as an event, or what is wrong with it.
fn decode(dir: &Path, seq: u64, payload: &[u8]) -> Result<Event, String> {
    let bytes: &[u8; EVENT_BYTES] = payload.try_into().map_err(|_| {
        format!(
            "journal {}: record {seq} is {} bytes, events are {EVENT_BYTES}",
            dir.display(),
            payload.len()
        )
    })?;
    Event::decode(bytes).map_err(|e| format!("journal {}: record {seq}: {e}", dir.display()))
}

/// The snapshot thread of a run, and how to end it.
pub struct SnapshotThread {
    handle: JoinHandle<FollowerReport>,
    end: Arc<AtomicU64>,
    /// How long it may take to catch up once told the end, in ms.
    finish_deadline_ms: Arc<AtomicU64>,
}

/// Starts the follower on a thread of its own, at low priority.
pub fn spawn(follower: Follower) -> SnapshotThread {
    spawn_with(follower, None)
}

/// Starts the follower on a thread of its own that sleeps until the run
/// ends and then follows the journal to its end (writing the final
/// snapshot): for a plan whose stage threads spin on every CPU, where each
/// of its wake-ups would preempt one of them. `reason` goes in its report.
/// Until the run ends, a restart replays from the last snapshot before it.
pub fn spawn_deferred(follower: Follower, reason: String) -> SnapshotThread {
    spawn_with(follower, Some(reason))
}

fn spawn_with(mut follower: Follower, deferred: Option<String>) -> SnapshotThread {
    follower.report.deferred = deferred;
    let end = Arc::new(AtomicU64::new(RUNNING));
    let finish_deadline_ms = Arc::new(AtomicU64::new(FINISH_DEADLINE.as_millis() as u64));
    let (thread_end, thread_deadline) = (Arc::clone(&end), Arc::clone(&finish_deadline_ms));
    crate::sys::map_large_allocations(LARGE_ALLOCATION_BYTES);
    let handle = std::thread::Builder::new()
        .name("snapshot".into())
        .spawn(move || follow(follower, &thread_end, &thread_deadline))
        .expect("spawning the snapshot thread");
    SnapshotThread {
        handle,
        end,
        finish_deadline_ms,
    }
}

impl SnapshotThread {
    /// The run stopped with `seq_last` its last journaled record: the thread
    /// follows the journal to it, writes a final snapshot and ends.
    pub fn finish(self, seq_last: u64) -> FollowerReport {
        self.finish_within(seq_last, FINISH_DEADLINE)
    }

    /// As [`SnapshotThread::finish`], giving the thread `deadline` to catch up.
    pub fn finish_within(self, seq_last: u64, deadline: Duration) -> FollowerReport {
        let deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
        self.finish_deadline_ms
            .store(deadline_ms, Ordering::Release);
        self.end.store(seq_last, Ordering::Release);
        // A deferred thread is parked until now.
        self.handle.thread().unpark();
        self.handle.join().unwrap_or_else(|_| FollowerReport {
            stopped: Some("the snapshot thread panicked".into()),
            ..FollowerReport::default()
        })
    }
}

#[allow(clippy::disallowed_methods)] // the thread wrapper times snapshots by wall time
fn follow(
    mut follower: Follower,
    end: &AtomicU64,
    finish_deadline_ms: &AtomicU64,
) -> FollowerReport {
    if let Err(err) = crate::sys::lower_thread_priority(10) {
        tracing::debug!(%err, "the snapshot thread keeps its priority");
    }
    if let Some(start) = follower.start_snapshot.take() {
        follower.write_start(&start);
    }
    if follower.report.deferred.is_some() {
        while end.load(Ordering::Acquire) == RUNNING {
            std::thread::park_timeout(DEFERRED_PARK_MAX);
            follower.report.wakeups_while_running += 1;
        }
    }
    let mut finishing_since: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let applied = follower.poll(POLL_RECORDS_MAX, now);
        if follower.is_stopped() {
            break;
        }
        let seq_last = end.load(Ordering::Acquire);
        if seq_last != RUNNING {
            if follower.seq_applied() >= seq_last {
                follower.write_final();
                break;
            }
            let since = *finishing_since.get_or_insert(now);
            let deadline = Duration::from_millis(finish_deadline_ms.load(Ordering::Acquire));
            if now.duration_since(since) > deadline {
                follower.report.stopped = Some(format!(
                    "the journal's end {seq_last} was not reached within {deadline:?} of the run's end (followed to {}): no final snapshot",
                    follower.seq_applied()
                ));
                break;
            }
        }
        if seq_last == RUNNING {
            follower.report.wakeups_while_running += 1;
        }
        // Only a full budget means the follower is behind. A poll that
        // drained the journal sleeps even when it applied records: going
        // straight back for the one or two written meanwhile costs a read
        // per record and kept a core busy through a 100 k/s run, and the
        // threads woken meanwhile (a simulated venue) then landed on the
        // stage thread's core.
        if applied < POLL_RECORDS_MAX {
            std::thread::sleep(IDLE_SLEEP);
        }
    }
    follower.report
}
