//! The simulated venue on its own (`genesis venue-sim`) serving two engines
//! in other processes at once: one takes market data as ITCH over UDP, one
//! as Binance-compatible WebSocket streams; both trade over FIX, each its own
//! session. And the
//! in-process default with the WebSocket feed (`source = "binance-sim"`).
//! Every fill an engine journals is one the venue says it sent.

mod common;

use common::process::{
    free_port, free_udp_port, genesis, journal_events, lines_of, run_until, signal, spawn,
    wait_for_line, write_run_config,
};
use genesis_engine::event::{Event, EventKind, FLAG_STALE};
use std::path::Path;
use std::process::Stdio;

/// How long to wait for one line of the simulator's output.
const LINE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// The number after `label` in `line` ("… 12 fills to the session …").
fn number_before(line: &str, label: &str) -> u64 {
    let head = &line[..line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} in {line:?}"))];
    head.split_whitespace().last().unwrap().parse().unwrap()
}

/// Tops journaled fresh (the book was synced).
fn live_tops(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| e.kind == EventKind::TopOfBook && e.flags & FLAG_STALE == 0)
        .count()
}

/// Instruments of the default config.
const INSTRUMENTS: usize = 4;

/// Instruments with a fresh top journaled (their books synced).
fn synced_instruments(events: &[Event]) -> usize {
    let synced: std::collections::BTreeSet<usize> = events
        .iter()
        .filter(|e| e.kind == EventKind::TopOfBook && e.flags & FLAG_STALE == 0)
        .map(|e| e.instrument.index())
        .collect();
    synced.len()
}

/// What a run must have journaled before it is stopped: market data (more
/// than 100 live tops) and a fill. Runs go on until then, however long the
/// CPU they get makes that, instead of for a fixed time.
fn traded(events: &[Event]) -> bool {
    live_tops(events) > 100 && events.iter().any(|e| e.kind == EventKind::Fill)
}

/// An engine run in its own process, trading with the standalone venue.
struct EngineRun {
    name: &'static str,
    child: common::process::ChildGuard,
    journal: std::path::PathBuf,
    summary: std::path::PathBuf,
    log: std::path::PathBuf,
}

fn start_engine(dir: &Path, name: &'static str, market_data: &str, fix_port: u16) -> EngineRun {
    let (config, journal) = write_run_config(
        dir,
        name,
        &format!(
            "{market_data}\n\
             [venue]\nkind = \"fix\"\n[venue.fix]\nhost = \"127.0.0.1\"\nport = {fix_port}\nseq_file = \"\"\n"
        ),
    );
    let summary = dir.join(format!("{name}.json"));
    // Its log to a file: a pipe nobody reads while the test waits on the
    // journal would fill and stall the engine.
    let log = dir.join(format!("{name}.log"));
    let child = spawn(
        genesis()
            .args(["run", "--config", config.to_str().unwrap()])
            .arg("--summary-json")
            .arg(&summary)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    EngineRun {
        name,
        child,
        journal,
        summary,
        log,
    }
}

/// Waits until the run traded (see [`traded`]).
fn wait_traded(run: &EngineRun) {
    let log = || std::fs::read_to_string(&run.log).unwrap_or_default();
    common::process::wait_until_or(
        &format!("{}: market data and a fill journaled", run.name),
        || traded(&journal_events(&run.journal)),
        || {
            let tops = live_tops(&journal_events(&run.journal));
            format!("({tops} live tops); log:\n{}", log())
        },
    );
}

/// Stops the run once it traded (see [`traded`]); its report, checked
/// against its journal.
fn finish_engine(run: EngineRun) -> serde_json::Value {
    let name = run.name;
    let log = || std::fs::read_to_string(&run.log).unwrap_or_default();
    wait_traded(&run);
    signal(&run.child, libc::SIGINT);
    let output = run.child.wait_with_output().unwrap();
    assert!(output.status.success(), "{name}: {}", log());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&run.summary).unwrap()).unwrap();
    let events = journal_events(&run.journal);
    let fills = events.iter().filter(|e| e.kind == EventKind::Fill).count() as u64;
    assert_eq!(
        report["fills"].as_u64(),
        Some(fills),
        "{name}: journal and report agree"
    );
    let live_tops = live_tops(&events);
    assert!(
        live_tops > 100,
        "{name}: market data arrived: {live_tops} live tops"
    );
    assert!(fills > 0, "{name}: the engine traded: {report}");
    report
}

