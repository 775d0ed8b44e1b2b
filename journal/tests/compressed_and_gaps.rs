//! Readers over archived and incomplete journals: compressed segments read
//! like plain ones, a missing segment is an error naming the gap, and a
//! folder without a journal is not "clean".

mod common;

use common::*;
use genesis_journal::{
    archive, archive_bounded, ArchivePolicy, JournalError, RangeReader, Tailer, Writer,
};
use std::path::Path;
use std::time::{Duration, SystemTime};

const SLOTS: u64 = 4;
/// Segments 1, 5, 9 and 13 are closed (and sealed); 17 is the newest, with 2 records.
const RECORDS: u64 = 18;
const DAY: Duration = Duration::from_secs(86_400);

fn compressed(dir: &Path, seq_first: u64) -> std::path::PathBuf {
    dir.join(format!("{seq_first:020}.gjseg.gz"))
}

/// Compresses every closed segment in place (as `archive --compress-after 0` does).
fn compress_closed(dir: &Path, archive_dir: &Path) {
    let now = SystemTime::now();
    let policy = ArchivePolicy {
        compress_after: Duration::ZERO,
        archive_after: 10_000 * DAY,
        archive_dir: archive_dir.to_path_buf(),
    };
    let report = archive(dir, &policy, now).unwrap();
    assert_eq!(report.compressed.len(), 4, "{report:?}");
}

// After every closed segment is compressed, the range reader, the tailer and
// verify read all of it, a read can start inside a compressed segment, and
// the writer opens and goes on.
#[test]
fn readers_read_compressed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    compress_closed(dir.path(), archive_dir.path());
    assert!(compressed(dir.path(), 1).exists() && !segment(dir.path(), 1).exists());
    let read = read_all(dir.path(), 1);
    assert_eq!(read.len() as u64, RECORDS);
    assert!(read.iter().all(|(seq, p)| *p == payload(*seq)));
    let middle: Vec<u64> = RangeReader::open(dir.path(), 7, 10)
        .unwrap()
        .map(|r| r.unwrap().seq)
        .collect();
    assert_eq!(middle, [7, 8, 9, 10]);
    let mut tailer = Tailer::open(dir.path(), 3, 2 * FRAME).unwrap();
    let mut tailed = Vec::new();
    while let Some(record) = tailer.poll().unwrap() {
        assert_eq!(record.payload, payload(record.seq));
        tailed.push(record.seq);
    }
    assert_eq!(tailed, (3..=RECORDS).collect::<Vec<_>>());
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(verified.is_clean(), "{:?}", verified.damages);
    assert_eq!(
        (verified.segments, verified.compressed, verified.records),
        (5, 4, RECORDS)
    );
    let (mut writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.closed.segments_checked, 4);
    for _ in 0..10 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.close().unwrap();
    assert_eq!(read_all(dir.path(), 1).len() as u64, RECORDS + 10);
}

// A flipped bit inside a compressed segment is an error naming the file, for readers and verify.
#[test]
fn damaged_compressed_segment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    compress_closed(dir.path(), archive_dir.path());
    let gz = compressed(dir.path(), 5);
    let len = std::fs::metadata(&gz).unwrap().len() as usize;
    flip(&gz, len / 2, 0x08);
    let name = "00000000000000000005.gjseg.gz";
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(
        verified
            .damages
            .iter()
            .any(|d| d.to_string().contains(name)),
        "{:?}",
        verified.damages
    );
    let err = RangeReader::open(dir.path(), 1, u64::MAX)
        .unwrap()
        .find_map(Result::err)
        .expect("an error");
    assert!(err.to_string().contains(name), "{err}");
}

// With a middle segment deleted, the range reader and the tailer fail at the
// gap naming the missing sequences and files, after every record before it.
#[test]
fn missing_segment_is_a_gap_for_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    std::fs::remove_file(segment(dir.path(), 9)).unwrap();
    let gap_named = |err: &JournalError| {
        let text = err.to_string();
        assert!(matches!(err, JournalError::Gap { .. }), "{text}");
        assert!(text.contains("sequences 9..=12 are missing"), "{text}");
        assert!(text.contains("00000000000000000009.gjseg"), "{text}");
        assert!(text.contains("00000000000000000013.gjseg"), "{text}");
    };
    let mut reader = RangeReader::open(dir.path(), 1, u64::MAX).unwrap();
    let mut seqs = Vec::new();
    let err = loop {
        match reader.next_record() {
            Ok(Some(record)) => seqs.push(record.seq),
            Ok(None) => panic!("the reader ended quietly at the gap"),
            Err(err) => break err,
        }
    };
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    gap_named(&err);
    // Starting inside the missing segment is the same gap, from there.
    let err = RangeReader::open(dir.path(), 10, 11)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("sequences 10..=12 are missing"),
        "{err}"
    );
    let mut tailer = Tailer::open(dir.path(), 1, 1 << 16).unwrap();
    let err = loop {
        match tailer.poll() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the tailer waited at the gap"),
            Err(err) => break err,
        }
    };
    assert_eq!(tailer.seq_next(), 9);
    let text = err.to_string();
    assert!(text.contains("sequences 9..=12 are missing"), "{text}");
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(
        verified
            .damages
            .iter()
            .any(|d| d.reason.contains("9..=12 are missing")),
        "{:?}",
        verified.damages
    );
}

