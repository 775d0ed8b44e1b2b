//! Start-up: the stage state a run begins from.
//!
//! The newest snapshot that checks (header and payload CRC, format
//! version, its run's fingerprint, the journal record it stands on) and
//! restores is loaded into stages built from its run's recorded config;
//! a refused one is logged and reported, and the next older one tried,
//! down to a full replay from the first record. The journal after the
//! snapshot is then replayed through those stages, run by run as each run
//! started (see `snapshot::history`), every decision checked: a divergence
//! stops the start-up, naming the sequence. The state at the journal's end
//! is carried into stages built from this run's config (refused if the
//! instruments changed), order ids move past anything the last run (or an
//! earlier start at this sequence that journaled nothing) may have sent,
//! and a start record says how this run began, with the journal's ClOrdID
//! lineage: the last run's, else that of an earlier start at this sequence
//! (a journal cut back to it), else a new one for a new journal. When events were replayed,
//! the state at the journal's end goes to the snapshot thread as a snapshot
//! of the last journaling run ([`StartSnapshot`]).
//!
//! Owning thread: the caller of `run::run`, before any pipeline thread starts.

use crate::config::Config;
use crate::execution::{ExecutionStage, Gateway};
use crate::orders::{Lineage, Order, OrderState};
use crate::recent::RecentMap;
use crate::replay::{order_id_floor, order_id_gap, order_id_gap_unknown_writer, Replayer};
use crate::risk::RiskStage;
use crate::snapshot::file::{Refused, SnapshotMeta, StartSnapshot};
use crate::snapshot::history::{check_compatible, enter_run, load_newest, replay_range};
use crate::snapshot::start_record::{SnapshotUsed, StartRecord, START_RECORD_VERSION};
use crate::snapshot::{History, RestartError, SnapshotStore, StartState, StrategyPool};
use crate::strategy::{Strategy, StrategyStage};
use crate::units::Side;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// How a start-up may rebuild.
#[derive(Clone, Copy, Debug)]
pub struct RebuildOptions {
    /// Load snapshots (off: replay the journal from its first record).
    pub use_snapshots: bool,
}

impl Default for RebuildOptions {
    fn default() -> RebuildOptions {
        RebuildOptions {
            use_snapshots: true,
        }
    }
}

/// An order open at start-up, as the report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestoredOrder {
    pub order_id: u64,
    pub symbol: String,
    pub side: &'static str,
    pub price_ticks: i64,
    pub qty_lots: i64,
    pub filled_lots: i64,
    pub state: &'static str,
    pub venue_order_id: u64,
    pub version_accepted: u32,
}

/// What the start-up rebuilt, from where, and how long it took.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RestartReport {
    /// "empty journal", "snapshot" or "full replay".
    pub origin: &'static str,
    pub snapshot_file: Option<String>,
    pub snapshot_seq: Option<u64>,
    /// Snapshots refused, each with its reason and what was used instead.
    pub fallbacks: Vec<String>,
    /// Snapshots removed as superseded (past the journal, or of a run that journaled nothing).
    pub removed: Vec<String>,
    pub runs_walked: u64,
    pub events_replayed: u64,
    pub snapshot_load_ms: f64,
    pub replay_ms: f64,
    pub total_ms: f64,
    pub strategy_state_carried: bool,
    pub order_id_next: u64,
    /// The journal's ClOrdID lineage (none: a journal from before lineages).
    pub lineage: Option<String>,
    /// True when this start chose the lineage (a new journal).
    pub lineage_new: bool,
    /// Risk's position per instrument (symbol, lots).
    pub positions: Vec<(String, i64)>,
    pub open_orders: Vec<RestoredOrder>,
    pub realized_pnl_units: f64,
}

/// The stages a run begins with, and how they were rebuilt.
pub struct Rebuilt {
    pub risk: RiskStage,
    pub strategy: StrategyStage,
    pub execution: ExecutionStage,
    pub exec_ids: RecentMap<()>,
    /// The state at the journal's end in the stages of the run that wrote
    /// it (before it was carried into this run's config); none when flat.
    pub journal_state: Option<Vec<u8>>,
    /// The state this run begins with.
    pub state: Vec<u8>,
    /// When events were replayed: the state at the journal's end as a
    /// snapshot of the run that wrote it, for the snapshot thread to write
    /// first, so the next start need not replay them again.
    pub start_snapshot: Option<StartSnapshot>,
    pub report: RestartReport,
    /// The journal's ClOrdID lineage, for the venue client.
    pub lineage: Option<Lineage>,
}

