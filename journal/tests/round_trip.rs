//! Writer and reader together: round trips, torn tails, and mid-log damage.

use genesis_journal::{FileReader, FileWriter, JournalError, ReadOutcome, HEADER_BYTES};
use proptest::prelude::*;
use std::path::Path;

const RECORD: usize = 24;

fn write_records(path: &Path, records: &[[u8; RECORD]]) {
    let mut writer = FileWriter::create(path, RECORD, 1, 4096).unwrap();
    for record in records {
        writer.append(record).unwrap();
    }
    writer.sync().unwrap();
}

/// Records read back (sequence, payload) and the torn-tail offset if any.
type ReadBack = (Vec<(u64, Vec<u8>)>, Option<u64>);

/// Reads every record; returns them and the torn-tail offset if any.
fn read_all(path: &Path) -> Result<ReadBack, JournalError> {
    let mut reader = FileReader::open(path)?;
    let mut out = Vec::new();
    loop {
        match reader.next_record()? {
            ReadOutcome::Record(r) => out.push((r.seq, r.payload.to_vec())),
            ReadOutcome::End => return Ok((out, None)),
            ReadOutcome::TornTail { offset, .. } => return Ok((out, Some(offset))),
        }
    }
}

proptest! {
    // Whatever records go in come back out, in order, with consecutive sequences.
    #[test]
    fn records_round_trip(records in proptest::collection::vec(any::<[u8; RECORD]>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        write_records(&path, &records);
        let (read, torn) = read_all(&path).unwrap();
        prop_assert_eq!(torn, None);
        prop_assert_eq!(read.len(), records.len());
        for (i, (seq, payload)) in read.iter().enumerate() {
            prop_assert_eq!(*seq, i as u64 + 1);
            prop_assert_eq!(&payload[..], &records[i][..]);
        }
    }
}

// Cutting the file anywhere inside the last frame is a torn tail: every earlier record survives.
#[test]
fn truncation_inside_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.log");
    let records: Vec<[u8; RECORD]> = (0..5u8).map(|i| [i; RECORD]).collect();
    write_records(&path, &records);
    let full = std::fs::read(&path).unwrap();
    let frame = 16 + RECORD;
    let last_start = HEADER_BYTES + 4 * frame;
    for cut in last_start + 1..full.len() {
        std::fs::write(&path, &full[..cut]).unwrap();
        let (read, torn) = read_all(&path).unwrap();
        assert_eq!(read.len(), 4, "cut at {cut}");
        assert_eq!(torn, Some(last_start as u64), "cut at {cut}");
    }
}

// A flipped bit in any record but the last is mid-log corruption, reported with its offset.
#[test]
fn flipped_bit_mid_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.log");
    let records: Vec<[u8; RECORD]> = (0..4u8).map(|i| [i; RECORD]).collect();
    write_records(&path, &records);
    let clean = std::fs::read(&path).unwrap();
    let frame = 16 + RECORD;
    for byte in HEADER_BYTES..HEADER_BYTES + 3 * frame {
        for bit in 0..8 {
            let mut damaged = clean.clone();
            damaged[byte] ^= 1 << bit;
            std::fs::write(&path, &damaged).unwrap();
            let err = read_all(&path).expect_err("damage must be detected");
            let frame_start = HEADER_BYTES + (byte - HEADER_BYTES) / frame * frame;
            assert!(
                err.to_string()
                    .contains(&format!("byte offset {frame_start}")),
                "byte {byte} bit {bit}: {err}"
            );
        }
    }
}

// A file that is not a journal is refused with a message naming it.
#[test]
fn foreign_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-journal");
    std::fs::write(&path, b"hello, this is not a journal at all......").unwrap();
    let err = FileReader::open(&path).err().unwrap().to_string();
    assert!(err.contains("not a Genesis journal"), "{err}");
}
