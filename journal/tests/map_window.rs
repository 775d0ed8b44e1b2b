//! The memory-mapped write path's window: the same bytes as `pwrite`, no
//! page fault on the writer's thread for populated pages, and a bounded
//! number of the segment's pages resident.

mod common;

use common::*;
use genesis_journal::{Durability, JournalConfig, WriteMode, Writer};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);
const PAGE: u64 = 4096;

/// The segment files and the seal log of a closed journal, by name.
fn journal_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot(dir)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".gjseg") || name == "SEALS")
        .collect()
}

// The same records give byte-identical segments and seals through pwrite,
// the map with its window, and the map with no window, under group commit
// (whose syncs make the window populate again) across rollovers.
#[test]
fn mapped_journal_is_byte_identical_to_pwrite() {
    let durability = Durability::Group {
        records: 512,
        interval_us: 200,
    };
    let written = |mode: WriteMode, ahead: usize| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), 8_000, mode, durability);
        config.write_buffer_bytes = 256 << 10;
        config.map_ahead_bytes = ahead;
        write_journal(&config, 20_000);
        let files = journal_files(dir.path());
        assert_eq!(files.len(), 4, "{mode:?}: three segments and the seals");
        files
    };
    let pwrite = written(WriteMode::Pwrite, 0);
    assert_eq!(
        written(WriteMode::Mmap, 64 << 10),
        pwrite,
        "map with window"
    );
    assert_eq!(written(WriteMode::Mmap, 0), pwrite, "map, no window");
}

/// Page faults taken so far by the calling thread, minor and major (a
/// fault that had to read its page in, even a zero-filled one, counts as
/// major).
fn thread_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the command name (which may hold spaces) start at state;
    // minflt and majflt are the eighth and tenth after the name.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[7].parse::<u64>().unwrap() + fields[9].parse::<u64>().unwrap()
}

/// Resident bytes of the mapping of `path` in this process (/proc/self/smaps).
fn mapped_resident_bytes(path: &Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut lines = smaps.lines();
    while let Some(line) = lines.next() {
        if line.ends_with(name) {
            let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
            let kib: u64 = rss.split_whitespace().nth(1).unwrap().parse().unwrap();
            return kib * 1024;
        }
    }
    panic!("{name} is not mapped");
}

/// A 16 MiB-segment mapped journal with `ahead` bytes of window.
fn mapped_config(dir: &Path, ahead: usize) -> JournalConfig {
    let mut config = config(dir, 400_000, WriteMode::Mmap, Durability::None);
    config.map_ahead_bytes = ahead;
    config
}

const AHEAD: u64 = 256 << 10;
/// The writer wakes the window thread every quarter window.
const STEP: u64 = AHEAD / 4;
/// 8 MiB of frames: 2,048 pages.
const WRITTEN: u64 = 8 << 20;

/// Appends `WRITTEN` bytes of records one quarter window at a time; with a
/// window, waits before each quarter until the window thread has acted on
/// the position of its last wake, so that the writer never outruns it.
/// Returns the writer thread's page faults while appending.
fn append_in_steps(writer: &mut Writer) -> u64 {
    let records_per_step = STEP / FRAME as u64;
    let stats = writer.map_window_stats();
    let mut faults = 0;
    while (slot_offset(writer.seq_next() - 1) as u64) < WRITTEN {
        if let Some(stats) = &stats {
            let behind = (slot_offset(writer.seq_next() - 1) as u64).saturating_sub(STEP + PAGE);
            wait_for("the window to catch up", DEADLINE, || {
                stats.position_done.load(Ordering::Acquire) >= behind
            });
        }
        let before = thread_faults();
        for _ in 0..records_per_step {
            let seq = writer.seq_next();
            writer.append(&payload(seq)).unwrap();
        }
        faults += thread_faults() - before;
    }
    faults
}

// With the window, the writer's stores into populated pages take (almost)
// no page fault, where the map without it faults on most pages; and only
// the window, not the 8 MiB written, stays resident in the map.
#[test]
fn window_spares_the_writer_faults_and_bounds_resident_pages() {
    let pages = WRITTEN / PAGE;
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = Writer::open(&mapped_config(dir.path(), AHEAD as usize)).unwrap();
    let faults = append_in_steps(&mut writer);
    let stats = writer.map_window_stats().unwrap();
    if stats.populate_refused.load(Ordering::Relaxed) {
        eprintln!("MADV_POPULATE_WRITE refused by this kernel: fault count not checked");
    } else {
        // Margin: background writeback may clean some populated pages.
        assert!(
            faults < pages / 4,
            "{faults} faults on the writer's thread for {pages} pages written"
        );
    }
    let end = slot_offset(writer.seq_next() - 1) as u64;
    wait_for("the window to reach the end", DEADLINE, || {
        stats.position_done.load(Ordering::Acquire) + STEP + PAGE >= end
    });
    let resident = mapped_resident_bytes(writer.segment_path());
    assert!(
        resident <= AHEAD + STEP + 2 * PAGE,
        "{resident} bytes of the map resident after {WRITTEN} written (window {AHEAD})"
    );
    writer.close().unwrap();

    // The control: no window, the writer faults on most pages it writes.
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = Writer::open(&mapped_config(dir.path(), 0)).unwrap();
    assert!(writer.map_window_stats().is_none());
    let faults = append_in_steps(&mut writer);
    assert!(
        faults >= pages / 2,
        "only {faults} faults for {pages} pages without a window: the count does not see them"
    );
    writer.close().unwrap();
}
