//! Restarts: the stages die at random moments and start again on their
//! journal through the engine's own start-up rebuild (`run::rebuild`),
//! from the newest valid snapshot and the journal after it, while a test
//! venue keeps its orders and the requests in flight.
//!
//! - Over random input with restarts at random points, the venue filling,
//!   cancelling and taking orders for the account while the engine is down
//!   and every start reconciling with it, no pre-trade limit is exceeded
//!   across restarts, each stage's position is the sum of the venue's fills
//!   (reconciliation's included), no order id is sent twice, the rebuilt state is the
//!   state at death byte for byte (from snapshots and from a full replay),
//!   and replaying the whole journal from its first record, run by run as
//!   each began, ends in the live state.
//! - Damaged snapshots fall back to older ones, then to a full replay, and
//!   say so in the report and the start record.
//! - The journal's ClOrdID lineage is chosen once and carried by every
//!   start (snapshot, full replay, a cut tail, a journal cut to nothing).

mod common;
#[path = "common/world.rs"]
mod world;

use genesis_engine::decision::Gate;
use genesis_engine::execution::NullGateway;
use genesis_engine::run::rebuild::{rebuild, RebuildOptions};
use genesis_engine::snapshot::file::{read_snapshot, write_snapshot};
use genesis_engine::snapshot::history::{enter_run, replay_range};
use genesis_engine::snapshot::{History, SnapshotMeta, SnapshotPolicy, StartRecord, StrategyPool};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;
use world::{away, market_maker, step, Away, Step, World};

#[derive(Clone, Debug)]
enum Action {
    Step(Step),
    /// The engine stops (`graceful`) or dies, then starts again; `damage`
    /// flips a byte of the newest snapshot (at that offset) while it is
    /// down, and the venue does `away` meanwhile.
    Restart {
        graceful: bool,
        damage: Option<usize>,
        away: Vec<Away>,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        40 => step().prop_map(Action::Step),
        1 => (
            any::<bool>(),
            proptest::option::weighted(0.3, any::<usize>()),
            proptest::collection::vec(away(), 0..4),
        )
            .prop_map(|(graceful, damage, away)| Action::Restart { graceful, damage, away }),
    ]
}

fn policy(events_between: u64) -> SnapshotPolicy {
    SnapshotPolicy {
        events_between,
        // Never by time: the test decides every moment.
        interval: Duration::from_secs(86_400),
        keep: 3,
    }
}

fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "gsnap"));
    files.sort();
    files
}

/// Flips one byte of `path` at `offset` (modulo its length).
fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = offset % bytes.len();
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

/// The state at the journal's end as a full replay from the first record rebuilds it.
fn full_replay_state(world: &World) -> Option<Vec<u8>> {
    let rebuilt = rebuild(
        &world.config,
        &world.config.journal.dir,
        world.seq_next(),
        market_maker(&world.config),
        Box::new(NullGateway),
        RebuildOptions {
            use_snapshots: false,
        },
    )
    .unwrap();
    assert_eq!(
        rebuilt.report.origin,
        if world.seq_next() == 1 {
            "empty journal"
        } else {
            "full replay"
        }
    );
    rebuilt.journal_state
}

/// Stops (or kills) and starts the world again, checking what the start-up rebuilt.
fn restart(
    world: &mut World,
    (graceful, damage): (bool, Option<usize>),
    away: &[Away],
    events_between: u64,
) -> Result<(), TestCaseError> {
    let before = world.state();
    let seq_first = world.seq_next();
    let order_id_next = world.strategy().order_id_next();
    // A run that journaled nothing leaves the journal's end where it was.
    let expected = if seq_first > world.run_seq_first {
        Some(before)
    } else {
        world.journal_state.clone()
    };
    world.stop(graceful);
    for action in away {
        world.while_away(action);
    }
    let damaged = damage.and_then(|offset| {
        let newest = snapshot_files(&world.snapshots_dir()).pop()?;
        flip_byte(&newest, offset);
        Some(newest)
    });
    prop_assert_eq!(
        full_replay_state(world),
        expected.clone(),
        "a full replay rebuilds the state at death"
    );
    let report = world.start(RebuildOptions::default());
    prop_assert_eq!(
        &world.journal_state,
        &expected,
        "snapshot + tail rebuild the state at death: {:?}",
        report
    );
    prop_assert!(
        report.order_id_next > order_id_next,
        "order ids move past every id given out before: {} after {}",
        report.order_id_next,
        order_id_next
    );
    match &damaged {
        Some(path) => {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            prop_assert!(
                report
                    .fallbacks
                    .iter()
                    .any(|f| f.contains(&name) && f.contains("falling back to")),
                "the damaged snapshot is named: {:?}",
                report
            );
            prop_assert!(
                report.snapshot_file.as_deref() != path.to_str(),
                "{:?}",
                report
            );
            // Unless the start snapshot took its name, it would be refused
            // again at every start (the start's round may have pruned it).
            if path.exists() && read_snapshot(path).is_err() {
                std::fs::remove_file(path).unwrap();
            }
        }
        None => {
            prop_assert!(report.fallbacks.is_empty(), "{:?}", report);
            prop_assert!(
                report.events_replayed < events_between,
                "the newest snapshot leaves less than a snapshot interval to replay: {:?}",
                report
            );
            if graceful && seq_first > 1 {
                prop_assert_eq!(report.origin, "snapshot");
                prop_assert_eq!(
                    report.events_replayed,
                    0,
                    "a clean stop leaves a final snapshot"
                );
            }
        }
    }
    Ok(())
}

