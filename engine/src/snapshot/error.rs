//! What stops a restart's rebuild (start-up) or a replay's walk over runs.
//! Each names the run, the sequence or the file, and what to do where there
//! is something to do.

use crate::config::ConfigError;
use crate::event::Event;
use crate::journal_stage::EventReadError;
use crate::state_codec::StateError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error(transparent)]
    Read(#[from] EventReadError),
    #[error("cannot list the runs and snapshots of {dir}")]
    List {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("journal {dir}: records 1..={seq_last} exist but no run config (config-<seq>.toml) covers sequence {seq_first}: its state cannot be rebuilt")]
    Unrecorded {
        dir: PathBuf,
        seq_first: u64,
        seq_last: u64,
    },
    #[error("the run starting at {seq_first}: {detail}")]
    Run { seq_first: u64, detail: String },
    #[error("DIVERGENCE at sequence {seq} (run starting at {run}): this build derives other decisions from the journal's inputs than the ones journaled")]
    Divergence {
        seq: u64,
        run: u64,
        journaled: Box<Event>,
        produced: Box<Event>,
    },
    #[error("STATE MISMATCH at the start of the run starting at {seq_first}: the state carried into it has CRC32C {found:08x}, but the run recorded {recorded:08x} when it started")]
    StartMismatch {
        seq_first: u64,
        found: u32,
        recorded: u32,
    },
    #[error("STATE MISMATCH at sequence {seq}: the replayed state differs from snapshot {} from byte {offset} (section {section})", path.display())]
    SnapshotMismatch {
        seq: u64,
        path: PathBuf,
        offset: usize,
        section: &'static str,
    },
    #[error("the journal's state was built for instruments [{journal}], this config has [{config}]: state cannot carry over. Flatten and cancel everything, then start with a new journal.dir")]
    Incompatible { journal: String, config: String },
    #[error("restoring state into the run starting at {seq_first}")]
    State {
        seq_first: u64,
        #[source]
        source: StateError,
    },
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