#[test]
fn standalone_venue_sim_serves_engines_over_itch_websocket_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (fix_port, ws_port) = (free_port(), free_port());
    let (feed_port, request_port) = (free_udp_port(), free_udp_port());
    // Every port given: the defaults (26400-26402) are fixed, and anything
    // else on the host may hold them.
    let snapshot_port = free_port();
    let mut sim = spawn(
        genesis()
            .args(["venue-sim", "--rate", "20000"])
            .args(["--fix-port", &fix_port.to_string()])
            .args(["--itch-to", &format!("127.0.0.1:{feed_port}")])
            .args(["--itch-request-port", &request_port.to_string()])
            .args(["--itch-snapshot-port", &snapshot_port.to_string()])
            .args(["--ws-port", &ws_port.to_string()])
            .stdout(Stdio::piped()),
    );
    let lines = lines_of(&mut sim);
    let mut seen = Vec::new();
    let ws_line = wait_for_line(&lines, "WebSocket ws://", LINE_PATIENCE, &mut seen);
    let url = ws_line.split_whitespace().last().unwrap().to_string();
    wait_for_line(&lines, "Ctrl-C stops", LINE_PATIENCE, &mut seen);

    // Two engines at once, two sessions on one venue: one reads ITCH, one WebSocket.
    let itch = start_engine(
        dir.path(),
        "itch",
        &format!(
            "[market_data]\nsource = \"itch\"\n[market_data.itch]\nfeed_bind = \"127.0.0.1:{feed_port}\"\n\
             request_server = \"127.0.0.1:{request_port}\"\nsnapshot_server = \"127.0.0.1:{snapshot_port}\""
        ),
        fix_port,
    );
    // The venue's market moves once a FIX session connects; the ITCH engine
    // binds its feed socket before it opens its journal, so once the journal
    // folder exists it hears the feed from sequence 1 whoever connects first.
    common::process::wait_until("the ITCH engine's journal", || itch.journal.exists());
    let websocket = start_engine(
        dir.path(),
        "websocket",
        &format!("[market_data]\nsource = \"binance-ws\"\n[market_data.binance]\nurl = \"{url}\""),
        fix_port,
    );
    // Both trade before either stops: two sessions at once.
    wait_traded(&itch);
    wait_traded(&websocket);
    let (itch, websocket) = (finish_engine(itch), finish_engine(websocket));

    signal(&sim, libc::SIGINT);
    let totals = wait_for_line(&lines, "fills to the session", LINE_PATIENCE, &mut seen);
    assert!(sim.wait().unwrap().success(), "{seen:#?}");
    let venue_fills = number_before(&totals, "fills to the session");
    let engine_fills = itch["fills"].as_u64().unwrap() + websocket["fills"].as_u64().unwrap();
    // A fill in flight when an engine stops is sent but never read; none is invented.
    assert!(
        engine_fills <= venue_fills,
        "engines journaled {engine_fills} fills, the venue sent {venue_fills}"
    );
    assert!(number_before(&totals, "executions") >= venue_fills);
    assert!(number_before(&totals, "snapshots") >= 1, "{totals}");
}

