//! The signals the README gives an operator, beyond Ctrl-C and SIGUSR1
//! (`cli.rs`): SIGTERM stops a run as cleanly as Ctrl-C, and SIGUSR2
//! releases the kill switch SIGUSR1 engaged, after which orders go again.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;

use common::process::*;
use genesis_engine::decision::Action;
use genesis_engine::event::{ControlCommand, Event, Input};
use std::path::Path;

/// A run on the defaults with sleeping waits and an unpinned thread,
/// writing its journal and `summary.json` under `dir`.
fn start_run(dir: &Path) -> ChildGuard {
    common::process::start_run(
        dir,
        "[topology]\npin_threads = false\nwait = \"sleep\"\n[market_data]\nrate_per_sec = 20000\n[metrics]\nlisten = \"\"\n",
    )
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn is_control(event: &Event, command: ControlCommand) -> bool {
    event.input() == Input::Control(command)
}

fn accepts_a_new_order(event: &Event) -> bool {
    event
        .intents
        .iter()
        .any(|intent| intent.is_accepted() && intent.action == Action::New)
}

// SIGTERM (what systemd sends) stops the run cleanly: exit 0, the report
// printed, every event the report counts is in the journal.
#[test]
fn sigterm_stops_cleanly_with_report() {
    let dir = tempfile::tempdir().unwrap();
    let child = start_run(dir.path());
    let journal_dir = dir.path().join("genesis-data/journal");
    wait_until("1,000 events in the journal", || {
        journal_events(&journal_dir).len() > 1_000
    });
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_clean_stop(&output, dir.path(), &journal_dir);
}

// SIGUSR1 engages cancel-all, SIGUSR2 releases it: both are journaled in
// that order, and a new order is accepted after the release.
#[test]
fn sigusr2_releases_the_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let child = start_run(dir.path());
    let journal_dir = dir.path().join("genesis-data/journal");
    let events = || journal_events(&journal_dir);
    wait_until("orders in the journal", || {
        events().iter().any(accepts_a_new_order)
    });
    signal(&child, libc::SIGUSR1);
    wait_until("the kill switch in the journal", || {
        events()
            .iter()
            .any(|e| is_control(e, ControlCommand::KillSwitchCancelAll))
    });
    signal(&child, libc::SIGUSR2);
    let released_at = || {
        events()
            .iter()
            .position(|e| is_control(e, ControlCommand::KillSwitchOff))
    };
    wait_until("the release in the journal", || released_at().is_some());
    wait_until("a new order accepted after the release", || {
        let at = released_at().unwrap();
        events()[at..].iter().any(accepts_a_new_order)
    });
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events();
    let engaged = events
        .iter()
        .position(|e| is_control(e, ControlCommand::KillSwitchCancelAll))
        .unwrap();
    assert!(engaged < released_at_in(&events), "engaged before released");
    assert_eq!(summary(dir.path())["control_events"].as_u64(), Some(2));
}

fn released_at_in(events: &[Event]) -> usize {
    events
        .iter()
        .position(|e| is_control(e, ControlCommand::KillSwitchOff))
        .expect("the release is journaled")
}
