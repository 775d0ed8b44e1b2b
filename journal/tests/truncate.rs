//! Cutting a journal: at the first damage (a flipped bit in the zeroed
//! tail, a damaged record in a closed segment, a missing segment) or at a
//! sequence; the journal then opens and appends resume at the cut.

mod common;

use common::*;
use genesis_journal::{
    archive, plan_truncate, truncate, ArchivePolicy, Durability, JournalError, TruncateAt,
    WriteMode, Writer,
};
use proptest::prelude::*;
use std::path::Path;
use std::time::{Duration, SystemTime};

const SLOTS: u64 = 4;
/// Segments 1, 5, 9 and 13 are closed (and sealed); 17 is the newest, with 2 records.
const RECORDS: u64 = 18;

/// Plans and executes a cut; returns the plan.
fn cut(dir: &Path, at: TruncateAt) -> genesis_journal::TruncatePlan {
    let plan = plan_truncate(dir, at).unwrap();
    let report = truncate(dir, &plan).unwrap();
    assert_eq!(report.plan, plan);
    plan
}

/// Opens the journal, checks appends resume at `seq_next` and every record
/// before it reads back, appends `more`, and checks verify is clean.
fn reopens_at(config: &genesis_journal::JournalConfig, seq_next: u64, more: u64) {
    let (mut writer, report) = Writer::open(config).unwrap();
    assert_eq!(report.seq_next, seq_next);
    for _ in 0..more {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.close().unwrap();
    let first = read_all(&config.dir, 1).first().map_or(1, |r| r.0);
    let read = read_all(&config.dir, first);
    let seqs: Vec<u64> = read.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (first..seq_next + more).collect::<Vec<_>>());
    assert!(read.iter().all(|(seq, p)| *p == payload(*seq)));
    let verified = genesis_journal::verify(&config.dir).unwrap();
    assert!(verified.is_clean(), "{:?}", verified.damages);
}

// A flipped bit in the zeroed tail past the last record makes open refuse
// (mid-log damage); cutting at the first damage zeroes it, keeps every
// record, keeps the original aside, and the journal opens.
#[test]
fn flipped_bit_in_the_zeroed_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    let newest = segment(dir.path(), 17);
    flip(&newest, slot_offset(3) + 9, 0x40);
    let err = Writer::open(&config).err().unwrap().to_string();
    assert!(err.contains("mid-log damage"), "{err}");
    assert!(
        err.contains("genesis journal truncate"),
        "the refusal says the remedy: {err}"
    );
    let plan = plan_truncate(dir.path(), TruncateAt::FirstDamage).unwrap();
    assert_eq!(plan.seq_cut, RECORDS + 1);
    assert_eq!(plan.records_discarded, 0);
    assert_eq!(plan.offset, slot_offset(2) as u64);
    assert!(plan.later_segments.is_empty() && !plan.nothing_to_cut);
    assert!(
        plan.reason.contains("non-zero bytes after the last record"),
        "{}",
        plan.reason
    );
    let original = std::fs::read(&newest).unwrap();
    let report = truncate(dir.path(), &plan).unwrap();
    let aside = report.aside_dir.unwrap();
    assert_eq!(
        std::fs::read(aside.join("00000000000000000017.gjseg")).unwrap(),
        original
    );
    reopens_at(&config, RECORDS + 1, 5);
}

// A damaged record in a closed segment: the cut discards it and everything
// after (counted in the plan), moves the later segments aside, and the
// journal resumes at the damaged sequence.
#[test]
fn damage_in_a_closed_segment_is_cut_there() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    flip(&segment(dir.path(), 5), slot_offset(1) + 30, 0x01);
    let plan = cut(dir.path(), TruncateAt::FirstDamage);
    assert_eq!(plan.seq_cut, 6);
    assert_eq!(plan.records_discarded, RECORDS - 6);
    assert_eq!(plan.seq_discarded, Some((7, RECORDS)));
    assert_eq!(plan.later_segments.len(), 3);
    assert!(plan.to_string().contains("cut at sequence 6"), "{plan}");
    reopens_at(&config, 6, 9);
}

