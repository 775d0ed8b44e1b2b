//! Genesis itself against QuickFIX/C++'s example acceptor "executor", which
//! fills every limit order at its price, run as a strict venue: every
//! message validated against the FIX 4.4 data dictionary, user-defined
//! fields included. `genesis run` with `venue.kind = "fix"` logs on,
//! reconciles (the executor refuses OrderMassStatusRequest with a
//! BusinessMessageReject: the engine falls back to OrderStatusRequests),
//! heartbeats, trades, and its positions match its fills; a restart resumes
//! sequence numbers without being rejected; a restart after missed messages
//! recovers them through ResendRequest, and the resent fills already
//! journaled are recognised as duplicates, not counted twice. With the
//! user-defined trigger-time tag (5051) turned on, the executor rejects
//! every NewOrderSingle at session level, and each order ends rejected in
//! the engine with that reason.
//!
//! Like io's QuickFIX test, it installs the Debian packages when missing (as
//! root) and fails in CI (CI=true) if the executor cannot be built.

#![allow(clippy::disallowed_methods)] // tests wait on wall-clock deadlines

mod common;
#[path = "../../../io/tests/support/quickfix.rs"]
mod quickfix;

use common::process::{journal_events, run_until};
use genesis_engine::event::{venue_reason, Event, EventKind, Input, RejectedRequest};
use genesis_engine::journal_stage::EventReader;
use genesis_io::fix::seq_store::{SeqNumbers, SeqStore};
use std::path::Path;

/// `genesis run` against the executor with `strategy` (`fix_extra` adds
/// `[venue.fix]` keys) until `done` holds of the events this run journaled,
/// then Ctrl-C; its summary. A run lasts as long as the CPU it gets makes
/// it: a fixed `--duration` on a loaded host may end before it traded.
fn run_genesis(
    dir: &Path,
    port: u16,
    (strategy, fix_extra): (&str, &str),
    what: &str,
    mut done: impl FnMut(&[Event]) -> bool,
) -> serde_json::Value {
    let config = dir.join("genesis.toml");
    let journal = dir.join("journal");
    std::fs::write(
        &config,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n\
             [market_data]\nrate_per_sec = 5000\n\
             [risk]\norders_per_window = 50\n\
             [strategy]\nname = \"{strategy}\"\n\
             [metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n\
             [journal]\ndir = \"{journal}\"\n\
             [venue]\nkind = \"fix\"\n\
             [venue.fix]\nport = {port}\nsender_comp_id = \"GENESIS\"\ntarget_comp_id = \"EXECUTOR\"\nheartbeat_s = 1\nseq_file = \"{seq}\"\n{fix_extra}",
            journal = journal.display(),
            seq = dir.join("GENESIS-EXECUTOR.seq").display()
        ),
    )
    .unwrap();
    let summary = dir.join("summary.json");
    let from = journal_events(&journal).len();
    let output = run_until(
        &[
            "--config",
            config.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        dir,
        &journal,
        what,
        |events| done(events.get(from..).unwrap_or_default()),
    );
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap()
}

/// A fill of an order of this run's journal (not a resent duplicate).
fn filled(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| e.kind == EventKind::Fill && !e.is_duplicate())
}

/// New orders refused at session level (the venue's reject reason between
/// session and business rejects).
fn session_rejects(events: &[Event]) -> u64 {
    events
        .iter()
        .filter(|e| {
            matches!(e.input(), Input::OrderReject(r)
                if r.request == RejectedRequest::New
                    && (venue_reason::SESSION_REJECT..venue_reason::BUSINESS_REJECT)
                        .contains(&r.venue_reason))
        })
        .count() as u64
}

/// Signed fill quantity per instrument over `events`, duplicates excluded.
fn positions_from_fills(events: &[Event], instruments: usize) -> Vec<i64> {
    let mut positions = vec![0; instruments];
    for event in events
        .iter()
        .filter(|e| e.kind == EventKind::Fill && !e.is_duplicate())
    {
        if let Input::Fill(fill) = event.input() {
            positions[event.instrument.index()] += event.side.sign() * fill.qty.0;
        }
    }
    positions
}

