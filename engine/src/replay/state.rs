//! Everything a restart carries, as one payload: risk, the strategy stage
//! (with the strategy's own state), execution and ingest's exec-id memory,
//! each in a section of the stage-state encoding (`state_codec`), after a
//! format version.
//!
//! ```text
//! u16 STATE_FORMAT_VERSION
//! section 1 risk        (RiskStage::save_state: ..., the reconciliation gate)
//! section 2 strategy    (StrategyStage::save_state: pre-trade, order replica, next id, strategy)
//! section 3 execution   (ExecutionStage::save_state: order table, gates, positions,
//!                        the reconciliation round, the highest own order id)
//! section 4 exec ids    (the memory, oldest first)
//! ```
//!
//! The same state always gives the same bytes, and restoring then saving
//! gives the bytes back: snapshots and start records compare stage state by
//! comparing these bytes. Owned by whoever saves or restores; never the hot path.

use crate::execution::ExecutionStage;
use crate::recent::RecentMap;
use crate::risk::RiskStage;
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::strategy::StrategyStage;

/// Version of the payload layout above; a reader refuses any other.
///
/// 2: risk carries the reconciliation gate; execution the reconciliation
/// round (the orders the venue mentioned, follow-ups lost) and the highest
/// own order id the table held; the strategy's own state holds the touch
/// quoter's orders.
pub const STATE_FORMAT_VERSION: u16 = 2;

const SECTION_RISK: u8 = 1;
const SECTION_STRATEGY: u8 = 2;
const SECTION_EXECUTION: u8 = 3;
const SECTION_EXEC_IDS: u8 = 4;

/// The stages whose state is saved.
#[derive(Clone, Copy)]
pub struct StagesRef<'a> {
    pub risk: &'a RiskStage,
    pub strategy: &'a StrategyStage,
    pub execution: &'a ExecutionStage,
    pub exec_ids: &'a RecentMap<()>,
}

/// The stages state is restored into (built from the run's config).
pub struct StagesMut<'a> {
    pub risk: &'a mut RiskStage,
    pub strategy: &'a mut StrategyStage,
    pub execution: &'a mut ExecutionStage,
    pub exec_ids: &'a mut RecentMap<()>,
}

/// What a restore could not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// False when the state was saved by another strategy: the strategy
    /// kept its own defaults (everything else was restored).
    pub strategy_state_carried: bool,
}

/// The state of `stages` as bytes.
pub fn save_stages(stages: StagesRef<'_>) -> Vec<u8> {
    let mut out = StateWriter::new();
    out.u16(STATE_FORMAT_VERSION);
    out.section(SECTION_RISK, |out| stages.risk.save_state(out));
    out.section(SECTION_STRATEGY, |out| stages.strategy.save_state(out));
    out.section(SECTION_EXECUTION, |out| stages.execution.save_state(out));
    out.section(SECTION_EXEC_IDS, |out| {
        stages.exec_ids.save_state(out, |_, ()| {})
    });
    out.into_bytes()
}

/// Restores `bytes` into `stages`; each section must be read to its end.
pub fn restore_stages(bytes: &[u8], stages: StagesMut<'_>) -> Result<RestoreOutcome, StateError> {
    let mut input = StateReader::new(bytes);
    let version = input.u16("state format version")?;
    if version != STATE_FORMAT_VERSION {
        return Err(StateError::Version {
            found: version,
            supported: STATE_FORMAT_VERSION,
        });
    }
    let mut risk = input.section(SECTION_RISK, "risk")?;
    stages.risk.restore_state(&mut risk)?;
    risk.finish("risk")?;
    let mut strategy = input.section(SECTION_STRATEGY, "strategy")?;
    let strategy_state_carried = stages.strategy.restore_state(&mut strategy)?;
    strategy.finish("strategy")?;
    let mut execution = input.section(SECTION_EXECUTION, "execution")?;
    stages.execution.restore_state(&mut execution)?;
    execution.finish("execution")?;
    let mut exec_ids = input.section(SECTION_EXEC_IDS, "exec ids")?;
    stages
        .exec_ids
        .restore_state(&mut exec_ids, "exec ids", |_| Ok(()))?;
    exec_ids.finish("exec ids")?;
    input.finish("the stage state")?;
    Ok(RestoreOutcome {
        strategy_state_carried,
    })
}

/// The section a byte offset of saved state falls in (for mismatch messages).
pub fn section_at(bytes: &[u8], offset: usize) -> &'static str {
    let mut input = StateReader::new(bytes);
    if input.u16("version").is_err() || offset < 2 {
        return "format version";
    }
    for (tag, name) in [
        (SECTION_RISK, "risk"),
        (SECTION_STRATEGY, "strategy"),
        (SECTION_EXECUTION, "execution"),
        (SECTION_EXEC_IDS, "exec ids"),
    ] {
        let start = input.offset();
        if input.section(tag, name).is_err() {
            return name;
        }
        if offset < input.offset() && offset >= start {
            return name;
        }
    }
    "past the end"
}