#[test]
fn default_run_with_the_websocket_feed() {
    let dir = tempfile::tempdir().unwrap();
    let (config, journal) = write_run_config(
        dir.path(),
        "websocket",
        "[market_data]\nsource = \"binance-sim\"\nrate_per_sec = 20000",
    );
    let summary = dir.path().join("summary.json");
    let output = run_until(
        &[
            "--config",
            config.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        dir.path(),
        &journal,
        "market data on every instrument and a fill journaled",
        |events| traded(events) && synced_instruments(events) == INSTRUMENTS,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let events = journal_events(&journal);
    let tops: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::TopOfBook)
        .collect();
    let live = tops.iter().filter(|e| e.flags & FLAG_STALE == 0).count();
    assert!(
        live > 100,
        "bookTickers arrived once the books synced: {live}"
    );
    for top in &tops {
        if let genesis_engine::event::Input::TopOfBook(t) = top.input() {
            assert!(
                t.bid_px.0 < t.ask_px.0,
                "the venue's book never crosses: {t:?}"
            );
        }
    }
    assert!(report["fills"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["tick_to_trade_ns"]["count"].as_u64().unwrap() > 0,
        "{report}"
    );
    // The WebSocket feed's messages carry the kernel's receive stamps.
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.lines()
            .any(|l| l.contains("kernel receive stamps on") && l.contains("binance-sim")),
        "{log}"
    );
    // The default binance-sim run takes its snapshots by Binance's
    // documented procedure: REST, on the venue's port beside the streams.
    let rest = report["venue_sim"]["ws_rest_snapshots_sent"]
        .as_u64()
        .unwrap();
    assert!(rest >= 4, "a REST snapshot per instrument: {report}");
    assert_eq!(
        report["venue_sim"]["ws_snapshots_sent"].as_u64().unwrap(),
        rest,
        "no WebSocket-API snapshot: {report}"
    );
}

/// A simulated venue serving FIX only, and our FIX client for it (not yet
/// connected; it connects when polled) with the gateway that feeds it.
fn fix_session(
    config: &genesis_engine::config::Config,
    hold_market: bool,
) -> (
    genesis_sim::VenueSim,
    genesis_engine::adapters::QueueGateway,
    genesis_engine::adapters::fix::FixClient,
) {
    use genesis_cli::sim_glue::{self, WalkFlow};
    use genesis_sim::{VenueSim, VenueSimSetup};
    let clock = genesis_engine::clock::EpochClock::new();
    let sim = VenueSim::start(
        &sim_glue::sim_config(config),
        VenueSimSetup {
            fix_addr: "127.0.0.1:0".parse().unwrap(),
            sender_comp_id: config.venue.fix.target_comp_id.clone(),
            target_comp_id: config.venue.fix.sender_comp_id.clone(),
            itch: None,
            ws_addr: None,
            flow: Box::new(WalkFlow::new(config, &clock)),
            now_ns: sim_glue::now_ns(),
            hold_market,
            cancel_on_disconnect: true,
        },
    )
    .unwrap();
    let (gateway, requests) = genesis_engine::adapters::QueueGateway::stamping(64);
    let client = genesis_engine::adapters::fix::FixClient::new(
        config,
        &config.venue.fix,
        sim.fix_addr,
        requests,
    )
    .unwrap();
    (sim, gateway, client)
}

/// Polls the client's venue lane until `done` holds for an event (30 s deadline).
fn poll_until(
    client: &mut genesis_engine::adapters::fix::FixClient,
    clock: &genesis_engine::clock::EpochClock,
    what: &str,
    done: impl Fn(&genesis_engine::event::Event) -> bool,
) -> genesis_engine::event::Event {
    use genesis_engine::ingest::Source;
    let mut found = None;
    common::process::wait_until(what, || {
        client.poll(clock, 64, &mut |event| {
            if found.is_none() && done(&event) {
                found = Some(event);
            }
        });
        found.is_some()
    });
    found.unwrap()
}

// An order that waited for the session longer than `pending_age_max_ms` is
// rejected locally when the session comes up, not sent on old prices; one
// queued once the session is up goes out and is acked.
#[test]
fn requests_that_waited_too_long_for_the_session_are_not_sent() {
    use genesis_engine::adapters::fix::VENUE_REJECT_NOT_CONNECTED;
    use genesis_engine::event::Input;
    use genesis_engine::execution::gateway::{Gateway, OrderRequest, RequestKind};
    use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};

    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.venue.fix.pending_age_max_ms = 300;
    config.venue.fix.seq_file = std::path::PathBuf::new();
    // No execution stage here to apply a reconciliation.
    config.venue.fix.reconcile = genesis_engine::config::ReconcileMode::Off;
    let (mut sim, mut gateway, mut client) = fix_session(&config, false);
    let clock = genesis_engine::clock::EpochClock::new();
    let order = |id: u64| OrderRequest {
        kind: RequestKind::New,
        order_id: OrderId(id),
        instrument: InstrumentId(0),
        side: Side::Buy,
        price: Price(9_000),
        qty: Qty(1),
        ts_trigger_ns: clock.now_ns(),
        ts_decided_ns: clock.now_ns(),
        trigger_seq: 0,
    };
    // Queued before the client's first poll, which connects and sends the
    // logon: the session cannot be up before the next poll reads the answer.
    gateway.send(&order(1)).unwrap();
    genesis_engine::ingest::Source::poll(&mut client, &clock, 64, &mut |_| {});
    // Then left waiting twice the limit.
    std::thread::sleep(std::time::Duration::from_millis(600));
    let reject = poll_until(&mut client, &clock, "the stale order's local reject", |e| {
        matches!(e.input(), Input::OrderReject(_))
    });
    assert!(matches!(reject.input(), Input::OrderReject(r)
        if r.order_id == OrderId(1) && r.venue_reason == VENUE_REJECT_NOT_CONNECTED));
    assert_eq!(client.counters.requests_expired, 1);
    gateway.send(&order(2)).unwrap();
    let ack = poll_until(&mut client, &clock, "the fresh order's ack", |e| {
        matches!(e.input(), Input::OrderAck(_))
    });
    assert!(matches!(ack.input(), Input::OrderAck(a) if a.order_id == OrderId(2)));
    assert_eq!(client.counters.requests_sent, 1);
    sim.stop();
}

