//! `genesis replay DIR`: every recorded run of a journal through this build.
//!
//! Runs replay in order, each with the config it recorded
//! (`config-<seq>.toml`) or the one given, and each begins as the live run
//! began (its start record, `start-<seq>.json`): state carried on from the
//! run before — its CRC checked against the record — or flat (runs recorded
//! before start records existed). Without overrides every decision must
//! match byte for byte, and wherever a snapshot of a run's state is still
//! in the journal's `snapshots/` folder, the replayed state must equal it
//! byte for byte; the first divergence or mismatch is printed and the
//! command fails. With `--config` or `--strategy` it is a backtest:
//! nothing is compared, PnL and decision counts are reported.

use crate::commands::journal::event_line;
use anyhow::{bail, Context, Result};
use genesis_engine::config::{Config, ConfigError};
use genesis_engine::event::Event;
use genesis_engine::replay::state::section_at;
use genesis_engine::replay::{Divergence, ReplaySummary, Replayer};
use genesis_engine::snapshot::file::read_snapshot;
use genesis_engine::snapshot::history::{check_snapshot, enter_run, replay_range};
use genesis_engine::snapshot::{History, RestartError, SnapshotStore, StrategyPool};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct ReplayOptions<'a> {
    pub config: Option<&'a Config>,
    /// A bundled strategy name ("market-maker", "none") to use instead of the recorded one.
    pub strategy: Option<&'a str>,
    pub progress: bool,
}

/// A snapshot the replay compares its state with, by sequence.
struct Expected {
    run_seq_first: u64,
    path: PathBuf,
    payload: Vec<u8>,
}

/// What the walk checked besides decisions.
#[derive(Default)]
struct Checked {
    boundaries_carried: u64,
    snapshots_compared: u64,
}

/// Replays (or backtests) the journal in `dir`; returns the summary of all runs.
pub fn replay(dir: &Path, options: &ReplayOptions, out: &mut dyn Write) -> Result<ReplaySummary> {
    let compare = options.config.is_none() && options.strategy.is_none();
    let verify = genesis_journal::verify(dir)?;
    let seq_last = verify.seq_last.unwrap_or(0);
    let mut history = History::load(dir, seq_last)
        .with_context(|| format!("reading the runs recorded in {}", dir.display()))?;
    if history.runs.is_empty() {
        bail!(
            "{} holds no recorded run (no config-<seq>.toml): nothing to replay",
            dir.display()
        );
    }
    if !compare {
        override_configs(&mut history, options)?;
    }
    let expected = if compare {
        expected_snapshots(&history, out)?
    } else {
        BTreeMap::new()
    };
    let progress = progress_bar(options.progress, seq_last);
    let mut total = ReplaySummary::default();
    let mut checked = Checked::default();
    let walked = walk(
        &history,
        compare,
        &expected,
        &progress,
        &mut total,
        &mut checked,
    );
    progress.finish_and_clear();
    if let Err(err) = walked {
        return report_failure(err, total, out);
    }
    write_totals(out, &history, compare, &total, &checked)?;
    Ok(total)
}

/// Every run in order, as it began live; decisions and snapshots checked.
fn walk(
    history: &History,
    compare: bool,
    expected: &BTreeMap<u64, Expected>,
    progress: &indicatif::ProgressBar,
    total: &mut ReplaySummary,
    checked: &mut Checked,
) -> Result<(), RestartError> {
    let mut pool = StrategyPool::bundled();
    let mut previous: Option<Replayer> = None;
    // Realized PnL of the runs before the current chain of carried runs.
    let mut realized_before = 0i128;
    for (index, run) in history.runs.iter().enumerate() {
        if run.starts_carried() {
            checked.boundaries_carried += 1;
        } else if let Some(previous) = &previous {
            realized_before += previous.risk().realized_units();
        }
        let mut replica = enter_run(history, index, previous.take(), &mut pool, compare)?;
        let mut check = |replica: &Replayer, seq: u64| -> Result<(), RestartError> {
            match expected.get(&seq) {
                Some(e) if e.run_seq_first == run.seq_first => {
                    compare_with(replica, seq, e)?;
                    checked.snapshots_compared += 1;
                    Ok(())
                }
                _ => Ok(()),
            }
        };
        check(&replica, run.seq_first - 1)?;
        let replayed = replay_range(
            &history.dir,
            run.seq_first,
            &mut replica,
            (run.seq_first, run.seq_last),
            &mut |replica: &Replayer, event: &Event| {
                if event.seq.is_multiple_of(65_536) {
                    progress.set_position(event.seq);
                }
                check(replica, event.seq)
            },
        );
        merge(total, &replica.summary, realized_before);
        replayed?;
        previous = Some(replica);
    }
    Ok(())
}

