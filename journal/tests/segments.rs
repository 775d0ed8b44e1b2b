//! The segmented journal end to end: round trips, rollover, range reads,
//! reopening, configuration and header errors.

mod common;

use common::*;
use genesis_journal::{
    Durability, JournalError, RangeReader, SegmentHeader, WriteMode, Writer, FORMAT_VERSION,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    // Whatever records go in come back out in order, across any number of
    // segments, in either write mode, and a range read returns exactly its slice.
    #[test]
    fn records_round_trip(
        records in proptest::collection::vec(any::<[u8; RECORD]>(), 0..120),
        slots in 1u64..20,
        mmap in any::<bool>(),
        from in 1u64..130,
        span in 0u64..130,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mode = if mmap { WriteMode::Mmap } else { WriteMode::Pwrite };
        let config = config(dir.path(), slots, mode, Durability::None);
        let (mut writer, report) = Writer::open(&config).unwrap();
        prop_assert!(report.created);
        for record in &records {
            writer.append(record).unwrap();
        }
        writer.close().unwrap();
        let read = read_all(dir.path(), 1);
        prop_assert_eq!(read.len(), records.len());
        for (i, (seq, payload)) in read.iter().enumerate() {
            prop_assert_eq!(*seq, i as u64 + 1);
            prop_assert_eq!(&payload[..], &records[i][..]);
        }
        let to = from + span;
        let ranged: Vec<u64> = RangeReader::open(dir.path(), from, to)
            .unwrap()
            .map(|r| r.unwrap().seq)
            .collect();
        let expected: Vec<u64> = (from..=to.min(records.len() as u64)).collect();
        prop_assert_eq!(ranged, expected);
        let report = genesis_journal::verify(dir.path()).unwrap();
        prop_assert!(report.is_clean(), "{:?}", report.damages);
        prop_assert_eq!(report.records, records.len() as u64);
    }
}

// Segments roll over when full, are named by their first sequence, and are all full but the newest.
#[test]
fn rollover_names_segments_by_first_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 10, WriteMode::Mmap, Durability::None);
    write_journal(&config, 25);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".gjseg"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "00000000000000000001.gjseg",
            "00000000000000000011.gjseg",
            "00000000000000000021.gjseg"
        ]
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".prealloc"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "close removes the unused preallocated segment: {leftovers:?}"
    );
    for name in &names {
        let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
        assert_eq!(len, config.segment_size_bytes, "{name} is preallocated");
    }
    let report = genesis_journal::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.damages);
    assert_eq!(
        (
            report.segments,
            report.records,
            report.seq_first,
            report.seq_last
        ),
        (3, 25, Some(1), Some(25))
    );
}

// Reopening resumes after the last record, also exactly at a segment boundary, in both modes.
#[test]
fn reopen_resumes_after_last_record() {
    for mode in [WriteMode::Mmap, WriteMode::Pwrite] {
        for first_run in [7u64, 10, 13] {
            let dir = tempfile::tempdir().unwrap();
            let config = config(dir.path(), 10, mode, Durability::None);
            write_journal(&config, first_run);
            let (mut writer, report) = Writer::open(&config).unwrap();
            assert_eq!(report.seq_next, first_run + 1, "{mode:?} {first_run}");
            assert_eq!(report.truncation, None);
            assert_eq!(
                writer.seq_durable(),
                first_run,
                "what recovery found is durable"
            );
            for _ in 0..15 {
                let seq = writer.seq_next();
                writer.append(&payload(seq)).unwrap();
            }
            writer.close().unwrap();
            let read = read_all(dir.path(), 1);
            assert_eq!(read.len() as u64, first_run + 15);
            for (seq, bytes) in read {
                assert_eq!(bytes, payload(seq), "{mode:?} {first_run} seq {seq}");
            }
        }
    }
}

// A journal's first sequence can be any positive number; zero is refused.
#[test]
fn first_sequence_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    config.seq_first = 1000;
    write_journal(&config, 6);
    let seqs: Vec<u64> = read_all(dir.path(), 1000).iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1000..1006).collect::<Vec<_>>());
    let err = RangeReader::open(dir.path(), 5, 10)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("precedes the first live segment"), "{err}");
    let zero = tempfile::tempdir().unwrap();
    let mut config = config.clone();
    config.dir = zero.path().to_path_buf();
    config.seq_first = 0;
    let err = Writer::open(&config).err().unwrap().to_string();
    assert!(err.contains("at least 1"), "{err}");
}

// A payload of the wrong size is an error naming both sizes, and nothing is written.
#[test]
fn wrong_payload_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    let (mut writer, _) = Writer::open(&config).unwrap();
    let err = writer.append(&[0u8; 5]).unwrap_err().to_string();
    assert!(
        err.contains("payload is 5 bytes") && err.contains("24-byte"),
        "{err}"
    );
    assert_eq!(writer.seq_next(), 1);
}

// Only one writer at a time: a second open of the same folder is refused,
// naming the folder and the holder (process id and name).
#[test]
fn second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    let (writer, _) = Writer::open(&config).unwrap();
    let err = Writer::open(&config).err().unwrap();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(
        text.contains(&format!("held by pid {} (", std::process::id())),
        "{text}"
    );
    drop(writer);
    Writer::open(&config).unwrap();
}

// A segment written by a newer format is refused with its version and file named.
#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    write_journal(&config, 2);
    let path = first_segment(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let header = SegmentHeader::decode(&bytes, &path).unwrap();
    assert_eq!(header.format_version, FORMAT_VERSION);
    // Patch the version by hand: `encode` always writes this build's version.
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = Writer::open(&config).err().unwrap().to_string();
    assert!(
        err.contains(&format!("format version {} is unknown", FORMAT_VERSION + 1)),
        "{err}"
    );
    assert!(err.contains("00000000000000000001.gjseg"), "{err}");
    let report = genesis_journal::verify(dir.path()).unwrap();
    assert!(!report.is_clean());
    assert!(
        report.damages[0]
            .reason
            .contains(&format!("format version {}", FORMAT_VERSION + 1)),
        "{:?}",
        report.damages
    );
}

// A journal written with other record or segment sizes is refused, naming both.
#[test]
fn mismatched_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    write_journal(&config, 2);
    let mut other = config.clone();
    other.segment_size_bytes += FRAME as u64;
    let err = Writer::open(&other).err().unwrap().to_string();
    assert!(err.contains("segments"), "{err}");
}
