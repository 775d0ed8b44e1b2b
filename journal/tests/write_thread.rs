//! The `journal-write` thread (`write_thread_buffers > 0`): the same bytes
//! as the synchronous `pwrite` path, durability never ahead of what it
//! wrote, drains at rollover, batch, sync and close.

mod common;

use common::*;
use genesis_journal::{Durability, JournalConfig, Tailer, WriteMode, Writer};
use std::path::Path;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// `config`'s pwrite journal of 16-slot segments and 4-frame buffers, with
/// `buffers` write-thread buffers (0: the synchronous path).
fn threaded(dir: &Path, durability: Durability, buffers: usize) -> JournalConfig {
    let mut config = config(dir, 16, WriteMode::Pwrite, durability);
    config.write_thread_buffers = buffers;
    config
}

/// Appends `count` records, flushing after every 5th and ending a batch
/// after every 11th (partial buffers too), then closes.
fn write_mixed(config: &JournalConfig, count: u64) {
    let (mut writer, _) = Writer::open(config).unwrap();
    for _ in 0..count {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
        if seq.is_multiple_of(5) {
            writer.flush().unwrap();
        }
        if seq.is_multiple_of(11) {
            writer.end_of_batch().unwrap();
        }
    }
    if config.write_thread_buffers > 0 {
        let stats = writer.write_thread_stats().expect("a write thread");
        assert!(stats.hand_overs > count / 5, "{stats:?}");
    } else {
        assert!(writer.write_thread_stats().is_none());
    }
    writer.close().unwrap();
}

// Across 60+ rollovers, every segment and the seal log are byte-identical
// to the synchronous path's, with one buffer (a wait at every hand-over),
// two, and four.
#[test]
fn files_are_byte_identical_to_the_synchronous_path() {
    let sync_dir = tempfile::tempdir().unwrap();
    write_mixed(&threaded(sync_dir.path(), Durability::None, 0), 1000);
    let expected = snapshot(sync_dir.path());
    assert!(expected.contains_key("SEALS"), "{:?}", expected.keys());
    assert!(expected.len() > 60, "rollovers: {}", expected.len());
    for buffers in [1, 2, 4] {
        for durability in [
            Durability::None,
            Durability::Batch,
            Durability::Group {
                records: 3,
                interval_us: 100,
            },
        ] {
            let dir = tempfile::tempdir().unwrap();
            write_mixed(&threaded(dir.path(), durability, buffers), 1000);
            let got = snapshot(dir.path());
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{buffers} buffers, {durability:?}: the same files"
            );
            for (name, bytes) in &expected {
                assert!(
                    got[name] == *bytes,
                    "{buffers} buffers, {durability:?}: {name} differs"
                );
            }
        }
    }
}

// Under group commit the durable sequence never passes what the thread
// wrote: every record up to it reads back from the files at any moment.
#[test]
fn group_commit_never_makes_unwritten_records_durable() {
    let dir = tempfile::tempdir().unwrap();
    let group = Durability::Group {
        records: 1,
        interval_us: 1,
    };
    let (mut writer, _) = Writer::open(&threaded(dir.path(), group, 2)).unwrap();
    let durable = writer.seq_durable_handle();
    for _ in 0..300 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
        if seq.is_multiple_of(3) {
            writer.flush().unwrap();
            let seq_durable = durable.load(std::sync::atomic::Ordering::Acquire);
            let readable = read_all(dir.path(), 1).len() as u64;
            assert!(
                readable >= seq_durable,
                "durable {seq_durable} but only {readable} records in the files"
            );
        }
    }
    writer.drain().unwrap();
    let seq_last = writer.seq_next() - 1;
    wait_for("group commit to reach the last record", DEADLINE, || {
        writer.seq_durable() == seq_last
    });
    assert_eq!(read_all(dir.path(), 1).len() as u64, seq_last);
    writer.close().unwrap();
}

