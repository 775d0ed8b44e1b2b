//! A live journal: a tailer following a writer across rollover, and the
//! durable sequence under each durability policy.

mod common;

use common::*;
use genesis_journal::{Durability, Tailer, WriteMode, Writer};
use std::sync::atomic::Ordering;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// Runs a writer thread appending `count` records while this thread tails them.
fn tail_while_writing(mode: WriteMode, count: u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 16, mode, Durability::None);
    // The tailer starts before the first segment exists.
    let mut tailer = Tailer::open(dir.path(), 1, 5 * FRAME).unwrap();
    assert!(tailer.poll().unwrap().is_none());
    let writer_config = config.clone();
    let writer = std::thread::spawn(move || {
        let (mut writer, _) = Writer::open(&writer_config).unwrap();
        for _ in 0..count {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
            if seq % 7 == 0 {
                writer.end_of_batch().unwrap();
            }
        }
        writer.close().unwrap();
    });
    let mut seq_expected = 1;
    wait_for("the tailer to see every record", DEADLINE, || {
        while let Some(record) = tailer.poll().unwrap() {
            assert_eq!(record.seq, seq_expected, "{mode:?}: records in order");
            assert_eq!(
                record.payload,
                payload(record.seq),
                "{mode:?}: never a partial record"
            );
            seq_expected += 1;
        }
        seq_expected > count
    });
    writer.join().unwrap();
    assert!(tailer.poll().unwrap().is_none(), "nothing past the end");
}

// A tailer follows a memory-mapped writer across 60+ rollovers, in order, whole records only.
#[test]
fn tailer_follows_mapped_writer_across_rollover() {
    tail_while_writing(WriteMode::Mmap, 1000);
}

// The same with the pwrite path, whose records appear in flushed batches.
#[test]
fn tailer_follows_pwrite_writer_across_rollover() {
    tail_while_writing(WriteMode::Pwrite, 1000);
}

// A tailer started in the middle of a journal begins at the sequence asked for.
#[test]
fn tailer_starts_mid_journal() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    write_journal(&config, 10);
    let mut tailer = Tailer::open(dir.path(), 6, 4096).unwrap();
    let mut seqs = Vec::new();
    while let Some(record) = tailer.poll().unwrap() {
        seqs.push(record.seq);
    }
    assert_eq!(seqs, (6..=10).collect::<Vec<_>>());
}

// Policy none: the durable sequence moves only on an explicit sync.
#[test]
fn durable_sequence_under_none() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 8, WriteMode::Mmap, Durability::None);
    let (mut writer, _) = Writer::open(&config).unwrap();
    let durable = writer.seq_durable_handle();
    for _ in 0..20 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.end_of_batch().unwrap();
    assert_eq!(durable.load(Ordering::Acquire), 0);
    writer.sync().unwrap();
    assert_eq!(durable.load(Ordering::Acquire), 20);
}

// Policy batch: every end of batch leaves the whole batch durable, across rollover too.
#[test]
fn durable_sequence_under_batch() {
    for mode in [WriteMode::Mmap, WriteMode::Pwrite] {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 8, mode, Durability::Batch);
        let (mut writer, _) = Writer::open(&config).unwrap();
        let durable = writer.seq_durable_handle();
        for batch in 1..=5u64 {
            for _ in 0..7 {
                let seq = writer.seq_next();
                writer.append(&payload(seq)).unwrap();
            }
            assert!(
                durable.load(Ordering::Acquire) <= (batch - 1) * 7,
                "{mode:?}"
            );
            writer.end_of_batch().unwrap();
            assert_eq!(durable.load(Ordering::Acquire), batch * 7, "{mode:?}");
        }
    }
}

// Policy group: the durable sequence catches up by record count, and by
// interval when too few records arrive, without the writer calling anything.
#[test]
fn durable_sequence_under_group() {
    for mode in [WriteMode::Mmap, WriteMode::Pwrite] {
        let dir = tempfile::tempdir().unwrap();
        let by_count = Durability::Group {
            records: 8,
            interval_us: 60_000_000,
        };
        let count_config = config(dir.path(), 8, mode, by_count);
        let (mut writer, _) = Writer::open(&count_config).unwrap();
        let durable = writer.seq_durable_handle();
        for _ in 0..24 {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
        }
        // The pwrite path hands its last partial buffer to the page cache here.
        writer.end_of_batch().unwrap();
        wait_for("group commit by count", DEADLINE, || {
            durable.load(Ordering::Acquire) >= 24
        });
        writer.close().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let by_time = Durability::Group {
            records: 1_000_000,
            interval_us: 2_000,
        };
        let config = config(dir.path(), 8, mode, by_time);
        let (mut writer, _) = Writer::open(&config).unwrap();
        let durable = writer.seq_durable_handle();
        for _ in 0..3 {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
        }
        writer.end_of_batch().unwrap();
        wait_for("group commit by interval", DEADLINE, || {
            durable.load(Ordering::Acquire) == 3
        });
        writer.close().unwrap();
    }
}

// A damaged record that the writer has moved past is reported by the tailer
// as corruption naming the file and offset, not waited on forever.
#[test]
fn tailer_reports_damage_behind_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 8, WriteMode::Pwrite, Durability::None);
    write_journal(&config, 5);
    let path = first_segment(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let offset = HEADER + 2 * FRAME;
    bytes[offset + 30] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let mut tailer = Tailer::open(dir.path(), 1, 4096).unwrap();
    assert_eq!(tailer.poll().unwrap().unwrap().seq, 1);
    assert_eq!(tailer.poll().unwrap().unwrap().seq, 2);
    let err = tailer.poll().unwrap_err().to_string();
    assert!(err.contains(&format!("byte offset {offset}")), "{err}");
}
