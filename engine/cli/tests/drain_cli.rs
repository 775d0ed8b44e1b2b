//! The drain as an operator meets it: `genesis run` with a database drains
//! its journal while it runs and reports the lag; `genesis db migrate` twice;
//! `genesis drain` of a finished journal loads nothing twice.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;
#[path = "../../drain/tests/pg/mod.rs"]
mod pg;

use common::process::{genesis, journal_events};
use std::process::Output;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn run_drains_its_journal_into_postgres() {
    let db = pg::TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let config = dir.path().join("genesis.toml");
    std::fs::write(
        &config,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n[market_data]\nrate_per_sec = 10000\n[metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n[journal]\ndir = \"{}\"\n[postgres]\nurl = \"{}\"\nchunk_events = 2000\n",
            journal.display(),
            db.url()
        ),
    )
    .unwrap();
    let migrate = genesis()
        .args(["db", "migrate", "--database-url", db.url()])
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", text(&migrate));
    let again = genesis()
        .args(["db", "migrate", "--database-url", db.url()])
        .output()
        .unwrap();
    assert!(text(&again).contains("nothing to do"), "{}", text(&again));

    let summary = dir.path().join("summary.json");
    let run = genesis()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "2",
            "--summary-json",
            summary.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("drain:"), "{}", text(&run));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let events = journal_events(&journal).len() as i64;
    let loaded = summary["drain"]["events_loaded"].as_i64().unwrap();
    let mut client = db.client();
    let rows = pg::check::count(&mut client, "SELECT count(*) FROM events");
    assert_eq!(rows, loaded, "the report says what the database holds");
    // The drain stops 5 s after the engine at the latest; load what is left offline.
    let offline = genesis()
        .args([
            "drain",
            "--database-url",
            db.url(),
            journal.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(offline.status.success(), "{}", text(&offline));
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        events,
        "every journaled event, once"
    );
    let twice = genesis()
        .args([
            "drain",
            "--database-url",
            db.url(),
            journal.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        text(&twice).contains("drain: 0 events loaded"),
        "{}",
        text(&twice)
    );
    assert!(
        !text(&run).contains("password="),
        "no credentials in the output"
    );
}