/// `genesis replay`'s walk: every run from the first record, each begun as
/// its start record says (carried state's CRC checked), every decision checked.
fn replay_from_first_record(world: &World) -> Vec<u8> {
    let dir = &world.config.journal.dir;
    let history = History::load(dir, world.seq_next() - 1).unwrap();
    let mut pool = StrategyPool::bundled();
    let mut previous = None;
    for (index, run) in history.runs.iter().enumerate() {
        let mut replica = enter_run(&history, index, previous.take(), &mut pool, true)
            .unwrap_or_else(|e| panic!("entering the run at {}: {e}", run.seq_first));
        replay_range(
            dir,
            run.seq_first,
            &mut replica,
            (run.seq_first, run.seq_last),
            &mut |_, _| Ok(()),
        )
        .unwrap_or_else(|e| panic!("replaying the run at {}: {e}", run.seq_first));
        previous = Some(replica);
    }
    previous.expect("a run").save_state()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    // Random input with restarts at random points (some with the newest snapshot damaged).
    #[test]
    fn limits_and_positions_hold_across_restarts(
        events_between in 1u64..40,
        actions in proptest::collection::vec(action(), 1..250),
    ) {
        let mut world = World::reconciling(Some(policy(events_between)));
        let mut restarts = 0;
        for action in &actions {
            match action {
                Action::Step(step) => world.apply(step),
                Action::Restart { graceful, damage, away } => {
                    restart(&mut world, (*graceful, *damage), away, events_between)?;
                    restarts += 1;
                }
            }
            world.check()?;
        }
        if world.seq_next() > 1 {
            let history = History::load(&world.config.journal.dir, world.seq_next() - 1).unwrap();
            prop_assert!(history.runs.len() <= restarts + 1);
            // A run that journaled nothing leaves the journal's end where it was.
            let live = if world.seq_next() > world.run_seq_first {
                world.state()
            } else {
                world.journal_state.clone().unwrap()
            };
            prop_assert_eq!(replay_from_first_record(&world), live, "replay across restarts ends in the live state");
        }
    }
}

/// A seeded run of steps (a small xorshift: this test is not a search).
fn drive(world: &mut World, steps: usize, seed: u64) {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..steps {
        let step = match next() % 10 {
            0..=3 => Step::Market {
                instrument: (next() % 2) as u16,
                delta: (next() % 7) as i64 - 3,
                spread: 1 + (next() % 3) as i64,
            },
            4..=6 => Step::Answer,
            7 | 8 => Step::Fill {
                pick: next() as usize,
                qty: 1 + (next() % 6) as i64,
            },
            _ => Step::Wait { ms: next() % 300 },
        };
        world.apply(&step);
        world.check().unwrap();
    }
}

