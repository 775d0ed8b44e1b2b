//! The fixed-size append (`Writer::append_record`) against `append`.

mod common;

use common::*;
use genesis_journal::{Durability, WriteMode, Writer};

// The fixed-size append writes the very bytes `append` writes: every file
// of the folder the same, across rollovers, in either write mode, with and
// without a write thread, over a segment reused after a reopen.
#[test]
fn append_record_writes_the_same_journal_as_append() {
    for (mode, write_thread) in [
        (WriteMode::Pwrite, false),
        (WriteMode::Pwrite, true),
        (WriteMode::Mmap, false),
    ] {
        let journals = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        for (fixed, dir) in journals.iter().enumerate() {
            let mut config = config(dir.path(), 5, mode, Durability::None);
            config.write_thread_buffers = if write_thread { 2 } else { 0 };
            for _run in 0..2 {
                let (mut writer, _) = Writer::open(&config).unwrap();
                for _ in 0..13 {
                    let seq = writer.seq_next();
                    let got = if fixed == 1 {
                        writer.append_record(|slot: &mut [u8; RECORD]| *slot = payload(seq))
                    } else {
                        writer.append(&payload(seq))
                    };
                    let got = got.unwrap_or_else(|err| {
                        panic!("append {seq} ({mode:?}, write thread {write_thread}): {err}")
                    });
                    assert_eq!(got, seq);
                }
                writer.close().unwrap();
            }
        }
        let (general, fixed) = (snapshot(journals[0].path()), snapshot(journals[1].path()));
        assert_eq!(read_all(journals[1].path(), 1).len(), 26, "{mode:?}");
        assert!(general.keys().any(|name| name.ends_with(".gjseg")));
        assert_eq!(
            general.keys().collect::<Vec<_>>(),
            fixed.keys().collect::<Vec<_>>()
        );
        for (name, bytes) in &general {
            assert!(
                fixed[name] == *bytes,
                "{name} differs ({mode:?}, write thread {write_thread})"
            );
        }
    }
}

// A fixed-size append of another size than the journal's is refused like
// `append`'s, and nothing is written.
#[test]
fn append_record_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Pwrite, Durability::None);
    let (mut writer, _) = Writer::open(&config).unwrap();
    let err = writer
        .append_record(|slot: &mut [u8; 5]| *slot = [1; 5])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("payload is 5 bytes") && err.contains("24-byte"),
        "{err}"
    );
    assert_eq!(writer.seq_next(), 1);
}