// A folder without a journal is an error of its own, never "clean".
#[test]
fn verify_without_a_journal_says_so() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("nothing-here");
    let file = empty.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for (dir, says) in [
        (empty.path(), "holds no segment file"),
        (Path::new("/proc"), "holds no segment file"),
        (missing.as_path(), "does not exist"),
        (file.as_path(), "not a folder"),
    ] {
        let err = genesis_journal::verify(dir).unwrap_err();
        assert!(matches!(err, JournalError::NoJournal { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("no journal here") && text.contains(says),
            "{text}"
        );
    }
    // Segments deleted but the seal log left: damage, not "no journal".
    let dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    for seq_first in [1, 5, 9, 13, 17] {
        std::fs::remove_file(segment(dir.path(), seq_first)).unwrap();
    }
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(!verified.is_clean());
}

// Archive never compresses a segment holding a sequence the drain has not
// loaded, and lists what it held back.
#[test]
fn archive_never_compresses_past_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    let policy = ArchivePolicy::older_than_days(0, archive_dir.path());
    let policy = ArchivePolicy {
        archive_after: 10_000 * DAY,
        ..policy
    };
    // The drain loaded up to sequence 9: 9..=12 is not wholly loaded.
    let report = archive_bounded(dir.path(), &policy, 10, SystemTime::now()).unwrap();
    assert_eq!(
        report.compressed,
        vec![compressed(dir.path(), 1), compressed(dir.path(), 5)]
    );
    let held: Vec<_> = report.held_back.iter().map(|h| h.path.clone()).collect();
    assert_eq!(held, vec![segment(dir.path(), 9), segment(dir.path(), 13)]);
    assert!(
        report.held_back[0].reason.contains("at or above 10"),
        "{report:?}"
    );
    assert!(segment(dir.path(), 9).exists() && segment(dir.path(), 13).exists());
}

// A segment whose bytes no longer match its seal is refused, not compressed.
#[test]
fn archive_refuses_a_segment_that_changed_after_its_seal() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    flip(&segment(dir.path(), 5), slot_offset(2) + 25, 0x01);
    let policy = ArchivePolicy::older_than_days(0, archive_dir.path());
    let err = archive(dir.path(), &policy, SystemTime::now()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("00000000000000000005.gjseg") && text.contains("seal"),
        "{text}"
    );
    assert!(segment(dir.path(), 5).exists());
    assert!(!compressed(dir.path(), 5).exists());
    assert!(!dir
        .path()
        .join("00000000000000000005.gjseg.gz.tmp")
        .exists());
}

// Compressed segments move out only as a prefix, after the archive boundary
// records it; the journal then opens, and a segment deleted by hand after
// the boundary is still refused.
#[test]
fn archive_moves_out_a_prefix_and_records_the_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    let now = SystemTime::now();
    let policy = ArchivePolicy::guide_default(archive_dir.path());
    for seq_first in [5, 9, 13] {
        set_age(&segment(dir.path(), seq_first), now, 40 * DAY);
    }
    set_age(&segment(dir.path(), 1), now, 10 * DAY);
    // Segment 1 is compressed but too young to move: nothing after it may move either.
    let report = archive(dir.path(), &policy, now).unwrap();
    assert_eq!(report.compressed.len(), 4, "{report:?}");
    assert!(report.archived.is_empty(), "{report:?}");
    set_age(&compressed(dir.path(), 1), now, 40 * DAY);
    let report = archive(dir.path(), &policy, now).unwrap();
    assert_eq!(report.archived.len(), 4, "{report:?}");
    assert!(dir.path().join("ARCHIVED").exists());
    let (writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.seq_next, RECORDS + 1);
    drop(writer);
    assert!(genesis_journal::verify(dir.path()).unwrap().is_clean());
    // Deleting the archived boundary's successor by hand is still seen.
    let mut writer = Writer::open(&config).unwrap().0;
    for _ in 0..SLOTS {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.close().unwrap();
    std::fs::remove_file(segment(dir.path(), 17)).unwrap();
    let err = Writer::open(&config).err().unwrap().to_string();
    assert!(err.contains("sequences 17..=20 are missing"), "{err}");
}