// Under batch, end_of_batch returns with its records written and synced.
#[test]
fn batch_end_of_batch_waits_for_the_write_and_the_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = Writer::open(&threaded(dir.path(), Durability::Batch, 2)).unwrap();
    for batch in 1..=20u64 {
        for _ in 0..batch {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
        }
        writer.end_of_batch().unwrap();
        let seq_last = writer.seq_next() - 1;
        assert_eq!(writer.seq_durable(), seq_last, "batch {batch}: synced");
        let records = read_all(dir.path(), 1);
        assert_eq!(records.len() as u64, seq_last, "batch {batch}: written");
        assert_eq!(records.last().unwrap().1, payload(seq_last).to_vec());
    }
    writer.close().unwrap();
}

// Dropping the writer (no close) drains the thread: a reopen finds every record.
#[test]
fn drop_writes_everything_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    let config = threaded(dir.path(), Durability::None, 2);
    let (mut writer, _) = Writer::open(&config).unwrap();
    for _ in 0..203 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    drop(writer);
    let (writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.seq_next, 204);
    assert!(report.truncation.is_none(), "{report:?}");
    drop(writer);
    let records = read_all(dir.path(), 1);
    assert_eq!(records.len(), 203);
    assert!(records.iter().all(|(seq, bytes)| *bytes == payload(*seq)));
}

// A tailer follows the threaded writer across rollover: it sees what the
// thread wrote, in order, whole records only.
#[test]
fn tailer_follows_the_write_thread() {
    let dir = tempfile::tempdir().unwrap();
    let config = threaded(dir.path(), Durability::None, 2);
    let mut tailer = Tailer::open(dir.path(), 1, 5 * FRAME).unwrap();
    let count = 1000;
    let writer = std::thread::spawn(move || {
        let (mut writer, _) = Writer::open(&config).unwrap();
        for _ in 0..count {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
            if seq.is_multiple_of(7) {
                writer.flush().unwrap();
            }
        }
        writer.close().unwrap();
    });
    let mut seq_expected = 1;
    wait_for("the tailer to see every record", DEADLINE, || {
        while let Some(record) = tailer.poll().unwrap() {
            assert_eq!(record.seq, seq_expected, "records in order");
            assert_eq!(record.payload, payload(record.seq), "whole records");
            seq_expected += 1;
        }
        seq_expected > count
    });
    writer.join().unwrap();
}

// The map mode has no writes to move: a write thread there is refused.
#[test]
fn write_thread_with_the_map_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), 16, WriteMode::Mmap, Durability::None);
    config.write_thread_buffers = 2;
    let err = Writer::open(&config).err().expect("refused").to_string();
    assert!(err.contains("pwrite"), "{err}");
}

// A seal's body CRC is followed as the write thread writes the segment,
// so sealing does not read the closed segment back; without a write thread
// (the CRC would cost the writer's own thread) and with a memory map the
// seals read it. Either way a reopen that reads every byte of every closed
// segment finds each one matching its seal.
#[test]
fn seals_follow_the_written_body_and_match_a_full_read() {
    for (mode, buffers, read_back) in [
        (WriteMode::Pwrite, 0, true),
        (WriteMode::Pwrite, 2, false),
        (WriteMode::Mmap, 0, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), 16, mode, Durability::None);
        config.write_thread_buffers = buffers;
        let (mut writer, _) = Writer::open(&config).unwrap();
        for _ in 0..200 {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
            if seq.is_multiple_of(7) {
                writer.flush().unwrap();
            }
        }
        // Twelve full segments: the last closed one ends at 192.
        wait_for("the twelfth seal", DEADLINE, || writer.seq_sealed() == 192);
        let expected = if read_back { 12 } else { 0 };
        assert_eq!(
            writer.seals_read_back(),
            expected,
            "{mode:?}, {buffers} buffers"
        );
        writer.close().unwrap();
        config.closed_check = genesis_journal::ClosedCheck::Full;
        let (_, report) = Writer::open(&config).unwrap();
        assert_eq!(report.closed.segments_read, 12, "{mode:?}: every byte read");
        assert_eq!(report.closed.sealed_now, 0, "{mode:?}: every seal matched");
    }
}