// Each damaged snapshot is refused with its reason, the next older one is
// used, and with none left the state comes from a full replay; the report
// and the start record say so, and every rebuild ends in the same state.
#[test]
fn damaged_snapshots_fall_back_to_older_ones_then_to_a_full_replay() {
    let mut world = World::new(Some(policy(25)));
    drive(&mut world, 400, 0x5eed_0001);
    world.restart(RebuildOptions::default(), false);
    drive(&mut world, 300, 0x5eed_0002);
    let before = world.state();
    let seq_first = world.seq_next();
    world.stop(false);
    let files = snapshot_files(&world.snapshots_dir());
    assert_eq!(files.len(), 3, "three snapshots kept: {files:?}");
    let rebuild_now = |world: &World| {
        rebuild(
            &world.config,
            &world.config.journal.dir,
            seq_first,
            market_maker(&world.config),
            Box::new(NullGateway),
            RebuildOptions::default(),
        )
        .unwrap()
    };
    let clean = rebuild_now(&world);
    assert_eq!(clean.report.snapshot_file.as_deref(), files[2].to_str());
    assert!(clean.report.fallbacks.is_empty());
    assert_eq!(clean.journal_state.as_deref(), Some(&before[..]));

    // The newest: a payload byte flipped.
    flip_byte(&files[2], 100);
    // The middle one: cut short.
    let bytes = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &bytes[..bytes.len() / 2]).unwrap();
    let rebuilt = rebuild_now(&world);
    assert_eq!(rebuilt.report.origin, "snapshot");
    assert_eq!(rebuilt.report.snapshot_file.as_deref(), files[0].to_str());
    assert_eq!(rebuilt.journal_state.as_deref(), Some(&before[..]));
    let fallbacks = &rebuilt.report.fallbacks;
    assert_eq!(fallbacks.len(), 2, "{fallbacks:?}");
    assert!(
        fallbacks[0].contains(files[2].to_str().unwrap())
            && fallbacks[0].contains("damaged payload (CRC32C mismatch)")
            && fallbacks[0].contains(&format!("falling back to snapshot {}", files[0].display())),
        "{fallbacks:?}"
    );
    assert!(fallbacks[1].contains("is truncated"), "{fallbacks:?}");
    assert!(rebuilt.report.events_replayed > clean.report.events_replayed);
    let record = StartRecord::read(&world.config.journal.dir, seq_first)
        .unwrap()
        .unwrap();
    assert_eq!(
        &record.fallbacks, fallbacks,
        "the start record says what was refused"
    );

    // The oldest: not a snapshot at all. Nothing is left but the journal.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[..8].copy_from_slice(b"GARBAGE!");
    std::fs::write(&files[0], bytes).unwrap();
    let rebuilt = rebuild_now(&world);
    assert_eq!(rebuilt.report.origin, "full replay");
    assert_eq!(rebuilt.report.snapshot_file, None);
    assert_eq!(rebuilt.report.events_replayed, seq_first - 1);
    assert_eq!(rebuilt.journal_state.as_deref(), Some(&before[..]));
    let fallbacks = &rebuilt.report.fallbacks;
    assert_eq!(fallbacks.len(), 3, "{fallbacks:?}");
    assert!(
        fallbacks[2].contains("is not a Genesis snapshot"),
        "{fallbacks:?}"
    );
    assert!(
        fallbacks
            .iter()
            .all(|f| f.ends_with("falling back to a full replay from the first record")),
        "{fallbacks:?}"
    );

    // The run goes on from there, and snapshots start again.
    let report = world.start(RebuildOptions::default());
    assert_eq!(report.origin, "full replay");
    drive(&mut world, 100, 0x5eed_0003);
    assert_eq!(replay_from_first_record(&world), world.state());
}

// A start that replayed a tail leaves its result as a snapshot of the run
// that journaled it: starting again at once (a crash loop, or a run that
// journaled nothing) replays nothing, and ids still move past both starts.
#[test]
fn a_start_that_replayed_leaves_a_snapshot_for_the_next() {
    let mut world = World::new(Some(policy(1_000)));
    drive(&mut world, 300, 0x5eed_0004);
    let first = world.restart(RebuildOptions::default(), false);
    assert_eq!(first.origin, "full replay");
    assert!(first.events_replayed > 0);
    for _ in 0..2 {
        let order_id_next = world.strategy().order_id_next();
        let again = world.restart(RebuildOptions::default(), false);
        assert_eq!(again.origin, "snapshot", "{again:?}");
        assert_eq!(again.events_replayed, 0, "{again:?}");
        assert!(again.order_id_next > order_id_next, "{again:?}");
    }
    drive(&mut world, 50, 0x5eed_0005);
    assert_eq!(replay_from_first_record(&world), world.state());
}

