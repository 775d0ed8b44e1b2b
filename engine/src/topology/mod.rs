//! Topology: how the core plan becomes threads and rings.
//!
//! Consecutive stages on the same core form a group that runs fused on one
//! thread, calling the stages in order per event. Each group after the first
//! reads the previous group's ring (a `disruptor` ring of `Event`s, polled
//! with its `EventPoller`) and, unless it is last, owns the producer of the
//! next ring: handlers see `&Event`, so results travel forward as copies.

pub mod chain;
pub mod runner;
pub mod wait;

use crate::config::CorePlan;
use std::ops::Range;

pub const STAGE_NAMES: [&str; 5] = ["ingest", "risk", "strategy", "execution", "journal"];

/// Stage indices, in pipeline order.
pub const INGEST: usize = 0;
pub const RISK: usize = 1;
pub const STRATEGY: usize = 2;
pub const EXECUTION: usize = 3;
pub const JOURNAL: usize = 4;

/// Stages that run fused on one core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub core: usize,
    pub stages: Range<usize>,
}

impl Group {
    /// "ingest+risk" style name of the group's stages.
    pub fn name(&self) -> String {
        STAGE_NAMES[self.stages.clone()].join("+")
    }
}

/// Splits a core plan into fused groups. A core may appear only in one run
/// of consecutive stages: a thread cannot run stages on both sides of another.
pub fn plan_groups(plan: &CorePlan) -> Result<Vec<Group>, String> {
    let cores = plan.as_array();
    let mut groups: Vec<Group> = Vec::new();
    for (stage, &core) in cores.iter().enumerate() {
        match groups.last_mut() {
            Some(group) if group.core == core => group.stages.end = stage + 1,
            _ => {
                if let Some(earlier) = groups.iter().find(|g| g.core == core) {
                    return Err(format!(
                        "stage `{}` is on core {core}, which already runs `{}` with another core in between; stages on one core must be consecutive in ingest → risk → strategy → execution → journal",
                        STAGE_NAMES[stage],
                        earlier.name()
                    ));
                }
                groups.push(Group {
                    core,
                    stages: stage..stage + 1,
                });
            }
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cores: [usize; 5]) -> CorePlan {
        CorePlan {
            ingest: cores[0],
            risk: cores[1],
            strategy: cores[2],
            execution: cores[3],
            journal: cores[4],
        }
    }

    // All stages on one core make one fused group.
    #[test]
    fn one_core_is_one_group() {
        let groups = plan_groups(&plan([0; 5])).unwrap();
        assert_eq!(
            groups,
            vec![Group {
                core: 0,
                stages: 0..5
            }]
        );
    }

    // Two cores split the pipeline where the core changes.
    #[test]
    fn two_cores_make_two_groups() {
        let groups = plan_groups(&plan([0, 0, 1, 1, 1])).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[1],
            Group {
                core: 1,
                stages: 2..5
            }
        );
        assert_eq!(groups[0].name(), "ingest+risk");
    }

    // A core that comes back after another is impossible, and the error names the stage.
    #[test]
    fn non_consecutive_core_is_refused() {
        let err = plan_groups(&plan([0, 1, 0, 0, 0])).unwrap_err();
        assert!(err.contains("stage `strategy` is on core 0"), "{err}");
    }
}
