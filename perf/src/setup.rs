//! What every pipeline variant shares: the benchmark config, the run as
//! `genesis run` assembles it with the scheduled source in place of the
//! synthetic feed, and the four post-ingest stages built one `Chain` each,
//! exactly as the engine builds them, so every variant runs the same stage
//! objects.

use crate::schedule::ScheduledSource;
use anyhow::Result;
use genesis_cli::assembly::{Assembly, Beside};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::{Config, CorePlan, JournalDurability, MarketDataSource, WaitKind};
use genesis_engine::execution::ExecutionStage;
use genesis_engine::ingest::{Ingest, Sources};
use genesis_engine::journal_stage::JournalStage;
use genesis_engine::risk::RiskStage;
use genesis_engine::run::Parts;
use genesis_engine::strategy::StrategyStage;
use genesis_engine::topology::chain::{Chain, Timed};
use std::path::Path;

/// All five stages on core 0: the fused plan.
pub const PLAN_FUSED: CorePlan = CorePlan {
    ingest: 0,
    risk: 0,
    strategy: 0,
    execution: 0,
    journal: 0,
};

/// Ingest and the stages that decide on core 0, the journal on core 1:
/// the decisions run fused as in [`PLAN_FUSED`], and the journal, which
/// decides nothing, takes the second core (a two-thread plan).
pub const PLAN_JOURNAL_APART: CorePlan = CorePlan {
    ingest: 0,
    risk: 0,
    strategy: 0,
    execution: 0,
    journal: 1,
};

/// ingest+risk on core 0, strategy+execution+journal on core 1.
pub const PLAN_TWO_CORES: CorePlan = CorePlan {
    ingest: 0,
    risk: 0,
    strategy: 1,
    execution: 1,
    journal: 1,
};

/// Built-in instruments, market maker and simulated venue; journal in the
/// page cache (durability `none`: no fdatasync); no conflation (every offered event is processed); threads
/// spinning with the pause hint, pinned to their cores unless `pin` is off
/// (a shared machine, where a pinned thread cannot flee a busy core); no
/// metrics endpoint.
pub fn bench_config(journal_dir: &Path, cores: CorePlan, pin: bool) -> Config {
    let mut config = Config::builtin();
    // The harness drives its own scheduled source in ingest.
    config.market_data.source = MarketDataSource::Synthetic;
    config.topology.cores = cores;
    config.topology.pin_threads = pin;
    config.topology.wait = WaitKind::SpinHint;
    config.topology.conflate_when_full = false;
    config.market_data.timer_interval_ms = 100;
    config.journal.dir = journal_dir.to_path_buf();
    config.journal.durability = JournalDurability::None;
    config.journal.sync_on_exit = false;
    config.metrics.listen = String::new();
    config
}

/// The run as `genesis run` assembles it (the simulated venue beside the
/// engine), with market data from the load generator at `rate_per_sec`
/// (0: unpaced).
pub fn assembly(config: &Config, rate_per_sec: u64) -> Result<Assembly> {
    let mut assembly = genesis_cli::assemble(config)?;
    assembly.replace_market(Box::new(ScheduledSource::new(config, rate_per_sec)));
    Ok(assembly)
}

/// Ingest as the engine builds it, but never conflating.
pub fn ingest(config: &Config, sources: Sources, clock: &EpochClock) -> Ingest {
    Ingest::new(
        sources,
        clock.clone(),
        config.instruments.len(),
        false,
        config.risk.exec_id_memory,
        config.market_data.timer_interval_ms * 1_000_000,
    )
}

/// Risk, strategy, execution and journal (in `config.journal.dir`), one
/// `Chain` each, in pipeline order, and the ingest that feeds them, with
/// market data at `rate_per_sec`; and what runs beside them (the simulated
/// venue, its market released as a run releases it), to keep until the
/// variant ends.
pub fn stage_chains(
    config: &Config,
    rate_per_sec: u64,
    clock: &EpochClock,
) -> Result<(Ingest, Vec<Chain>, Beside)> {
    let assembly = assembly(config, rate_per_sec)?;
    assembly.release_market();
    let Assembly { parts, beside, .. } = assembly;
    let (ingest, chains) = chains_of(config, parts, clock)?;
    Ok((ingest, chains, beside))
}

/// `parts` as ingest and the one `Chain` of all four post-ingest stages
/// that the engine's fused plan runs behind ingest on its single thread.
pub fn fused_chain(config: &Config, parts: Parts, clock: &EpochClock) -> Result<(Ingest, Chain)> {
    let (journal, _recovery) = JournalStage::open(&config.journal)?;
    let chain = Chain {
        clock: clock.clone(),
        risk: Some(Timed::new(RiskStage::new(config), "risk")),
        strategy: Some(Timed::new(
            StrategyStage::new(config, parts.strategy),
            "strategy",
        )),
        execution: Some(Timed::new(
            ExecutionStage::new(config, parts.gateway),
            "execution",
        )),
        journal: Some(Timed::new(journal, "journal")),
        fatal: None,
    };
    Ok((ingest(config, parts.sources, clock), chain))
}

/// `parts` as ingest and one `Chain` per post-ingest stage.
pub fn chains_of(
    config: &Config,
    parts: Parts,
    clock: &EpochClock,
) -> Result<(Ingest, Vec<Chain>)> {
    let chain = |risk, strategy, execution, journal| Chain {
        clock: clock.clone(),
        risk,
        strategy,
        execution,
        journal,
        fatal: None,
    };
    let (journal, _recovery) = JournalStage::open(&config.journal)?;
    let chains = vec![
        chain(
            Some(Timed::new(RiskStage::new(config), "risk")),
            None,
            None,
            None,
        ),
        chain(
            None,
            Some(Timed::new(
                StrategyStage::new(config, parts.strategy),
                "strategy",
            )),
            None,
            None,
        ),
        chain(
            None,
            None,
            Some(Timed::new(
                ExecutionStage::new(config, parts.gateway),
                "execution",
            )),
            None,
        ),
        chain(None, None, None, Some(Timed::new(journal, "journal"))),
    ];
    Ok((ingest(config, parts.sources, clock), chains))
}
