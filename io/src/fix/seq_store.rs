//! Sequence numbers persisted in a small text file, replaced atomically.
//!
//! Owning thread: the session's thread; called on control paths only
//! (start-up, logon, disconnect, and once per reserved block of outgoing
//! sequence numbers), never per message.
//! Invariants: the file on disk is always a complete old or new version:
//! written to `<path>.tmp`, fsynced, renamed over `<path>`, then the
//! directory is fsynced. The stored `next_out` is never below any sequence
//! number already sent (the session reserves ahead), because restarting
//! below it would get the session logged out ("MsgSeqNum too low"); the
//! stored `next_in` may lag (the gap is recovered by ResendRequest and the
//! engine drops duplicate ExecIDs).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fix::error::FixError;

const HEADER_LINE: &str = "genesis-fix-seq 1";

/// The next sequence numbers of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqNumbers {
    /// MsgSeqNum(34) of the next message we send.
    pub next_out: u64,
    /// MsgSeqNum(34) we expect on the next message we receive.
    pub next_in: u64,
}

impl Default for SeqNumbers {
    fn default() -> Self {
        SeqNumbers {
            next_out: 1,
            next_in: 1,
        }
    }
}

/// The file holding one session's [`SeqNumbers`].
#[derive(Clone, Debug)]
pub struct SeqStore {
    path: PathBuf,
}

impl SeqStore {
    /// A store at `path` (nothing is read or written yet).
    pub fn new(path: impl Into<PathBuf>) -> SeqStore {
        SeqStore { path: path.into() }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: std::io::Error) -> FixError {
        FixError::SeqStoreIo {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, line: usize, reason: &'static str) -> FixError {
        FixError::SeqStoreCorrupt {
            path: self.path.clone(),
            line,
            reason,
        }
    }

    /// Reads the stored numbers; `Ok(None)` when the file does not exist.
    pub fn load(&self) -> Result<Option<SeqNumbers>, FixError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io_error(error)),
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER_LINE) {
            return Err(self.corrupt(1, "expected the header \"genesis-fix-seq 1\""));
        }
        let mut read = |line: usize, key: &str| -> Result<u64, FixError> {
            let value = lines
                .next()
                .and_then(|text| text.strip_prefix(key))
                .ok_or_else(|| self.corrupt(line, "expected next_out then next_in"))?;
            match value.trim().parse::<u64>() {
                Ok(number) if number >= 1 => Ok(number),
                _ => Err(self.corrupt(line, "expected a sequence number >= 1")),
            }
        };
        let next_out = read(2, "next_out ")?;
        let next_in = read(3, "next_in ")?;
        Ok(Some(SeqNumbers { next_out, next_in }))
    }

    /// Replaces the stored numbers atomically and durably.
    pub fn save(&self, numbers: SeqNumbers) -> Result<(), FixError> {
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let text = format!(
            "{HEADER_LINE}\nnext_out {}\nnext_in {}\n",
            numbers.next_out, numbers.next_in
        );
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)?;
            let directory = match self.path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            File::open(directory)?.sync_all()
        };
        write().map_err(|error| self.io_error(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips() {
        // Numbers written are the numbers read back; no file means none.
        let directory = tempfile::tempdir().unwrap();
        let store = SeqStore::new(directory.path().join("session.seq"));
        assert_eq!(store.load().unwrap(), None);
        store
            .save(SeqNumbers {
                next_out: 42,
                next_in: 7,
            })
            .unwrap();
        assert_eq!(
            store.load().unwrap(),
            Some(SeqNumbers {
                next_out: 42,
                next_in: 7
            })
        );
        assert!(!directory.path().join("session.seq.tmp").exists());
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_line() {
        // A file that is not ours is refused with its line number.
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("session.seq");
        fs::write(&path, "genesis-fix-seq 1\nnext_out x\n").unwrap();
        let error = SeqStore::new(&path).load().unwrap_err();
        assert!(
            matches!(error, FixError::SeqStoreCorrupt { line: 2, .. }),
            "{error}"
        );
    }
}
