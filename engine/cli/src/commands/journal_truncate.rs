//! `genesis journal truncate DIR --first-damage | --at SEQ`: the operator's
//! one command past damage `genesis run` refuses (a flipped bit in the zeroed
//! tail, a damaged or missing segment).
//!
//! Runs on the caller's thread, never beside a running engine (the journal's
//! folder lock refuses that). Order: plan (read only) → print → stop if there
//! is nothing to cut → confirm → cut (originals kept in
//! `DIR/truncated-<seq>-<n>/`) → move aside the recorded configs of runs that
//! started after the cut → journal the operator action as the event at the
//! cut sequence, a run of its own with the config of the run it ends, which
//! carries on the state rebuilt from the journal before the cut (positions,
//! open orders), as a `genesis run` starting there would.
//!
//! The operator action is a control event with no command (`ControlCommand::None`,
//! which no stage acts on) whose spare input words carry [`OPERATOR_TRUNCATE`],
//! the number of records discarded and the last discarded sequence; its
//! decisions are what the carried stages of its config produce, so `replay`
//! checks it like any other event.

use crate::commands::journal::event_line;
use anyhow::{bail, Context, Result};
use genesis_engine::config::Config;
use genesis_engine::event::{ControlCommand, Event, EventKind, Input};
use genesis_engine::execution::NullGateway;
use genesis_engine::journal_stage::{list_runs, run_config_path, JournalStage};
use genesis_engine::replay::Replayer;
use genesis_engine::run::rebuild::rebuild;
use genesis_engine::run::RebuildOptions;
use genesis_engine::units::{InstrumentId, Side};
use genesis_journal::{TruncateAt, TruncatePlan};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Marks a control event as `genesis journal truncate`'s record ("TRUNCATE" in ASCII).
pub const OPERATOR_TRUNCATE: i64 = 0x5452_554E_4341_5445;

/// The operator action an event records, if it records one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorAction {
    pub records_discarded: u64,
    pub seq_discarded_last: u64,
}

impl OperatorAction {
    /// The action `event` journals, if it is one.
    pub fn of(event: &Event) -> Option<OperatorAction> {
        (event.kind == EventKind::Control && event.data[1] == OPERATOR_TRUNCATE).then(|| {
            OperatorAction {
                records_discarded: event.data[2] as u64,
                seq_discarded_last: event.data[3] as u64,
            }
        })
    }
}

impl std::fmt::Display for OperatorAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "operator: genesis journal truncate cut the journal here, {} record(s) discarded",
            self.records_discarded
        )?;
        if self.records_discarded > 0 {
            write!(f, " (through sequence {})", self.seq_discarded_last)?;
        }
        Ok(())
    }
}

/// How the command was asked to run.
pub struct TruncateOptions {
    pub at: TruncateAt,
    /// Cut without asking.
    pub yes: bool,
}

/// What the command did, for its exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum TruncateOutcome {
    NothingToCut,
    NotConfirmed,
    Cut {
        seq_cut: u64,
        aside_dir: Option<PathBuf>,
    },
}

