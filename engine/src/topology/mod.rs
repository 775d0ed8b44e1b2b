//! Topology: how the core plan becomes threads and rings.
//!
//! Consecutive stages on the same core form a group that runs fused on one
//! thread, calling the stages in order per event. Each group after the first
//! reads the previous group's ring (a `disruptor` ring of `Event`s, polled
//! with its `EventPoller`) and, unless it is last, owns the producer of the
//! next ring: handlers see `&Event`, so results travel forward as copies.

pub mod chain;
pub mod runner;
pub mod side_work;
pub mod trace;
pub mod wait;

pub use crate::config::{plan_groups, Group, STAGE_NAMES};

/// Stage indices, in pipeline order.
pub const INGEST: usize = 0;
pub const RISK: usize = 1;
pub const STRATEGY: usize = 2;
pub const EXECUTION: usize = 3;
pub const JOURNAL: usize = 4;
