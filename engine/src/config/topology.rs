//! `[topology]`: the core plan (which core runs each stage), wait
//! strategies, rings and batches; and how a plan splits into groups of
//! stages that run fused on one thread. The topology module that starts
//! the threads imports this; nothing here imports it.

use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// How a thread waits when it has nothing to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitKind {
    /// Spin on the ring: lowest latency, burns the core (prod).
    BusySpin,
    /// Spin with the CPU's pause hint: kinder to a hyper-thread sibling.
    SpinHint,
    /// Yield the core to the scheduler.
    Yield,
    /// Sleep `topology.sleep_us`: for dev, tests and small hosts.
    Sleep,
    /// Spin with the pause hint for `topology.spin_budget_us` of idle,
    /// then park until the thread before it publishes (it unparks only a
    /// thread that said it sleeps). A thread that reads sockets (ingest)
    /// has nobody to wake it and spins as `spin-hint`.
    SpinPark,
}

impl WaitKind {
    pub fn name(self) -> &'static str {
        match self {
            WaitKind::BusySpin => "busy-spin",
            WaitKind::SpinHint => "spin-hint",
            WaitKind::Yield => "yield",
            WaitKind::Sleep => "sleep",
            WaitKind::SpinPark => "spin-park",
        }
    }
}

/// Which core runs each stage. Stages on the same core run fused on one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorePlan {
    pub ingest: usize,
    pub risk: usize,
    pub strategy: usize,
    pub execution: usize,
    pub journal: usize,
}

impl CorePlan {
    pub fn as_array(&self) -> [usize; 5] {
        [
            self.ingest,
            self.risk,
            self.strategy,
            self.execution,
            self.journal,
        ]
    }
}

/// The five stages, in pipeline order.
pub const STAGE_NAMES: [&str; 5] = ["ingest", "risk", "strategy", "execution", "journal"];

/// Stages that run fused on one core: a range of stage indices into [`STAGE_NAMES`].
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopologyConfig {
    pub cores: CorePlan,
    /// Pin each thread to its core with `core_affinity`.
    pub pin_threads: bool,
    /// Wait strategy of every thread unless `waits` overrides it.
    pub wait: WaitKind,
    /// Sleep length for the `sleep` wait strategy, in microseconds.
    pub sleep_us: u64,
    /// Idle time the `spin-park` wait strategy spins before it parks, in microseconds.
    pub spin_budget_us: u64,
    /// Per-thread wait strategy, keyed by core id ("1" = "busy-spin").
    pub waits: BTreeMap<String, WaitKind>,
    /// Slots in each ring between pipelined threads (a power of two).
    pub ring_capacity: usize,
    /// When the first ring is full, conflate market data per instrument
    /// (true) or hold ingest until there is room (false: backtests, replay).
    pub conflate_when_full: bool,
    /// Most events a thread takes from its ring in one batch.
    pub batch_max: u64,
    /// 0 (the default): the stage threads are normal (CFS) threads. 1..=99:
    /// each pinned stage thread runs `SCHED_FIFO` at this priority, so no
    /// normal thread preempts it (helpers stay normal, off the pinned cores
    /// when a CPU is left). Needs `pin_threads` and CAP_SYS_NICE (root);
    /// a refusal stops the run with an error naming this key. See
    /// docs/architecture.md "Threads" for the risks (RT throttling, a
    /// spinning FIFO thread starves kernel work on its core).
    pub realtime_priority: u8,
}

impl Default for TopologyConfig {
    fn default() -> TopologyConfig {
        TopologyConfig {
            cores: CorePlan::default(),
            pin_threads: true,
            wait: WaitKind::SpinHint,
            sleep_us: 50,
            spin_budget_us: 50,
            waits: BTreeMap::new(),
            ring_capacity: 1 << 13,
            conflate_when_full: true,
            batch_max: 256,
            realtime_priority: 0,
        }
    }
}

impl TopologyConfig {
    /// The ring and batch sizes, the core plan, per-core waits, and (when
    /// pinning) that every planned core exists.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        let topology = self;
        let ring_capacity = topology.ring_capacity;
        if !ring_capacity.is_power_of_two() || !(64..=super::CAPACITY_MAX).contains(&ring_capacity)
        {
            return Err(invalid(
                "topology.ring_capacity",
                format!(
                    "{ring_capacity} is not a power of two in the allowed range 64..={}",
                    super::CAPACITY_MAX
                ),
            ));
        }
        if topology.batch_max == 0 {
            return Err(invalid("topology.batch_max", "must be at least 1".into()));
        }
        plan_groups(&topology.cores).map_err(|message| invalid("topology.cores", message))?;
        let planned: Vec<usize> = topology.cores.as_array().to_vec();
        for key in topology.waits.keys() {
            let core: usize = key.parse().map_err(|_| {
                invalid(
                    &format!("topology.waits.{key}"),
                    "keys are core ids, such as \"1\"".into(),
                )
            })?;
            if !planned.contains(&core) {
                return Err(invalid(
                    &format!("topology.waits.{key}"),
                    format!("core {core} runs no stage in topology.cores"),
                ));
            }
        }
        topology.validate_realtime(invalid)?;
        if topology.pin_threads {
            let available = crate::sys::cpus_online().unwrap_or_else(|_| {
                core_affinity::get_core_ids()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.id)
                    .collect()
            });
            for (stage, core) in STAGE_NAMES.iter().zip(planned) {
                if !available.contains(&core) {
                    return Err(invalid(
                        &format!("topology.cores.{stage}"),
                        format!(
                            "core {core} does not exist on this machine (cores: {:?}); set topology.pin_threads = false to use it as a label",
                            available
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl TopologyConfig {
    /// The real-time priority is off, or in 1..=99 on pinned threads.
    fn validate_realtime(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        let priority = self.realtime_priority;
        if priority > REALTIME_PRIORITY_MAX {
            return Err(invalid(
                "topology.realtime_priority",
                format!("{priority} is above {REALTIME_PRIORITY_MAX}, the highest SCHED_FIFO priority (0 = off)"),
            ));
        }
        if priority > 0 && !self.pin_threads {
            return Err(invalid(
                "topology.realtime_priority",
                "needs topology.pin_threads = true: an unpinned FIFO thread may land on any CPU and starve what runs there".into(),
            ));
        }
        Ok(())
    }
}

/// The highest `SCHED_FIFO` priority Linux allows.
pub const REALTIME_PRIORITY_MAX: u8 = 99;

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
