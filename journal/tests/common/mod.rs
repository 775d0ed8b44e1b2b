//! Helpers shared by the journal's integration tests.
#![allow(dead_code)]

use genesis_journal::{Durability, JournalConfig, RangeReader, WriteMode, Writer};
use std::path::Path;
use std::time::{Duration, Instant};

/// Payload size used by most tests.
pub const RECORD: usize = 24;
/// Frame size for `RECORD`.
pub const FRAME: usize = 16 + RECORD;
/// Segment header size.
pub const HEADER: usize = 64;

/// A config with `slots` records per segment.
pub fn config(dir: &Path, slots: u64, mode: WriteMode, durability: Durability) -> JournalConfig {
    let mut config = JournalConfig::new(dir, RECORD);
    config.segment_size_bytes = HEADER as u64 + slots * FRAME as u64;
    config.write_mode = mode;
    config.durability = durability;
    config.write_buffer_bytes = 4 * FRAME;
    config
}

/// The payload of record `seq`: recognisable, different for every sequence.
pub fn payload(seq: u64) -> [u8; RECORD] {
    let mut out = [0u8; RECORD];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (seq.wrapping_mul(31).wrapping_add(i as u64) % 251) as u8 + 1;
    }
    out
}

/// Writes records `seq_first..seq_first + count` into a fresh journal and closes it.
pub fn write_journal(config: &JournalConfig, count: u64) {
    let (mut writer, _) = Writer::open(config).unwrap();
    for _ in 0..count {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.close().unwrap();
}

/// Every record from `seq_from` to the end, as (seq, payload).
pub fn read_all(dir: &Path, seq_from: u64) -> Vec<(u64, Vec<u8>)> {
    RangeReader::open(dir, seq_from, u64::MAX)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.seq, r.payload)
        })
        .collect()
}

/// Waits until `done()` holds, failing with `what` after `deadline`.
pub fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::yield_now();
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The single segment file path of a journal whose first sequence is 1.
pub fn first_segment(dir: &Path) -> std::path::PathBuf {
    dir.join("00000000000000000001.gjseg")
}

/// Path of the segment starting at `seq_first`.
pub fn segment(dir: &Path, seq_first: u64) -> std::path::PathBuf {
    dir.join(format!("{seq_first:020}.gjseg"))
}

/// Byte offset of slot `slot` in a segment.
pub fn slot_offset(slot: u64) -> usize {
    HEADER + slot as usize * FRAME
}

/// A closed journal of `records` records in segments of `slots` slots,
/// every closed segment sealed (close waits for the sealing helper).
pub fn sealed_journal(dir: &Path, slots: u64, records: u64) -> genesis_journal::JournalConfig {
    let config = config(dir, slots, WriteMode::Pwrite, Durability::None);
    write_journal(&config, records);
    config
}

/// XORs `mask` into the byte at `offset` of `path`.
pub fn flip(path: &Path, offset: usize, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= mask;
    std::fs::write(path, &bytes).unwrap();
}

/// Every regular file of a folder (name, bytes), to prove a refusal changed nothing.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Sets a file's modification time `age` before `now`.
pub fn set_age(path: &Path, now: std::time::SystemTime, age: Duration) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(now - age).unwrap();
}