// A missing middle segment: the cut is at the gap, where a fresh segment starts.
#[test]
fn missing_segment_is_cut_at_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    std::fs::remove_file(segment(dir.path(), 9)).unwrap();
    let plan = cut(dir.path(), TruncateAt::FirstDamage);
    assert_eq!(plan.seq_cut, 9);
    assert_eq!(plan.segment_before, None);
    assert_eq!(plan.records_discarded, 6, "13..=18 are discarded");
    reopens_at(&config, 9, 6);
}

// A missing first segment cannot be cut away: the plan is refused with the remedy.
#[test]
fn missing_first_segment_is_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    std::fs::remove_file(segment(dir.path(), 1)).unwrap();
    let err = plan_truncate(dir.path(), TruncateAt::FirstDamage)
        .unwrap_err()
        .to_string();
    assert!(err.contains("restore the missing segment"), "{err}");
}

// A clean journal has nothing to cut at its first damage; truncate changes nothing.
#[test]
fn clean_journal_has_nothing_to_cut() {
    let dir = tempfile::tempdir().unwrap();
    sealed_journal(dir.path(), SLOTS, RECORDS);
    let before = snapshot(dir.path());
    let plan = plan_truncate(dir.path(), TruncateAt::FirstDamage).unwrap();
    assert!(plan.nothing_to_cut, "{plan}");
    assert_eq!(plan.seq_cut, RECORDS + 1);
    assert_eq!(truncate(dir.path(), &plan).unwrap().aside_dir, None);
    assert_eq!(snapshot(dir.path()), before);
    let err = plan_truncate(dir.path(), TruncateAt::Seq(RECORDS + 2)).unwrap_err();
    assert!(err.to_string().contains("past the end"), "{err}");
}

// Truncate never runs beside a writer, and refuses a plan the journal no longer matches.
#[test]
fn truncate_needs_the_lock_and_a_current_plan() {
    let dir = tempfile::tempdir().unwrap();
    let config = sealed_journal(dir.path(), SLOTS, RECORDS);
    let plan = plan_truncate(dir.path(), TruncateAt::Seq(10)).unwrap();
    let (mut writer, _) = Writer::open(&config).unwrap();
    let err = truncate(dir.path(), &plan).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    writer.append(&payload(RECORDS + 1)).unwrap();
    writer.close().unwrap();
    let err = truncate(dir.path(), &plan).unwrap_err().to_string();
    assert!(err.contains("changed since the cut was planned"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    // Cutting at any sequence of any journal, with some closed segments
    // compressed or not, then opening, reads back exactly the records before
    // the cut, and appends resume at it.
    #[test]
    fn truncate_then_open_round_trips(
        records in 1u64..40,
        slots in 1u64..7,
        cut_at in any::<u64>(),
        mmap in any::<bool>(),
        compress in any::<bool>(),
        more in 0u64..10,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mode = if mmap { WriteMode::Mmap } else { WriteMode::Pwrite };
        let config = config(dir.path(), slots, mode, Durability::None);
        write_journal(&config, records);
        if compress {
            let archive_dir = tempfile::tempdir().unwrap();
            let policy = ArchivePolicy {
                compress_after: Duration::ZERO,
                archive_after: Duration::from_secs(1 << 40),
                archive_dir: archive_dir.path().to_path_buf(),
            };
            archive(dir.path(), &policy, SystemTime::now()).unwrap();
        }
        let seq_cut = 1 + cut_at % (records + 1);
        let plan = cut(dir.path(), TruncateAt::Seq(seq_cut));
        prop_assert_eq!(plan.records_discarded, records + 1 - seq_cut);
        prop_assert_eq!(plan.nothing_to_cut, seq_cut == records + 1);
        reopens_at(&config, seq_cut, more);
    }
}
