//! A damaged journal as an operator meets it: `genesis run` refuses it at
//! start naming the file and the remedy, `replay` and `journal cat` fail
//! naming the gap instead of reporting success on part of it, `verify`
//! refuses a folder with no journal, and `genesis journal truncate` cuts
//! the damage (asking first), journals the cut as an operator action, and
//! leaves a journal that verifies, replays and takes the next run.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;

use common::process::*;
use genesis_engine::journal_stage::EventReader;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("genesis.toml");
    std::fs::write(
        &path,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n[market_data]\nrate_per_sec = 40000\n[metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n[journal]\ndir = \"{}\"\nsegment_size_mib = 1\n",
            dir.join("journal").display()
        ),
    )
    .unwrap();
    path
}

fn run(args: &[&str], dir: &Path) -> Output {
    genesis().args(args).current_dir(dir).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The segment files of `journal`, oldest first.
fn segments(journal: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(journal) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "gjseg"))
        .collect();
    found.sort();
    found
}

/// A journal of at least `segments_min` segments, written by `genesis run`.
fn journal_of(dir: &Path, segments_min: usize) -> (PathBuf, PathBuf) {
    let config = write_config(dir);
    let journal = dir.join("journal");
    while segments(&journal).len() < segments_min {
        let output = run(
            &[
                "run",
                "--config",
                config.to_str().unwrap(),
                "--duration",
                "1",
            ],
            dir,
        );
        assert!(output.status.success(), "{}", text(&output));
    }
    (config, journal)
}

