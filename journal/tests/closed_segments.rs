//! Damage anywhere before the newest segment is found when the journal is
//! opened: each closed segment against its seal, and the chain of segments
//! from the journal's first sequence. A refusal names the file and the
//! remedy and changes nothing.

mod common;

use common::*;
use genesis_journal::{ClosedCheck, JournalError, RangeReader, Writer, FORMAT_VERSION};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const SLOTS: u64 = 4;
/// Segments 1, 5, 9 and 13 are closed (and sealed); 17 is the newest, with 2 records.
const RECORDS: u64 = 18;

/// Opens the journal expecting a refusal; returns its message after checking
/// that it names `file`, says the remedy, and that nothing changed.
fn refused(config: &genesis_journal::JournalConfig, file: &str) -> String {
    let before = snapshot(&config.dir);
    let err = Writer::open(config)
        .err()
        .expect("the damage must be refused");
    assert!(
        matches!(err, JournalError::Damaged { .. }),
        "not a damage error: {err}"
    );
    let message = err.to_string();
    assert!(message.contains(file), "does not name {file}: {message}");
    assert!(message.contains("Remedy:"), "{message}");
    assert!(message.contains("genesis journal"), "{message}");
    assert_eq!(snapshot(&config.dir), before, "a refusal changes nothing");
    message
}

fn name(seq_first: u64) -> String {
    format!("{seq_first:020}.gjseg")
}

// A clean journal with four closed segments opens, and every one is read against its seal.
#[test]
fn clean_closed_segments_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    let (writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.seq_next, RECORDS + 1);
    assert_eq!(report.closed.segments_checked, 4);
    assert_eq!(report.closed.segments_read, 4);
    assert_eq!(report.closed.sealed_now, 0);
    assert_eq!(report.closed.seal_log_rebuilt, None);
    drop(writer);
}

// Each kind of damage the audit made to a closed segment is refused at open.
#[test]
fn each_kind_of_closed_segment_damage_is_refused() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage, u64, &str); 6] = [
        (
            "bad header",
            |d| flip(&segment(d, 5), 20, 0x04),
            5,
            "header",
        ),
        (
            "bad record CRC",
            |d| flip(&segment(d, 5), slot_offset(2) + 20, 0x01),
            5,
            "seal",
        ),
        (
            "swapped records",
            |d| swap_frames(&segment(d, 9), 1, 2),
            9,
            "seal",
        ),
        (
            "zeroed record",
            |d| zero_frame(&segment(d, 9), 3),
            9,
            "seal",
        ),
        (
            "truncated segment",
            |d| shorten(&segment(d, 9), 10),
            9,
            "bytes",
        ),
        (
            "extended segment",
            |d| shorten(&segment(d, 5), -1),
            5,
            "bytes",
        ),
    ];
    for (what, damage, seq_first, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = sealed_journal(dir.path(), SLOTS, RECORDS);
        damage(dir.path());
        let message = refused(&config, &name(seq_first));
        assert!(message.contains(says), "{what}: {message}");
    }
}

// A deleted first, middle or newest segment is seen from the chain of first sequences.
#[test]
fn missing_segments_are_refused() {
    let cases: [(u64, &str, &str); 3] = [
        (
            1,
            "sequences 1..=4 are missing",
            "restore the missing segment",
        ),
        (9, "sequences 9..=12 are missing", "--first-damage"),
        (17, "is sealed", "--first-damage"),
    ];
    for (deleted, says, remedy) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = sealed_journal(dir.path(), SLOTS, RECORDS);
        std::fs::remove_file(segment(dir.path(), deleted)).unwrap();
        let named = if deleted == 1 { name(5) } else { name(deleted) };
        let message = refused(&config, &named);
        assert!(message.contains(says), "segment {deleted}: {message}");
        assert!(message.contains(remedy), "segment {deleted}: {message}");
    }
}

// A changed byte after the last whole slot (covered by the seal, read by no reader) is refused.
#[test]
fn changed_byte_after_the_last_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(
        dir.path(),
        SLOTS,
        genesis_journal::WriteMode::Pwrite,
        genesis_journal::Durability::None,
    );
    config.segment_size_bytes += 7;
    write_journal(&config, RECORDS);
    let path = segment(dir.path(), 5);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    flip(&path, len - 3, 0x80);
    let message = refused(&config, &name(5));
    assert!(message.contains("changed after it was closed"), "{message}");
}

// With `ClosedCheck::Seals` the bodies of sealed segments are not read at open:
// a flipped record bit passes the open, and is caught by verify and by readers.
#[test]
fn seals_mode_leaves_record_bits_to_readers_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sealed_journal(dir.path(), SLOTS, RECORDS);
    flip(&segment(dir.path(), 5), slot_offset(1) + 30, 0x02);
    config.closed_check = ClosedCheck::Seals;
    let (writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.closed.segments_checked, 4);
    assert_eq!(report.closed.segments_read, 0);
    drop(writer);
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(
        verified
            .damages
            .iter()
            .any(|d| d.path == segment(dir.path(), 5)),
        "{:?}",
        verified.damages
    );
    let err = RangeReader::open(dir.path(), 1, u64::MAX)
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert!(err.to_string().contains(&name(5)), "{err}");
    config.closed_check = ClosedCheck::Full;
    refused(&config, &name(5));
}

