//! `[host]`: what the engine does to the host it runs on (memory locking,
//! the CPU DMA latency hold), applied by the binary at start-up.

use serde::{Deserialize, Serialize};

/// What the engine does to the host it runs on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Lock all memory (mlockall) at start; default: on in prod, off in dev.
    pub mlockall: Option<bool>,
    /// Hold /dev/cpu_dma_latency at this many microseconds while running (0 keeps CPUs out of deep C-states).
    pub cpu_dma_latency_us: Option<i32>,
}