/// `genesis journal truncate` with `answer` on its standard input.
fn truncate(journal: &Path, args: &[&str], answer: &str) -> Output {
    let mut child = spawn(
        genesis()
            .args(["journal", "truncate", journal.to_str().unwrap()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

// A middle segment deleted: run refuses naming the file and the remedy;
// replay and cat fail naming the gap (cat after printing what comes before
// it); truncate asks, cuts at the gap on "yes", journals the cut, and the
// journal then verifies, replays, and takes a new run after the cut.
#[test]
fn deleted_middle_segment_is_refused_named_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (config, journal) = journal_of(dir.path(), 4);
    let journal_arg = journal.to_str().unwrap();
    let all = segments(&journal);
    let middle = &all[1];
    std::fs::remove_file(middle).unwrap();
    let middle_name = middle.file_name().unwrap().to_string_lossy().into_owned();

    let start = run(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(start.status.code(), Some(2), "{}", text(&start));
    assert!(
        text(&start).contains("genesis journal truncate") && text(&start).contains(journal_arg),
        "names the journal and the remedy: {}",
        text(&start)
    );

    let replay = run(&["replay", journal_arg], dir.path());
    assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
    assert!(
        !text(&replay).contains("every decision matches"),
        "{}",
        text(&replay)
    );
    assert!(
        text(&replay).contains(&middle_name),
        "names the gap: {}",
        text(&replay)
    );

    let cat = run(&["journal", "cat", journal_arg, "--json"], dir.path());
    assert_eq!(cat.status.code(), Some(2), "{}", text(&cat));
    assert!(
        String::from_utf8_lossy(&cat.stderr).contains(&middle_name),
        "{}",
        text(&cat)
    );
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&cat.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("stdout holds JSON lines only"))
        .collect();
    assert!(!printed.is_empty(), "the events before the gap are printed");

    let declined = truncate(&journal, &["--first-damage"], "no\n");
    assert_eq!(declined.status.code(), Some(1), "{}", text(&declined));
    assert!(
        text(&declined).contains("nothing changed"),
        "{}",
        text(&declined)
    );
    assert_eq!(segments(&journal).len(), all.len() - 1, "nothing moved");

    let cut = truncate(&journal, &["--first-damage"], "yes\n");
    assert!(cut.status.success(), "{}", text(&cut));
    let seq_cut = printed.last().unwrap()["seq"].as_u64().unwrap() + 1;
    assert!(
        text(&cut).contains(&format!("cut at sequence {seq_cut}")),
        "the cut is where the gap starts: {}",
        text(&cut)
    );
    let events = EventReader::read_all(&journal).unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        last.seq, seq_cut,
        "the operator action is the event at the cut"
    );
    let cat_last = run(
        &[
            "journal",
            "cat",
            journal_arg,
            "--from",
            &seq_cut.to_string(),
        ],
        dir.path(),
    );
    assert!(
        text(&cat_last).contains("operator: genesis journal truncate"),
        "{}",
        text(&cat_last)
    );
    let verify = run(&["journal", "verify", journal_arg], dir.path());
    assert!(verify.status.success(), "{}", text(&verify));
    let replay = run(&["replay", journal_arg], dir.path());
    assert!(
        replay.status.success() && text(&replay).contains("every decision matches"),
        "{}",
        text(&replay)
    );
    // The next run appends after the cut: it goes on until it journaled an
    // event of its own, however long that takes on a loaded host.
    let cut_len = seq_cut as usize;
    let again = run_until(
        &["--config", config.to_str().unwrap()],
        dir.path(),
        &journal,
        "an event journaled after the cut",
        |events| events.len() > cut_len,
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("journal closed segments checked"),
        "the start-up check is reported: {}",
        text(&again)
    );
    let after = EventReader::read_all(&journal).unwrap();
    assert!(after.len() as u64 > seq_cut && after[seq_cut as usize].seq == seq_cut + 1);
    let replay = run(&["replay", journal_arg], dir.path());
    assert!(replay.status.success(), "{}", text(&replay));
}

// A flipped bit in the zeroed tail past the last record: run refuses to
// start; `truncate --first-damage --yes` cuts it without asking, and the
// next run starts.
#[test]
fn flipped_bit_in_the_zeroed_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (config, journal) = journal_of(dir.path(), 1);
    // A kilobyte past the last record, inside the zeroed slots (another
    // short run first in the rare case the newest segment is nearly full).
    let (newest, mut bytes, past) = loop {
        let newest = segments(&journal).pop().unwrap();
        let bytes = std::fs::read(&newest).unwrap();
        let past = bytes.iter().rposition(|b| *b != 0).unwrap() + 1_000;
        if past + 1_000 < bytes.len() {
            break (newest, bytes, past);
        }
        let more = run(
            &[
                "run",
                "--config",
                config.to_str().unwrap(),
                "--duration",
                "0.2",
            ],
            dir.path(),
        );
        assert!(more.status.success(), "{}", text(&more));
    };
    assert_eq!(bytes[past], 0, "the tail of the newest segment is zeroed");
    bytes[past] = 0x10;
    std::fs::write(&newest, &bytes).unwrap();
    let config_arg = config.to_str().unwrap();
    let start = run(
        &["run", "--config", config_arg, "--duration", "0.5"],
        dir.path(),
    );
    assert_eq!(start.status.code(), Some(2), "{}", text(&start));
    assert!(
        text(&start).contains(&newest.file_name().unwrap().to_string_lossy().into_owned())
            && text(&start).contains("genesis journal truncate"),
        "{}",
        text(&start)
    );
    let cut = truncate(&journal, &["--first-damage", "--yes"], "");
    assert!(cut.status.success(), "{}", text(&cut));
    let start = run(
        &["run", "--config", config_arg, "--duration", "0.5"],
        dir.path(),
    );
    assert!(start.status.success(), "{}", text(&start));
    let nothing = truncate(&journal, &["--first-damage"], "");
    assert!(
        nothing.status.success() && text(&nothing).contains("nothing to cut"),
        "{}",
        text(&nothing)
    );
    // --at SEQ cuts a clean journal where asked; the operator action takes that sequence.
    let seq_last = EventReader::read_all(&journal).unwrap().last().unwrap().seq;
    let at = (seq_last - 10).to_string();
    let cut = truncate(&journal, &["--at", &at, "--yes"], "");
    assert!(cut.status.success(), "{}", text(&cut));
    let events = EventReader::read_all(&journal).unwrap();
    assert_eq!(events.last().unwrap().seq, seq_last - 10, "{}", text(&cut));
    // The operator action's run carries the state before the cut on (a start
    // record says so, and replay checks its CRC), so the next run does not
    // start flat and forget positions and open orders.
    let start = journal.join(format!("start-{:020}.json", seq_last - 10));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&start).unwrap()).unwrap();
    assert_eq!(record["state"], "carried", "{record}");
    assert!(record["state_bytes"].as_u64().unwrap() > 0, "{record}");
    let replay = run(&["replay", journal.to_str().unwrap()], dir.path());
    assert!(replay.status.success(), "{}", text(&replay));
}

// A torn last record: `cat --json` keeps stdout pure JSON lines and says so on stderr.
#[test]
fn cat_json_reports_a_torn_tail_on_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_, journal) = journal_of(dir.path(), 1);
    let newest = segments(&journal).pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let last_written = bytes.iter().rposition(|b| *b != 0).unwrap();
    bytes[last_written] ^= 0xff;
    std::fs::write(&newest, &bytes).unwrap();
    let cat = run(
        &["journal", "cat", journal.to_str().unwrap(), "--json"],
        dir.path(),
    );
    assert!(cat.status.success(), "{}", text(&cat));
    for line in String::from_utf8_lossy(&cat.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON on stdout: {line:?}: {e}"));
    }
    assert!(
        String::from_utf8_lossy(&cat.stderr).contains("torn tail"),
        "{}",
        text(&cat)
    );
}

