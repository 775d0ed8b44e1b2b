//! A drain killed mid-chunk resumes exactly after its last committed chunk:
//! nothing duplicated, nothing missing.

mod pg;

use genesis_drain::{self as drain, DbUrl, DrainError, DrainOptions, FaultInjection};
use std::time::Duration;

const DAY_NS: u64 = 86_400_000_000_000;
/// 2024-03-01T23:59:00Z: the journals cross midnight, so chunks span two partitions.
const TS_FIRST_NS: u64 = 19_783 * DAY_NS + 86_340 * 1_000_000_000;

// The COPY of chunk 7 is abandoned after 500 rows (as if the process died);
// the rerun loads the rest, and every event is stored exactly once.
#[test]
fn abort_mid_copy_then_resume_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let first = pg::journal::synthetic(1, 20_000, TS_FIRST_NS, 5_000_000);
    let second = pg::journal::synthetic(1, 4_321, TS_FIRST_NS + 100 * DAY_NS / 100, 1_000);
    pg::journal::write(dir.path(), "run-1709337540-100", &first);
    pg::journal::write(dir.path(), "run-1709337600-200", &second);
    let db = pg::TestDb::new();
    let url = DbUrl::parse(db.url()).unwrap();
    let crashing = DrainOptions {
        chunk_events: 1_000,
        fault: Some(FaultInjection {
            chunk_index: 7,
            after_rows: 500,
        }),
        ..DrainOptions::default()
    };
    let err = drain::drain_folder(&url, dir.path(), &crashing, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, DrainError::InjectedFault { chunk_index: 7, .. }),
        "{err}"
    );
    let mut client = db.client();
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        7_000
    );
    assert_eq!(
        pg::check::count(&mut client, "SELECT seq_last FROM drain_watermark"),
        7_000
    );
    let fills_before = pg::check::count(&mut client, "SELECT count(*) FROM fills");
    assert_eq!(fills_before, 1_400, "fills rolled back with their chunk");

    let options = DrainOptions {
        chunk_events: 1_000,
        ..DrainOptions::default()
    };
    let report = drain::drain_folder(&url, dir.path(), &options, &mut |_| {}).unwrap();
    assert_eq!(report.events_loaded, 20_000 - 7_000 + 4_321);
    pg::check::exactly_once(&mut client);
    assert_eq!(
        pg::check::stored_events(&mut client, "run-1709337540-100"),
        first
    );
    assert_eq!(
        pg::check::stored_events(&mut client, "run-1709337600-200"),
        second
    );
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM fills"),
        (first.len() + second.len()) as i64 / 5
    );
    assert_eq!(
        pg::check::count(
            &mut client,
            "SELECT count(*) FROM drain_watermark WHERE finished"
        ),
        2
    );
    // Both days of the journal got a partition.
    assert!(
        pg::check::count(
            &mut client,
            "SELECT count(*) FROM pg_class WHERE relname IN ('events_p20240301', 'events_p20240302')"
        ) == 2
    );
}

// The drain's connection is terminated by the server while a COPY runs; the
// rerun resumes after the last committed chunk with nothing lost or doubled.
#[test]
fn connection_killed_mid_copy_then_resume_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let events = pg::journal::synthetic(1, 200_000, TS_FIRST_NS, 1_000);
    let path = pg::journal::write(dir.path(), "run-1709337540-300", &events);
    let db = pg::TestDb::new();
    let url = DbUrl::parse(db.url()).unwrap();
    drain::migrate(&url).unwrap();
    let options = DrainOptions {
        chunk_events: 20_000,
        ..DrainOptions::default()
    };
    let drainer = {
        let (url, dir, options) = (url.clone(), dir.path().to_path_buf(), options.clone());
        std::thread::spawn(move || drain::drain_folder(&url, &dir, &options, &mut |_| {}))
    };
    let mut admin = db.client();
    let mut killed = false;
    pg::wait_until(
        "the drain's COPY to be running",
        Duration::from_secs(60),
        || {
            if drainer.is_finished() {
                return true;
            }
            let rows = admin
                .query(
                    // Only this test's database: under DATABASE_URL other
                    // tests' drains run COPY on the same server.
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE query LIKE 'COPY events%' AND state = 'active' AND pid <> pg_backend_pid()
                   AND datname = current_database()",
                    &[],
                )
                .unwrap();
            killed = rows.iter().any(|r| r.get::<_, bool>(0));
            killed
        },
    );
    let result = drainer.join().unwrap();
    assert!(
        killed,
        "the drain finished before its COPY could be caught: {result:?}"
    );
    let err = result.unwrap_err();
    assert!(matches!(err, DrainError::Db { .. }), "{err}");
    let committed = pg::check::count(&mut admin, "SELECT count(*) FROM events");
    assert_eq!(committed % 20_000, 0, "only whole chunks are committed");
    assert!(committed < 200_000);

    let report = drain::drain_folder(&url, dir.path(), &options, &mut |_| {}).unwrap();
    assert_eq!(report.events_loaded as i64, 200_000 - committed);
    pg::check::exactly_once(&mut admin);
    assert_eq!(pg::journal::read_v1(&path).len(), 200_000);
    assert_eq!(
        pg::check::count(&mut admin, "SELECT count(*) FROM events"),
        200_000
    );
}