#[test]
fn genesis_trades_with_quickfix_executor() {
    if let Err(why) = quickfix::ensure_packages() {
        assert!(
            !quickfix::in_ci(),
            "QuickFIX executor unavailable in CI: {why}"
        );
        eprintln!("SKIPPED (not CI): {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    // Compiled where io's QuickFIX test compiles it, and reused from there
    // when the sources are the same: one g++ run per CI run, not two.
    let compiled = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickfix-acceptors");
    std::fs::create_dir_all(&compiled).unwrap();
    let binary = quickfix::build_executor(&compiled).unwrap();
    let port = quickfix::free_port();
    let executor = quickfix::start_strict_executor(&binary, &build, port);

    // 1. Logon, heartbeats, orders filled, positions equal to the fills.
    let first = run_genesis(
        dir.path(),
        port,
        ("market-maker", ""),
        "a fill over FIX",
        filled,
    );
    assert!(first["orders_sent"].as_u64().unwrap() > 0, "{first}");
    assert!(first["fills"].as_u64().unwrap() > 0, "{first}");
    let journal = dir.path().join("journal");
    let events = EventReader::read_all(&journal).unwrap();
    let positions: Vec<i64> = first["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert_eq!(
        positions,
        positions_from_fills(&events, positions.len()),
        "risk positions equal the fills"
    );
    // An idle session (no strategy) heartbeats every second: the run goes
    // on until the executor's log holds more heartbeats than before it.
    let heartbeats = || {
        std::fs::read_to_string(&executor.log_path)
            .unwrap_or_default()
            .matches("35=0\u{1}")
            .count()
    };
    let before = heartbeats();
    run_genesis(
        dir.path(),
        port,
        ("none", ""),
        "heartbeats in the executor's log",
        |_| heartbeats() > before,
    );

    // 2. A restart resumes the sequence numbers: no reject, no "too low" logout, more fills.
    let store = SeqStore::new(dir.path().join("GENESIS-EXECUTOR.seq"));
    let after_first = store.load().unwrap().unwrap();
    let second = run_genesis(
        dir.path(),
        port,
        ("market-maker", ""),
        "a fill after the restart",
        filled,
    );
    assert!(second["fills"].as_u64().unwrap() > 0, "{second}");
    let after_second = store.load().unwrap().unwrap();
    assert!(
        after_second.next_out > after_first.next_out,
        "{after_first:?} → {after_second:?}"
    );
    let log = std::fs::read_to_string(&executor.log_path).unwrap_or_default();
    assert!(
        !log.contains("MsgSeqNum too low"),
        "{}",
        executor.log_tail()
    );

    // 3. Pretend the last messages were never read: the restart asks for them
    // again (ResendRequest); the resent fills are already journaled, so they
    // come back flagged duplicate and positions do not move twice.
    store
        .save(SeqNumbers {
            next_out: after_second.next_out,
            next_in: after_second.next_in.saturating_sub(20).max(1),
        })
        .unwrap();
    let third = run_genesis(
        dir.path(),
        port,
        ("market-maker", ""),
        "a resent fill recognised as a duplicate",
        |events| {
            events
                .iter()
                .any(|e| e.kind == EventKind::Fill && e.is_duplicate())
        },
    );
    assert!(
        third["duplicate_fills"].as_u64().unwrap() > 0,
        "resent fills recognised: {third}"
    );
    // Positions carry across restarts: the third run's are every run's fills.
    let events = EventReader::read_all(&journal).unwrap();
    let positions: Vec<i64> = third["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert_eq!(
        positions,
        positions_from_fills(&events, positions.len()),
        "duplicates are not counted"
    );
    let log = std::fs::read_to_string(&executor.log_path).unwrap_or_default();
    assert!(
        log.contains("35=2"),
        "a ResendRequest reached the executor:\n{}",
        executor.log_tail()
    );
    assert!(
        !log.contains("5051="),
        "no user-defined tag reached the strict venue:\n{}",
        executor.log_tail()
    );

    // 4. With tag 5051 on, the strict venue refuses each NewOrderSingle at
    // session level (35=3, RefTagID 5051): each order this run sends ends
    // rejected in the engine, journaled with the session-level reason, and
    // none is ever accepted. Orders the previous run sent just before it
    // stopped were filled meanwhile and come back through the resend, so
    // only this run's own orders (ids from its start's `order_id_next`) are
    // held to that; one whose reject was still on its way at the stop is
    // pending, never working.
    let refused = run_genesis(
        dir.path(),
        port,
        ("market-maker", "send_trigger_time = true\n"),
        "an order refused at session level",
        |events| session_rejects(events) > 0,
    );
    assert!(refused["orders_sent"].as_u64().unwrap() > 0, "{refused}");
    let own_first = refused["restart"]["order_id_next"].as_u64().unwrap();
    let own = |order_id: u64| order_id >= own_first;
    let from = refused["journal_seq_first"].as_u64().unwrap();
    let events = EventReader::read_all(&journal).unwrap();
    let accepted = events
        .iter()
        .filter(|e| e.seq >= from)
        .filter(|e| match e.input() {
            Input::OrderAck(ack) => own(ack.order_id.0),
            Input::Fill(fill) => own(fill.order_id.0),
            _ => false,
        })
        .count();
    assert_eq!(
        accepted, 0,
        "no order of this run acked or filled: {refused}"
    );
    for order in refused["open_orders"].as_array().unwrap() {
        if own(order["order_id"].as_u64().unwrap()) {
            assert_eq!(
                order["state"], "PendingNew",
                "every refused order is closed or still awaits its reject: {refused}"
            );
        }
    }
    let this_run: Vec<Event> = events.iter().filter(|e| e.seq >= from).copied().collect();
    let session_rejects = session_rejects(&this_run);
    assert!(session_rejects > 0, "{refused}");
    let log = std::fs::read_to_string(&executor.log_path).unwrap_or_default();
    assert!(
        log.contains("371=5051"),
        "the executor named the tag it refused:\n{}",
        executor.log_tail()
    );
    drop(executor);
}
