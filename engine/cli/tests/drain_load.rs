//! The drain against a real PostgreSQL: migrations, an offline drain of an
//! engine's journal checked event by event, derived tables, credentials.

mod common;
#[path = "../../drain/tests/pg/mod.rs"]
mod pg;

use genesis_drain::{self as drain, DbUrl, DrainOptions, InstrumentRow};
use genesis_engine::event::EventKind;
use genesis_engine::journal_stage::EventReader;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

// Migrate applies every version once; a second run applies nothing and changes nothing.
#[test]
fn migrate_twice_is_a_no_op() {
    let db = pg::TestDb::new();
    let url = DbUrl::parse(db.url()).unwrap();
    let first = drain::migrate(&url).unwrap();
    assert_eq!(
        first.applied,
        (1..=drain::SCHEMA_VERSION).collect::<Vec<_>>()
    );
    assert!(first.codes_added > 0);
    let second = drain::migrate(&url).unwrap();
    assert_eq!(second.applied, Vec::<i32>::new());
    assert_eq!(second.codes_added, 0);
    assert_eq!(second.version, drain::SCHEMA_VERSION);
    let mut client = db.client();
    let indexes: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for wanted in [
        "events_kind_ts",
        "orders_status_created",
        "positions_symbol_status",
    ] {
        assert!(
            indexes.iter().any(|i| i == wanted),
            "index {wanted} in {indexes:?}"
        );
    }
}

// An engine run's journal, drained offline, is in `events` event for event;
// fills, orders and positions agree with the events.
#[test]
fn drain_engine_journal_matches_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.market_data.rate_per_sec = 20_000;
    config.market_data.timer_interval_ms = 20;
    config.metrics.latency_log_dir = dir.path().join("latency");
    let assembly = genesis_cli::assemble(&config).unwrap();
    let report = genesis_cli::run(
        &config,
        assembly,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_millis(1_500)),
    )
    .unwrap();
    assert_eq!(report.error, None);
    assert!(
        drain::JournalFeed::is_journal(dir.path()),
        "the engine wrote segments"
    );
    let journal = EventReader::read_all(dir.path()).unwrap();
    assert!(
        journal.len() > 1_000,
        "the run journaled {} events",
        journal.len()
    );

    let db = pg::TestDb::new();
    let url = DbUrl::parse(db.url()).unwrap();
    let options = DrainOptions {
        chunk_events: 777,
        instruments: InstrumentRow::from_config(&config),
        ..DrainOptions::default()
    };
    let mut progress_calls = 0;
    let loaded =
        drain::drain_folder(&url, dir.path(), &options, &mut |_| progress_calls += 1).unwrap();
    assert_eq!(loaded.events_loaded, journal.len() as u64);
    assert!(progress_calls >= 2);

    let mut client = db.client();
    let stored = pg::check::stored_events(&mut client, drain::JOURNAL_STREAM_DEFAULT);
    assert_eq!(stored.len(), journal.len());
    for (stored, journaled) in stored.iter().zip(&journal) {
        let mut expected = *journaled;
        expected
            .intents
            .iter_mut()
            .for_each(|i| i.reserved = [0; 2]);
        assert_eq!(stored, &expected, "event {} differs", journaled.seq);
    }
    pg::check::exactly_once(&mut client);

    let fills_in_journal = journal.iter().filter(|e| e.kind == EventKind::Fill).count() as i64;
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM fills"),
        fills_in_journal
    );
    let new_orders = journal
        .iter()
        .flat_map(|e| e.intents.iter())
        .filter(|i| i.action == genesis_engine::Action::New)
        .count() as i64;
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM orders"),
        new_orders
    );
    assert!(report.execution.orders_sent > 0, "the run traded");
    // Positions equal the signed sum of the non-duplicate fills, per instrument.
    let mismatched = pg::check::count(
        &mut client,
        "SELECT count(*) FROM positions p FULL JOIN (
             SELECT instrument, sum(CASE side WHEN 1 THEN qty WHEN 2 THEN -qty ELSE 0 END) AS qty
             FROM fills WHERE NOT duplicate GROUP BY instrument) f USING (instrument)
         WHERE p.qty IS DISTINCT FROM f.qty",
    );
    assert_eq!(mismatched, 0);
    let symbols = pg::check::count(
        &mut client,
        "SELECT count(*) FROM positions WHERE symbol IN ('AAA', 'BBB')",
    );
    assert_eq!(
        symbols,
        pg::check::count(&mut client, "SELECT count(*) FROM positions")
    );
    // Filled quantity of each order equals its applied fills.
    let wrong_fills = pg::check::count(
        &mut client,
        "SELECT count(*) FROM orders o LEFT JOIN (
             SELECT order_id, sum(qty) AS qty FROM fills WHERE outcome IN (1, 4) GROUP BY 1) f USING (order_id)
         WHERE o.filled_qty <> COALESCE(f.qty, 0)",
    );
    assert_eq!(wrong_fills, 0);

    // A second drain of the same folder loads nothing more.
    let again = drain::drain_folder(&url, dir.path(), &options, &mut |_| {}).unwrap();
    assert_eq!(again.events_loaded, 0);
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        journal.len() as i64
    );
}

// A wrong password gives an error that says what failed and never shows the password.
#[test]
fn wrong_password_is_clear_and_secret() {
    let db = pg::TestDb::new();
    let Some(port) = db.port() else {
        eprintln!("DATABASE_URL is set: its server's authentication is not ours to test");
        return;
    };
    db.client()
        .batch_execute("CREATE ROLE trader LOGIN PASSWORD 'right-horse-battery'")
        .unwrap();
    let secret = "Wr0ng-Pa55word-xyz";
    let raw = format!("postgres://trader:{secret}@127.0.0.1:{port}/postgres");
    let url = DbUrl::parse(&raw).unwrap();
    let err = drain::migrate(&url).unwrap_err();
    let text = format!("{err} / {err:?}");
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(text.contains("trader@127.0.0.1"), "{text}");
    let options = DrainOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let err = drain::drain_folder(&url, dir.path(), &options, &mut |_| {}).unwrap_err();
    assert!(!err.to_string().contains(secret), "{err}");
    // The right password works.
    let good = DbUrl::parse(&format!(
        "postgres://trader:right-horse-battery@127.0.0.1:{port}/postgres"
    ))
    .unwrap();
    db.client()
        .batch_execute("GRANT CREATE ON SCHEMA public TO trader")
        .unwrap();
    drain::migrate(&good).unwrap();
}
