//! Restart without amnesia against a venue that keeps orders: `genesis run`
//! trades with a standalone `genesis venue-sim` (cancel-on-disconnect off),
//! is killed with SIGKILL at seeded moments, and the venue trades through
//! its resting orders while it is down. After each restart and
//! reconciliation the engine's positions and open orders equal the venue's
//! summary, the journal's fills (live and reconciled) sum to the venue's
//! positions (no fill missed or counted twice), and `journal verify` and
//! `replay` pass.
//!
//! CI runs `GENESIS_RESTART_KILLS` kill points (default 20) from
//! `GENESIS_RESTART_SEED` (default 13). A round reads only the
//! journal records written since the last, and the journal check and
//! replay after each round run on a copy beside the next round, so a round
//! costs the same however long the journal has grown.
//!
//! The rare moment a kill happens to hit (an order sent and filled live just
//! before it, with no record on disk) is also made exact: the journal's
//! tail is cut at that order's decision, and its fills must come back
//! through reconciliation, once.
//!
//! A new, empty journal started against the same venue, which still holds
//! the old journal's orders, sends ClOrdIDs of its own lineage (none
//! clashes with the old ones), takes none of the old lineage's fills for
//! its own, and adopts the old orders still working for what is left.

#![allow(clippy::disallowed_methods)] // kill moments and settling are wall-clock

mod common;

use common::process::{free_port, genesis, journal_events, scrape, wait_until, write_run_config};
use common::venue::{Engine, Venue};
use genesis_engine::adapters::fix::cl_ord_id::ClOrdIds;
use genesis_engine::decision::{Action, ExecResult};
use genesis_engine::event::{Event, EventKind, Input};
use rand_core::{RngCore, SeedableRng};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Instruments of the default config, in index order.
const SYMBOLS: usize = 4;

