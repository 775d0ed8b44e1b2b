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
//!
//! A running session holds a shared `flock` on `<path>.lock`;
//! [`reset_seq_store`] (behind `genesis fix reset-seq`) takes it exclusively,
//! so it refuses to touch the numbers of a live session. A reset back to 1
//! is recorded in the file (`reset_on_next_logon`), and the next Logon sends
//! ResetSeqNumFlag(141)=Y so the venue resets its side too; the flag stays
//! until a Logon is acknowledged, so a crash in between repeats the reset.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fix::error::FixError;
use crate::fix::sys::{try_lock, LockMode};

const HEADER_LINE: &str = "genesis-fix-seq 1";
const RESET_LINE: &str = "reset_on_next_logon";

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

/// What the store holds: the numbers and whether the next Logon resets them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqState {
    /// The sequence numbers.
    pub numbers: SeqNumbers,
    /// The next Logon carries ResetSeqNumFlag(141)=Y (set by a reset to 1).
    pub reset_on_next_logon: bool,
}

/// A shared lock on a store, held by a running session; released on drop.
#[derive(Debug)]
pub struct SeqStoreLock {
    _file: File,
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
        Ok(self.load_state()?.map(|state| state.numbers))
    }

    /// Reads the stored state; `Ok(None)` when the file does not exist.
    pub fn load_state(&self) -> Result<Option<SeqState>, FixError> {
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
        let reset_on_next_logon = match lines.next() {
            None => false,
            Some(RESET_LINE) => true,
            Some(_) => return Err(self.corrupt(4, "expected \"reset_on_next_logon\" or nothing")),
        };
        if lines.next().is_some() {
            return Err(self.corrupt(5, "unexpected text after the numbers"));
        }
        Ok(Some(SeqState {
            numbers: SeqNumbers { next_out, next_in },
            reset_on_next_logon,
        }))
    }

    /// Replaces the stored numbers atomically and durably (no reset pending).
    pub fn save(&self, numbers: SeqNumbers) -> Result<(), FixError> {
        self.save_state(SeqState {
            numbers,
            reset_on_next_logon: false,
        })
    }

    /// Replaces the stored state atomically and durably.
    pub fn save_state(&self, state: SeqState) -> Result<(), FixError> {
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let reset_line = if state.reset_on_next_logon {
            "reset_on_next_logon\n"
        } else {
            ""
        };
        let text = format!(
            "{HEADER_LINE}\nnext_out {}\nnext_in {}\n{reset_line}",
            state.numbers.next_out, state.numbers.next_in
        );
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)?;
            File::open(self.directory())?.sync_all()
        };
        write().map_err(|error| self.io_error(error))
    }

    fn directory(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// `<path>.lock`, never renamed (the store itself is replaced on every save).
    pub fn lock_path(&self) -> PathBuf {
        let mut path = self.path.clone().into_os_string();
        path.push(".lock");
        PathBuf::from(path)
    }

    fn lock(&self, mode: LockMode) -> Result<SeqStoreLock, FixError> {
        let lock_path = self.lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| FixError::SeqStoreIo {
                path: lock_path.clone(),
                source,
            })?;
        match try_lock(&file, mode) {
            Ok(true) => Ok(SeqStoreLock { _file: file }),
            Ok(false) => Err(FixError::SeqStoreInUse {
                path: self.path.clone(),
            }),
            Err(source) => Err(FixError::SeqStoreIo {
                path: lock_path,
                source,
            }),
        }
    }

    /// The shared lock a running session holds for its lifetime (fails only
    /// while a reset holds the store).
    pub fn lock_shared(&self) -> Result<SeqStoreLock, FixError> {
        self.lock(LockMode::Shared)
    }
}

/// What [`reset_seq_store`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqReset {
    /// Both numbers back to 1, and the next Logon carries
    /// ResetSeqNumFlag(141)=Y so the venue resets its side as well. The
    /// remedy for "MsgSeqNum too low" in either direction, for venues that
    /// honour 141=Y.
    LogonReset,
    /// Exactly these numbers, no 141=Y: e.g. `next_out` = the MsgSeqNum the
    /// venue said it expects, for venues that refuse an intraday reset.
    Set(SeqNumbers),
}

/// The outcome of [`reset_seq_store`], for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqResetDone {
    /// The numbers before (`None`: no file, or one that did not parse).
    pub previous: Option<SeqNumbers>,
    /// What the store holds now.
    pub written: SeqState,
}

/// Resets the sequence-number store at `path` (the library side of
/// `genesis fix reset-seq`). Refuses with [`FixError::SeqStoreInUse`] while a
/// session holds the store: stop the engine first. The write is atomic and
/// durable like every save; a corrupt old file is replaced, not an error.
pub fn reset_seq_store(path: &Path, reset: SeqReset) -> Result<SeqResetDone, FixError> {
    let store = SeqStore::new(path);
    let _lock = store.lock(LockMode::Exclusive)?;
    let previous = store.load().ok().flatten();
    let written = match reset {
        SeqReset::LogonReset => SeqState {
            numbers: SeqNumbers::default(),
            reset_on_next_logon: true,
        },
        SeqReset::Set(numbers) => {
            if numbers.next_out == 0 || numbers.next_in == 0 {
                return Err(FixError::Config("sequence numbers start at 1"));
            }
            SeqState {
                numbers,
                reset_on_next_logon: false,
            }
        }
    };
    store.save_state(written)?;
    Ok(SeqResetDone { previous, written })
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

    #[test]
    fn reset_to_one_is_remembered_until_saved_over() {
        // The reset flag round-trips and a plain save clears it.
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("session.seq");
        let store = SeqStore::new(&path);
        store
            .save(SeqNumbers {
                next_out: 90,
                next_in: 40,
            })
            .unwrap();
        let done = reset_seq_store(&path, SeqReset::LogonReset).unwrap();
        assert_eq!(
            done.previous,
            Some(SeqNumbers {
                next_out: 90,
                next_in: 40
            })
        );
        let state = store.load_state().unwrap().unwrap();
        assert!(state.reset_on_next_logon);
        assert_eq!(state.numbers, SeqNumbers::default());
        store.save(SeqNumbers::default()).unwrap();
        assert!(!store.load_state().unwrap().unwrap().reset_on_next_logon);
    }

    #[test]
    fn reset_refuses_a_store_in_use() {
        // A shared lock (a running session) blocks the reset; dropping it frees the store.
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("session.seq");
        let store = SeqStore::new(&path);
        let lock = store.lock_shared().unwrap();
        let second = store.lock_shared().unwrap();
        let error = reset_seq_store(&path, SeqReset::LogonReset).unwrap_err();
        assert!(matches!(error, FixError::SeqStoreInUse { .. }), "{error}");
        assert!(error.to_string().contains("stop"), "{error}");
        drop((lock, second));
        let numbers = SeqNumbers {
            next_out: 57,
            next_in: 3,
        };
        let done = reset_seq_store(&path, SeqReset::Set(numbers)).unwrap();
        assert_eq!(done.previous, None);
        assert_eq!(store.load().unwrap(), Some(numbers));
        assert!(!store.load_state().unwrap().unwrap().reset_on_next_logon);
    }

    #[test]
    fn a_corrupt_store_can_still_be_reset() {
        // The remedy works on a file that no longer parses.
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("session.seq");
        fs::write(&path, "garbage").unwrap();
        let done = reset_seq_store(&path, SeqReset::LogonReset).unwrap();
        assert_eq!(done.previous, None);
        assert!(
            SeqStore::new(&path)
                .load_state()
                .unwrap()
                .unwrap()
                .reset_on_next_logon
        );
    }
}