// Without a seal log (deleted, or a journal written before seals), every
// closed segment is checked record by record and sealed; damage is still refused.
#[test]
fn missing_seal_log_is_rebuilt_after_a_full_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    let seals = dir.path().join("SEALS");
    std::fs::remove_file(&seals).unwrap();
    let (writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.closed.sealed_now, 4);
    assert!(report.closed.seal_log_rebuilt.is_some());
    drop(writer);
    let (writer, report) = Writer::open(&config).unwrap();
    assert_eq!(
        (report.closed.sealed_now, report.closed.seal_log_rebuilt),
        (0, None)
    );
    drop(writer);
    std::fs::remove_file(&seals).unwrap();
    zero_frame(&segment(dir.path(), 9), 2);
    let message = refused(&config, &name(9));
    assert!(message.contains("sequence 11"), "{message}");
}

// A seal log with a damaged entry mid-log is rebuilt; a torn last entry is dropped.
#[test]
fn damaged_or_torn_seal_log_is_rebuilt() {
    for (what, damage) in [("damaged", 64 + 5), ("torn", usize::MAX)] {
        let dir = tempfile::tempdir().unwrap();
        let config = sealed_journal(dir.path(), SLOTS, RECORDS);
        let seals = dir.path().join("SEALS");
        if damage == usize::MAX {
            let len = std::fs::metadata(&seals).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&seals)
                .unwrap()
                .set_len(len - 9)
                .unwrap();
        } else {
            flip(&seals, damage, 0x10);
        }
        let (writer, report) = Writer::open(&config).unwrap();
        let reason = report.closed.seal_log_rebuilt.expect("rebuilt");
        assert!(reason.contains(what), "{what}: {reason}");
        drop(writer);
        assert!(genesis_journal::verify(dir.path()).unwrap().is_clean());
    }
}

// A version-2 journal (no seals, no journal origin in its headers) opens,
// is sealed, and goes on with version-3 segments.
#[test]
fn version_2_journal_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    std::fs::remove_file(dir.path().join("SEALS")).unwrap();
    for seq_first in [1, 5, 9, 13, 17] {
        rewrite_as_version_2(&segment(dir.path(), seq_first));
    }
    let (mut writer, report) = Writer::open(&config).unwrap();
    assert_eq!(report.seq_next, RECORDS + 1);
    assert_eq!(report.closed.sealed_now, 4);
    for _ in 0..8 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.close().unwrap();
    let header = |seq_first| {
        let bytes = std::fs::read(segment(dir.path(), seq_first)).unwrap();
        genesis_journal::SegmentHeader::decode(&bytes, Path::new("x")).unwrap()
    };
    assert_eq!(
        header(17).format_version,
        2,
        "the old newest segment is kept as is"
    );
    assert_eq!(
        (header(21).format_version, header(21).seq_origin),
        (FORMAT_VERSION, 1)
    );
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(verified.is_clean(), "{:?}", verified.damages);
    assert_eq!(verified.records, RECORDS + 8);
    assert_eq!(read_all(dir.path(), 1).len() as u64, RECORDS + 8);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Any single corruption of a closed segment (a flipped bit anywhere,
    // a truncation, a deletion, two frames swapped, a zeroed frame, bytes
    // appended) is refused at open, naming the segment (or the missing one).
    #[test]
    fn any_single_corruption_of_a_closed_segment_is_refused(
        index in 0u64..4,
        kind in 0u8..6,
        position in any::<u64>(),
        other in any::<u64>(),
        bit in 0u8..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = sealed_journal(dir.path(), SLOTS, RECORDS);
        let seq_first = 1 + index * SLOTS;
        let path = segment(dir.path(), seq_first);
        let len = std::fs::metadata(&path).unwrap().len();
        let named = match kind {
            0 => { flip(&path, (position % len) as usize, 1 << bit); name(seq_first) }
            1 => { shorten(&path, (1 + position % (len - 1)) as i64); name(seq_first) }
            2 => {
                std::fs::remove_file(&path).unwrap();
                // A missing first segment is reported on the first one present.
                name(if index == 0 { 5 } else { seq_first })
            }
            3 => {
                let a = position % SLOTS;
                let b = (a + 1 + other % (SLOTS - 1)) % SLOTS;
                swap_frames(&path, a, b);
                name(seq_first)
            }
            4 => { zero_frame(&path, position % SLOTS); name(seq_first) }
            _ => { shorten(&path, -(1 + (position % 100) as i64)); name(seq_first) }
        };
        refused(&config, &named);
    }
}

/// Swaps the frames in slots `a` and `b` of a segment.
fn swap_frames(path: &Path, a: u64, b: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let (a, b) = (slot_offset(a.min(b)), slot_offset(a.max(b)));
    let frame_a = bytes[a..a + FRAME].to_vec();
    bytes.copy_within(b..b + FRAME, a);
    bytes[b..b + FRAME].copy_from_slice(&frame_a);
    std::fs::write(path, &bytes).unwrap();
}

/// Writes zeros over the frame in slot `slot` (a hole, as a lost page leaves).
fn zero_frame(path: &Path, slot: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = slot_offset(slot);
    bytes[at..at + FRAME].fill(0);
    std::fs::write(path, &bytes).unwrap();
}

/// Cuts `by` bytes off the end of a file (a negative `by` appends zeros).
fn shorten(path: &Path, by: i64) {
    let len = std::fs::metadata(path).unwrap().len() as i64;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len((len - by) as u64).unwrap();
}

/// Rewrites a segment's header as version 2 wrote it: no journal origin.
fn rewrite_as_version_2(path: &PathBuf) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    bytes[32..40].fill(0);
    let crc = crc32c(&bytes[..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, &bytes).unwrap();
}

/// CRC32C, bit by bit (the test does not depend on the crate's implementation).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
