//! The journal as an operator meets it: `genesis journal verify | cat`,
//! `genesis replay`, a restart that resumes the journal, and crashes
//! (SIGKILL at seeded moments under load) that lose nothing durable.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;

use common::process::*;
use genesis_engine::event::{Event, EventKind};
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

/// Segment files in `journal` (0 before the first run).
fn segment_count(journal: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(journal) else {
        return 0;
    };
    entries
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "gjseg")
        })
        .count()
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
    let journal = dir.path().join("journal");
    let mut first_final_snapshot = false;
    // At least two runs, and as many more as it takes for the 1 MiB
    // segments to roll over. Each run goes on until it journaled a fill and
    // RUN_EVENTS_MIN events of its own, however long the CPU it gets makes
    // that (the runs are counted, not timed).
    const RUN_EVENTS_MIN: usize = 5_000;
    let mut runs_made = 0;
    while runs_made < 2 || segment_count(&journal) < 2 {
        assert!(
            runs_made < 20,
            "20 runs and the 1 MiB segments never rolled over"
        );
        let index = runs_made;
        runs_made += 1;
        let summary = dir.path().join(format!("summary-{index}.json"));
        let summary_arg = summary.to_str().unwrap();
        let before = journal_events(&journal).len();
        let output = run_until(
            &["--config", config, "--summary-json", summary_arg],
            dir.path(),
            &journal,
            &format!("run {index}: a fill and {RUN_EVENTS_MIN} events journaled"),
            |events| {
                let new = events.get(before..).unwrap_or_default();
                new.len() >= RUN_EVENTS_MIN && new.iter().any(|e| e.kind == EventKind::Fill)
            },
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
        // The first run starts on an empty journal; the second from the
        // final snapshot the first one's snapshot thread wrote at its end,
        // or (if that thread could not catch up within its deadline on a
        // loaded machine, which the report says) from a full replay.
        let restart = &report["restart"];
        match index {
            0 => assert_eq!(restart["origin"], "empty journal", "{restart}"),
            _ if first_final_snapshot => {
                assert_eq!(restart["origin"], "snapshot", "{restart}");
                assert_eq!(restart["events_replayed"], 0, "{restart}");
            }
            _ => assert_eq!(restart["origin"], "full replay", "{restart}"),
        }
        let stopped = &report["snapshots"]["stopped"];
        first_final_snapshot = stopped.is_null();
        assert!(
            stopped.is_null() || stopped.as_str().unwrap().contains("was not reached within"),
            "{report}"
        );
    }
    let events = EventReader::read_all(&journal).unwrap();
    // Every run traded (fills > 0 above); the count itself follows the CPU
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
    assert_eq!(runs.len(), runs_made);
    assert!(
        runs.windows(2).all(|pair| pair[1].0 > pair[0].0),
        "each run starts after the one before: {runs:?}"
    );
    assert!(segment_count(&journal) > 1, "1 MiB segments rolled over");

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
        text(&replay).contains(&format!("{runs_made} run(s)"))
            && text(&replay).contains(&format!(
                "state carried across {} run boundary(ies)",
                runs_made - 1
            ))
            && text(&replay).contains("every decision matches"),
        "{}",
        text(&replay)
    );
    let compared = text(&replay)
        .split("every decision matches the journal; ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        compared >= 1,
        "replay compared the kept snapshots: {}",
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
    let journal = dir.path().join("journal");
    let output = run_until(
        &["--config", config.to_str().unwrap()],
        dir.path(),
        &journal,
        "an accepted decision journaled",
        |events| events.iter().any(|e| e.intents[0].is_accepted()),
    );
    assert!(output.status.success(), "{}", text(&output));
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
        let child = spawn(
            genesis()
                .args(["run", "--config", config.to_str().unwrap()])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
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
    assert!(
        text(&replay).contains("20 run(s)")
            && text(&replay).contains("state carried across 19 run boundary(ies)"),
        "{}",
        text(&replay)
    );
}

// The newest snapshot damaged while the engine is down: the next run says
// so at start (log, report, JSON) and starts from an older one plus the
// journal after it, and replay names the damaged file it could not compare.
#[test]
fn a_damaged_snapshot_falls_back_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[metrics]\nlisten = \"\"\n[snapshot]\nevents_between = 100\n",
    );
    let config = config.to_str().unwrap();
    let summary = dir.path().join("summary.json");
    let snapshots = dir.path().join("journal").join("snapshots");
    let snapshot_count = || std::fs::read_dir(&snapshots).map_or(0, |entries| entries.count());
    // Until two snapshots are written (one every 100 events), however long
    // that takes; the run's end writes a final one.
    let first = run_until(
        &[
            "--config",
            config,
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        dir.path(),
        &dir.path().join("journal"),
        "two snapshots written",
        |_| snapshot_count() >= 2,
    );
    assert!(first.status.success(), "{}", text(&first));
    let args = [
        "run",
        "--config",
        config,
        "--duration",
        "1",
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    let mut files: Vec<_> = std::fs::read_dir(&snapshots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let newest = files.last().unwrap().clone();
    let mut bytes = std::fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&newest, &bytes).unwrap();

    let second = run(&args, dir.path());
    assert!(second.status.success(), "{}", text(&second));
    let name = newest.file_name().unwrap().to_str().unwrap();
    assert!(
        text(&second).contains(&format!("restart: snapshot {}", newest.display()))
            && text(&second)
                .contains("damaged payload (CRC32C mismatch); falling back to snapshot"),
        "{}",
        text(&second)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let restart = &report["restart"];
    assert_eq!(restart["origin"], "snapshot", "{restart}");
    assert!(
        restart["events_replayed"].as_u64().unwrap() > 0,
        "{restart}"
    );
    assert!(
        restart["fallbacks"][0].as_str().unwrap().contains(name),
        "{restart}"
    );

    let replay = run(
        &["replay", dir.path().join("journal").to_str().unwrap()],
        dir.path(),
    );
    assert!(replay.status.success(), "{}", text(&replay));
    assert!(
        text(&replay).contains("state carried across 1 run boundary(ies)"),
        "{}",
        text(&replay)
    );
}