/// What the walk over the journal's runs ended with.
struct Walked {
    replica: Replayer,
    last_event_crc32c: Option<u32>,
}

/// Rebuilds the state the run starting at `seq_first` begins with (see the
/// module header); `strategy` and `gateway` become the live stages'.
#[allow(clippy::disallowed_methods)] // start-up is timed by wall clock for the report
pub fn rebuild(
    config: &Config,
    journal_dir: &Path,
    seq_first: u64,
    strategy: Box<dyn Strategy>,
    gateway: Box<dyn Gateway>,
    options: RebuildOptions,
) -> Result<Rebuilt, RestartError> {
    assert!(seq_first >= 1, "sequences start at 1");
    let started = Instant::now();
    let journal_last = seq_first - 1;
    let store = SnapshotStore::of_journal(journal_dir);
    let removed = store
        .remove_superseded(journal_last, seq_first)
        .map_err(|source| RestartError::List {
            dir: store.dir().to_path_buf(),
            source,
        })?;
    let history = History::load(journal_dir, journal_last)?;
    let mut pool = StrategyPool::with_live(strategy);
    let mut report = RestartReport {
        removed: removed.iter().map(|p| p.display().to_string()).collect(),
        ..RestartReport::default()
    };
    let walked = if history.runs.is_empty() {
        None
    } else {
        Some(walk(&history, &store, &mut pool, options, &mut report)?)
    };
    let live = pool
        .take_live()
        .expect("the walk gives the live strategy back");
    // Another start at this sequence journaled nothing, yet may have sent
    // orders whose events were lost: its ids are never given out again.
    // Its config file was this start's path and is overwritten by now, so
    // whether it ran the journal's write thread is unknown: assume it did.
    let earlier = earlier_start(journal_dir, seq_first)?;
    let ids_past_earlier = earlier.as_ref().map_or(0, |earlier| {
        earlier.order_id_next + order_id_gap_unknown_writer(config)
    });
    let (lineage, lineage_new) = journal_lineage(&history, earlier.as_ref(), seq_first)?;
    let mut rebuilt = begin_run(
        config,
        &history,
        (seq_first, ids_past_earlier),
        (live, gateway),
        walked,
        report,
    )?;
    rebuilt.lineage = lineage;
    rebuilt.report.lineage = lineage.map(|l| l.to_string());
    rebuilt.report.lineage_new = lineage_new;
    rebuilt.report.total_ms = started.elapsed().as_secs_f64() * 1e3;
    write_start_record(journal_dir, seq_first, &rebuilt, &history)?;
    log_rebuilt(&rebuilt.report);
    Ok(rebuilt)
}

/// The journal's ClOrdID lineage (see the module header), and whether this
/// start chose it. A journal whose runs began before lineages keeps none.
fn journal_lineage(
    history: &History,
    earlier: Option<&StartRecord>,
    seq_first: u64,
) -> Result<(Option<Lineage>, bool), RestartError> {
    // The newest run with a start record (every run this build started has one).
    let newest = history
        .runs
        .iter()
        .rev()
        .find_map(|run| run.start.as_ref().map(|start| (run.seq_first, start)));
    let recorded = newest.or_else(|| earlier.map(|start| (seq_first, start)));
    let (run, start) = match (recorded, history.runs.is_empty()) {
        (Some(recorded), _) => recorded,
        // Runs recorded before start records: plain ClOrdIDs, as they ran.
        (None, false) => return Ok((None, false)),
        (None, true) => return Ok((Some(Lineage::generate()), true)),
    };
    match &start.lineage {
        None => Ok((None, false)),
        Some(text) => match Lineage::parse(text) {
            Some(lineage) => Ok((Some(lineage), false)),
            None => Err(RestartError::Run {
                seq_first: run,
                detail: format!(
                    "start record names the ClOrdID lineage {text:?}, not six of 0-9a-z"
                ),
            }),
        },
    }
}

/// The start record an earlier start at `seq_first` left (it journaled nothing).
fn earlier_start(dir: &Path, seq_first: u64) -> Result<Option<StartRecord>, RestartError> {
    StartRecord::read(dir, seq_first).map_err(|detail| RestartError::Run { seq_first, detail })
}

