//! `genesis backtest` end to end on small tapes written by the project's own
//! encoders: a seeded Tardis tape and a seeded ITCH 5.0 tape each backtest
//! with the touch quoter to a journal that `genesis replay` verifies, the
//! same tape twice (through either core plan, twice through each, and as a
//! binary tape) gives byte-identical journal segments, and a bad tape stops the backtest
//! with its file and line or byte offset after journaling every row before.
//! The market-data events journaled are the tape source's own mapping of
//! every row over books of its own (the driver takes the touch from the
//! venue's book instead), every hand-over is counted once in the per-event
//! latency though only a sample is timed, and no snapshot is written.
//! With the tape's work on a second core (`backtest.tape_core`, on a thread
//! of its own or the journal's), the journal is the fused plan's, byte for
//! byte, and a bad line is named the same way.

#[path = "common/tapes.rs"]
mod tapes;

use genesis_cli::backtest::{BacktestOptions, BacktestReport};
use genesis_cli::commands::backtest::{backtest, convert, TapeFailure};
use genesis_cli::commands::replay::{replay, ReplayOptions};
use genesis_engine::adapters::tape_source::{TapeBooks, TapeFeed};
use genesis_engine::config::Config;
use genesis_engine::event::{EventKind, Input, FLAG_MESSAGE_CONTINUES};
use genesis_engine::journal_stage::EventReader;
use genesis_io::tape::Compression;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tapes::{
    config, itch_tape, synthetic_instruments, tardis_tape, FUSED, ITCH_INSTRUMENT, JOURNAL_APART,
};

fn options(tapes: &[PathBuf], journal: &Path) -> BacktestOptions {
    BacktestOptions {
        tapes: tapes.to_vec(),
        journal: Some(journal.to_path_buf()),
        progress: false,
        stop: Arc::new(AtomicBool::new(false)),
    }
}

/// Backtests `tapes` into `journal`, printing the report into the result.
fn run(
    config: &Config,
    tapes: &[PathBuf],
    journal: &Path,
) -> (anyhow::Result<BacktestReport>, String) {
    let mut printed = Vec::new();
    let result = backtest(config, &options(tapes, journal), None, &mut printed);
    (result, String::from_utf8(printed).unwrap())
}

/// The journal's segment files, in name order, as bytes.
fn segments(journal: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(journal)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "gjseg"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no segment in {}", journal.display());
    names
        .into_iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect()
}

/// `genesis replay` over the journal: every decision matches.
fn assert_replays(journal: &Path, events: u64) {
    let mut printed = Vec::new();
    let options = ReplayOptions {
        config: None,
        strategy: None,
        progress: false,
    };
    let summary = replay(journal, &options, &mut printed).unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(summary.divergence.is_none(), "{printed}");
    assert_eq!(summary.events, events, "{printed}");
}

/// The journal's market data is, row for row, what the tape source maps
/// `tapes` to over books of its own (the oracle); the report counted every
/// hand-over (rows and replies) in its latency; no snapshot was written.
fn assert_rows_as_the_tape_source_maps_them(
    config: &Config,
    tapes: &[PathBuf],
    journal: &Path,
    report: &BacktestReport,
) {
    let mut feed = TapeFeed::open(tapes, config).unwrap();
    let mut books = TapeBooks::new(config);
    let journaled = EventReader::read_all(journal).unwrap();
    let mut market = journaled
        .iter()
        .filter(|e| matches!(e.kind, EventKind::BookDelta | EventKind::Trade));
    let mut rows = 0u64;
    while let Some(record) = feed.next_record() {
        let expected = books.event_of(&record);
        let got = market.next().expect("every row is journaled");
        rows += 1;
        assert_eq!(
            (
                got.instrument,
                got.side,
                got.input(),
                got.flags & FLAG_MESSAGE_CONTINUES
            ),
            (
                expected.instrument,
                expected.side,
                expected.input(),
                expected.flags & FLAG_MESSAGE_CONTINUES
            ),
            "row {rows}: {record:?}"
        );
        assert_eq!(
            (got.ts_recv_ns, got.ts_venue_ns),
            (expected.ts_recv_ns, expected.ts_venue_ns)
        );
    }
    assert!(market.next().is_none(), "no market data beyond the tape");
    assert_eq!(rows, report.driver.rows);
    assert!(
        journaled
            .iter()
            .any(|e| matches!(e.input(), Input::BookDelta(d) if d.bid_px.0 > 0 && d.ask_px.0 > 0)),
        "the touch is carried"
    );
    assert_eq!(
        report.latency.count,
        report.driver.rows + report.driver.replies,
        "every hand-over counted once in the per-event latency"
    );
    assert!(
        !journal.join("snapshots").exists(),
        "a backtest writes no snapshot"
    );
}

