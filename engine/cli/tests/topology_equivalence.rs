//! The same input gives byte-identical decisions in every topology.
//!
//! A live run (synthetic feed, simulated venue, market maker) records a
//! journal until it holds enough input and a fill. Its inputs, decisions stripped, are then fed through fused,
//! two-thread and five-thread plans with tiny rings, so that rings fill and
//! backpressure is exercised. Every plan's journal must equal the live one
//! byte for byte: decisions depend on the input stream and nothing else.

mod common;

use genesis_engine::config::{Config, CorePlan, WaitKind};
use genesis_engine::event::{Event, Input};
use genesis_engine::execution::NullGateway;
use genesis_engine::ingest::{NoSource, ScriptedSource, Sources};
use genesis_engine::journal_stage::EventReader;
use genesis_engine::run::{self as engine, NoHooks, Parts};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn replay(mut config: Config, cores: [usize; 5], inputs: Vec<Event>, dir: &Path) -> Vec<Event> {
    config.topology.cores = CorePlan {
        ingest: cores[0],
        risk: cores[1],
        strategy: cores[2],
        execution: cores[3],
        journal: cores[4],
    };
    config.topology.ring_capacity = 64;
    config.topology.batch_max = 7;
    config.topology.conflate_when_full = false;
    config.market_data.timer_interval_ms = 0;
    config.journal.dir = dir.to_path_buf();
    config.validate("test").unwrap();
    let parts = Parts {
        sources: Sources {
            control: Box::new(NoSource),
            venue: Box::new(NoSource),
            market: Box::new(ScriptedSource::new(inputs)),
        },
        strategy: genesis_engine::strategy::from_config(&config),
        gateway: Box::new(NullGateway),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let report = engine::run(&config, parts, &mut NoHooks, stop, None).unwrap();
    assert_eq!(report.error, None);
    EventReader::read_all(dir).unwrap()
}

#[test]
fn fused_and_pipelined_plans_journal_identical_decisions() {
    let root = tempfile::tempdir().unwrap();
    let live_dir = root.path().join("live");
    let mut config = common::test_config(&live_dir);
    config.market_data.rate_per_sec = 50_000;
    config.market_data.timer_interval_ms = 20;
    config.market_data.seed = 7;
    let assembly = genesis_cli::assemble(&config).unwrap();
    // The live run lasts until its journal holds enough input and a fill,
    // not a fixed time: a starved host may journal few events in any span.
    let stop = Arc::new(AtomicBool::new(false));
    let live = {
        let (config, stop) = (config.clone(), Arc::clone(&stop));
        std::thread::spawn(move || genesis_cli::run(&config, assembly, stop, None))
    };
    common::process::wait_until("the live run journals 2,000 events and a fill", || {
        let events = common::process::journal_events(&live_dir);
        events.len() > 2_000 && events.iter().any(|e| matches!(e.input(), Input::Fill(_)))
    });
    stop.store(true, Ordering::Relaxed);
    let report = live.join().unwrap().unwrap();
    assert_eq!(report.error, None);
    assert!(
        report.execution.orders_sent > 0,
        "the live run traded: {}",
        report.render()
    );
    assert!(
        report.execution.fills > 0,
        "the live run was filled: {}",
        report.render()
    );

    let live = EventReader::read_all(&live_dir).unwrap();
    let inputs: Vec<Event> = live
        .clone()
        .into_iter()
        .map(|mut event| {
            event.clear_decisions();
            event
        })
        .collect();
    assert!(inputs.len() > 1_000, "enough input: {}", inputs.len());

    // The readers of `spin-park` plans park at once (budget 0): every
    // batch wakes them through the ring's doorbell, full rings included.
    let mut parking = config.clone();
    parking.topology.wait = WaitKind::SpinPark;
    parking.topology.spin_budget_us = 0;
    for (name, cores, config) in [
        ("fused", [0, 0, 0, 0, 0], &config),
        ("two threads", [0, 0, 1, 1, 1], &config),
        ("journal apart", [0, 0, 0, 0, 1], &config),
        ("five threads", [0, 1, 2, 3, 4], &config),
        ("two threads spin-park", [0, 0, 1, 1, 1], &parking),
        ("five threads spin-park", [0, 1, 2, 3, 4], &parking),
    ] {
        let dir = root.path().join(name.replace(' ', "-"));
        let replayed = replay(config.clone(), cores, inputs.clone(), &dir);
        assert_eq!(replayed.len(), live.len(), "{name}: journal length");
        // Event equality is byte equality of the encoded records (no padding, exact codes).
        if let Some(at) = replayed.iter().zip(&live).position(|(a, b)| a != b) {
            panic!(
                "{name}: first divergence at sequence {}:
 journaled {:?}
 produced  {:?}",
                live[at].seq, live[at], replayed[at]
            );
        }
    }
}
