//! Archiving by age: closed segments are compressed, then moved out; the
//! active segment is never touched.

mod common;

use common::*;
use genesis_journal::{archive, ArchivePolicy, Durability, WriteMode, Writer};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

const DAY: Duration = Duration::from_secs(86_400);

fn set_age(path: &Path, now: SystemTime, age: Duration) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(now - age).unwrap();
}

fn segment(dir: &Path, seq_first: u64) -> std::path::PathBuf {
    dir.join(format!("{seq_first:020}.gjseg"))
}

// With a writer open, segments 40 days old are compressed and archived,
// except the active one, which keeps its bytes and stays writable.
#[test]
fn archive_moves_old_closed_segments_and_never_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Mmap, Durability::None);
    let (mut writer, _) = Writer::open(&config).unwrap();
    for _ in 0..10 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.sync().unwrap();
    // Closed segments are sealed on the helper thread just after rollover.
    wait_for("segments 1 and 5 sealed", Duration::from_secs(10), || {
        writer.seq_sealed() >= 8
    });
    let now = SystemTime::now();
    for seq_first in [1, 5, 9] {
        set_age(&segment(dir.path(), seq_first), now, 40 * DAY);
    }
    let originals: Vec<Vec<u8>> = [1, 5]
        .iter()
        .map(|&s| std::fs::read(segment(dir.path(), s)).unwrap())
        .collect();
    let active_before = std::fs::read(segment(dir.path(), 9)).unwrap();
    let policy = ArchivePolicy::guide_default(archive_dir.path());
    let report = archive(dir.path(), &policy, now).unwrap();
    assert_eq!(report.active_segment, Some(segment(dir.path(), 9)));
    assert_eq!(report.compressed.len(), 2);
    assert_eq!(report.archived.len(), 2);
    assert_eq!(
        std::fs::read(segment(dir.path(), 9)).unwrap(),
        active_before
    );
    assert!(!segment(dir.path(), 1).exists() && !segment(dir.path(), 5).exists());
    for (seq_first, original) in [1u64, 5].iter().zip(&originals) {
        let gz = archive_dir.path().join(format!("{seq_first:020}.gjseg.gz"));
        let mut restored = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
            .read_to_end(&mut restored)
            .unwrap();
        assert_eq!(
            &restored, original,
            "segment {seq_first} restores bit for bit"
        );
    }
    // The writer goes on in the active segment and rolls over as usual.
    for _ in 0..6 {
        let seq = writer.seq_next();
        writer.append(&payload(seq)).unwrap();
    }
    writer.close().unwrap();
    let read = read_all(dir.path(), 9);
    assert_eq!(
        read.iter().map(|r| r.0).collect::<Vec<_>>(),
        (9..=16).collect::<Vec<_>>()
    );
    let verified = genesis_journal::verify(dir.path()).unwrap();
    assert!(verified.is_clean(), "{:?}", verified.damages);
    assert_eq!(verified.seq_first, Some(9));
}

// Two ages: 10-day-old segments are compressed in place but not yet archived;
// 3-day-old ones are left alone; even an old active segment is never touched.
#[test]
fn compress_and_archive_ages_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4, WriteMode::Pwrite, Durability::None);
    write_journal(&config, 10);
    let now = SystemTime::now();
    set_age(&segment(dir.path(), 1), now, 10 * DAY);
    set_age(&segment(dir.path(), 5), now, 3 * DAY);
    set_age(&segment(dir.path(), 9), now, 365 * DAY);
    let policy = ArchivePolicy::guide_default(archive_dir.path());
    let report = archive(dir.path(), &policy, now).unwrap();
    assert_eq!(
        report.compressed,
        vec![dir.path().join("00000000000000000001.gjseg.gz")]
    );
    assert!(report.archived.is_empty());
    assert!(segment(dir.path(), 5).exists() && segment(dir.path(), 9).exists());
    // Thirty days on, the compressed one moves out (its age is the segment's).
    let later = now + 21 * DAY;
    let report = archive(dir.path(), &policy, later).unwrap();
    assert_eq!(report.archived.len(), 1);
    assert!(archive_dir
        .path()
        .join("00000000000000000001.gjseg.gz")
        .exists());
    assert!(segment(dir.path(), 9).exists(), "the active segment stays");
}
