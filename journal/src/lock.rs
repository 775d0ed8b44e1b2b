//! The folder lock: an exclusive `flock` on `DIR/LOCK`, so two processes
//! (or two writers in one process) never write one journal, and `truncate`
//! never cuts a journal being written.
//!
//! Taken by `Writer::open` and `truncate` on their caller's thread, held
//! until the writer closes (the lock goes with the file descriptor). The
//! file then names its holder (process id and name), so the error another
//! writer gets says who holds it. A crashed holder's lock is released by
//! the kernel; its stale name in the file is only ever read after
//! `flock` says the lock is taken.

use crate::naming;
use crate::sys;
use crate::JournalError;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Takes the folder's writer lock: one writer per journal. The lock file
/// then names its holder (process id and name), for the error another
/// writer gets.
pub(crate) fn lock_folder(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(naming::LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(JournalError::io(&path, "open lock file"))?;
    match sys::fs::try_lock_exclusive(&file) {
        Ok(true) => {}
        Ok(false) => {
            return Err(JournalError::Locked {
                path: dir.to_path_buf(),
                holder: lock_holder(&path),
            })
        }
        Err(error) => {
            return Err(JournalError::Io {
                path,
                op: "lock",
                error,
            })
        }
    }
    let holder = format!("pid {} ({})\n", std::process::id(), process_name());
    file.set_len(0)
        .and_then(|()| file.write_all_at(holder.as_bytes(), 0))
        .map_err(JournalError::io(&path, "write lock holder"))?;
    Ok(file)
}

/// Who holds the lock, as its lock file says.
fn lock_holder(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return "holder unknown".into();
    };
    let text = text.trim();
    if text.is_empty() {
        return "holder unknown".into();
    }
    if text.starts_with(&format!("pid {} ", std::process::id())) {
        return format!("held by {text}: this process, another Writer is open on the folder");
    }
    format!("held by {text}")
}

fn process_name() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
