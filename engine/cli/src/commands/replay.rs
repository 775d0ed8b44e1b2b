//! `genesis replay DIR`: every recorded run of a journal through this build.
//!
//! Each run's events go through fresh stages with the config that run
//! recorded (`config-<seq>.toml` in the journal folder), or the one given.
//! Without overrides every decision must match byte for byte; the first
//! divergence is printed and the command fails. With `--config` or
//! `--strategy` it is a backtest: decisions are not compared, PnL and
//! decision counts are reported.

use crate::commands::journal::event_line;
use anyhow::{bail, Context, Result};
use genesis_engine::config::{Config, ConfigError};
use genesis_engine::journal_stage::{list_runs, EventReader};
use genesis_engine::replay::{ReplaySummary, Replayer};
use std::io::Write;
use std::path::Path;

pub struct ReplayOptions<'a> {
    pub config: Option<&'a Config>,
    /// A bundled strategy name ("market-maker", "none") to use instead of the recorded one.
    pub strategy: Option<&'a str>,
    pub progress: bool,
}

/// Replays (or backtests) the journal in `dir`; returns the summary of all runs.
pub fn replay(dir: &Path, options: &ReplayOptions, out: &mut dyn Write) -> Result<ReplaySummary> {
    let compare = options.config.is_none() && options.strategy.is_none();
    let runs = list_runs(dir).with_context(|| format!("listing the runs in {}", dir.display()))?;
    if runs.is_empty() {
        bail!(
            "{} holds no recorded run (no config-<seq>.toml): nothing to replay",
            dir.display()
        );
    }
    let verify = genesis_journal::verify(dir)?;
    let seq_last = verify.seq_last.unwrap_or(0);
    let progress = progress_bar(options.progress, seq_last);
    let mut total = ReplaySummary::default();
    for (index, (seq_first, config_path)) in runs.iter().enumerate() {
        let seq_end = runs.get(index + 1).map_or(u64::MAX, |(next, _)| next - 1);
        let config = run_config(options, config_path)?;
        let replayer = Replayer::new(
            &config,
            genesis_engine::strategy::from_config(&config),
            *seq_first,
            compare,
        );
        let summary = replay_run(replayer, dir, (*seq_first, seq_end), &progress)?;
        merge(&mut total, &summary);
        if let Some(divergence) = &summary.divergence {
            progress.abandon();
            writeln!(
                out,
                "DIVERGENCE at sequence {} (run starting at {seq_first}):",
                divergence.seq
            )?;
            writeln!(out, "  journaled: {}", event_line(&divergence.journaled))?;
            writeln!(out, "  produced:  {}", event_line(&divergence.produced))?;
            total.divergence = summary.divergence.clone();
            return Ok(total);
        }
    }
    progress.finish_and_clear();
    let what = if compare { "replay" } else { "backtest" };
    writeln!(
        out,
        "{what}: {} run(s), {} events, {} intents ({} accepted, {} refused), {} new orders, {} fills; pnl realized {}, unrealized {}",
        runs.len(),
        total.events,
        total.intents,
        total.accepted,
        total.rejects,
        total.orders_new,
        total.fills,
        total.realized_pnl_units,
        total.unrealized_pnl_units
    )?;
    if compare {
        writeln!(out, "replay: every decision matches the journal")?;
    }
    Ok(total)
}

/// The config a recorded run replays with: the one given, else the one it
/// recorded; with `--strategy`, that strategy instead.
fn run_config(options: &ReplayOptions, recorded: &Path) -> Result<Config> {
    let mut config = match options.config {
        Some(config) => config.clone(),
        None => Config::load_unvalidated(recorded)?,
    };
    if let Some(name) = options.strategy {
        config.strategy.name = name.parse().map_err(|message| ConfigError::Invalid {
            origin: "--strategy".into(),
            key: "strategy.name".into(),
            message,
        })?;
        config.validate("--strategy")?;
    }
    Ok(config)
}

/// One recorded run, sequences `from..=to`, through the replayer; stops at
/// the first divergence.
fn replay_run(
    mut replayer: Replayer,
    dir: &Path,
    (from, to): (u64, u64),
    progress: &indicatif::ProgressBar,
) -> Result<ReplaySummary> {
    let mut reader = EventReader::open(dir, from, to)?;
    while let Some(event) = reader.next_event()? {
        if !replayer.step(&event) {
            break;
        }
        if event.seq % 65_536 == 0 {
            progress.set_position(event.seq);
        }
    }
    Ok(replayer.summary)
}

fn merge(total: &mut ReplaySummary, run: &ReplaySummary) {
    total.events += run.events;
    total.intents += run.intents;
    total.accepted += run.accepted;
    total.rejects += run.rejects;
    total.orders_new += run.orders_new;
    total.fills += run.fills;
    total.realized_pnl_units += run.realized_pnl_units;
    total.unrealized_pnl_units = run.unrealized_pnl_units;
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
