//! Reconciliation that times out: the engine's OrderMassStatusRequest never
//! reaches the venue (a proxy drops it; the engine gap-fills the venue's
//! ResendRequest, never resending an application message), so no answer
//! comes. Past `reconcile_timeout_ms` new orders stay gated, the
//! `reconcile` alert goes critical and `genesis_reconcile_gate_held` reads 1;
//! nothing is sent. The operator's SIGHUP releases the gate (journaled as a
//! control command): orders go out again and the report counts the timeout
//! and the release.

#![allow(clippy::disallowed_methods)] // the timeout and the trading are wall-clock

mod common;

use common::process::{free_port, journal_events, scrape, signal, wait_until, write_run_config};
use common::venue::{Engine, Proxy, Venue};
use genesis_engine::event::{ControlCommand, EventKind, Input};

#[test]
fn timed_out_reconciliation_holds_the_gate_until_the_operator_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let fix_port = free_port();
    let (venue_config, _) = write_run_config(dir.path(), "venue", "");
    let venue = Venue::start(dir.path(), &venue_config, fix_port);
    let proxy = Proxy::dropping(([127, 0, 0, 1], fix_port).into(), Some("|35=AF|"));
    let metrics_port = free_port();
    let (config, journal) = write_run_config(
        dir.path(),
        "engine",
        &format!(
            "[market_data]\nsource = \"binance-ws\"\n[market_data.binance]\nurl = \"{}\"\n\
             [venue]\nkind = \"fix\"\n\
             [venue.fix]\nhost = \"127.0.0.1\"\nport = {}\nseq_file = \"\"\n\
             reconcile = \"mass-status\"\nreconcile_timeout_ms = 500\n",
            venue.ws_url, proxy.port
        ),
    );
    // The metrics endpoint on (write_run_config turns it off).
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "listen = \"\"",
            &format!("listen = \"127.0.0.1:{metrics_port}\""),
        )
        .replace("[metrics]\n", "[metrics]\ninterval_ms = 100\n");
    std::fs::write(&config, text).unwrap();
    let engine = Engine::start(dir.path(), &config, 1);
    engine.wait_log("the timeout", "reconciliation with the venue timed out");
    wait_until("the alert and the gauge", || {
        scrape(metrics_port).is_some_and(|body| body.contains("genesis_reconcile_gate_held 1"))
            && engine
                .log()
                .lines()
                .any(|line| line.contains("CRITICAL") && line.contains("\"reconcile\""))
    });
    // Gated: market data flows (200 tops journaled while the gate is held,
    // counted rather than waited out), nothing goes out.
    let held_at = journal_events(&journal).len();
    wait_until("market data while the gate is held", || {
        let events = journal_events(&journal);
        let tops = events.get(held_at..).unwrap_or_default().iter();
        tops.filter(|e| e.kind == EventKind::TopOfBook).count() >= 200
    });
    assert!(
        !proxy.sent_text().contains("|35=D|"),
        "no order while the gate is held"
    );
    signal(&engine.child, libc::SIGHUP);
    wait_until("orders after the release", || {
        proxy.sent_text().contains("|35=D|")
    });
    wait_until("the gauge back to 0", || {
        scrape(metrics_port).is_some_and(|body| body.contains("genesis_reconcile_gate_held 0"))
    });
    let report = engine.stop();
    drop(venue);
    let reconcile = &report["reconcile"];
    assert_eq!(reconcile["timeouts"], 1, "{report}");
    assert_eq!(reconcile["releases"], 1, "{report}");
    assert_eq!(reconcile["gate_held"], false, "{report}");
    assert!(report["orders_sent"].as_u64().unwrap() > 0, "{report}");
    let released = journal_events(&journal)
        .iter()
        .filter(|e| e.input() == Input::Control(ControlCommand::ReconcileRelease))
        .count();
    assert_eq!(released, 1, "the release is journaled");
}