// Asking for nothing, or a folder without a journal, is an error, not an empty success.
#[test]
fn empty_ranges_and_folders_without_a_journal_fail() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for folder in [empty.to_str().unwrap(), "/proc"] {
        let verify = run(&["journal", "verify", folder], dir.path());
        assert_eq!(verify.status.code(), Some(2), "{folder}: {}", text(&verify));
        assert!(!text(&verify).contains("clean"), "{}", text(&verify));
        assert!(text(&verify).contains("no journal"), "{}", text(&verify));
    }
    let missing = dir.path().join("missing");
    let verify = run(
        &["journal", "verify", missing.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(verify.status.code(), Some(2), "{}", text(&verify));
    assert!(
        text(&verify).contains("does not exist") && !text(&verify).contains("os error"),
        "the cause is said once, plainly: {}",
        text(&verify)
    );
    let cat = run(
        &[
            "journal",
            "cat",
            empty.to_str().unwrap(),
            "--from",
            "10",
            "--to",
            "5",
        ],
        dir.path(),
    );
    assert_eq!(cat.status.code(), Some(2), "{}", text(&cat));
    assert!(
        text(&cat).contains("--from 10 is after --to 5"),
        "{}",
        text(&cat)
    );
}

// `journal archive --compress-after 0`: with a drain's database that cannot
// be asked, nothing is compressed and the command fails; without a
// database, closed segments are compressed, and verify, cat and replay read
// them (verify counting them).
#[test]
fn archive_is_bounded_by_the_drain_and_compressed_segments_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_, journal) = journal_of(dir.path(), 2);
    let journal_arg = journal.to_str().unwrap();
    let before = segments(&journal);
    let unreachable = run(
        &[
            "journal",
            "archive",
            journal_arg,
            "--compress-after",
            "0",
            "--database-url",
            "postgres://genesis@127.0.0.1:1/genesis",
        ],
        dir.path(),
    );
    assert_eq!(unreachable.status.code(), Some(2), "{}", text(&unreachable));
    assert!(
        text(&unreachable).contains("nothing was compressed"),
        "{}",
        text(&unreachable)
    );
    assert_eq!(segments(&journal), before, "nothing compressed");

    let archive = genesis()
        .args(["journal", "archive", journal_arg, "--compress-after", "0"])
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(archive.status.success(), "{}", text(&archive));
    assert!(
        text(&archive).contains("no database configured"),
        "{}",
        text(&archive)
    );
    let compressed = before.len() - segments(&journal).len();
    assert!(
        compressed >= 1,
        "closed segments compressed: {}",
        text(&archive)
    );
    let verify = run(&["journal", "verify", journal_arg], dir.path());
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(
        text(&verify).contains(&format!("({compressed} compressed)")),
        "{}",
        text(&verify)
    );
    let events = EventReader::read_all(&journal).unwrap();
    let cat = run(&["journal", "cat", journal_arg], dir.path());
    assert!(cat.status.success(), "{}", text(&cat));
    assert_eq!(
        String::from_utf8_lossy(&cat.stdout).lines().count(),
        events.len()
    );
    let replay = run(&["replay", journal_arg], dir.path());
    assert!(
        replay.status.success() && text(&replay).contains("every decision matches"),
        "{}",
        text(&replay)
    );
}

// Damage in a closed segment (a flipped bit mid-record, a deleted first
// segment) refuses the start, naming the file, instead of appending to a
// journal verify calls damaged.
#[test]
fn damage_in_closed_segments_refuses_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (config, journal) = journal_of(dir.path(), 2);
    let config_arg = config.to_str().unwrap();
    let first = segments(&journal)[0].clone();
    let first_name = first.file_name().unwrap().to_string_lossy().into_owned();
    let original = std::fs::read(&first).unwrap();
    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x04;
    std::fs::write(&first, &flipped).unwrap();
    let start = run(
        &["run", "--config", config_arg, "--duration", "0.3"],
        dir.path(),
    );
    assert_eq!(start.status.code(), Some(2), "{}", text(&start));
    assert!(text(&start).contains(&first_name), "{}", text(&start));
    std::fs::remove_file(&first).unwrap();
    let start = run(
        &["run", "--config", config_arg, "--duration", "0.3"],
        dir.path(),
    );
    assert_eq!(start.status.code(), Some(2), "{}", text(&start));
    assert!(text(&start).contains("Remedy"), "{}", text(&start));
    std::fs::write(&first, &original).unwrap();
    let start = run(
        &["run", "--config", config_arg, "--duration", "0.3"],
        dir.path(),
    );
    assert!(
        start.status.success(),
        "restored, it starts: {}",
        text(&start)
    );
}