// A venue that outlives the engine acts while it is down: it fills a
// resting order whole, cancels another, and takes an order someone else
// entered for the account. The start's round applies the fill once,
// closes both, adopts and cancels the stranger's, and the state is what
// a replay from the first record rebuilds.
#[test]
fn what_the_venue_did_while_the_engine_was_down_is_reconciled() {
    let mut world = World::reconciling(Some(policy(25)));
    let mut seed = 0x5eed_0010;
    while world.venue.own_resting() < 2 {
        drive(&mut world, 50, seed);
        seed += 1;
        assert!(seed < 0x5eed_0010 + 40, "two orders rest at the venue");
    }
    world.stop(false);
    // What was in flight reached the venue.
    let resting = world.venue.own_resting();
    assert!(resting >= 2);
    for away in [
        Away::Fill { pick: 0, qty: 100 },
        Away::Cancel { pick: 0 },
        Away::Foreign {
            instrument: 1,
            side: true,
        },
    ] {
        world.while_away(&away);
    }
    world.start(RebuildOptions::default());
    world.check().unwrap();
    let counted = world.execution().counters.reconcile;
    assert_eq!(counted.rounds, 1, "{counted:?}");
    assert!(counted.fills >= 1 && counted.fill_lots >= 1, "{counted:?}");
    assert!(
        counted.closed >= 2,
        "the filled and the cancelled: {counted:?}"
    );
    assert_eq!((counted.adopted, counted.cancelled), (1, 1), "{counted:?}");
    assert_eq!(world.venue.own_resting(), resting - 2);
    assert_eq!(
        world.execution().orders().open_count(),
        world.venue.own_resting(),
        "the engine's open orders are the venue's"
    );
    drive(&mut world, 100, 0x5eed_0020);
    assert_eq!(replay_from_first_record(&world), world.state());
}

// A snapshot written while a round holds the gate shut, then a kill before
// the round completes: the start rebuilds from that snapshot and the
// journal after it exactly as a full replay does, every decision made
// behind the gate (refused) re-derived the same, and replay agrees.
#[test]
fn a_snapshot_taken_during_reconciliation_restores_the_same_decisions() {
    let mut world = World::reconciling(Some(policy(10)));
    drive(&mut world, 200, 0x5eed_0030);
    world.stop(false);
    // Started again with the round only begun: asked, answered, not complete.
    world.reconciling = false;
    world.start(RebuildOptions::default());
    world.reconciling = true;
    let round_from = world.seq_next();
    world.reconcile_begin();
    let market = |i: u64| Step::Market {
        instrument: (i % 2) as u16,
        delta: if i.is_multiple_of(3) { 2 } else { -1 },
        spread: 2,
    };
    let newest_seq = |world: &World| {
        let newest = snapshot_files(&world.snapshots_dir()).pop()?;
        let name = newest.file_stem()?.to_str()?.to_owned();
        name.strip_prefix("snapshot-")?.parse::<u64>().ok()
    };
    // The market moves until a snapshot written during the round has at
    // least four events after it. The strategy, seeing the gate shut, does
    // not quote (with the gate open it would: a rebuild that lost the gate
    // diverges from the journal in that tail).
    world.sink.1.clear();
    let mut i = 0;
    loop {
        world.apply(&market(i));
        i += 1;
        assert!(i < 60, "a snapshot is written during the round");
        let newest = newest_seq(&world).unwrap_or(0);
        if newest >= round_from && world.seq_next() - 1 - newest >= 4 {
            break;
        }
    }
    let moves = std::mem::take(&mut world.sink.1);
    assert!(moves
        .iter()
        .all(|e| e.gate_global == Gate::HaltReconciling && e.intents.iter().all(|i| i.is_empty())));
    let before = world.state();
    world.stop(false);
    assert_eq!(
        full_replay_state(&world).as_deref(),
        Some(&before[..]),
        "a full replay rebuilds the state at death"
    );
    let report = world.start(RebuildOptions::default());
    assert_eq!(report.origin, "snapshot", "{report:?}");
    let snapshot_seq = report.snapshot_seq.unwrap();
    assert!(
        snapshot_seq >= round_from && report.events_replayed >= 4,
        "a snapshot written during the round, then its tail: {report:?}"
    );
    assert_eq!(world.journal_state.as_deref(), Some(&before[..]));
    world.check().unwrap();
    drive(&mut world, 50, 0x5eed_0031);
    assert_eq!(replay_from_first_record(&world), world.state());
}

