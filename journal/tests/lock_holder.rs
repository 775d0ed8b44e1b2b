//! A journal folder locked by another process is refused, naming the holder.
//!
//! Alone in its own test binary: it spawns a process, and between fork and
//! exec the child holds a copy of every descriptor the test process has open,
//! a writer's lock among them. Beside tests that drop and reopen writers, a
//! reopen at that moment would find its folder still locked.

mod common;

use common::*;
use genesis_journal::{Durability, JournalError, WriteMode, Writer};
use std::time::Duration;

// Another process holding the lock is named by its process id.
#[test]
fn lock_held_by_another_process_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Pwrite, Durability::None);
    drop(Writer::open(&config).unwrap());
    let lock = dir.path().join("LOCK");
    // `flock` (util-linux) holds the lock file; once it does, the test
    // writes its holder line the way a writer does.
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock(1) from util-linux");
    wait_for("flock to take the lock", Duration::from_secs(10), || {
        matches!(Writer::open(&config), Err(JournalError::Locked { .. }))
    });
    std::fs::write(&lock, format!("pid {} (sleep)\n", holder.id())).unwrap();
    let err = Writer::open(&config).err().unwrap().to_string();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        err.contains(&format!("held by pid {} (sleep)", holder.id())),
        "{err}"
    );
}