// A Tardis tape trades, replays decision for decision, and backtests twice
// (and with the journal on its own thread) to the same journal bytes.
#[test]
fn tardis_tape_backtests_to_a_journal_that_replays_and_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = tardis_tape(&dir.path().join("tape"), 12_000);
    let config = config(dir.path(), &synthetic_instruments(), FUSED);
    let (first, printed) = run(&config, &tapes, &dir.path().join("first"));
    let first = first.unwrap();
    assert!(
        printed.contains("fills") && printed.contains("pnl"),
        "{printed}"
    );
    let driver = first.driver;
    assert!(
        driver.rows >= 12_000 && driver.book_updates > 0 && driver.trades > 0,
        "{printed}"
    );
    assert!(
        first.orders() > 100 && first.run.execution.fills > 10,
        "{printed}"
    );
    assert_eq!(
        first.run.journal_records, first.run.ingest.published,
        "{printed}"
    );
    assert_eq!(
        first.run.ingest.market_data, driver.rows,
        "every row reaches the engine"
    );
    assert_replays(&dir.path().join("first"), first.run.journal_records);
    assert_rows_as_the_tape_source_maps_them(&config, &tapes, &dir.path().join("first"), &first);

    let (second, _) = run(&config, &tapes, &dir.path().join("second"));
    assert_eq!(second.unwrap().driver, driver);
    assert_eq!(
        segments(&dir.path().join("first")),
        segments(&dir.path().join("second"))
    );

    let apart = self::config(dir.path(), &synthetic_instruments(), JOURNAL_APART);
    let (third, printed) = run(&apart, &tapes, &dir.path().join("third"));
    let third = third.unwrap();
    assert!(printed.contains("2 thread(s)"), "{printed}");
    assert!(
        segments(&dir.path().join("first")) == segments(&dir.path().join("third")),
        "the journal on its own thread changed the journal"
    );
    assert_eq!(third.driver, driver);
    // The pipelined plan repeats itself too, whatever the journal thread's pace.
    let (fourth, _) = run(&apart, &tapes, &dir.path().join("fourth"));
    assert_eq!(fourth.unwrap().driver, driver);
    assert!(
        segments(&dir.path().join("third")) == segments(&dir.path().join("fourth")),
        "the pipelined plan gave two journals for one tape"
    );
}

/// `config` with the tape's order-independent work on core 1.
fn with_tape_core(mut config: Config) -> Config {
    config.backtest.tape_core = Some(1);
    config
}

/// `config` with the journal's buffers written by its own thread.
fn with_write_thread(mut config: Config) -> Config {
    config.journal.write_thread = true;
    config
}

// The tape read, booked and made into events ahead on a second core gives
// the fused plan's journal, byte for byte: on a thread of its own beside the
// fused stages, and on the journal's thread (one thread on core 1), twice;
// so does the fused plan whose journal buffers go to a write thread (the
// race's setting).
#[test]
fn the_tape_core_gives_the_fused_journal_under_every_plan() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = tardis_tape(&dir.path().join("tape"), 12_000);
    let fused = config(dir.path(), &synthetic_instruments(), FUSED);
    let (first, _) = run(&fused, &tapes, &dir.path().join("fused"));
    let driver = first.unwrap().driver;
    let plans = [
        ("own", with_tape_core(fused.clone()), "core 1: tape"),
        (
            "journal",
            with_tape_core(config(dir.path(), &synthetic_instruments(), JOURNAL_APART)),
            "core 1: journal+tape",
        ),
        ("write-thread", with_write_thread(fused.clone()), "fused"),
    ];
    for (name, config, plan) in &plans {
        for round in 0..2 {
            let journal = dir.path().join(format!("{name}-{round}"));
            let (report, printed) = run(config, &tapes, &journal);
            let report = report.unwrap();
            assert!(printed.contains(plan), "{name}: {printed}");
            assert_eq!(report.driver, driver, "{name} {round}: {printed}");
            assert!(
                segments(&dir.path().join("fused")) == segments(&journal),
                "{name} {round}: the tape's core changed the journal"
            );
        }
    }
    let journal = dir.path().join("journal-0");
    let report = run(&plans[1].1, &tapes, &journal).0;
    assert!(report.is_err(), "the journal folder holds records already");
    assert_replays(&dir.path().join("journal-1"), {
        genesis_engine::journal_stage::read_available(&dir.path().join("journal-1"))
            .unwrap()
            .len() as u64
    });
}

// `genesis tape convert` makes a binary tape that backtests to the same journal as its CSV files.
#[test]
fn a_converted_tape_backtests_like_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = tardis_tape(&dir.path().join("tape"), 4_000);
    let config = config(dir.path(), &synthetic_instruments(), FUSED);
    let binary = dir.path().join("tape.gnstape");
    let converted = convert(&config, &tapes, &binary).unwrap();
    assert!(converted.records >= 4_000);
    // An empty folder is a fresh journal; one holding records is refused.
    std::fs::create_dir(dir.path().join("csv")).unwrap();
    let (from_csv, _) = run(&config, &tapes, &dir.path().join("csv"));
    let (from_binary, printed) = run(&config, &[binary], &dir.path().join("binary"));
    assert_eq!(
        from_csv.unwrap().driver,
        from_binary.unwrap().driver,
        "{printed}"
    );
    assert_eq!(
        segments(&dir.path().join("csv")),
        segments(&dir.path().join("binary"))
    );
    let (again, _) = run(&config, &tapes, &dir.path().join("csv"));
    let error = format!(
        "{:#}",
        again.err().expect("a journal with records is refused")
    );
    assert!(error.contains("already holds records"), "{error}");
}