// A snapshot whose state was written in the previous payload format (a
// build before this one) is refused, naming both versions, and the start
// falls back to a full replay, which rebuilds the same state.
#[test]
fn a_snapshot_in_an_older_state_format_is_refused_for_a_full_replay() {
    let mut world = World::new(Some(policy(1_000)));
    drive(&mut world, 200, 0x5eed_0040);
    let before = world.state();
    world.stop(true);
    let files = snapshot_files(&world.snapshots_dir());
    let newest = read_snapshot(files.last().unwrap()).unwrap();
    for file in &files {
        std::fs::remove_file(file).unwrap();
    }
    let mut payload = newest.payload.clone();
    payload[..2].copy_from_slice(&1u16.to_le_bytes());
    let header = newest.header;
    let meta = SnapshotMeta {
        seq: header.seq,
        run_seq_first: header.run_seq_first,
        fingerprint: header.fingerprint,
        event_crc32c: header.event_crc32c,
    };
    let old = write_snapshot(&world.snapshots_dir(), &meta, &payload).unwrap();
    let report = world.start(RebuildOptions::default());
    assert_eq!(report.origin, "full replay", "{report:?}");
    assert_eq!(report.fallbacks.len(), 1, "{report:?}");
    let fallback = &report.fallbacks[0];
    assert!(
        fallback.contains(old.to_str().unwrap())
            && fallback.contains("state format version 1; this build reads version 2")
            && fallback.ends_with("falling back to a full replay from the first record"),
        "{fallback}"
    );
    assert_eq!(world.journal_state.as_deref(), Some(&before[..]));
}

/// The lineage every start record of the world's journal names, in order.
fn lineages(world: &World) -> Vec<Option<String>> {
    let dir = &world.config.journal.dir;
    let mut records: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("start-") && name.ends_with(".json")
        })
        .collect();
    records.sort();
    records
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let record: StartRecord = serde_json::from_str(&text).unwrap();
            record.lineage
        })
        .collect()
}

/// Cuts the journal's tail from `seq` on, as `genesis journal truncate --at` does.
fn cut_journal(world: &World, seq: u64) {
    use genesis_journal::truncate::{plan_truncate, truncate, TruncateAt};
    let dir = &world.config.journal.dir;
    let plan = plan_truncate(dir, TruncateAt::Seq(seq)).unwrap();
    truncate(dir, &plan).unwrap();
}

// The journal's ClOrdID lineage is chosen once, by its first start, and
// every later start carries it: after a kill (from a snapshot), a clean
// stop, a full replay, a cut of the journal's tail, and a cut of the whole
// journal. Another journal chooses its own.
#[test]
fn the_journal_keeps_its_lineage_through_every_start() {
    let mut world = World::new(Some(policy(25)));
    let first = lineages(&world);
    assert_eq!(first.len(), 1);
    let lineage = first[0].clone().expect("a new journal has a lineage");
    assert!(genesis_engine::orders::Lineage::parse(&lineage).is_some());
    drive(&mut world, 200, 0x5eed_0050);
    let killed = world.restart(RebuildOptions::default(), false);
    assert_eq!(killed.origin, "snapshot", "{killed:?}");
    assert_eq!(
        (killed.lineage.as_deref(), killed.lineage_new),
        (Some(&lineage[..]), false)
    );
    drive(&mut world, 100, 0x5eed_0051);
    world.restart(RebuildOptions::default(), true);
    let replayed = world.restart(
        RebuildOptions {
            use_snapshots: false,
        },
        false,
    );
    assert_eq!(replayed.lineage.as_deref(), Some(&lineage[..]));
    drive(&mut world, 100, 0x5eed_0052);
    world.stop(false);
    cut_journal(&world, world.seq_next() / 2);
    let after_cut = world.start(RebuildOptions::default());
    assert_eq!(after_cut.lineage.as_deref(), Some(&lineage[..]));
    world.stop(false);
    cut_journal(&world, 1);
    let emptied = world.start(RebuildOptions::default());
    assert_eq!(emptied.origin, "empty journal", "{emptied:?}");
    assert_eq!(
        (emptied.lineage.as_deref(), emptied.lineage_new),
        (Some(&lineage[..]), false),
        "a journal cut to nothing keeps its lineage"
    );
    assert!(lineages(&world)
        .iter()
        .all(|l| l.as_deref() == Some(&lineage[..])));
    let other = World::new(None);
    assert_ne!(
        lineages(&other),
        vec![Some(lineage)],
        "another journal, another lineage"
    );
}
