//! The journal as an operator meets it: `genesis journal verify | cat`,
//! `genesis replay`, a restart that resumes the journal, and crashes
//! (SIGKILL at seeded moments under load) that lose nothing durable.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;

use common::process::*;
use genesis_engine::event::Event;
use genesis_engine::journal_stage::{list_runs, EventReader};
use rand_core::{RngCore, SeedableRng};
use std::path::Path;
use std::process::{Output, Stdio};

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("genesis.toml");
    std::fs::write(
        &path,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n[market_data]\nrate_per_sec = 20000\ntimer_interval_ms = 50\n[journal]\ndir = \"{}\"\nsegment_size_mib = 1\n{extra}",
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

// Two runs on one journal: the second resumes after the first, both replay exactly,
// verify and cat read it, and a flipped byte mid-log is damage verify reports.
#[test]
fn restart_resumes_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[metrics]\nlisten = \"\"\n");
    let config = config.to_str().unwrap();
    for index in 0..2 {
        let summary = dir.path().join(format!("summary-{index}.json"));
        let summary_arg = summary.to_str().unwrap();
        let output = run(
            &[
                "run",
                "--config",
                config,
                "--duration",
                "1",
                "--summary-json",
                summary_arg,
            ],
            dir.path(),
        );
        assert!(output.status.success(), "{}", text(&output));
        // Each run meets a fresh simulated venue, whose fills are new: none
        // may look like a duplicate of the journaled ones (that would drop
        // real fills and leave the engine's orders out of step with the venue).
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(report["duplicate_fills"], 0, "run {index}: {report}");
        assert!(
            report["fills"].as_u64().unwrap() > 0,
            "run {index}: {report}"
        );
    }
    let journal = dir.path().join("journal");
    let events = EventReader::read_all(&journal).unwrap();
    // Both runs traded (fills > 0 above); the count itself follows the CPU
    // the runs got, so only its consistency with the runs is asserted.
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as u64 + 1),
        "sequences continue across the restart"
    );
    let runs = list_runs(&journal).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[1].0 > 1,
        "the second run starts after the first: {runs:?}"
    );
    let segments = std::fs::read_dir(&journal)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "gjseg")
        })
        .count();
    assert!(segments > 1, "1 MiB segments rolled over");

    let journal_arg = journal.to_str().unwrap();
    let verify = run(&["journal", "verify", journal_arg], dir.path());
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(
        text(&verify).contains(&format!(
            "{} record(s), sequences 1..={}",
            events.len(),
            events.len()
        )),
        "{}",
        text(&verify)
    );
    let replay = run(&["replay", journal_arg], dir.path());
    assert!(replay.status.success(), "{}", text(&replay));
    assert!(
        text(&replay).contains("2 run(s)") && text(&replay).contains("every decision matches"),
        "{}",
        text(&replay)
    );
    let backtest = run(&["replay", journal_arg, "--strategy", "none"], dir.path());
    assert!(
        backtest.status.success() && text(&backtest).contains("backtest:"),
        "{}",
        text(&backtest)
    );

    let cat = run(
        &[
            "journal",
            "cat",
            journal_arg,
            "--from",
            "10",
            "--to",
            "12",
            "--json",
        ],
        dir.path(),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&cat.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![10, 11, 12]
    );

    // Flip one byte in the middle of the first segment: verify must say where.
    let first_segment = journal.join("00000000000000000001.gjseg");
    let mut bytes = std::fs::read(&first_segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&first_segment, &bytes).unwrap();
    let damaged = run(&["journal", "verify", journal_arg], dir.path());
    assert_eq!(damaged.status.code(), Some(1), "{}", text(&damaged));
    assert!(
        text(&damaged).contains("DAMAGE") && text(&damaged).contains("00000000000000000001.gjseg"),
        "{}",
        text(&damaged)
    );
}

// A decision changed in the journal is found by replay, which names the sequence.
#[test]
fn replay_reports_the_first_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[metrics]\nlisten = \"\"\n");
    let output = run(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "1",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output));
    let journal = dir.path().join("journal");
    let mut events = EventReader::read_all(&journal).unwrap();
    let at = events
        .iter()
        .position(|e| e.intents[0].is_accepted())
        .expect("a decision to tamper with");
    events[at].intents[0].qty.0 += 1;
    // Write the tampered log as a journal of its own, with the run's config.
    let tampered = dir.path().join("tampered");
    let (mut stage, _) =
        genesis_engine::journal_stage::JournalStage::open(&genesis_engine::config::JournalConfig {
            dir: tampered.clone(),
            ..genesis_engine::config::JournalConfig::default()
        })
        .unwrap();
    for event in &events {
        stage.on_event(event).unwrap();
    }
    stage.finish().unwrap();
    let (_, run_config) = &list_runs(&journal).unwrap()[0];
    std::fs::copy(
        run_config,
        genesis_engine::journal_stage::run_config_path(&tampered, 1),
    )
    .unwrap();
    let replay = run(&["replay", tampered.to_str().unwrap()], dir.path());
    assert_eq!(replay.status.code(), Some(1), "{}", text(&replay));
    assert!(
        text(&replay).contains(&format!("DIVERGENCE at sequence {}", events[at].seq)),
        "{}",
        text(&replay)
    );
}

// SIGKILL at 20 seeded moments under load, durability `group`: after each kill the
// journal verifies (at most a torn tail), nothing at or below the durable sequence
// the metrics endpoint last showed is lost, and replay reproduces every decision.
#[test]
fn sigkill_loses_nothing_durable() {
    let seed = 20_261_126u64;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    for kill in 0..20 {
        let port = free_port();
        let config = write_config(
            dir.path(),
            &format!("durability = \"group\"\ngroup_records = 512\ngroup_interval_us = 500\n[metrics]\ninterval_ms = 50\nlisten = \"127.0.0.1:{port}\"\n"),
        );
        let before = journal_events(&journal).len() as u64;
        let child = genesis()
            .args(["run", "--config", config.to_str().unwrap()])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Run until a seeded number of new events is journaled and durable, then kill.
        let target = before + 500 + rng.next_u64() % 5_000;
        let mut durable = 0u64;
        wait_until(
            &format!("seed {seed}, kill {kill}: {target} events durable"),
            || {
                let Some(body) = scrape(port) else {
                    return false;
                };
                durable = parse_exposition(&body)
                    .get("genesis_journal_seq_durable")
                    .copied()
                    .unwrap_or(0.0) as u64;
                durable >= target
            },
        );
        signal(&child, libc::SIGKILL);
        let _ = child.wait_with_output();

        let events: Vec<Event> = journal_events(&journal);
        let verify = run(
            &["journal", "verify", journal.to_str().unwrap()],
            dir.path(),
        );
        assert!(
            verify.status.success(),
            "seed {seed}, kill {kill}: {}",
            text(&verify)
        );
        assert!(
            events.len() as u64 >= durable,
            "seed {seed}, kill {kill}: {} events survive, but {durable} were durable",
            events.len()
        );
    }
    let replay = run(&["replay", journal.to_str().unwrap()], dir.path());
    assert!(replay.status.success(), "seed {seed}: {}", text(&replay));
    assert!(text(&replay).contains("20 run(s)"), "{}", text(&replay));
}
