//! The synthetic Tardis tape: seeded and byte-for-byte reproducible, read
//! back whole by the merger, and shaped as the peers' loaders expect (one
//! instrument per file, Tardis-style names, one opening snapshot with one
//! timestamp and best levels first, local time never before exchange time
//! nor going backwards), with books that never cross and trades that hit
//! the touch.

use genesis_io::book::{L2Book, Side};
use genesis_io::tape::synthetic::{write_synthetic_tape, SyntheticConfig, SyntheticTape};
use genesis_io::tape::tardis::{
    Aggressor, TapeEvent, TapeMerger, TardisDataset, TardisInstruments,
};
use genesis_io::tape::Compression;
use std::path::Path;
use std::sync::Arc;

/// Rows of the tapes here: plain tapes are big enough for the walk to
/// wander; gzip ones stay small (compression is slow in debug builds).
fn rows_for(compression: Compression) -> u64 {
    match compression {
        Compression::None => 12_000,
        Compression::Gzip => 2_000,
    }
}

fn config(seed: u64, compression: Compression, rows: u64) -> SyntheticConfig {
    SyntheticConfig {
        seed,
        instrument_count: 3,
        rows,
        snapshot_levels: 10,
        compression,
        ..SyntheticConfig::default()
    }
}

fn generate_rows(dir: &Path, seed: u64, compression: Compression, rows: u64) -> SyntheticTape {
    std::fs::create_dir_all(dir).unwrap();
    write_synthetic_tape(dir, &config(seed, compression, rows)).unwrap()
}

fn generate(dir: &Path, seed: u64, compression: Compression) -> SyntheticTape {
    generate_rows(dir, seed, compression, rows_for(compression))
}

fn contents(tape: &SyntheticTape) -> Vec<Vec<u8>> {
    tape.paths()
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

// The same seed writes the same bytes; another seed does not.
#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for compression in [Compression::None, Compression::Gzip] {
        let first = generate(&dir.path().join("a"), 7, compression);
        let again = generate(&dir.path().join("b"), 7, compression);
        let other = generate(&dir.path().join("c"), 8, compression);
        assert!(
            contents(&first) == contents(&again),
            "{compression:?}: same seed"
        );
        assert!(
            contents(&first) != contents(&other),
            "{compression:?}: other seed"
        );
        assert!(first.rows() >= rows_for(compression));
    }
}

// Files are named like Tardis downloads, one instrument and dataset each,
// trades before book per instrument (hftbacktest's input order).
#[test]
fn files_are_named_like_tardis_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let tape = generate(dir.path(), 1, Compression::Gzip);
    let names: Vec<String> = tape
        .paths()
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 6);
    assert_eq!(
        names[0],
        "binance-futures_trades_2024-01-01_SYN0USDT.csv.gz"
    );
    assert_eq!(
        names[1],
        "binance-futures_incremental_book_L2_2024-01-01_SYN0USDT.csv.gz"
    );
    assert_eq!(tape.files[1].dataset, TardisDataset::IncrementalBookL2);
    let plain = generate_rows(
        &dir.path().join("plain"),
        1,
        Compression::None,
        rows_for(Compression::Gzip),
    );
    assert!(plain.paths()[0].to_string_lossy().ends_with("SYN0USDT.csv"));
    // Plain and gzip hold the same rows.
    for (gz, csv) in tape.paths().iter().zip(plain.paths()) {
        let mut text = Vec::new();
        let mut input = genesis_io::tape::TapeInput::open(gz).unwrap();
        std::io::Read::read_to_end(&mut input, &mut text).unwrap();
        assert!(text == std::fs::read(&csv).unwrap(), "{}", csv.display());
    }
}

/// Per instrument: its book, whether its snapshot is over, the snapshot's
/// timestamp and last price per side (to check best-first order).
struct Replay {
    book: L2Book,
    snapshot_done: bool,
    snapshot_ts_ns: Option<u64>,
    last_snapshot_price: [Option<i64>; 2],
    /// (exchange, local) time of the instrument's last row.
    last_stamp_ns: Option<(u64, u64)>,
}