/// Fails unless the replica's state is the snapshot's, byte for byte.
fn compare_with(replica: &Replayer, seq: u64, expected: &Expected) -> Result<(), RestartError> {
    let state = replica.save_state();
    if state == expected.payload {
        return Ok(());
    }
    let offset = state
        .iter()
        .zip(&expected.payload)
        .position(|(a, b)| a != b)
        .unwrap_or(state.len().min(expected.payload.len()));
    Err(RestartError::SnapshotMismatch {
        seq,
        path: expected.path.clone(),
        offset,
        section: section_at(&expected.payload, offset),
    })
}

/// The snapshots that check against the history, by sequence; the others
/// are named and skipped.
fn expected_snapshots(history: &History, out: &mut dyn Write) -> Result<BTreeMap<u64, Expected>> {
    let store = SnapshotStore::of_journal(&history.dir);
    let mut expected = BTreeMap::new();
    for file in store.list()? {
        let checked = read_snapshot(&file.path).and_then(|snapshot| {
            check_snapshot(history, &snapshot)
                .map(|_| snapshot.clone())
                .map_err(|reason| genesis_engine::snapshot::Refused {
                    path: file.path.clone(),
                    reason,
                })
        });
        match checked {
            Ok(snapshot) => {
                expected.insert(
                    snapshot.header.seq,
                    Expected {
                        run_seq_first: snapshot.header.run_seq_first,
                        path: snapshot.path,
                        payload: snapshot.payload,
                    },
                );
            }
            Err(refused) => writeln!(out, "replay: {refused}: not compared")?,
        }
    }
    Ok(expected)
}

/// Prints a divergence or a state mismatch; a divergence returns the
/// summary (the caller exits 1), anything else is an error.
fn report_failure(
    err: RestartError,
    mut total: ReplaySummary,
    out: &mut dyn Write,
) -> Result<ReplaySummary> {
    match err {
        RestartError::Divergence {
            seq,
            run,
            journaled,
            produced,
        } => {
            writeln!(out, "DIVERGENCE at sequence {seq} (run starting at {run}):")?;
            writeln!(out, "  journaled: {}", event_line(&journaled))?;
            writeln!(out, "  produced:  {}", event_line(&produced))?;
            total.divergence = Some(Divergence {
                seq,
                journaled: *journaled,
                produced: *produced,
            });
            Ok(total)
        }
        other => {
            writeln!(out, "{other}")?;
            Err(other.into())
        }
    }
}

fn write_totals(
    out: &mut dyn Write,
    history: &History,
    compare: bool,
    total: &ReplaySummary,
    checked: &Checked,
) -> Result<()> {
    let what = if compare { "replay" } else { "backtest" };
    writeln!(
        out,
        "{what}: {} run(s), {} events, {} intents ({} accepted, {} refused), {} new orders, {} fills; pnl realized {}, unrealized {}",
        history.runs.len(),
        total.events,
        total.intents,
        total.accepted,
        total.rejects,
        total.orders_new,
        total.fills,
        total.realized_pnl_units,
        total.unrealized_pnl_units
    )?;
    writeln!(
        out,
        "{what}: state carried across {} run boundary(ies) as the live starts did",
        checked.boundaries_carried
    )?;
    if compare {
        writeln!(
            out,
            "replay: every decision matches the journal; {} snapshot(s) equal the replayed state byte for byte",
            checked.snapshots_compared
        )?;
    }
    Ok(())
}

/// A backtest's configs: the one given, else each run's recorded one; with
/// `--strategy`, that strategy instead (the runs' own start records name
/// the strategy the backtest now uses).
fn override_configs(history: &mut History, options: &ReplayOptions) -> Result<()> {
    for run in &mut history.runs {
        let mut config = match options.config {
            Some(config) => config.clone(),
            None => run.config.clone(),
        };
        if let Some(name) = options.strategy {
            config.strategy.name = name.parse().map_err(|message| ConfigError::Invalid {
                origin: "--strategy".into(),
                key: "strategy.name".into(),
                message,
            })?;
            config.validate("--strategy")?;
        }
        let strategy = genesis_engine::strategy::from_config(&config).name();
        if let Some(start) = &mut run.start {
            start.strategy = strategy.to_string();
        }
        run.config = config;
    }
    Ok(())
}

/// Adds a run's counts; PnL is the run's (which includes what it carried)
/// plus what runs that started flat left behind.
fn merge(total: &mut ReplaySummary, run: &ReplaySummary, realized_before: i128) {
    total.events += run.events;
    total.intents += run.intents;
    total.accepted += run.accepted;
    total.rejects += run.rejects;
    total.orders_new += run.orders_new;
    total.fills += run.fills;
    if run.events > 0 {
        total.realized_pnl_units = realized_before + run.realized_pnl_units;
        total.unrealized_pnl_units = run.unrealized_pnl_units;
    }
}

fn progress_bar(shown: bool, length: u64) -> indicatif::ProgressBar {
    if !shown || length < 1_000_000 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "replay {bar:40} {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
