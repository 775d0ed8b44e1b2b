//! The start record of a run, `<journal>/start-<seq_first, 20 digits>.json`:
//! how the run's stage state began, written at start-up (atomically, before
//! any event of the run) beside the run's `config-<seq_first>.toml`.
//!
//! Replay and the next start-up do at each run boundary exactly what the
//! record says: carry the state on (`carried`) or start flat (`flat`, and
//! every run recorded before start records existed), then set the next
//! order id the run used. `state_crc32c` is the CRC32C of the state the run
//! began with; whoever rebuilds it checks it. `lineage` is the journal's
//! ClOrdID lineage (`orders::lineage`), chosen by the journal's first start
//! and copied by every later one; absent in records written before
//! lineages existed (those journals keep plain ClOrdIDs).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the record's layout.
pub const START_RECORD_VERSION: u32 = 1;

/// How a run's state began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartState {
    /// Nothing journaled before: the stages began empty.
    Flat,
    /// The state at the end of the journal, rebuilt and carried on.
    Carried,
}

/// The snapshot a start-up loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotUsed {
    pub file: String,
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRecord {
    pub format_version: u32,
    pub seq_first: u64,
    pub state: StartState,
    /// The strategy that traded in the run (`Strategy::name`).
    pub strategy: String,
    /// False when the strategy changed and began from its own defaults.
    pub strategy_state_carried: bool,
    /// The first order id the run gave out.
    pub order_id_next: u64,
    pub state_bytes: u64,
    /// The stage-state format `state_crc32c` was taken in (absent in
    /// records written before it was: format 1). Under another format than
    /// this build's the CRC cannot be checked, only the carry repeated.
    #[serde(default = "state_format_version_1")]
    pub state_format_version: u16,
    pub state_crc32c: u32,
    /// What the rebuild started from: a snapshot, or nothing (a full replay).
    pub snapshot: Option<SnapshotUsed>,
    pub events_replayed: u64,
    /// Snapshots refused on the way, each with its reason.
    pub fallbacks: Vec<String>,
    /// The journal's ClOrdID lineage (six of `0-9a-z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
}

fn state_format_version_1() -> u16 {
    1
}

/// `DIR/start-<seq_first, 20 digits>.json`.
pub fn start_record_path(dir: &Path, seq_first: u64) -> PathBuf {
    dir.join(format!("start-{seq_first:020}.json"))
}

impl StartRecord {
    /// Writes the record atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = start_record_path(dir, self.seq_first);
        let text = serde_json::to_string_pretty(self).expect("a start record serializes");
        super::file::write_atomically(&path, &[text.as_bytes(), b"\n"])?;
        Ok(path)
    }

    /// The record of the run starting at `seq_first`, if there is one.
    pub fn read(dir: &Path, seq_first: u64) -> Result<Option<StartRecord>, String> {
        let path = start_record_path(dir, seq_first);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let record: StartRecord =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if record.format_version != START_RECORD_VERSION || record.seq_first != seq_first {
            return Err(format!(
                "{}: format version {} for the run starting at {} (expected version {START_RECORD_VERSION}, run {seq_first})",
                path.display(),
                record.format_version,
                record.seq_first
            ));
        }
        Ok(Some(record))
    }
}
