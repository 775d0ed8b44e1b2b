//! The runs a journal records and the walk over them that rebuilds stage
//! state: start-up walks from the newest valid snapshot to the journal's
//! end; `genesis replay` walks from the first record, checking as it goes.
//!
//! A run is its `config-<seq_first>.toml` and, from this build on, its start
//! record. Entering a run builds a [`Replayer`] from the run's own config
//! and strategy, then does what the run's start did: carry the previous
//! run's state on (restore it into the new stages, set the recorded next
//! order id, and check the state's CRC against the record) or start flat.
//! Every journaled event is then replayed with its decisions checked.
//!
//! Owned by the thread that rebuilds (the caller of `run::run`, or replay's).

use super::error::RestartError;
use super::file::{Refusal, Refused, Snapshot};
use super::fingerprint::{fingerprint, instruments_described, instruments_fingerprint};
use super::start_record::{StartRecord, StartState};
use super::store::SnapshotStore;
use crate::config::Config;
use crate::event::Event;
use crate::journal_stage::{list_runs, EventReader};
use crate::replay::state::STATE_FORMAT_VERSION;
use crate::replay::{order_id_floor, Replayer};
use crate::strategy::Strategy;
use std::path::{Path, PathBuf};

/// One recorded run.
pub struct RunRecord {
    pub seq_first: u64,
    /// Its last journaled sequence (`seq_first - 1` when it journaled nothing).
    pub seq_last: u64,
    pub config: Config,
    pub start: Option<StartRecord>,
}

impl RunRecord {
    /// The strategy the run traded with: its start record's, else its config's.
    pub fn strategy_name(&self) -> String {
        match &self.start {
            Some(start) => start.strategy.clone(),
            None => crate::strategy::from_config(&self.config)
                .name()
                .to_string(),
        }
    }

    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.config, &self.strategy_name())
    }

    pub fn starts_carried(&self) -> bool {
        self.start
            .as_ref()
            .is_some_and(|s| s.state == StartState::Carried)
    }
}

/// The runs of a journal that journaled something, in order.
pub struct History {
    pub dir: PathBuf,
    pub runs: Vec<RunRecord>,
    /// The journal's last record (0: none).
    pub journal_last: u64,
}

impl History {
    /// The runs of `dir` with records up to `journal_last`.
    pub fn load(dir: &Path, journal_last: u64) -> Result<History, RestartError> {
        let listed = list_runs(dir).map_err(|source| RestartError::List {
            dir: dir.to_path_buf(),
            source,
        })?;
        let listed: Vec<(u64, PathBuf)> = listed
            .into_iter()
            .filter(|(seq_first, _)| *seq_first <= journal_last)
            .collect();
        if journal_last > 0 && listed.first().is_none_or(|(first, _)| *first > 1) {
            return Err(RestartError::Unrecorded {
                dir: dir.to_path_buf(),
                seq_first: 1,
                seq_last: journal_last,
            });
        }
        let mut runs = Vec::with_capacity(listed.len());
        for (index, (seq_first, path)) in listed.iter().enumerate() {
            let seq_last = listed
                .get(index + 1)
                .map_or(journal_last, |(next, _)| next - 1);
            let start = StartRecord::read(dir, *seq_first).map_err(|detail| RestartError::Run {
                seq_first: *seq_first,
                detail,
            })?;
            runs.push(RunRecord {
                seq_first: *seq_first,
                seq_last,
                config: Config::load_unvalidated(path)?,
                start,
            });
        }
        Ok(History {
            dir: dir.to_path_buf(),
            runs,
            journal_last,
        })
    }

    pub fn run_index(&self, seq_first: u64) -> Option<usize> {
        self.runs.iter().position(|r| r.seq_first == seq_first)
    }
}

/// Where each run's strategy instance comes from: a bundled strategy from
/// the run's own config (its parameters may differ run to run), else the
/// live strategy of the run being started (its replica, or itself, lent to
/// the walk and given back at the end).
pub struct StrategyPool {
    live: Option<Box<dyn Strategy>>,
    live_name: Option<&'static str>,
}

impl StrategyPool {
    /// Bundled strategies only (replay).
    pub fn bundled() -> StrategyPool {
        StrategyPool {
            live: None,
            live_name: None,
        }
    }

