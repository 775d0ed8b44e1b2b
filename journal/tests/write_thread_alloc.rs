//! The write thread's hand-overs allocate nothing after warm-up, waits
//! for a free buffer included (the writer's thread counted alone).

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;

use common::*;
use genesis_journal::{Durability, WriteMode, Writer};

// One buffer of four frames: every hand-over may wait for the buffer to
// come back, the path that parks the writer; none of them allocates.
#[test]
fn hand_overs_and_waits_do_not_allocate_after_warm_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), 100_000, WriteMode::Pwrite, Durability::None);
    config.write_thread_buffers = 1;
    let (mut writer, _) = Writer::open(&config).unwrap();
    let append = |writer: &mut Writer| {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
        if seq.is_multiple_of(3) {
            writer.flush().unwrap();
        }
    };
    for _ in 0..400 {
        append(&mut writer);
    }
    let allocations = counting_alloc::allocations_in(|| {
        for _ in 0..4000 {
            append(&mut writer);
        }
    });
    let stats = writer.write_thread_stats().unwrap();
    writer.close().unwrap();
    assert_eq!(allocations, 0, "{stats:?}");
    assert_eq!(read_all(dir.path(), 1).len(), 4400);
}
