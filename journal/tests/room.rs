//! The writer's append countdown (`room`: the segment's free slots and the
//! `pwrite` buffer's free frames in one count) against plain appends: any
//! mix of appends, flushes, batch ends, drains, syncs and reopens (recovery)
//! writes the very files the same records appended one by one write.

mod common;

use common::*;
use genesis_journal::{Durability, WriteMode, Writer};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Step {
    Append,
    AppendRecord,
    Flush,
    EndOfBatch,
    Drain,
    Sync,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => Just(Step::Append),
        6 => Just(Step::AppendRecord),
        1 => Just(Step::Flush),
        1 => Just(Step::EndOfBatch),
        1 => Just(Step::Drain),
        1 => Just(Step::Sync),
        1 => Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Segments of 1 to 6 slots, buffers of 1 to 5 frames, either write
    // mode, with and without a write thread, batch durability or none:
    // every record reads back in order, and every file (segments and the
    // seal log) equals the one-by-one reference's.
    #[test]
    fn any_mix_of_steps_writes_the_plain_journal(
        slots in 1u64..7,
        buffer_frames in 1usize..6,
        mmap in any::<bool>(),
        write_thread in any::<bool>(),
        batch in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        let mode = if mmap { WriteMode::Mmap } else { WriteMode::Pwrite };
        let durability = if batch { Durability::Batch } else { Durability::None };
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), slots, mode, durability);
        config.write_buffer_bytes = buffer_frames * FRAME;
        config.write_thread_buffers = if write_thread && !mmap { 2 } else { 0 };
        let (mut writer, _) = Writer::open(&config).unwrap();
        let mut appended = 0u64;
        for step in &steps {
            match step {
                Step::Append | Step::AppendRecord => {
                    let seq = writer.seq_next();
                    let got = if matches!(step, Step::Append) {
                        writer.append(&payload(seq))
                    } else {
                        writer.append_record(|slot: &mut [u8; RECORD]| *slot = payload(seq))
                    };
                    prop_assert_eq!(got.unwrap(), seq);
                    appended += 1;
                }
                Step::Flush => writer.flush().unwrap(),
                Step::EndOfBatch => writer.end_of_batch().unwrap(),
                Step::Drain => writer.drain().unwrap(),
                Step::Sync => writer.sync().unwrap(),
                Step::Reopen => {
                    writer.close().unwrap();
                    writer = Writer::open(&config).unwrap().0;
                    prop_assert_eq!(writer.seq_next(), appended + 1);
                }
            }
        }
        writer.close().unwrap();
        let records = read_all(dir.path(), 1);
        prop_assert_eq!(records.len() as u64, appended);
        for (i, (seq, bytes)) in records.iter().enumerate() {
            prop_assert_eq!(*seq, i as u64 + 1);
            let expected = payload(*seq);
            prop_assert_eq!(bytes.as_slice(), expected.as_slice());
        }
        let reference = tempfile::tempdir().unwrap();
        let plain = common::config(reference.path(), slots, WriteMode::Pwrite, Durability::None);
        write_journal(&plain, appended);
        let (got, expected) = (snapshot(dir.path()), snapshot(reference.path()));
        prop_assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        for (name, bytes) in &expected {
            prop_assert!(got[name] == *bytes, "{} differs", name);
        }
    }
}