    /// Bundled strategies, and `live` for runs that traded with it.
    pub fn with_live(live: Box<dyn Strategy>) -> StrategyPool {
        StrategyPool {
            live_name: Some(live.name()),
            live: Some(live),
        }
    }

    /// A strategy instance for `run`, in its initial state.
    pub fn instance_for(&mut self, run: &RunRecord) -> Result<Box<dyn Strategy>, RestartError> {
        let recorded = run.strategy_name();
        let bundled = crate::strategy::from_config(&run.config);
        if bundled.name() == recorded {
            return Ok(bundled);
        }
        if self.live_name == Some(recorded.as_str()) {
            if let Some(replica) = self.live.as_ref().and_then(|live| live.replica()) {
                return Ok(replica);
            }
            if let Some(live) = self.live.take() {
                return Ok(live);
            }
        }
        Err(RestartError::Run {
            seq_first: run.seq_first,
            detail: format!(
                "it traded with strategy {recorded:?}, which this build does not bundle and this process does not run: its state cannot be rebuilt (replay it with --strategy to backtest)"
            ),
        })
    }

    /// Takes back an instance the walk is done with (the live one, if lent).
    pub fn give_back(&mut self, strategy: Box<dyn Strategy>) {
        if self.live.is_none() && self.live_name == Some(strategy.name()) {
            self.live = Some(strategy);
        }
    }

    /// The live strategy, once the walk gave it back.
    pub fn take_live(&mut self) -> Option<Box<dyn Strategy>> {
        self.live.take()
    }
}

/// Builds the stages of run `index` and does what the run's start did:
/// carries `previous` on, or starts flat. With `check` (a replay, not a
/// backtest), decisions are compared with the journal's and the carried
/// state must have the CRC the run recorded at its start.
pub fn enter_run(
    history: &History,
    index: usize,
    previous: Option<Replayer>,
    pool: &mut StrategyPool,
    check: bool,
) -> Result<Replayer, RestartError> {
    let run = &history.runs[index];
    let strategy = pool.instance_for(run)?;
    let mut replica = Replayer::fresh(&run.config, strategy, check);
    let start = run.start.as_ref();
    match (start, previous) {
        (Some(start), Some(previous)) if start.state == StartState::Carried => {
            let earlier = &history.runs[index - 1].config;
            check_compatible(earlier, &run.config)?;
            let bytes = previous.save_state();
            pool.give_back(previous.into_strategy());
            replica
                .restore_state(&bytes)
                .map_err(|source| RestartError::State {
                    seq_first: run.seq_first,
                    source,
                })?;
            replica.begin_run();
            replica.set_order_id_next(start.order_id_next);
            let found = crc32c::crc32c(&replica.save_state());
            if check
                && start.state_format_version == STATE_FORMAT_VERSION
                && found != start.state_crc32c
            {
                return Err(RestartError::StartMismatch {
                    seq_first: run.seq_first,
                    found,
                    recorded: start.state_crc32c,
                });
            }
        }
        (Some(start), None) if start.state == StartState::Carried => {
            return Err(RestartError::Run {
                seq_first: run.seq_first,
                detail: "its start record says it carried state on, but no earlier run's state is there to carry".into(),
            });
        }
        (start, previous) => {
            if let Some(previous) = previous {
                pool.give_back(previous.into_strategy());
            }
            let next = start.map_or(order_id_floor(run.seq_first), |s| s.order_id_next);
            replica.set_order_id_next(next);
        }
    }
    Ok(replica)
}

/// Refuses to carry state between configs whose instruments differ.
pub fn check_compatible(from: &Config, to: &Config) -> Result<(), RestartError> {
    if instruments_fingerprint(from) == instruments_fingerprint(to) {
        return Ok(());
    }
    Err(RestartError::Incompatible {
        journal: instruments_described(from),
        config: instruments_described(to),
    })
}

