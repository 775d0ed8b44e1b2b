//! The snapshots of a journal: the folder `<journal>/snapshots`, its files
//! listed by sequence, the newest `keep` kept, leftovers of a crash removed.
//!
//! Used by the snapshot thread (writing, pruning) and at start-up and in
//! replay (listing, reading); each holds its own `SnapshotStore`. The folder
//! has one writer at a time: the journal's writer lock covers it, since
//! only a run holding the journal writes snapshots of it.

use super::file::{
    parse_snapshot_name, read_header, write_snapshot, SnapshotMeta, SNAPSHOT_EXTENSION,
};
use std::path::{Path, PathBuf};

/// Name of the snapshot folder inside a journal folder.
pub const SNAPSHOT_DIR_NAME: &str = "snapshots";

#[derive(Clone, Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
}

/// One snapshot file found in the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    pub seq: u64,
    pub path: PathBuf,
}

impl SnapshotStore {
    /// The snapshots of the journal in `journal_dir`.
    pub fn of_journal(journal_dir: &Path) -> SnapshotStore {
        SnapshotStore {
            dir: journal_dir.join(SNAPSHOT_DIR_NAME),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Snapshot files by sequence, oldest first; no folder is no snapshots.
    pub fn list(&self) -> std::io::Result<Vec<SnapshotFile>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if let Some(seq) = name.to_str().and_then(parse_snapshot_name) {
                files.push(SnapshotFile {
                    seq,
                    path: entry.path(),
                });
            }
        }
        files.sort_by_key(|file| file.seq);
        Ok(files)
    }

    pub fn write(&self, meta: &SnapshotMeta, payload: &[u8]) -> std::io::Result<PathBuf> {
        write_snapshot(&self.dir, meta, payload)
    }

    /// Removes all but the newest `keep` snapshots; returns what it removed.
    pub fn prune(&self, keep: usize) -> std::io::Result<Vec<PathBuf>> {
        assert!(keep > 0, "at least one snapshot is kept");
        let files = self.list()?;
        let excess = files.len().saturating_sub(keep);
        let mut removed = Vec::with_capacity(excess);
        for file in files.into_iter().take(excess) {
            std::fs::remove_file(&file.path)?;
            removed.push(file.path);
        }
        Ok(removed)
    }

    /// Removes what can never be used again: temporary files a crash left,
    /// snapshots past the journal's last record (`journal_last`: records
    /// were lost after they were written), and snapshots of a run starting
    /// at `seq_first` or later (a run that journaled nothing, whose config
    /// the new run's replaces). Returns what it removed.
    pub fn remove_superseded(
        &self,
        journal_last: u64,
        seq_first: u64,
    ) -> std::io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(".snapshot-") && name.ends_with(".tmp") {
                    std::fs::remove_file(entry.path())?;
                    removed.push(entry.path());
                }
            }
        }
        for file in self.list()? {
            let superseded = file.seq > journal_last
                || read_header(&file.path).is_ok_and(|h| h.run_seq_first >= seq_first);
            if superseded {
                std::fs::remove_file(&file.path)?;
                removed.push(file.path);
            }
        }
        Ok(removed)
    }
}

/// Whether `path` names a snapshot file.
pub fn is_snapshot_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == SNAPSHOT_EXTENSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The newest are kept; snapshots past the journal or of a replaced run go.
    #[test]
    fn prune_and_remove_superseded() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::of_journal(dir.path());
        assert!(store.list().unwrap().is_empty(), "no folder, no snapshots");
        for (seq, run_seq_first) in [(10, 1), (20, 1), (30, 21), (40, 21), (50, 41)] {
            let meta = SnapshotMeta {
                seq,
                run_seq_first,
                fingerprint: 1,
                event_crc32c: 0,
            };
            store.write(&meta, b"x").unwrap();
        }
        let removed = store.prune(4).unwrap();
        assert_eq!(removed.len(), 1);
        let removed = store.remove_superseded(45, 41).unwrap();
        assert_eq!(removed.len(), 1, "{removed:?}");
        let seqs: Vec<u64> = store.list().unwrap().iter().map(|f| f.seq).collect();
        assert_eq!(seqs, vec![20, 30, 40]);
        let removed = store.remove_superseded(45, 21).unwrap();
        assert_eq!(
            removed.len(),
            2,
            "snapshots of a run that journaled nothing"
        );
    }
}
