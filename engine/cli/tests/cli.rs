//! The `genesis` binary as an operator runs it: the default run, Ctrl-C,
//! help, and a broken config.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;

use common::process::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A run unpinned, with sleeping waits, at 20,000 market events a second.
const RUN_CONFIG: &str =
    "[topology]\npin_threads = false\nwait = \"sleep\"\n[market_data]\nrate_per_sec = 20000\n";

// `genesis run` on the built-in defaults, stopped with Ctrl-C once a fill
// is journaled (however long the CPU it gets makes that), trades and
// prints the per-stage table.
#[test]
fn default_run_trades_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_until(
        &["--summary-json", "summary.json"],
        dir.path(),
        &dir.path().join("genesis-data/journal"),
        "a fill journaled",
        |events| {
            events
                .iter()
                .any(|e| e.kind == genesis_engine::event::EventKind::Fill)
        },
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for stage in ["ingest", "risk", "strategy", "execution", "journal"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(stage)),
            "row for {stage} in:\n{stdout}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let number = |key: &str| {
        summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {summary}"))
    };
    // How many events the run took follows the CPU it got; what must hold
    // is that it traded and that the journal holds every one of them
    // (checked below).
    assert!(number("events") > 0, "{summary}");
    assert!(number("orders_sent") > 0, "{summary}");
    assert!(number("fills") > 0, "{summary}");
    assert_eq!(number("dropped"), 0);
    assert_eq!(summary["stages"].as_array().unwrap().len(), 5);
    // Tick-to-trade crosses loopback TCP and a FIX encode and decode: no
    // sample is below a microsecond (they were 1 ns when the venue
    // subtracted a TSC time from a CLOCK_REALTIME stamp).
    let tick_to_trade = &summary["tick_to_trade_ns"];
    assert!(tick_to_trade["count"].as_u64().unwrap() > 0, "{summary}");
    let p50 = tick_to_trade["p50"].as_u64().unwrap();
    assert!(p50 >= 1_000, "tick-to-trade p50 {p50} ns: {summary}");
    assert!(
        summary["stages"][4]["since_recv_ns"]["p99"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        journal_records(&dir.path().join("genesis-data/journal")),
        number("events")
    );
    // The latency interval log holds every stage's histograms, counting every event.
    let log_path = summary["latency_log_path"].as_str().expect("a latency log");
    let log = genesis_histlog::read_interval_log_file(&dir.path().join(log_path)).unwrap();
    assert!(log.damage.is_empty(), "{:?}", log.damage);
    for stage in ["ingest", "risk", "strategy", "execution", "journal"] {
        let count: u64 = log
            .intervals
            .iter()
            .filter(|i| i.tag.as_deref() == Some(stage))
            .map(|i| i.histogram.len())
            .sum();
        assert_eq!(count, number("events"), "events in the {stage} intervals");
    }
    // The engine's own tick-to-trade: orders on market data were stamped
    // from the kernel's receive to the FIX write; every order is in all
    // four histograms, each part at most the total, and the log holds the
    // four tags with the same count as the summary.
    let engine = &summary["engine_tick_to_trade_ns"];
    let count = engine["total"]["count"].as_u64().unwrap_or(0);
    assert!(count > 0, "engine tick-to-trade measured: {summary}");
    for part in ["recv_read", "read_decide", "decide_send"] {
        assert_eq!(engine[part]["count"].as_u64(), Some(count), "{part}");
        assert!(
            engine[part]["max"].as_u64().unwrap() <= engine["total"]["max"].as_u64().unwrap(),
            "{part} within the total: {engine}"
        );
    }
    for tag in genesis_engine::telemetry::tick_to_trade::TAGS {
        let logged: u64 = log
            .intervals
            .iter()
            .filter(|i| i.tag.as_deref() == Some(tag))
            .map(|i| i.histogram.len())
            .sum();
        assert_eq!(logged, count, "orders in the {tag} intervals");
    }
    assert!(summary["loopback_tcp_rtt_ns"]["count"].as_u64().unwrap() > 0);
    assert!(stdout.contains("\nengine t2t "), "{stdout}");
}

// Ctrl-C stops cleanly: every event read is journaled and the report still prints.
#[test]
fn interrupt_stops_cleanly_with_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_run(dir.path(), RUN_CONFIG);
    let journal_dir = dir.path().join("genesis-data/journal");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let grown = journal_events(&journal_dir).len() > 1_000;
        if grown {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine wrote no journal within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, libc::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the engine did not stop within 30 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert_clean_stop(&output, dir.path(), &journal_dir);
}

// --help documents the commands and their flags.
#[test]
fn help_documents_everything() {
    let top = genesis().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("run") && text.contains("config"), "{text}");
    let run = genesis().args(["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    for flag in [
        "--config",
        "--duration",
        "--summary-json",
        "--rate",
        "Ctrl-C",
    ] {
        assert!(text.contains(flag), "{flag} in:\n{text}");
    }
}

