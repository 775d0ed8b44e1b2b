//! Faults injected into a closed journal: torn tails at every byte, flipped
//! bits everywhere, mid-log damage, and what recovery and verify say.

mod common;

use common::*;
use genesis_journal::{Durability, JournalError, RangeReader, WriteMode, Writer};
use std::path::Path;

const SLOTS: u64 = 8;
const RECORDS: u64 = 5;

/// A closed journal of `RECORDS` records in one segment of `SLOTS` slots; returns its bytes.
fn clean_journal(dir: &Path) -> Vec<u8> {
    let config = config(dir, SLOTS, WriteMode::Mmap, Durability::None);
    write_journal(&config, RECORDS);
    std::fs::read(first_segment(dir)).unwrap()
}

fn slot_offset(slot: u64) -> usize {
    HEADER + slot as usize * FRAME
}

// A last record cut off after any number of its bytes (the rest still zero, as
// a crash mid-write leaves it) is a torn tail: recovery clears it, reports it,
// keeps every record before it, and appending resumes with its sequence.
#[test]
fn torn_last_record_at_every_byte_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let clean = clean_journal(dir.path());
    let last = slot_offset(RECORDS - 1);
    for kept in 0..FRAME {
        // Bytes written in order, and (as the mapped writer does) the length word last.
        for length_last in [false, true] {
            let mut torn = clean.clone();
            torn[last + kept..last + FRAME].fill(0);
            if length_last {
                torn[last..last + 4].fill(0);
            }
            let is_empty = torn[last..last + FRAME].iter().all(|&b| b == 0);
            std::fs::write(first_segment(dir.path()), &torn).unwrap();
            let verified = genesis_journal::verify(dir.path()).unwrap();
            assert!(verified.is_clean(), "kept {kept}: {:?}", verified.damages);
            assert_eq!(verified.records, RECORDS - 1, "kept {kept}");
            assert_eq!(verified.torn_tail.is_some(), !is_empty, "kept {kept}");
            let config = config(dir.path(), SLOTS, WriteMode::Mmap, Durability::None);
            let (mut writer, report) = Writer::open(&config).unwrap();
            assert_eq!(report.seq_next, RECORDS, "kept {kept}");
            match &report.truncation {
                None => assert!(is_empty, "kept {kept}: torn tail not reported"),
                Some(truncation) => {
                    assert_eq!(truncation.offset, last as u64, "kept {kept}");
                    assert_eq!(truncation.seq_lost, RECORDS);
                    let printed = truncation.to_string();
                    assert!(printed.contains("torn tail at byte offset"), "{printed}");
                }
            }
            writer.append(&payload(RECORDS)).unwrap();
            writer.close().unwrap();
            let read = read_all(dir.path(), 1);
            assert_eq!(read.len() as u64, RECORDS, "kept {kept}");
            assert!(
                read.iter().all(|(seq, p)| *p == payload(*seq)),
                "kept {kept}"
            );
        }
    }
}

// A flipped bit anywhere in the segment is detected: verify reports damage or a
// torn tail, recovery refuses or truncates, and no reader returns the damaged record.
#[test]
fn flipped_bit_anywhere_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let clean = clean_journal(dir.path());
    let config = config(dir.path(), SLOTS, WriteMode::Pwrite, Durability::None);
    let path = first_segment(dir.path());
    for byte in 0..clean.len() {
        for bit in 0..8 {
            let mut damaged = clean.clone();
            damaged[byte] ^= 1 << bit;
            std::fs::write(&path, &damaged).unwrap();
            let verified = genesis_journal::verify(dir.path()).unwrap();
            let detected = !verified.is_clean() || verified.torn_tail.is_some();
            assert!(detected, "byte {byte} bit {bit}: verify saw nothing");
            // Damage in the last record, or garbage in the slot after it, is
            // indistinguishable from a crash mid-write: a torn tail.
            let in_last_record =
                (slot_offset(RECORDS - 1)..slot_offset(RECORDS + 1)).contains(&byte);
            match Writer::open(&config) {
                Ok((writer, report)) => {
                    assert!(
                        in_last_record,
                        "byte {byte} bit {bit}: recovery accepted damage"
                    );
                    assert!(report.truncation.is_some(), "byte {byte} bit {bit}");
                    drop(writer);
                }
                Err(err) => assert!(!in_last_record, "byte {byte} bit {bit}: {err}"),
            }
            if byte >= HEADER {
                let read: Vec<_> = RangeReader::open(dir.path(), 1, u64::MAX)
                    .unwrap()
                    .filter_map(Result::ok)
                    .collect();
                assert!(
                    read.iter().all(|r| r.payload == payload(r.seq)),
                    "byte {byte} bit {bit}: a damaged record was returned"
                );
            }
        }
    }
}

// Damage with valid records after it is mid-log corruption: recovery refuses,
// naming the file and the byte offset, and changes nothing.
#[test]
fn mid_log_damage_is_refused_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = clean_journal(dir.path());
    let offset = slot_offset(2);
    bytes[offset + 20] ^= 0xff;
    let path = first_segment(dir.path());
    std::fs::write(&path, &bytes).unwrap();
    let config = config(dir.path(), SLOTS, WriteMode::Mmap, Durability::None);
    let err = Writer::open(&config).err().unwrap();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("byte offset {offset}")),
        "{message}"
    );
    assert!(message.contains("00000000000000000001.gjseg"), "{message}");
    assert!(message.contains("mid-log"), "{message}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "refusal changes nothing"
    );
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert_eq!(verified.damages.len(), 1, "{:?}", verified.damages);
    assert_eq!(verified.damages[0].offset, Some(offset as u64));
    assert_eq!(verified.records, RECORDS - 1);
    let err = RangeReader::open(dir.path(), 1, u64::MAX)
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert!(
        err.to_string().contains(&format!("byte offset {offset}")),
        "{err}"
    );
}

// A record that is intact but carries the wrong sequence (a stale or copied
// frame) is corruption, never accepted in that slot.
#[test]
fn sequence_not_increasing_by_one_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = clean_journal(dir.path());
    // Copy record 2's frame over record 3's slot: intact CRC, wrong sequence.
    let (from, to) = (slot_offset(1), slot_offset(2));
    let frame = bytes[from..from + FRAME].to_vec();
    bytes[to..to + FRAME].copy_from_slice(&frame);
    std::fs::write(first_segment(dir.path()), &bytes).unwrap();
    let config = config(dir.path(), SLOTS, WriteMode::Mmap, Durability::None);
    let err = Writer::open(&config).err().unwrap().to_string();
    assert!(err.contains("carries sequence 2"), "{err}");
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(
        verified.damages[0].reason.contains("carries sequence 2"),
        "{:?}",
        verified.damages
    );
}

// A hole in a closed (non-newest) segment is damage even though the newest is fine.
#[test]
fn damage_in_a_closed_segment_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    write_journal(&config, 10);
    let path = first_segment(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[slot_offset(3)..slot_offset(4)].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert_eq!(verified.damages.len(), 1, "{:?}", verified.damages);
    assert!(
        verified.damages[0].reason.contains("records 4..=4 missing"),
        "{:?}",
        verified.damages
    );
    assert_eq!(verified.records, 9);
}
