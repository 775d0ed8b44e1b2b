//! The backtest's hot path does not allocate: after warm-up, `genesis
//! backtest`'s parts (the tape reader, the driver that merges tape and
//! venue in tape time, the backtest venue matching the touch quoter's
//! orders, and the five stages with the journal) run tens of thousands of
//! events with zero heap allocations, for each tape format a backtest
//! reads: Tardis CSV (book and trades files merged), plain and gzip; ITCH
//! 5.0 (order-by-order books turned into level changes), plain and gzip;
//! and the binary tape `genesis tape convert` writes.
//!
//! The parts are the ones `run_backtest` builds (`backtest_config`,
//! `TapeFeed::open`, `backtest_parts`), run fused on the test's thread with
//! the tape read on that thread too (no read-ahead thread), so the counting
//! allocator sees the reader, the venue and the stages alike. With the
//! tape's work on a second core (`backtest.tape_core`), the tape's steps
//! run on a thread the test starts, which counts its own allocations after
//! its first steps.

mod common;
#[path = "../../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../tests/common/fused.rs"]
mod fused;
#[path = "common/tapes.rs"]
mod tapes;

use fused::{run_fused, Measured};
use genesis_cli::backtest::tape_core::TapeAhead;
use genesis_cli::backtest::{backtest_config, backtest_parts, BacktestOptions};
use genesis_cli::commands::backtest::convert;
use genesis_engine::adapters::tape_source::TapeFeed;
use genesis_engine::config::Config;
use genesis_engine::topology::side_work::SideWork;
use genesis_io::tape::synthetic::{write_synthetic_tape, SyntheticConfig};
use genesis_io::tape::Compression;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tapes::{config, itch_tape, synthetic_instruments, FUSED, ITCH_INSTRUMENT};

const WARM_UP_EVENTS: u64 = 10_000;
const MEASURED_EVENTS: u64 = 30_000;

/// Backtests `tapes` fused on this thread: the allocations of
/// `MEASURED_EVENTS` events after `WARM_UP_EVENTS`, and what the venue did.
fn measure(config: &Config, tapes: &[PathBuf], journal: &Path) -> (Measured, u64) {
    let options = BacktestOptions {
        tapes: tapes.to_vec(),
        journal: Some(journal.to_path_buf()),
        progress: false,
        stop: Arc::new(AtomicBool::new(false)),
    };
    let mut config = config.clone();
    // The reader on the engine's thread, where the allocator counts.
    config.backtest.read_ahead_thread = false;
    let (config, synchronous) = backtest_config(&config, &options).unwrap();
    assert!(synchronous, "a fused plan");
    let feed = TapeFeed::open(tapes, &config).unwrap();
    let (parts, driver, ahead) = backtest_parts(&config, feed, synchronous);
    let tape_core = ahead.map(|ahead| std::thread::spawn(move || tape_steps(ahead)));
    let measured = run_fused(&config, parts, WARM_UP_EVENTS, MEASURED_EVENTS);
    let fills = {
        let driver = driver.lock().unwrap();
        let venue = driver.venue().counters();
        assert!(
            driver.counters().rows > WARM_UP_EVENTS,
            "the tape still had rows when counting stopped: {:?}",
            driver.counters()
        );
        venue.fills_maker + venue.fills_taker
    };
    drop(driver);
    if let Some(tape_core) = tape_core {
        let (steps, allocations) = tape_core.join().unwrap();
        assert!(steps > TAPE_WARM_UP_STEPS, "the tape's steps were counted");
        assert_eq!(allocations, 0, "heap allocations in the tape core's steps");
    }
    (measured, fills)
}

/// Steps of the tape's work before its allocations count.
const TAPE_WARM_UP_STEPS: u64 = 8;

/// Runs the tape's work until it stops; its steps that wrote rows, and
/// the allocations of those after the first [`TAPE_WARM_UP_STEPS`].
fn tape_steps(mut ahead: TapeAhead) -> (u64, u64) {
    let mut steps = 0u64;
    while !ahead.is_stopped() {
        if steps == TAPE_WARM_UP_STEPS {
            counting_alloc::COUNTING.with(|c| c.set(true));
        }
        if ahead.step() {
            steps += 1;
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
    counting_alloc::COUNTING.with(|c| c.set(false));
    (steps, counting_alloc::ALLOCATIONS.with(|n| n.get()))
}

fn assert_allocation_free(what: &str, measured: &Measured, venue_fills: u64) {
    assert!(
        measured.market_data > 10_000,
        "{what}: tape rows handed over"
    );
    assert!(
        measured.orders > 0,
        "{what}: orders in the measured stretch"
    );
    assert!(measured.fills > 0, "{what}: fills in the measured stretch");
    assert!(venue_fills > 0, "{what}: the venue matched orders");
    assert_eq!(
        measured.allocations, 0,
        "{what}: heap allocations in {MEASURED_EVENTS} events after warm-up"
    );
}

// Tardis CSV, plain and gzip, then the same rows as a binary tape.
#[test]
fn tardis_and_binary_tape_backtests_allocate_nothing_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &synthetic_instruments(), FUSED);
    for compression in [Compression::None, Compression::Gzip] {
        let tape_dir = dir.path().join(format!("tape-{compression:?}"));
        std::fs::create_dir_all(&tape_dir).unwrap();
        let synthetic = SyntheticConfig {
            seed: 5,
            instrument_count: 2,
            rows: 60_000,
            snapshot_levels: 10,
            compression,
            ..SyntheticConfig::default()
        };
        let tapes = write_synthetic_tape(&tape_dir, &synthetic).unwrap().paths();
        let journal = dir.path().join(format!("journal-{compression:?}"));
        let (measured, fills) = measure(&config, &tapes, &journal);
        assert_allocation_free(&format!("Tardis {compression:?}"), &measured, fills);
        if compression == Compression::None {
            let binary = dir.path().join("tape.gtape");
            convert(&config, &tapes, &binary).unwrap();
            let journal = dir.path().join("journal-binary");
            let (measured, fills) = measure(&config, std::slice::from_ref(&binary), &journal);
            assert_allocation_free("binary tape", &measured, fills);
            let mut tape_core = config.clone();
            tape_core.backtest.tape_core = Some(1);
            let journal = dir.path().join("journal-tape-core");
            let (measured, fills) = measure(&tape_core, &[binary], &journal);
            assert_allocation_free("binary tape, tape core", &measured, fills);
        }
    }
}

// ITCH 5.0, plain and gzip: order-by-order books behind the level changes.
#[test]
fn itch_tape_backtests_allocate_nothing_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), ITCH_INSTRUMENT, FUSED);
    for compression in [Compression::None, Compression::Gzip] {
        let tape = dir.path().join(format!("day-{compression:?}.itch"));
        itch_tape(&tape, 50_000, compression);
        let journal = dir.path().join(format!("journal-{compression:?}"));
        let (measured, fills) = measure(&config, &[tape], &journal);
        assert_allocation_free(&format!("ITCH {compression:?}"), &measured, fills);
    }
}