/// Plans, shows, confirms (from `answers` unless `--yes`) and executes a cut.
pub fn truncate(
    dir: &Path,
    options: &TruncateOptions,
    answers: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<TruncateOutcome> {
    let plan = genesis_journal::plan_truncate(dir, options.at)?;
    writeln!(out, "{plan}")?;
    if plan.nothing_to_cut {
        return Ok(TruncateOutcome::NothingToCut);
    }
    if plan.records_discarded > 0 {
        writeln!(
            out,
            "warning: sequences from {} on will be used again; a drain that already loaded them refuses the journal until they are removed from the database",
            plan.seq_cut
        )?;
    }
    if !options.yes && !confirmed(answers, out)? {
        writeln!(out, "not confirmed: nothing changed")?;
        return Ok(TruncateOutcome::NotConfirmed);
    }
    let report = genesis_journal::truncate(dir, &plan)?;
    if let Some(aside) = &report.aside_dir {
        writeln!(
            out,
            "cut; the original files are kept in {}",
            aside.display()
        )?;
    }
    let aside = report
        .aside_dir
        .clone()
        .unwrap_or_else(|| dir.to_path_buf());
    let event = journal_operator_action(dir, &plan, &aside)?;
    writeln!(out, "journaled: {}", event_line(&event))?;
    Ok(TruncateOutcome::Cut {
        seq_cut: plan.seq_cut,
        aside_dir: report.aside_dir,
    })
}

/// Asks on `out`, reads one line from `answers`: "yes" confirms.
fn confirmed(answers: &mut dyn BufRead, out: &mut dyn Write) -> Result<bool> {
    write!(out, "Cut the journal? Type \"yes\" to go on: ")?;
    out.flush()?;
    let mut answer = String::new();
    answers.read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Moves aside the configs of runs at or after the cut, records the config
/// the operator action runs with, and appends it as sequence `plan.seq_cut`.
fn journal_operator_action(dir: &Path, plan: &TruncatePlan, aside: &Path) -> Result<Event> {
    let runs = list_runs(dir).with_context(|| format!("listing the runs in {}", dir.display()))?;
    let mut config = Config::builtin();
    for (seq_first, path) in &runs {
        if *seq_first < plan.seq_cut {
            config = Config::load_unvalidated(path)?;
            continue;
        }
        if *seq_first == plan.seq_cut {
            config = Config::load_unvalidated(path)?;
        }
        let name = path.file_name().context("a run config has a file name")?;
        std::fs::rename(path, aside.join(name))
            .with_context(|| format!("moving {} aside", path.display()))?;
    }
    config.journal.dir = dir.to_path_buf();
    let recorded = run_config_path(dir, plan.seq_cut);
    config
        .record_to(&recorded)
        .with_context(|| format!("recording {}", recorded.display()))?;
    let event = decided(&config, dir, operator_event(plan))?;
    let (mut stage, recovery) = JournalStage::open(&config.journal)?;
    if recovery.seq_next != plan.seq_cut {
        bail!(
            "after the cut the journal resumes at sequence {}, not {}: not journaling the operator action",
            recovery.seq_next,
            plan.seq_cut
        );
    }
    stage.on_event(&event)?;
    stage.finish()?;
    Ok(event)
}

/// The control event recording the cut, before any stage saw it.
fn operator_event(plan: &TruncatePlan) -> Event {
    let mut event = Event::new(
        InstrumentId(0),
        Side::None,
        Input::Control(ControlCommand::None),
    );
    event.seq = plan.seq_cut;
    #[allow(clippy::disallowed_methods)] // the operator action's wall-clock time
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    event.ts_recv_ns = now;
    event.data[1] = OPERATOR_TRUNCATE;
    event.data[2] = plan.records_discarded as i64;
    event.data[3] = plan.seq_discarded.map_or(0, |(_, last)| last as i64);
    event
}

/// `event` with the decisions the stages make for it, exactly as `genesis
/// replay` and the next start-up will produce them: the state the journal
/// holds before the cut is rebuilt and carried into the operator action's
/// run, as `genesis run` does at start, and a start record says so. (Fresh
/// stages here made the operator action a run that started flat, and the
/// next run forgot every position and open order.)
fn decided(config: &Config, dir: &Path, event: Event) -> Result<Event> {
    let rebuilt = rebuild(
        config,
        dir,
        event.seq,
        genesis_engine::strategy::from_config(config),
        Box::new(NullGateway),
        RebuildOptions::default(),
    )
    .context("rebuilding the state before the cut")?;
    let strategy = genesis_engine::strategy::from_config(config);
    let mut replayer = Replayer::fresh(config, strategy, true);
    replayer
        .restore_state(&rebuilt.state)
        .context("carrying the state before the cut into the operator action")?;
    replayer.begin_run();
    replayer.set_order_id_next(rebuilt.report.order_id_next);
    replayer.step(&event);
    Ok(replayer
        .summary
        .divergence
        .map_or(event, |divergence| divergence.produced))
}