/// Replays the journal's `from..=to` through `replica`, every decision
/// checked; `each` sees the replica after every event. Returns the events
/// replayed and the last one.
pub fn replay_range(
    dir: &Path,
    run_seq_first: u64,
    replica: &mut Replayer,
    (from, to): (u64, u64),
    each: &mut dyn FnMut(&Replayer, &Event) -> Result<(), RestartError>,
) -> Result<(u64, Option<Event>), RestartError> {
    if from > to {
        return Ok((0, None));
    }
    let mut reader = EventReader::open(dir, from, to)?;
    let mut count = 0;
    let mut last = None;
    while let Some(event) = reader.next_event()? {
        if !replica.step(&event) {
            let divergence = replica
                .summary
                .divergence
                .clone()
                .expect("a failed step records its divergence");
            return Err(RestartError::Divergence {
                seq: divergence.seq,
                run: run_seq_first,
                journaled: Box::new(divergence.journaled),
                produced: Box::new(divergence.produced),
            });
        }
        each(replica, &event)?;
        count += 1;
        last = Some(event);
    }
    if count < to - from + 1 && to != u64::MAX {
        return Err(RestartError::Run {
            seq_first: run_seq_first,
            detail: format!(
                "the journal ends at {} before its record {to}",
                from + count - 1
            ),
        });
    }
    Ok((count, last))
}

/// CRC32C of the journal's record `seq` payload.
pub fn record_crc32c(dir: &Path, seq: u64) -> Result<Option<u32>, String> {
    let mut reader =
        genesis_journal::RangeReader::open(dir, seq, seq).map_err(|e| e.to_string())?;
    let record = reader.next_record().map_err(|e| e.to_string())?;
    Ok(record.map(|r| crc32c::crc32c(r.payload)))
}

/// Everything about a snapshot the history can prove short of restoring
/// it; the index of the run it belongs to.
pub fn check_snapshot(history: &History, snapshot: &Snapshot) -> Result<usize, Refusal> {
    let header = &snapshot.header;
    if header.seq > history.journal_last {
        return Err(Refusal::AheadOfJournal {
            seq: header.seq,
            journal_last: history.journal_last,
        });
    }
    let index = history
        .run_index(header.run_seq_first)
        .ok_or(Refusal::UnknownRun(header.run_seq_first))?;
    let run = &history.runs[index];
    if header.seq + 1 < run.seq_first || header.seq > run.seq_last {
        return Err(Refusal::OutsideRun {
            seq: header.seq,
            run_first: run.seq_first,
            run_last: run.seq_last,
        });
    }
    let expected = run.fingerprint();
    if header.fingerprint != expected {
        return Err(Refusal::Fingerprint {
            run: run.seq_first,
            expected,
            found: header.fingerprint,
        });
    }
    if header.seq > 0 {
        let crc = record_crc32c(&history.dir, header.seq).map_err(Refusal::Io)?;
        if crc != Some(header.event_crc32c) {
            return Err(Refusal::JournalMismatch(header.seq));
        }
    }
    Ok(index)
}

/// A snapshot loaded into the stages of its run.
pub struct Loaded {
    pub snapshot: Snapshot,
    pub run_index: usize,
    pub replica: Replayer,
}

/// The newest snapshot that checks and restores, its replica built from its
/// run's config; each one refused on the way is added to `refused`.
pub fn load_newest(
    history: &History,
    store: &SnapshotStore,
    pool: &mut StrategyPool,
    refused: &mut Vec<Refused>,
) -> Result<Option<Loaded>, RestartError> {
    let files = store.list().map_err(|source| RestartError::List {
        dir: store.dir().to_path_buf(),
        source,
    })?;
    for file in files.iter().rev() {
        let snapshot = match super::file::read_snapshot(&file.path) {
            Ok(snapshot) => snapshot,
            Err(refusal) => {
                refused.push(refusal);
                continue;
            }
        };
        let refuse = |reason| Refused {
            path: file.path.clone(),
            reason,
        };
        let run_index = match check_snapshot(history, &snapshot) {
            Ok(index) => index,
            Err(reason) => {
                refused.push(refuse(reason));
                continue;
            }
        };
        let run = &history.runs[run_index];
        let mut replica = Replayer::fresh(&run.config, pool.instance_for(run)?, true);
        let restored = replica.restore_state(&snapshot.payload);
        let reason = match restored {
            Err(err) => Some(err.to_string()),
            Ok(_) if replica.save_state() != snapshot.payload => {
                Some("saved again after restoring, it gives other bytes".to_string())
            }
            Ok(_) => None,
        };
        if let Some(reason) = reason {
            pool.give_back(replica.into_strategy());
            refused.push(refuse(Refusal::State(reason)));
            continue;
        }
        return Ok(Some(Loaded {
            snapshot,
            run_index,
            replica,
        }));
    }
    Ok(None)
}
