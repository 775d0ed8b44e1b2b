//! Archiving: old day partitions are detached, exported and dropped; a day
//! not fully drained is left alone; the export loads back.

mod pg;

use genesis_drain::partitions::{date_text, partition_name};
use genesis_drain::{self as drain, archive, DbUrl, DrainOptions, FolderFeed, FolderMode};
use std::io::{Read, Write};

const DAY_NS: u64 = 86_400_000_000_000;
const TODAY: u64 = 20_000;

fn at_day(day: u64, hours: u64) -> u64 {
    day * DAY_NS + hours * 3_600_000_000_000
}

// Days 40 and 39 days back are archived; the day 36 back is kept because a
// live stream has not drained past it; the export restores every row.
#[test]
fn archive_old_days_but_not_undrained_ones() {
    let finished_dir = tempfile::tempdir().unwrap();
    let live_dir = tempfile::tempdir().unwrap();
    // A finished run: 100 events on each of three old days.
    let mut events = Vec::new();
    for (index, day) in [TODAY - 40, TODAY - 39, TODAY - 36].into_iter().enumerate() {
        events.extend(pg::journal::synthetic(
            1 + 100 * index as u64,
            100,
            at_day(day, 1),
            1_000,
        ));
    }
    pg::journal::write(finished_dir.path(), "run-1000-1", &events);
    // A run still being written (followed): loaded up to noon, 36 days back.
    let live = pg::journal::synthetic(1, 50, at_day(TODAY - 36, 12), 1_000);
    pg::journal::write(live_dir.path(), "run-2000-2", &live);

    let db = pg::TestDb::new();
    let url = DbUrl::parse(db.url()).unwrap();
    let options = DrainOptions::default();
    drain::drain_folder(&url, finished_dir.path(), &options, &mut |_| {}).unwrap();
    let mut follow = FolderFeed::new(live_dir.path(), FolderMode::Follow);
    drain::drain_feed(&url, &mut follow, &options, &mut |_| {}).unwrap();
    let mut client = db.client();
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        350
    );
    assert_eq!(
        pg::check::count(
            &mut client,
            "SELECT count(*) FROM drain_watermark WHERE NOT finished"
        ),
        1
    );

    let out = tempfile::tempdir().unwrap();
    let report = archive::archive_at(&url, 30, out.path(), at_day(TODAY, 12)).unwrap();
    let archived: Vec<&str> = report.archived.iter().map(|a| a.day.as_str()).collect();
    let day40 = date_text((TODAY - 40) as i64);
    let day39 = date_text((TODAY - 39) as i64);
    assert_eq!(archived, vec![day40.as_str(), day39.as_str()]);
    assert_eq!(
        report.kept_not_drained,
        vec![date_text((TODAY - 36) as i64)]
    );
    assert!(report.archived.iter().all(|a| a.rows == 100));
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        150
    );
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM archived_partitions"),
        2
    );
    let gone = partition_name((TODAY - 40) as i64);
    assert_eq!(
        pg::check::count(
            &mut client,
            &format!("SELECT count(*) FROM pg_class WHERE relname = '{gone}'")
        ),
        0
    );

    // The export loads back into a table shaped like events.
    let mut bytes = Vec::new();
    std::fs::File::open(&report.archived[0].file)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    client
        .batch_execute("CREATE TABLE restored (LIKE events)")
        .unwrap();
    let mut sink = client
        .copy_in("COPY restored FROM STDIN (FORMAT binary)")
        .unwrap();
    sink.write_all(&bytes).unwrap();
    assert_eq!(sink.finish().unwrap(), 100);
    assert_eq!(
        pg::check::count(
            &mut client,
            "SELECT count(DISTINCT seq) FROM restored WHERE stream = 'run-1000-1'"
        ),
        100
    );

    // Running it again archives nothing more.
    let again = archive::archive_at(&url, 30, out.path(), at_day(TODAY, 12)).unwrap();
    assert!(again.archived.is_empty());
}
