//! Genesis itself, through `genesis_cli::run` (the run `genesis run` assembles): the core plan decides fused (one
//! thread) or pipelined (one thread per core, `disruptor` rings between).

use crate::latency::Summary;
use crate::outcome::{Outcome, StageFigures};
use crate::setup::{assembly, bench_config};
use anyhow::{bail, Result};
use genesis_engine::config::{Config, CorePlan};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What to run: the core plan, and whether threads are pinned to its cores.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub cores: CorePlan,
    pub pin: bool,
}

/// Runs the engine on `plan` for `seconds` with market data offered at `rate_per_sec` (0: unpaced).
pub fn run(
    name: &'static str,
    journal_dir: &Path,
    plan: Plan,
    rate_per_sec: u64,
    seconds: f64,
) -> Result<Outcome> {
    let config = bench_config(journal_dir, plan.cores, plan.pin);
    run_config(name, &config, rate_per_sec, seconds)
}

/// Runs the engine as `config` says (a `bench_config`, perhaps changed) for
/// `seconds` with market data offered at `rate_per_sec` (0: unpaced).
pub fn run_config(
    name: &'static str,
    config: &Config,
    rate_per_sec: u64,
    seconds: f64,
) -> Result<Outcome> {
    let report = genesis_cli::run(
        config,
        assembly(config, rate_per_sec)?,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_secs_f64(seconds)),
    )?;
    if let Some(error) = &report.error {
        bail!("{name}: the engine stopped with an error: {error}");
    }
    let stages: Vec<StageFigures> = report.stages.iter().map(StageFigures::of).collect();
    let end_to_end = report
        .stages
        .iter()
        .find(|s| s.name == "journal")
        .map(|s| Summary::of(&s.since_recv_ns))
        .unwrap_or_default();
    let waits: Vec<&str> = report.plan.threads.iter().map(|t| t.2).collect();
    Ok(Outcome {
        name,
        plan: format!(
            "{}{}, {}",
            report.plan.describe(),
            if config.journal.write_thread {
                " + journal-write thread (the journal's pwrites)"
            } else {
                ""
            },
            match (
                config.topology.pin_threads,
                config.topology.realtime_priority
            ) {
                (false, _) => "unpinned".to_string(),
                (true, 0) => "pinned".to_string(),
                (true, priority) => format!("pinned, SCHED_FIFO {priority}"),
            }
        ),
        wait: waits.join(" / "),
        offered_per_sec: rate_per_sec,
        events: report.journal_records,
        seconds: report.elapsed.as_secs_f64(),
        end_to_end,
        stages,
    })
}