/// From the newest valid snapshot (or the first record) to the journal's
/// end, run by run; the replica ends in the last run's stages.
#[allow(clippy::disallowed_methods)] // timed for the report
fn walk(
    history: &History,
    store: &SnapshotStore,
    pool: &mut StrategyPool,
    options: RebuildOptions,
    report: &mut RestartReport,
) -> Result<Walked, RestartError> {
    let loading = Instant::now();
    let mut refused: Vec<Refused> = Vec::new();
    let loaded = if options.use_snapshots {
        load_newest(history, store, pool, &mut refused)?
    } else {
        None
    };
    report.snapshot_load_ms = loading.elapsed().as_secs_f64() * 1e3;
    let replaying = Instant::now();
    let (mut index, mut replica, mut from, mut last_crc) = match loaded {
        Some(loaded) => {
            report.origin = "snapshot";
            report.snapshot_file = Some(loaded.snapshot.path.display().to_string());
            report.snapshot_seq = Some(loaded.snapshot.header.seq);
            let seq = loaded.snapshot.header.seq;
            let crc = loaded.snapshot.header.event_crc32c;
            (loaded.run_index, loaded.replica, seq + 1, Some(crc))
        }
        None => {
            report.origin = "full replay";
            (0, enter_run(history, 0, None, pool, true)?, 1, None)
        }
    };
    let used = match &report.snapshot_file {
        Some(file) => format!("snapshot {file}"),
        None => "a full replay from the first record".to_string(),
    };
    report.fallbacks = refused
        .iter()
        .map(|r| format!("{r}; falling back to {used}"))
        .collect();
    loop {
        let run = &history.runs[index];
        let range = (from.max(run.seq_first), run.seq_last);
        let (count, last) = replay_range(
            &history.dir,
            run.seq_first,
            &mut replica,
            range,
            &mut |_, _| Ok(()),
        )?;
        report.events_replayed += count;
        report.runs_walked += 1;
        if let Some(last) = last {
            let mut bytes = [0u8; crate::event::EVENT_BYTES];
            last.encode(&mut bytes);
            last_crc = Some(crc32c::crc32c(&bytes));
        }
        index += 1;
        if index == history.runs.len() {
            break;
        }
        replica = enter_run(history, index, Some(replica), pool, true)?;
        from = history.runs[index].seq_first;
    }
    report.replay_ms = replaying.elapsed().as_secs_f64() * 1e3;
    Ok(Walked {
        replica,
        last_event_crc32c: last_crc.filter(|_| report.events_replayed > 0),
    })
}

/// The live stages: flat, or the walked state carried into this config,
/// with order ids moved past anything the last run (or an earlier start
/// at this sequence that journaled nothing) may have sent.
fn begin_run(
    config: &Config,
    history: &History,
    (seq_first, ids_past_earlier): (u64, u64),
    (strategy, gateway): (Box<dyn Strategy>, Box<dyn Gateway>),
    walked: Option<Walked>,
    mut report: RestartReport,
) -> Result<Rebuilt, RestartError> {
    let mut live = Replayer::with_gateway(config, strategy, gateway, false);
    let (journal_state, start_snapshot) = match walked {
        None => {
            report.origin = "empty journal";
            report.strategy_state_carried = true;
            live.set_order_id_next(order_id_floor(seq_first).max(ids_past_earlier));
            (None, None)
        }
        Some(walked) => {
            let last = history.runs.last().expect("a walk covers a run");
            check_compatible(&last.config, config)?;
            let bytes = walked.replica.save_state();
            let outcome = live
                .restore_state(&bytes)
                .map_err(|source| RestartError::State { seq_first, source })?;
            report.strategy_state_carried = outcome.strategy_state_carried;
            live.begin_run();
            let past_lost = live.order_id_next() + order_id_gap(&last.config);
            live.set_order_id_next(
                order_id_floor(seq_first)
                    .max(past_lost)
                    .max(ids_past_earlier),
            );
            let start_snapshot = walked.last_event_crc32c.map(|event_crc32c| StartSnapshot {
                meta: SnapshotMeta {
                    seq: seq_first - 1,
                    run_seq_first: last.seq_first,
                    fingerprint: last.fingerprint(),
                    event_crc32c,
                },
                payload: bytes.clone(),
            });
            (Some(bytes), start_snapshot)
        }
    };
    report.order_id_next = live.order_id_next();
    describe_state(config, &live, &mut report);
    let state = live.save_state();
    let (risk, strategy, execution, exec_ids) = live.into_parts();
    Ok(Rebuilt {
        risk,
        strategy,
        execution,
        exec_ids,
        journal_state,
        state,
        start_snapshot,
        report,
        lineage: None,
    })
}