/// (order id, instrument, side, price, leaves) of the engine's open orders.
fn engine_orders(report: &serde_json::Value) -> BTreeSet<(u64, u64, String, i64, i64)> {
    report["open_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["order_id"].as_u64().unwrap(),
                o["instrument"].as_u64().unwrap(),
                o["side"].as_str().unwrap().to_owned(),
                o["price"].as_i64().unwrap(),
                o["leaves"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// How the engine that wrote `report` names its orders at the venue (its
/// journal's lineage).
fn cl_ord_ids(report: &serde_json::Value) -> ClOrdIds {
    let lineage = report["restart"]["lineage"].as_str().expect("a lineage");
    ClOrdIds::new(genesis_engine::orders::Lineage::parse(lineage))
}

/// The same for the venue's open orders of the participant, each under the
/// id the engine gives its ClOrdID (its own, or an adoption id).
fn venue_orders(
    participant: &serde_json::Value,
    symbols: &[String],
    ids: &ClOrdIds,
) -> BTreeSet<(u64, u64, String, i64, i64)> {
    participant["open_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let cl_ord_id = o["cl_ord_id"].as_str().unwrap();
            let id = ids.order_of(cl_ord_id.as_bytes()).0;
            let symbol = o["symbol"].as_str().unwrap();
            let instrument = symbols.iter().position(|s| s == symbol).unwrap() as u64;
            (
                id,
                instrument,
                o["side"].as_str().unwrap().to_owned(),
                o["price_ticks"].as_i64().unwrap(),
                o["leaves"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn venue_positions(participant: &serde_json::Value, symbols: &[String]) -> Vec<i64> {
    symbols
        .iter()
        .map(|s| participant["positions"][s].as_i64().unwrap_or(0))
        .collect()
}

/// Signed lots of every fill the journal holds, live and reconciled,
/// duplicates excluded, per instrument.
fn journal_positions(journal: &Path) -> Vec<i64> {
    let mut positions = vec![0; SYMBOLS];
    for event in journal_events(journal)
        .iter()
        .filter(|e| e.kind == EventKind::Fill && !e.is_duplicate())
    {
        if let Input::Fill(fill) = event.input() {
            positions[event.instrument.index()] += event.side.sign() * fill.qty.0;
        }
    }
    positions
}

/// A journal read as it grows: each catch-up reads only the records
/// written since the last (a kill round must not cost more the longer the
/// journal already is).
struct Tally {
    seq_next: u64,
    /// Signed lots of the fills (live and reconciled, duplicates excluded).
    positions: Vec<i64>,
    /// Acks, fills, cancel acks and rejects.
    answers: usize,
    /// Requests sent to the venue (new, cancel, replace) not yet answered
    /// (ack, reject, cancel ack), per order id, since this run's
    /// reconciliation (a killed run's unanswered requests are the
    /// reconciliation's business).
    unanswered: HashMap<u64, u32>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            seq_next: 1,
            positions: vec![0; SYMBOLS],
            answers: 0,
            unanswered: HashMap::new(),
        }
    }

    /// Reads what the journal holds past what was read, as a tailer does
    /// (a record still being written is waited for, not taken as damage).
    fn catch_up(&mut self, journal: &Path) -> &Tally {
        if !journal.exists() {
            return self;
        }
        let mut tailer = genesis_journal::Tailer::open(journal, self.seq_next, 1 << 20).unwrap();
        while let Some(record) = tailer.poll().unwrap() {
            let bytes: &[u8; genesis_engine::event::EVENT_BYTES] =
                record.payload.try_into().expect("a record holds one event");
            let event = Event::decode(bytes).unwrap();
            assert_eq!(event.seq, self.seq_next, "records in order");
            self.seq_next += 1;
            self.count(&event);
        }
        self
    }

    fn count(&mut self, event: &Event) {
        if event.kind == EventKind::Reconcile {
            self.unanswered.clear();
        }
        for intent in event
            .intents
            .iter()
            .filter(|i| i.exec == ExecResult::Sent && i.action != Action::None)
        {
            *self.unanswered.entry(intent.order_id.0).or_default() += 1;
        }
        let answered = match event.input() {
            Input::OrderAck(ack) => Some(ack.order_id),
            // Negative reasons are the engine's own: the request never left.
            Input::OrderReject(reject) if reject.venue_reason >= 0 => Some(reject.order_id),
            Input::CancelAck(order_id) => Some(order_id),
            _ => None,
        };
        if let Some(order_id) = answered {
            if let Some(count) = self.unanswered.get_mut(&order_id.0) {
                *count -= 1;
                if *count == 0 {
                    self.unanswered.remove(&order_id.0);
                }
            }
        }
        if matches!(
            event.kind,
            EventKind::OrderAck | EventKind::Fill | EventKind::CancelAck | EventKind::OrderReject
        ) {
            self.answers += 1;
        }
        if event.kind == EventKind::Fill && !event.is_duplicate() {
            if let Input::Fill(fill) = event.input() {
                self.positions[event.instrument.index()] += event.side.sign() * fill.qty.0;
            }
        }
    }
}

/// Waits, with the market held, until whatever the engine sent is
/// answered and the answer read: every request the journal holds since
/// this run's reconciliation has its answer journaled, and the venue's
/// book of the engine's orders and the journaled answers are the same on
/// two venue summaries in a row (a round trip through the venue between
/// them), with nothing unanswered on either.
fn settle(venue: &mut Venue, journal: &Path, tally: &mut Tally) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        let participant = venue.summary();
        let tally = tally.catch_up(journal);
        let now = (participant["open_orders"].clone(), tally.answers);
        if tally.unanswered.is_empty() {
            if last.as_ref() == Some(&now) {
                return;
            }
            last = Some(now);
        } else {
            last = None;
        }
        assert!(
            Instant::now() < deadline,
            "the engine and the venue never settled: unanswered {:?}",
            tally.unanswered
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// After a restart and reconciliation: no timeout, the engine's open orders
/// and positions are the venue's, and the journal's fills (live and
/// reconciled) sum to the venue's positions.
fn assert_same_book(
    report: &serde_json::Value,
    participant: &serde_json::Value,
    symbols: &[String],
    journaled: &[i64],
    context: &str,
) {
    assert_eq!(
        report["reconcile"]["timeouts"].as_u64(),
        Some(0),
        "{context}"
    );
    assert_eq!(
        engine_orders(report),
        venue_orders(participant, symbols, &cl_ord_ids(report)),
        "open orders: {context}"
    );
    let positions: Vec<i64> = report["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    let at_venue = venue_positions(participant, symbols);
    assert_eq!(positions, at_venue, "positions: {context}");
    assert_eq!(journaled, at_venue, "every fill journaled once: {context}");
}

/// A standalone venue (cancel-on-disconnect off) and the config of an
/// engine trading with it over FIX, reconciling by mass status.
struct World {
    venue: Venue,
    config: PathBuf,
    journal: PathBuf,
    symbols: Vec<String>,
    fix_port: u16,
}

impl World {
    fn new(dir: &Path) -> World {
        let fix_port = free_port();
        // The venue reads the same config for its instruments and CompIDs.
        let (venue_config, _) = write_run_config(dir, "venue", "");
        let venue = Venue::start(dir, &venue_config, fix_port);
        let (config, journal) = engine_config(dir, "engine", &venue.ws_url, fix_port);
        let symbols: Vec<String> = genesis_engine::config::Config::load(&config)
            .unwrap()
            .instruments
            .iter()
            .map(|i| i.symbol.clone())
            .collect();
        assert_eq!(symbols.len(), SYMBOLS);
        World {
            venue,
            config,
            journal,
            symbols,
            fix_port,
        }
    }
}

/// The config of an engine named `name` (its journal `dir/name/journal`)
/// trading over FIX with the venue, reconciling by mass status.
fn engine_config(dir: &Path, name: &str, url: &str, fix_port: u16) -> (PathBuf, PathBuf) {
    write_run_config(
        dir,
        name,
        &format!(
            "segment_size_mib = 1\n\
             [market_data]\nsource = \"binance-ws\"\n[market_data.binance]\nurl = \"{url}\"\n\
             [venue]\nkind = \"fix\"\n\
             [venue.fix]\nhost = \"127.0.0.1\"\nport = {fix_port}\nseq_file = \"\"\n\
             reconcile = \"mass-status\"\nreconcile_timeout_ms = 20000\n"
        ),
    )
}

fn genesis_ok(args: &[&str], what: &str) {
    let output = genesis().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Copies a stopped journal folder (segments, configs, start records,
/// snapshots) to `to`.
fn copy_journal(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_journal(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `journal verify` and `replay` of the journal as it stands after a
/// round, on a copy, on a thread, while the next round trades: a round's
/// checks then cost it no wall time, however long the journal grows.
fn check_in_background(journal: &Path, copy: PathBuf, round: u64) -> std::thread::JoinHandle<()> {
    copy_journal(journal, &copy);
    std::thread::spawn(move || {
        let text = copy.to_str().unwrap().to_owned();
        genesis_ok(
            &["journal", "verify", &text],
            &format!("journal verify after kill {round}"),
        );
        genesis_ok(&["replay", &text], &format!("replay after kill {round}"));
        std::fs::remove_dir_all(&copy).unwrap();
    })
}

/// Waits for a background check; its failure fails the test.
fn join_check(check: Option<std::thread::JoinHandle<()>>) {
    if let Some(Err(panic)) = check.map(std::thread::JoinHandle::join) {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn killed_engine_restarts_into_the_venues_state() {
    let kills = env_number("GENESIS_RESTART_KILLS", 20);
    let seed = env_number("GENESIS_RESTART_SEED", 13);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let World {
        mut venue,
        config,
        journal,
        symbols,
        ..
    } = World::new(dir.path());
    let mut tally = Tally::new();
    let mut check = None;
    let mut runs = 0;
    let mut reconciled_fills = 0;
    let started = std::time::Instant::now();
    let lap = |what: &str| eprintln!("{:>8.2} s {what}", started.elapsed().as_secs_f64());
    for kill in 0..kills {
        // Trading, killed at a seeded moment.
        runs += 1;
        let engine = Engine::start(dir.path(), &config, runs);
        engine.wait_reconciled();
        let trade_ms = 300 + rng.next_u64() % 1_200;
        std::thread::sleep(Duration::from_millis(trade_ms));
        engine.kill();
        lap("killed");
        // Down: the venue trades through some of its resting orders.
        venue.order("fill-every 2", "traded through");
        // Back: the venue is asked, the answers applied, the gate opens.
        runs += 1;
        let engine = Engine::start(dir.path(), &config, runs);
        engine.wait_reconciled();
        lap("restarted and reconciled");
        // Still market: whatever the engine sends is answered, then it stops.
        venue.order("hold", "the market is still");
        settle(&mut venue, &journal, &mut tally);
        let report = engine.stop();
        let participant = venue.summary();
        lap(&format!("stopped; reconciliation {}", report["reconcile"]));
        let context = format!(
            "kill {kill} after {trade_ms} ms (seed {seed}): engine {report}\nvenue {participant}"
        );
        reconciled_fills += report["reconcile"]["fills"].as_u64().unwrap();
        let journaled = tally.catch_up(&journal).positions.clone();
        assert_same_book(&report, &participant, &symbols, &journaled, &context);
        // The last round's checks are done by now (they ran beside this round).
        join_check(check.take());
        let copy = dir.path().join(format!("checked-{kill}"));
        check = Some(check_in_background(&journal, copy, kill));
        lap("compared");
        venue.order("release", "the market moves");
    }
    join_check(check.take());
    assert!(
        reconciled_fills > 0,
        "fills made while the engine was down were applied by reconciliation"
    );
    let end = venue.stop();
    assert_eq!(end["participants"].as_array().unwrap().len(), 1, "{end}");
}

/// The journal sequence of the decision that sent each order (its New intent).
fn decisions(events: &[Event]) -> HashMap<u64, u64> {
    let mut sent = HashMap::new();
    for event in events {
        for intent in event.intents.iter().filter(|i| i.action == Action::New) {
            sent.entry(intent.order_id.0).or_insert(event.seq);
        }
    }
    sent
}

// The journal is write-behind: an order can be sent, and filled live, in
// the moment before a kill with neither its decision nor its fill on disk.
// Cutting the journal's tail at such an order's decision makes that moment
// exact. The venue's mass status answer tells the order's fills; the
// engine, which never recorded it (its id is above the highest it held),
// applies them once, and its book equals the venue's.
#[test]
fn fills_of_orders_the_journal_never_recorded_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let World {
        mut venue,
        config,
        journal,
        symbols,
        ..
    } = World::new(dir.path());
    let journal_text = journal.to_str().unwrap().to_owned();
    let engine = Engine::start(dir.path(), &config, 1);
    engine.wait_reconciled();
    // Trading until at least two orders filled live (the first may have been sent early).
    let filled_orders = |events: &[Event]| -> Vec<(u64, u64)> {
        let sent = decisions(events);
        let mut filled: Vec<(u64, u64)> = events
            .iter()
            .filter(|e| e.kind == EventKind::Fill && !e.is_duplicate() && !e.is_reconciled())
            .filter_map(|e| match e.input() {
                Input::Fill(fill) => Some((*sent.get(&fill.order_id.0)?, fill.order_id.0)),
                _ => None,
            })
            .collect();
        filled.sort_unstable();
        filled.dedup();
        filled
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while filled_orders(&journal_events(&journal)).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no order filled live within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    engine.kill();
    // The last order that filled live loses its decision and everything after it.
    let events = journal_events(&journal);
    let (cut, order) = *filled_orders(&events).last().unwrap();
    let lost_lots: i64 = events
        .iter()
        .filter(|e| e.seq >= cut && e.kind == EventKind::Fill && !e.is_duplicate())
        .filter_map(|e| match e.input() {
            Input::Fill(fill) if fill.order_id.0 == order => Some(fill.qty.0),
            _ => None,
        })
        .sum();
    assert!(lost_lots > 0);
    // Cut as a crash loses the tail: nothing is recorded in its place.
    let plan = genesis_journal::truncate::plan_truncate(
        &journal,
        genesis_journal::truncate::TruncateAt::Seq(cut),
    )
    .unwrap();
    genesis_journal::truncate::truncate(&journal, &plan).unwrap();
    assert!(
        !decisions(&journal_events(&journal)).contains_key(&order),
        "order {order} is no longer recorded"
    );
    // Back: reconciliation finds the order at the venue, done, with its fills.
    let engine = Engine::start(dir.path(), &config, 2);
    engine.wait_reconciled();
    venue.order("hold", "the market is still");
    settle(&mut venue, &journal, &mut Tally::new());
    let report = engine.stop();
    let participant = venue.summary();
    let context = format!("cut at {cut} (order {order}): engine {report}\nvenue {participant}");
    let journaled = journal_positions(&journal);
    assert_same_book(&report, &participant, &symbols, &journaled, &context);
    // Its reports still held at the venue may come live at logon, the rest
    // through the mass status answer: together its venue CumQty, once.
    let recovered: i64 = journal_events(&journal)
        .iter()
        .filter(|e| e.seq >= cut && e.kind == EventKind::Fill && !e.is_duplicate())
        .filter_map(|e| match e.input() {
            Input::Fill(fill) if fill.order_id.0 == order => Some(fill.qty.0),
            _ => None,
        })
        .sum();
    assert!(
        recovered >= lost_lots,
        "the unrecorded order's {lost_lots} lot(s) came back: {recovered}; {context}"
    );
    assert!(
        report["reconcile"]["fill_lots"].as_u64().unwrap() > 0,
        "reconciliation applied missed fills: {context}"
    );
    genesis_ok(&["journal", "verify", &journal_text], "journal verify");
    genesis_ok(&["replay", &journal_text], "replay");
    venue.stop();
}

/// Signed lots of the journal's fills (live and reconciled, duplicates
/// excluded) as positions per instrument, and the venue's positions less
/// `before`'s.
fn venue_moves(
    after: &serde_json::Value,
    before: &serde_json::Value,
    symbols: &[String],
) -> Vec<i64> {
    let (after, before) = (
        venue_positions(after, symbols),
        venue_positions(before, symbols),
    );
    after.iter().zip(&before).map(|(a, b)| a - b).collect()
}

// A new, empty journal started against a venue that still holds the
// orders of the journal before it, for the same participant, some filled
// while nobody was connected (their reports held for the session). The
// new journal's order ids start again at 4, as the old one's did: its
// ClOrdIDs carry its own lineage, so none clashes with an old one. The
// old lineage's done orders are not its fills, the live reports of them
// at logon are not either (journaled flagged duplicate), and the old
// orders still working are adopted for what is left: the new engine's
// positions move only by what trades after it took them on.
#[test]
fn a_new_journal_does_not_take_the_old_journals_orders_for_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let World {
        mut venue,
        config,
        journal,
        symbols,
        fix_port,
    } = World::new(dir.path());
    let old = Engine::start(dir.path(), &config, 1);
    old.wait_reconciled();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let filled = journal_positions(&journal).iter().any(|p| *p != 0);
        let resting = venue.summary()["open_orders"].as_array().unwrap().len();
        if filled && resting >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fill and two resting orders within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Held from here until the new engine took the old orders on: only
    // the venue's sweep trades, half of the old resting orders.
    venue.order("hold", "the market is still");
    old.kill();
    venue.order("fill-every 2", "traded through");
    let before = venue.summary();
    assert!(
        !before["open_orders"].as_array().unwrap().is_empty(),
        "old orders still work at the venue: {before}"
    );
    let old_ids: BTreeSet<String> = before["open_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["cl_ord_id"].as_str().unwrap().to_owned())
        .collect();
    // The new journal, same participant, same venue.
    let (fresh_config, fresh_journal) = engine_config(dir.path(), "fresh", &venue.ws_url, fix_port);
    let fresh = Engine::start(dir.path(), &fresh_config, 2);
    fresh.wait_reconciled();
    venue.order("release", "the market moves");
    // Trading until the new journal has sent an order under an id the old
    // journal used too (what the lineage keeps apart), not for a while.
    let old_sent = decisions(&journal_events(&journal));
    wait_until("the new journal to reuse an old order id", || {
        decisions(&journal_events(&fresh_journal))
            .keys()
            .any(|id| old_sent.contains_key(id))
    });
    venue.order("hold", "the market is still");
    settle(&mut venue, &fresh_journal, &mut Tally::new());
    let report = fresh.stop();
    let after = venue.summary();
    let context = format!("engine {report}\nbefore {before}\nafter {after}");
    assert_eq!(
        report["restart"]["lineage_new"].as_bool(),
        Some(true),
        "{context}"
    );
    // No clash: the new journal's ClOrdIDs are its own.
    let ids = cl_ord_ids(&report);
    let sent = decisions(&journal_events(&fresh_journal));
    assert!(!sent.is_empty(), "the new journal sent orders: {context}");
    assert!(
        sent.keys().any(|id| old_sent.contains_key(id)),
        "the new journal's order ids repeat the old one's: {sent:?} {old_sent:?}"
    );
    for id in sent.keys() {
        let text = ids.id(genesis_engine::units::OrderId(*id), None);
        let text = String::from_utf8_lossy(text.as_bytes()).into_owned();
        assert!(
            !old_ids.contains(&text),
            "{text} is an old ClOrdID: {context}"
        );
    }
    // No fill invented: the new journal's positions are what traded since
    // it took the orders on, which is what the venue's positions moved.
    assert_eq!(
        report["reconcile"]["timeouts"].as_u64(),
        Some(0),
        "{context}"
    );
    assert_eq!(
        report["reconcile"]["fill_lots"].as_u64(),
        Some(0),
        "{context}"
    );
    let moved = venue_moves(&after, &before, &symbols);
    assert_eq!(journal_positions(&fresh_journal), moved, "{context}");
    let positions: Vec<i64> = report["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert_eq!(positions, moved, "{context}");
    // The old orders still working were adopted: the open orders are the venue's.
    assert_eq!(
        engine_orders(&report),
        venue_orders(&after, &symbols, &ids),
        "open orders: {context}"
    );
    assert!(
        report["reconcile"]["adopted"].as_u64().unwrap() > 0,
        "the old lineage's working orders were adopted: {context}"
    );
    let fresh_text = fresh_journal.to_str().unwrap();
    genesis_ok(&["journal", "verify", fresh_text], "journal verify");
    genesis_ok(&["replay", fresh_text], "replay");
    venue.stop();
}

/// The value of a metric in a /metrics body.
fn metric(body: &str, name: &str) -> Option<u64> {
    body.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

// With `reconcile = "order-status"` the engine asks about each order it
// believes open with an OrderStatusRequest (35=H): after a clean stop the
// venue trades through some of the resting orders, and the restart's round
// closes and fills them from the answers, once; every result is counted in
// the report and on /metrics.
#[test]
fn order_status_mode_reconciles_order_by_order_and_counts_on_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let World {
        mut venue,
        config,
        journal,
        symbols,
        ..
    } = World::new(dir.path());
    let metrics_port = free_port();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"mass-status\"", "\"order-status\"")
        .replace(
            "listen = \"\"",
            &format!("listen = \"127.0.0.1:{metrics_port}\""),
        )
        .replace("[metrics]\n", "[metrics]\ninterval_ms = 100\n");
    std::fs::write(&config, text).unwrap();
    let first = Engine::start(dir.path(), &config, 1);
    first.wait_reconciled();
    wait_until("two orders resting at the venue", || {
        venue.summary()["open_orders"].as_array().unwrap().len() >= 2
    });
    venue.order("hold", "the market is still");
    settle(&mut venue, &journal, &mut Tally::new());
    let stopped = first.stop();
    let resting = stopped["open_orders"].as_array().unwrap().len() as u64;
    assert!(resting >= 2, "{stopped}");
    venue.order("fill-every 2", "traded through");
    let second = Engine::start(dir.path(), &config, 2);
    second.wait_reconciled();
    settle(&mut venue, &journal, &mut Tally::new());
    let mut body = String::new();
    wait_until("the round's counts on /metrics", || {
        body = scrape(metrics_port).unwrap_or_default();
        metric(&body, "genesis_reconcile_rounds_total") == Some(1)
    });
    let report = second.stop();
    let participant = venue.summary();
    let context = format!("engine {report}\nvenue {participant}\nmetrics {body}");
    let reconcile = &report["reconcile"];
    assert_eq!(
        reconcile["requests"].as_u64(),
        Some(resting),
        "one H per open order: {context}"
    );
    assert!(reconcile["fills"].as_u64().unwrap() > 0, "{context}");
    for (key, name) in [
        ("requests", "genesis_reconcile_requests_total"),
        ("reports", "genesis_reconcile_reports_total"),
        ("closed", "genesis_reconcile_closed_total"),
        ("fills", "genesis_reconcile_fills_total"),
    ] {
        assert_eq!(
            metric(&body, name),
            reconcile[key].as_u64(),
            "{name}: {context}"
        );
    }
    let journaled = journal_positions(&journal);
    assert_same_book(&report, &participant, &symbols, &journaled, &context);
    let text = journal.to_str().unwrap();
    genesis_ok(&["replay", text], "replay");
    venue.stop();
}