// An ITCH 5.0 day (gzip) backtests through order-by-order books, trades, replays and repeats.
#[test]
fn itch_tape_backtests_to_a_journal_that_replays_and_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("01302019.NASDAQ_ITCH50.gz");
    itch_tape(&tape, 6_000, Compression::Gzip);
    let config = config(dir.path(), ITCH_INSTRUMENT, FUSED);
    let (first, printed) = run(
        &config,
        std::slice::from_ref(&tape),
        &dir.path().join("first"),
    );
    let first = first.unwrap();
    assert!(
        first.driver.trades > 100 && first.driver.book_updates > 1_000,
        "{printed}"
    );
    assert!(
        first.orders() > 50 && first.run.execution.fills > 0,
        "{printed}"
    );
    assert_replays(&dir.path().join("first"), first.run.journal_records);
    assert_rows_as_the_tape_source_maps_them(
        &config,
        std::slice::from_ref(&tape),
        &dir.path().join("first"),
        &first,
    );
    let (second, _) = run(&config, &[tape], &dir.path().join("second"));
    assert_eq!(second.unwrap().driver, first.driver);
    assert_eq!(
        segments(&dir.path().join("first")),
        segments(&dir.path().join("second"))
    );
}

// A garbled CSV line stops the backtest naming file and line; the rows before it are journaled and replay.
#[test]
fn a_bad_tardis_line_is_named_and_what_came_before_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = tardis_tape(&dir.path().join("tape"), 3_000);
    let book = tapes
        .iter()
        .find(|p| p.to_string_lossy().contains("book_L2"))
        .unwrap()
        .clone();
    let text = std::fs::read_to_string(&book).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[300] = "binance-futures,SYN0USDT,oops,1,false,bid,1.0,1";
    std::fs::write(&book, lines.join("\n") + "\n").unwrap();
    let fused = config(dir.path(), &synthetic_instruments(), FUSED);
    let apart = with_tape_core(config(dir.path(), &synthetic_instruments(), JOURNAL_APART));
    for (name, config) in [("fused", fused), ("tape-core", apart)] {
        assert_bad_line_named(&config, &tapes, &dir.path().join(name), &book);
    }
}

/// Backtests `tapes`, whose `book` has a bad line 301, into `journal`.
fn assert_bad_line_named(config: &Config, tapes: &[PathBuf], journal: &Path, book: &Path) {
    let (result, printed) = run(config, tapes, journal);
    let error = result.err().expect("a bad line fails the backtest");
    let failure = error.downcast_ref::<TapeFailure>().expect("a tape failure");
    assert!(
        failure.0.contains(&book.display().to_string()) && failure.0.contains("line 301"),
        "{failure}"
    );
    assert!(
        printed.contains("TAPE ERROR") && printed.contains("line 301"),
        "{printed}"
    );
    let records = genesis_engine::journal_stage::read_available(journal)
        .unwrap()
        .len() as u64;
    assert!(
        records > 200,
        "rows before the bad line are journaled: {records}"
    );
    assert_replays(journal, records);
}

// The binary exits 1 on a truncated ITCH file, naming it and the offset, after the report.
#[test]
fn the_binary_names_a_truncated_itch_file_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("day.itch");
    itch_tape(&tape, 500, Compression::None);
    let bytes = std::fs::read(&tape).unwrap();
    std::fs::write(&tape, &bytes[..bytes.len() - 7]).unwrap();
    let config = config(dir.path(), ITCH_INSTRUMENT, FUSED);
    std::fs::write(
        dir.path().join("cli.toml"),
        toml::to_string(&config).unwrap(),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_genesis"))
        .args([
            "backtest",
            "day.itch",
            "--config",
            "cli.toml",
            "--journal",
            "journal",
            "--summary-json",
            "summary.json",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("day.itch: byte ") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(
        stdout.contains("genesis backtest:"),
        "the report comes first:\n{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert!(
        summary["error"].as_str().unwrap().contains("byte "),
        "{summary}"
    );
    assert!(summary["events"].as_u64().unwrap() > 100, "{summary}");
}

// The race's config and dev.toml's [backtest] load: the touch quoter with the peers' parameters, the defaults.
#[test]
fn the_shipped_configs_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let race = Config::load(&root.join("perf/race/genesis.toml")).unwrap();
    assert_eq!(race.strategy.name.to_string(), "touch-quoter");
    let quoter = &race.strategy.touch_quoter;
    assert_eq!(
        (
            quoter.requote_every_updates,
            quoter.order_lots,
            quoter.max_position_lots
        ),
        (8, 1, 10)
    );
    assert_eq!(race.instruments.len(), 4);
    assert_eq!(race.backtest.entry_latency_ns, 100_000);
    let dev = Config::load(&root.join("engine/config/dev.toml")).unwrap();
    assert_eq!(dev.backtest, Config::builtin().backtest);
    assert_eq!(
        dev.strategy.touch_quoter,
        Config::builtin().strategy.touch_quoter
    );
}