/// Positions, open orders and PnL of the rebuilt stages, for the report.
fn describe_state(config: &Config, live: &Replayer, report: &mut RestartReport) {
    report.positions = config
        .instruments
        .iter()
        .enumerate()
        .map(|(index, i)| (i.symbol.clone(), live.risk().position(index).0))
        .collect();
    let mut open: Vec<&Order> = live.execution().orders().iter_open().collect();
    open.sort_unstable_by_key(|order| order.id.0);
    report.open_orders = open
        .into_iter()
        .map(|order| RestoredOrder {
            order_id: order.id.0,
            symbol: config
                .instruments
                .get(order.instrument.index())
                .map_or_else(String::new, |i| i.symbol.clone()),
            side: side_name(order.side),
            price_ticks: order.price.0,
            qty_lots: order.qty.0,
            filled_lots: order.filled.0,
            state: state_name(order.state),
            venue_order_id: order.venue_order_id,
            version_accepted: order.version_accepted,
        })
        .collect();
    report.realized_pnl_units = live.risk().realized_units() as f64;
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
        Side::None => "none",
    }
}

fn state_name(state: OrderState) -> &'static str {
    match state {
        OrderState::PendingNew => "pending_new",
        OrderState::New => "new",
        OrderState::PartiallyFilled => "partially_filled",
        OrderState::Filled => "filled",
        OrderState::PendingCancel => "pending_cancel",
        OrderState::Cancelled => "cancelled",
        OrderState::Rejected => "rejected",
        OrderState::PendingReplace => "pending_replace",
    }
}

/// Records how the run began, before any of its events is journaled.
fn write_start_record(
    dir: &Path,
    seq_first: u64,
    rebuilt: &Rebuilt,
    history: &History,
) -> Result<(), RestartError> {
    let report = &rebuilt.report;
    let record = StartRecord {
        format_version: START_RECORD_VERSION,
        seq_first,
        state: if rebuilt.journal_state.is_some() {
            StartState::Carried
        } else {
            StartState::Flat
        },
        strategy: rebuilt.strategy.strategy_name().to_string(),
        strategy_state_carried: report.strategy_state_carried,
        order_id_next: report.order_id_next,
        state_bytes: rebuilt.state.len() as u64,
        state_format_version: crate::replay::state::STATE_FORMAT_VERSION,
        state_crc32c: crc32c::crc32c(&rebuilt.state),
        lineage: rebuilt.lineage.map(|l| l.to_string()),
        snapshot: report.snapshot_file.as_ref().map(|file| SnapshotUsed {
            file: Path::new(file)
                .file_name()
                .map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned()),
            seq: report.snapshot_seq.unwrap_or(0),
        }),
        events_replayed: report.events_replayed,
        fallbacks: report.fallbacks.clone(),
    };
    debug_assert!(
        history.runs.iter().all(|r| r.seq_first < seq_first),
        "the new run comes after every recorded one"
    );
    record
        .write(dir)
        .map(|_| ())
        .map_err(|source| RestartError::Write {
            path: crate::snapshot::start_record::start_record_path(dir, seq_first),
            source,
        })
}

fn log_rebuilt(report: &RestartReport) {
    for fallback in &report.fallbacks {
        tracing::warn!("{fallback}");
    }
    for removed in &report.removed {
        tracing::warn!(snapshot = %removed, "superseded snapshot removed (past the journal's end, or of a run that journaled nothing)");
    }
    tracing::info!(
        origin = report.origin,
        snapshot = report.snapshot_file.as_deref().unwrap_or("none"),
        events_replayed = report.events_replayed,
        total_ms = report.total_ms,
        open_orders = report.open_orders.len(),
        order_id_next = report.order_id_next,
        lineage = report.lineage.as_deref().unwrap_or("none (plain ClOrdIDs)"),
        lineage_new = report.lineage_new,
        "stage state rebuilt"
    );
    if !report.strategy_state_carried {
        tracing::warn!("the strategy changed since the last run: its own state starts from its defaults (positions and orders carried)");
    }
}
