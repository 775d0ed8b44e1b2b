//! Closing and reopening a writer in one process across rollovers, with the
//! preallocating and sealing helper busy, and what a writer says when its
//! folder is removed under it (the CI failure of the live-drain test: its
//! temporary folder was dropped while the writer thread still ran).

mod common;

use common::*;
use genesis_journal::{Durability, JournalError, WriteMode, Writer};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

// A writer closed and reopened 60 times, each run ending before, at and
// just after a segment boundary (so the helper is preparing the next segment
// or sealing the last one when the writer closes), in every write mode and
// with the group-commit thread running, never loses, repeats or skips a
// record, never fails a rollover, and leaves no preallocated file behind.
#[test]
fn reopen_across_rollovers_with_the_helper_busy() {
    let policies = [
        Durability::None,
        Durability::Group {
            records: 3,
            interval_us: 100,
        },
    ];
    for mode in [WriteMode::Pwrite, WriteMode::Mmap] {
        for durability in policies {
            let dir = tempfile::tempdir().unwrap();
            let config = config(dir.path(), 4, mode, durability);
            let mut seq_next = 1;
            for run in 0..60u64 {
                let (mut writer, report) = Writer::open(&config).unwrap();
                assert_eq!(
                    report.seq_next, seq_next,
                    "{mode:?} {durability:?} run {run}"
                );
                assert_eq!(
                    report.prealloc_removed, 0,
                    "close removed its preallocated segment"
                );
                // 3, 4, 5, 7, 8, 9 records: runs end on both sides of a boundary.
                for _ in 0..[3, 4, 5, 7, 8, 9][run as usize % 6] {
                    let seq = writer.seq_next();
                    writer.append(&payload(seq)).unwrap();
                }
                seq_next = writer.seq_next();
                writer.close().unwrap();
            }
            let leftovers: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(".prealloc"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
            let read = read_all(dir.path(), 1);
            assert_eq!(read.len() as u64, seq_next - 1);
            assert!(read
                .iter()
                .enumerate()
                .all(|(i, (seq, p))| *seq == i as u64 + 1 && *p == payload(*seq)));
            let verified = genesis_journal::verify(dir.path()).unwrap();
            assert!(verified.is_clean(), "{:?}", verified.damages);
        }
    }
}

// The journal folder removed while a writer runs (its next segment already
// prepared): the next rollover fails saying the folder was removed, not with
// a bare "rename preallocated segment into place: No such file or directory".
#[test]
fn folder_removed_under_a_live_writer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let config = config(&journal, 4, WriteMode::Pwrite, Durability::None);
    let (mut writer, _) = Writer::open(&config).unwrap();
    writer.append(&payload(1)).unwrap();
    let prepared = journal.join(".prealloc-00000000000000000005.tmp");
    wait_for("the helper to prepare segment 5", DEADLINE, || {
        prepared.exists()
    });
    std::fs::remove_dir_all(&journal).unwrap();
    let err = (2..=5)
        .find_map(|seq| writer.append(&payload(seq)).err())
        .expect("the rollover into segment 5 fails");
    assert!(matches!(err, JournalError::FolderChanged { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no longer exists") && text.contains("removed"),
        "{text}"
    );
    // Recreated under the same name: another folder, said as much.
    let (mut writer, _) = Writer::open(&config).unwrap();
    writer.append(&payload(1)).unwrap();
    let prepared = journal.join(".prealloc-00000000000000000005.tmp");
    wait_for("the helper to prepare segment 5", DEADLINE, || {
        prepared.exists()
    });
    std::fs::rename(&journal, dir.path().join("moved")).unwrap();
    std::fs::create_dir(&journal).unwrap();
    let err = (2..=5)
        .find_map(|seq| writer.append(&payload(seq)).err())
        .expect("the rollover into segment 5 fails");
    assert!(
        err.to_string().contains("another folder now has its name"),
        "{err}"
    );
}

// The folder being deleted file by file (what `remove_dir_all` of a test's
// temporary folder does while its writer thread still runs), or only the
// prepared segment removed: the rollover says which, not a bare ENOENT.
#[test]
fn files_removed_under_a_live_writer_are_named() {
    for remove_active in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 4, WriteMode::Pwrite, Durability::None);
        let (mut writer, _) = Writer::open(&config).unwrap();
        writer.append(&payload(1)).unwrap();
        let prepared = dir.path().join(".prealloc-00000000000000000005.tmp");
        wait_for("the helper to prepare segment 5", DEADLINE, || {
            prepared.exists()
        });
        std::fs::remove_file(&prepared).unwrap();
        if remove_active {
            std::fs::remove_file(segment(dir.path(), 1)).unwrap();
        }
        let err = (2..=5)
            .find_map(|seq| writer.append(&payload(seq)).err())
            .expect("the rollover into segment 5 fails");
        assert!(matches!(err, JournalError::FolderChanged { .. }), "{err}");
        let text = err.to_string();
        let says = if remove_active {
            "the segment being written"
        } else {
            "was removed by another program"
        };
        assert!(text.contains(says), "{text}");
    }
}
