//! Snapshots of stage state, and rebuilding that state at a restart.
//!
//! - [`file`]: one snapshot file (header, CRC32C, atomic write, mode 0600).
//! - [`store`]: the snapshots of a journal (`<journal>/snapshots`), newest kept.
//! - [`fingerprint`]: what makes state belong to a config (instruments, grids, strategy).
//! - [`start_record`]: how each run's state began (`<journal>/start-<seq>.json`).
//! - [`history`]: the recorded runs, and the walk that rebuilds state across them.
//! - [`follower`]: the snapshot thread, a replica of the stages following the journal.
//!
//! The stage state itself is `replay::state`. `docs/restart.md` says what a
//! restart recovers, from where, and how each part is proved.

pub mod error;
pub mod file;
pub mod fingerprint;
pub mod follower;
pub mod history;
pub mod start_record;
pub mod store;

pub use error::RestartError;
pub use file::{Refusal, Refused, Snapshot, SnapshotHeader, SnapshotMeta, StartSnapshot};
pub use fingerprint::fingerprint;
pub use follower::{Follower, FollowerReport, SnapshotPolicy, SnapshotThread};
pub use history::{History, RunRecord, StrategyPool};
pub use start_record::{StartRecord, StartState};
pub use store::SnapshotStore;