// A broken config is a clear error naming the key, exit code 2, no panic.
#[test]
fn broken_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[risk]\nmax_open_orders = -3\n").unwrap();
    let output = genesis()
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("max_open_orders") && stderr.contains("bad.toml"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// A --duration no clock can hold is refused naming the flag and the range, no panic.
#[test]
fn impossible_duration_is_refused() {
    for duration in ["1e30", "18446744073709551615", "-1", "0", "nan", "inf"] {
        let output = genesis()
            .args(["run", &format!("--duration={duration}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{duration}: {stderr}");
        assert!(
            stderr.contains("--duration") && stderr.contains("allowed range"),
            "{duration}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{duration}: {stderr}");
    }
}

// SIGUSR1 engages the kill switch (cancel-all) through the control lane: it is
// journaled, open orders are cancelled and nothing new is accepted after it.
#[test]
fn sigusr1_engages_cancel_all() {
    use genesis_engine::decision::{Action, Outcome};
    use genesis_engine::event::{ControlCommand, Input};
    let dir = tempfile::tempdir().unwrap();
    let child = start_run(dir.path(), RUN_CONFIG);
    let journal_dir = dir.path().join("genesis-data/journal");
    let events = || journal_events(&journal_dir);
    wait_until("orders in the journal", || {
        events().iter().any(|e| {
            e.intents
                .iter()
                .any(|i| i.is_accepted() && i.action == Action::New)
        })
    });
    signal(&child, libc::SIGUSR1);
    let is_kill = |e: &genesis_engine::event::Event| {
        e.input() == Input::Control(ControlCommand::KillSwitchCancelAll)
    };
    wait_until("the kill switch in the journal", || {
        events().iter().any(is_kill)
    });
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events();
    let at = events.iter().position(is_kill).unwrap();
    assert_eq!(events[at].outcome, Outcome::MassCancel);
    let accepted_after = events[at..]
        .iter()
        .flat_map(|e| e.intents.iter())
        .filter(|i| i.is_accepted() && i.action != Action::Cancel)
        .count();
    assert_eq!(
        accepted_after, 0,
        "no new order or replace accepted after the kill switch"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["control_events"].as_u64(), Some(1));
}

// The metrics endpoint is scraped during a run: counters move, stage
// latencies, the engine's tick-to-trade and rings are there.
#[test]
fn metrics_endpoint_is_scraped_during_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("dev.toml");
    std::fs::write(
        &config,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\ncores = {{ ingest = 0, risk = 0, strategy = 1, execution = 1, journal = 1 }}\n[metrics]\ninterval_ms = 100\nlisten = \"127.0.0.1:{port}\"\n[market_data]\nrate_per_sec = 20000\n"
        ),
    )
    .unwrap();
    let child = spawn(
        genesis()
            .args(["run", "--config", config.to_str().unwrap()])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut metrics = std::collections::HashMap::new();
    wait_until("a scrape with events, orders and stage latencies", || {
        let Some(body) = scrape(port) else {
            return false;
        };
        metrics = parse_exposition(&body);
        metrics
            .get("genesis_events_total")
            .is_some_and(|v| *v > 1_000.0)
            && metrics
                .get("genesis_orders_sent_total")
                .is_some_and(|v| *v > 0.0)
            && metrics.contains_key(
                "genesis_stage_latency_seconds{stage=\"journal\",kind=\"since_recv\",quantile=\"0.99\"}",
            )
            && metrics
                .get("genesis_tick_to_trade_seconds_count{part=\"total\"}")
                .is_some_and(|v| *v > 0.0)
            // The rate is of the reporter's last interval, which a loaded
            // host may have left without a counter update: the same scrape
            // must show it moving too.
            && metrics
                .get("genesis_events_per_second")
                .is_some_and(|v| *v > 0.0)
    });
    assert!(
        metrics.contains_key("genesis_ring_depth{ring=\"0\"}"),
        "{metrics:?}"
    );
    // A live scrape, journal and ring series included, passes promtool.
    let body = scrape(port).expect("a second scrape");
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed; test.sh installs it");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), body.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(metrics["genesis_rss_bytes"] > 1e6);
    assert_eq!(metrics["genesis_dropped_total"], 0.0);
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// `genesis doctor` reports the engine's checks, and a core that does not exist is a FAIL.
#[test]
fn doctor_reports_checks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad-cores.toml");
    std::fs::write(
        &config,
        format!(
            "[topology]\ncores = {{ ingest = 0, risk = 0, strategy = 0, execution = 0, journal = 4096 }}\n[metrics]\nlisten = \"\"\n[journal]\ndir = \"{}\"\n",
            dir.path().join("journal").display()
        ),
    )
    .unwrap();
    let output = genesis()
        .args(["doctor", "--config", config.to_str().unwrap()])
        .env("GENESIS_TUNING_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL  core plan") && l.contains("4096")),
        "{stdout}"
    );
    // PASS, or WARN when the disk has under 10 GiB free: either way the folder
    // was created and written, and the check names it.
    assert!(
        stdout
            .lines()
            .any(|l| (l.starts_with("PASS  journal folder")
                || l.starts_with("WARN  journal folder"))
                && l.contains("GiB free")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("SKIP  metrics port")),
        "{stdout}"
    );
}