// The ClOrdID chain: each replace names the version the venue accepted
// last, so a replace the venue refuses does not advance it. The simulated
// venue refuses any OrigClOrdID it never accepted as an unknown order, so a
// client that got the chain wrong would see its cancel refused here.
#[test]
fn replaces_and_cancels_follow_the_accepted_clordid() {
    use genesis_engine::event::{Input, RejectedRequest};
    use genesis_engine::execution::gateway::{Gateway, OrderRequest, RequestKind};
    use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};

    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.venue.fix.seq_file = std::path::PathBuf::new();
    config.venue.fix.reconcile = genesis_engine::config::ReconcileMode::Off;
    let (mut sim, mut gateway, mut client) = fix_session(&config, true);
    let clock = genesis_engine::clock::EpochClock::new();
    let mut send = |kind, price| {
        let request = OrderRequest {
            kind,
            order_id: OrderId(5),
            instrument: InstrumentId(0),
            side: Side::Buy,
            price: Price(price),
            qty: Qty(3),
            ts_trigger_ns: 0,
            ts_decided_ns: 0,
            trigger_seq: 0,
        };
        gateway.send(&request).unwrap();
    };
    // Logged on first, so that nothing waits long enough to expire.
    common::process::wait_until("logon", || {
        genesis_engine::ingest::Source::poll(&mut client, &clock, 64, &mut |_| {});
        client.counters.logons == 1
    });
    // The market is held: nothing trades, the order only rests and moves.
    send(RequestKind::New, 9_000);
    poll_until(
        &mut client,
        &clock,
        "the new order's ack",
        |e| matches!(e.input(), Input::OrderAck(a) if a.order_id == OrderId(5)),
    );
    for price in [9_001, 9_002] {
        send(RequestKind::Replace, price);
        let ack = poll_until(&mut client, &clock, "a replace ack", |e| {
            matches!(e.input(), Input::OrderAck(_) | Input::OrderReject(_))
        });
        assert!(
            matches!(ack.input(), Input::OrderAck(a) if a.order_id == OrderId(5)),
            "{ack:?}"
        );
    }
    // Refused by the venue (price 0): the accepted version stays .r2.
    send(RequestKind::Replace, 0);
    let refused = poll_until(&mut client, &clock, "the refused replace", |e| {
        matches!(e.input(), Input::OrderReject(_))
    });
    assert!(matches!(refused.input(), Input::OrderReject(r)
        if r.request == RejectedRequest::Replace
            && r.venue_reason == genesis_engine::event::venue_reason::OTHER));
    send(RequestKind::Cancel, 0);
    let cancelled = poll_until(&mut client, &clock, "the cancel's answer", |e| {
        matches!(e.input(), Input::CancelAck(_) | Input::OrderReject(_))
    });
    assert_eq!(
        cancelled.input(),
        Input::CancelAck(OrderId(5)),
        "{cancelled:?}"
    );
    sim.stop();
}

// A FIX connection that sends garbage instead of a Logon is closed by the
// venue after its logon timeout, freeing the slot, instead of being held open.
#[test]
#[allow(clippy::disallowed_methods)] // a wall-clock deadline for the port to open
fn fix_connection_sending_garbage_is_closed() {
    use std::io::{Read, Write};
    let fix_port = free_port();
    let _sim = spawn(
        genesis()
            .args(["venue-sim", "--itch-to", "none", "--ws-port", "0"])
            .args(["--fix-port", &fix_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let started = std::time::Instant::now();
    let mut stream = loop {
        match std::net::TcpStream::connect(("127.0.0.1", fix_port)) {
            Ok(stream) => break stream,
            Err(err) if started.elapsed() < std::time::Duration::from_secs(30) => {
                let _ = err;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(err) => panic!("the venue's FIX port never opened: {err}"),
        }
    };
    stream
        .write_all(b"GET / HTTP/1.1\r\n\r\n\x00\x01garbage")
        .unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let sent = std::time::Instant::now();
    let mut buffer = [0u8; 256];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    assert!(closed, "still open {:?} after garbage", sent.elapsed());
}
