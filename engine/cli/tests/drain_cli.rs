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

/// Every file under `dir` whose bytes contain `secret`.
fn files_containing(dir: &std::path::Path, secret: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

// A role with a password (scram-sha-256 on this server) is reached with the
// password from a `password_file`, from $PGPASSWORD, from a .pgpass file and
// from the URL itself; in none of these cases does the password reach the
// output, the logs (at debug level), an error, or any file on disk, and the
// recorded config is readable by its owner only.
#[test]
fn the_database_password_reaches_no_log_error_or_file() {
    use std::os::unix::fs::PermissionsExt as _;
    const SECRET: &str = "Hunter2-never-shown";
    let db = pg::TestDb::private_server();
    let mut admin = db.client();
    admin
        .batch_execute(&format!("CREATE ROLE trader LOGIN PASSWORD '{SECRET}'"))
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE secrets OWNER trader")
        .unwrap();
    let port = db.port().expect("a private server has a port");
    let url = format!("postgres://trader@127.0.0.1:{port}/secrets");
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("pw");
    std::fs::write(&password_file, format!("{SECRET}\n")).unwrap();
    let pgpass = secrets.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{port}:secrets:trader:{SECRET}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let journal = dir.path().join("journal");
    let config_with = |url: &str, password_file: &str| {
        let path = dir.path().join("genesis.toml");
        std::fs::write(
            &path,
            format!(
                "[topology]\npin_threads = false\nwait = \"sleep\"\n[market_data]\nrate_per_sec = 5000\n[metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n[journal]\ndir = \"{}\"\n[postgres]\nurl = \"{url}\"\npassword_file = \"{password_file}\"\nchunk_events = 500\n",
                journal.display(),
            ),
        )
        .unwrap();
        path
    };
    let mut outputs = Vec::new();
    // 1. password_file, through a run with its live drain.
    let config = config_with(&url, password_file.to_str().unwrap());
    let run = genesis()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "1",
        ])
        .env("RUST_LOG", "debug")
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", "/nonexistent")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    outputs.push(text(&run));
    // 2. $PGPASSWORD, through `genesis drain` (the rest of the journal).
    let drain = genesis()
        .args(["drain", "--database-url", &url, journal.to_str().unwrap()])
        .env("PGPASSWORD", SECRET)
        .env("PGPASSFILE", "/nonexistent")
        .output()
        .unwrap();
    assert!(drain.status.success(), "{}", text(&drain));
    outputs.push(text(&drain));
    let mut client = postgres::Client::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/secrets"),
        postgres::NoTls,
    )
    .unwrap();
    assert_eq!(
        pg::check::count(&mut client, "SELECT count(*) FROM events"),
        journal_events(&journal).len() as i64,
        "the run and the drain, each with a password from its source, loaded the journal"
    );
    // 3. .pgpass through $PGPASSFILE.
    let migrate = genesis()
        .args(["db", "migrate", "--database-url", &url])
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", &pgpass)
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", text(&migrate));
    outputs.push(text(&migrate));
    // 4. The password in the URL itself: `genesis config` and a run redact it.
    let inline = format!("postgres://trader:{SECRET}@127.0.0.1:{port}/secrets");
    let config = config_with(&inline, "");
    for args in [
        vec!["config", "--config", config.to_str().unwrap()],
        vec![
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "0.5",
        ],
    ] {
        let output = genesis()
            .args(&args)
            .env("RUST_LOG", "debug")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        outputs.push(text(&output));
    }
    // A wrong password is an error that names the URL, not the password.
    let wrong = genesis()
        .args(["db", "migrate", "--database-url", &url])
        .env("PGPASSWORD", format!("{SECRET}-wrong"))
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("trader@127.0.0.1"),
        "{}",
        text(&wrong)
    );
    outputs.push(text(&wrong));
    for output in &outputs {
        assert!(
            !output.contains("Hunter2"),
            "a password in the output: {output}"
        );
    }
    assert!(
        outputs[0].contains("password_file"),
        "the source is named: {}",
        outputs[0]
    );
    // Only the operator's own config (case 4 wrote the password into it) holds it.
    assert_eq!(
        files_containing(dir.path(), "Hunter2"),
        vec![dir.path().join("genesis.toml")]
    );
    let recorded: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("config-")
        })
        .collect();
    assert_eq!(recorded.len(), 2, "two runs recorded their config");
    for path in recorded {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

// `journal archive` never compresses what the drain has not loaded: with
// the drain's database holding nothing yet, every closed segment is held
// back; once `genesis drain` loaded the journal they are compressed, and a
// second drain reads the compressed segments and finds nothing new.
#[test]
fn archive_waits_for_the_drain() {
    use genesis_engine::event::EVENT_BYTES;
    let db = pg::TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let mut config = genesis_journal::JournalConfig::new(&journal, EVENT_BYTES);
    config.segment_size_bytes = 1 << 20;
    let (mut writer, _) = genesis_journal::Writer::open(&config).unwrap();
    let mut bytes = [0u8; EVENT_BYTES];
    for event in pg::journal::synthetic(1, 20_000, 1_700_000_000_000_000_000, 1_000) {
        event.encode(&mut bytes);
        writer.append(&bytes).unwrap();
    }
    writer.close().unwrap();
    let segments = || {
        let mut names: Vec<String> = std::fs::read_dir(&journal)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".gjseg"))
            .collect();
        names.sort();
        names
    };
    let before = segments();
    assert!(before.len() >= 3, "{before:?}");
    let journal_arg = journal.to_str().unwrap();
    let migrate = genesis()
        .args(["db", "migrate", "--database-url", db.url()])
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", text(&migrate));
    let archive = || {
        genesis()
            .args(["journal", "archive", journal_arg, "--compress-after", "0"])
            .args(["--database-url", db.url()])
            .output()
            .unwrap()
    };
    let held = archive();
    assert!(held.status.success(), "{}", text(&held));
    assert!(text(&held).contains("held back"), "{}", text(&held));
    assert_eq!(
        segments(),
        before,
        "nothing compressed before the drain: {}",
        text(&held)
    );

    let drain = genesis()
        .args(["drain", "--database-url", db.url(), journal_arg])
        .output()
        .unwrap();
    assert!(drain.status.success(), "{}", text(&drain));
    let compressed = archive();
    assert!(compressed.status.success(), "{}", text(&compressed));
    let after = segments();
    assert!(
        after
            .iter()
            .filter(|name| !name.ends_with(".gjseg"))
            .count()
            >= 2,
        "closed segments compressed once drained: {after:?}\n{}",
        text(&compressed)
    );
    let again = genesis()
        .args(["drain", "--database-url", db.url(), journal_arg])
        .output()
        .unwrap();
    assert!(
        again.status.success() && text(&again).contains("drain: 0 events loaded"),
        "{}",
        text(&again)
    );
}