/// Rows of one feed message share both timestamps; the next message is
/// strictly later in both, and finds a spread of at most 3 ticks.
fn check_message_boundary(replay: &mut Replay, event: &TapeEvent) {
    let stamp = (event.ts_exchange_ns(), event.ts_local_ns());
    match replay.last_stamp_ns {
        Some(last) if last.0 == stamp.0 => {
            assert_eq!(last.1, stamp.1, "one message, one local time")
        }
        Some(last) => {
            assert!(
                stamp.0 > last.0 && stamp.1 > last.1,
                "times rise between messages"
            );
            if replay.snapshot_done {
                let spread = replay.book.best_ask().unwrap().price.0
                    - replay.book.best_bid().unwrap().price.0;
                assert!(
                    (1..=3).contains(&spread),
                    "spread {spread} ticks between messages"
                );
            }
        }
        None => {}
    }
    replay.last_stamp_ns = Some(stamp);
}

fn check_book_row(replay: &mut Replay, update: &genesis_io::tape::tardis::L2Update) {
    if update.is_snapshot {
        assert!(!replay.snapshot_done, "one snapshot per file, first");
        let ts = *replay.snapshot_ts_ns.get_or_insert(update.ts_exchange_ns);
        assert_eq!(ts, update.ts_exchange_ns, "one timestamp per snapshot");
        let side = usize::from(update.side == Side::Ask);
        if let Some(previous) = replay.last_snapshot_price[side] {
            // Best first: bids fall, asks rise.
            let worse = if side == 0 {
                update.price.0 < previous
            } else {
                update.price.0 > previous
            };
            assert!(worse, "snapshot rows best level first");
        }
        replay.last_snapshot_price[side] = Some(update.price.0);
    } else {
        replay.snapshot_done = true;
        assert!(update.qty.0 >= 0);
    }
    update.apply(&mut replay.book);
    assert!(
        replay.book.finish_update(),
        "book crossed at line {}",
        update.line
    );
    if replay.snapshot_done {
        assert!(replay.book.best_bid().is_some() && replay.book.best_ask().is_some());
    }
}

fn check_trade(replay: &Replay, trade: &genesis_io::tape::tardis::TardisTrade) {
    assert!(replay.snapshot_done, "trades follow the snapshot");
    assert!(trade.qty.0 > 0, "no zero-amount trades");
    assert!(!trade.id.as_bytes().is_empty());
    let touch = match trade.aggressor {
        Aggressor::Buy => replay.book.best_ask(),
        Aggressor::Sell => replay.book.best_bid(),
        Aggressor::Unknown => panic!("synthetic trades have a side"),
    }
    .unwrap();
    assert_eq!(trade.price, touch.price, "a trade hits the touch");
    assert!(trade.qty <= touch.qty);
}

// Merged back, every row comes out; books never cross; every trade hits
// the touch of the book as it stood; local time is never before exchange time;
// messages are strictly ordered in both times and leave a tight spread.
#[test]
fn merged_tape_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let tape = generate(dir.path(), 3, Compression::None);
    let instruments = Arc::new(TardisInstruments::new(tape.instruments.clone()).unwrap());
    let mut merger = TapeMerger::open(&tape.paths(), instruments).unwrap();
    let mut replays: Vec<Replay> = (0..3)
        .map(|_| Replay {
            book: L2Book::with_capacity(64),
            snapshot_done: false,
            snapshot_ts_ns: None,
            last_snapshot_price: [None; 2],
            last_stamp_ns: None,
        })
        .collect();
    let (mut rows, mut trades, mut last_local_ns) = (0u64, 0u64, 0u64);
    while let Some(merged) = merger.next_event().unwrap() {
        let event = merged.event;
        assert_eq!(
            tape.files[merged.source_index].instrument_index,
            event.instrument_index()
        );
        assert!(event.ts_local_ns() >= event.ts_exchange_ns());
        assert!(event.ts_local_ns() >= last_local_ns);
        last_local_ns = event.ts_local_ns();
        let replay = &mut replays[usize::from(event.instrument_index())];
        check_message_boundary(replay, &event);
        match &event {
            TapeEvent::Book(update) => check_book_row(replay, update),
            TapeEvent::Trade(trade) => {
                check_trade(replay, trade);
                trades += 1;
            }
        }
        rows += 1;
    }
    assert_eq!(rows, tape.rows());
    assert!(
        trades > 400,
        "about a tenth of messages are trades: {trades}"
    );
    assert!(replays.iter().all(|replay| replay.snapshot_done));
}
