//! Tardis CSV tapes: the readers round-trip what the writer wrote (plain and
//! gzip alike), apply Tardis's snapshot rule, convert prices and amounts
//! exactly, and refuse off-grid, truncated and garbled files with the file,
//! line and column, never panicking and never losing a row before the
//! fault. The merger interleaves files in a stable, deterministic order.

use genesis_io::book::{L2Book, Price, Qty, Side};
use genesis_io::tape::tardis::{
    Aggressor, L2Update, TapeEvent, TapeMerger, TardisDataset, TardisInstrument, TardisInstruments,
    TardisReader, TardisTrade, TardisWriter, TradeId,
};
use genesis_io::tape::{Compression, TapeError, TapeErrorKind, TapeFormat, TapeSink};
use proptest::prelude::*;
use std::sync::Arc;

fn instruments() -> Arc<TardisInstruments> {
    Arc::new(
        TardisInstruments::new(vec![
            TardisInstrument::new("binance-futures", "BTCUSDT", "0.1", "0.001"),
            TardisInstrument::new("deribit", "BTC-PERPETUAL", "0.5", "10"),
        ])
        .unwrap(),
    )
}

/// Seeds of one row: (instrument, µs step, latency µs, flag, side, price, amount).
type RowSeed = (bool, u8, u16, bool, bool, u32, u32);

/// Exchange and local times of one row: exchange time steps 0 to 3 µs,
/// local time = exchange time + latency, never going backwards.
fn stamps(clock_us: &mut u64, local_us: &mut u64, step: u8, latency: u16) -> (u64, u64) {
    *clock_us += u64::from(step % 4);
    *local_us = (*local_us).max(*clock_us + u64::from(latency % 64));
    (*clock_us * 1_000, *local_us * 1_000)
}

const START_US: u64 = 1_585_699_200_000_000;

/// Book updates with non-decreasing local timestamps (ties included).
fn book_updates(seeds: &[RowSeed]) -> Vec<L2Update> {
    let (mut clock_us, mut local_us) = (START_US, 0);
    seeds
        .iter()
        .map(|&(second, step, latency, is_snapshot, bid, price, qty)| {
            let (ts_exchange_ns, ts_local_ns) = stamps(&mut clock_us, &mut local_us, step, latency);
            L2Update {
                instrument_index: u16::from(second),
                ts_exchange_ns,
                ts_local_ns,
                side: if bid { Side::Bid } else { Side::Ask },
                price: Price(i64::from(price)),
                qty: Qty(i64::from(qty % 7)),
                is_snapshot,
                starts_snapshot: false,
                line: 0,
            }
        })
        .collect()
}

/// Trades with non-decreasing local timestamps and assorted ids.
fn trades(seeds: &[RowSeed]) -> Vec<TardisTrade> {
    let (mut clock_us, mut local_us) = (START_US, 0);
    seeds
        .iter()
        .enumerate()
        .map(|(index, &(second, step, latency, flag, buy, price, qty))| {
            let (ts_exchange_ns, ts_local_ns) = stamps(&mut clock_us, &mut local_us, step, latency);
            let id = match price % 3 {
                0 => String::new(),
                1 => index.to_string(),
                _ => format!("b6f4f2e0-{price:08x}-{qty:08x}"),
            };
            TardisTrade {
                instrument_index: u16::from(second),
                ts_exchange_ns,
                ts_local_ns,
                id: TradeId::new(id.as_bytes()).unwrap(),
                aggressor: match (flag, buy) {
                    (true, _) => Aggressor::Unknown,
                    (false, true) => Aggressor::Buy,
                    (false, false) => Aggressor::Sell,
                },
                price: Price(i64::from(price)),
                qty: Qty(i64::from(qty)),
                line: 0,
            }
        })
        .collect()
}

/// What the book reader must yield: rows before an instrument's first
/// snapshot dropped, snapshot starts marked, lines numbered.
fn expected_updates(written: &[L2Update]) -> Vec<L2Update> {
    let mut state = [(false, false, 0u64); 2];
    let mut out = Vec::new();
    for (index, update) in written.iter().enumerate() {
        let (synced, in_snapshot, snapshot_ts) = &mut state[usize::from(update.instrument_index)];
        let starts = update.is_snapshot && (!*in_snapshot || *snapshot_ts != update.ts_exchange_ns);
        *in_snapshot = update.is_snapshot;
        if update.is_snapshot {
            *synced = true;
            *snapshot_ts = update.ts_exchange_ns;
        } else if !*synced {
            continue;
        }
        out.push(L2Update {
            starts_snapshot: starts,
            line: index as u64 + 2,
            ..*update
        });
    }
    out
}

fn expected_trades(written: &[TardisTrade]) -> Vec<TardisTrade> {
    written
        .iter()
        .enumerate()
        .map(|(index, trade)| TardisTrade {
            line: index as u64 + 2,
            ..*trade
        })
        .collect()
}

fn write_events(dataset: TardisDataset, events: &[TapeEvent], compression: Compression) -> Vec<u8> {
    let sink = TapeSink::new(Vec::new(), compression);
    let mut writer = TardisWriter::new(sink, dataset, instruments()).unwrap();
    for event in events {
        writer.write_event(event).unwrap();
    }
    assert_eq!(writer.rows_written(), events.len() as u64);
    writer.finish().unwrap()
}

fn write_book(updates: &[L2Update], compression: Compression) -> Vec<u8> {
    let events: Vec<TapeEvent> = updates.iter().copied().map(TapeEvent::Book).collect();
    write_events(TardisDataset::IncrementalBookL2, &events, compression)
}

fn write_trades(trades: &[TardisTrade], compression: Compression) -> Vec<u8> {
    let events: Vec<TapeEvent> = trades.iter().copied().map(TapeEvent::Trade).collect();
    write_events(TardisDataset::Trades, &events, compression)
}

/// Every event of one file, and the error that stopped it, if any.
fn read_all(name: &str, bytes: &[u8]) -> (Vec<TapeEvent>, Option<TapeError>) {
    let mut reader = match TardisReader::new(name, bytes, instruments()) {
        Ok(reader) => reader,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut events = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(error) => {
                assert!(
                    reader.next_event().unwrap().is_none(),
                    "nothing after an error"
                );
                return (events, Some(error));
            }
        }
    }
}

fn row_seeds() -> impl Strategy<Value = Vec<RowSeed>> {
    prop::collection::vec(any::<RowSeed>(), 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Book and trades files round-trip exactly, plain and gzip alike.
    #[test]
    fn round_trips_plain_and_gzip(book_seeds in row_seeds(), trade_seeds in row_seeds()) {
        let updates = book_updates(&book_seeds);
        let want: Vec<TapeEvent> = expected_updates(&updates).into_iter().map(TapeEvent::Book).collect();
        let written_trades = trades(&trade_seeds);
        let want_trades: Vec<TapeEvent> =
            expected_trades(&written_trades).into_iter().map(TapeEvent::Trade).collect();
        for compression in [Compression::None, Compression::Gzip] {
            let (events, error) = read_all("book.csv", &write_book(&updates, compression));
            prop_assert!(error.is_none(), "{:?}", error);
            prop_assert_eq!(&events, &want);
            let (events, error) = read_all("trades.csv", &write_trades(&written_trades, compression));
            prop_assert!(error.is_none(), "{:?}", error);
            prop_assert_eq!(&events, &want_trades);
        }
    }

    // The merger yields every event once, ordered by local time, exchange
    // time, trades first, then file position, each file's order kept.
    #[test]
    fn merger_is_a_stable_time_sort(
        files in prop::collection::vec((any::<bool>(), row_seeds()), 1..5),
    ) {
        let mut sources = Vec::new();
        let mut all = Vec::new();
        for (index, (is_book, seeds)) in files.iter().enumerate() {
            let bytes = if *is_book {
                write_book(&book_updates(seeds), Compression::None)
            } else {
                write_trades(&trades(seeds), Compression::None)
            };
            let (events, error) = read_all("file", &bytes);
            prop_assert!(error.is_none());
            all.extend(events.into_iter().map(|event| (index, event)));
            sources.push(TardisReader::new(format!("file{index}"), std::io::Cursor::new(bytes), instruments()).unwrap());
        }
        let rank = |event: &TapeEvent| u8::from(matches!(event, TapeEvent::Book(_)));
        all.sort_by_key(|(_, event)| (event.ts_local_ns(), event.ts_exchange_ns(), rank(event)));
        let mut merger = TapeMerger::new(sources);
        let mut merged = Vec::new();
        while let Some(event) = merger.next_event().unwrap() {
            merged.push((event.source_index, event.event));
        }
        prop_assert_eq!(merged, all);
    }

    // A plain file cut anywhere yields the whole rows before the cut, then
    // a missing-line-feed error on the cut line.
    #[test]
    fn truncation_is_refused_at_its_line(seeds in row_seeds(), cut in any::<prop::sample::Index>()) {
        let updates: Vec<L2Update> = book_updates(&seeds)
            .into_iter()
            .map(|update| L2Update { is_snapshot: true, ..update })
            .collect();
        let bytes = write_book(&updates, Compression::None);
        let cut = cut.index(bytes.len() + 1);
        let (events, error) = read_all("book.csv", &bytes[..cut]);
        let whole_lines = bytes[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
        let want: Vec<TapeEvent> = expected_updates(&updates)
            .into_iter()
            .filter(|update| update.line <= whole_lines)
            .map(TapeEvent::Book)
            .collect();
        prop_assert_eq!(&events, &want);
        let at_line_end = cut == 0 || bytes[cut - 1] == b'\n';
        match error {
            None => prop_assert!(at_line_end && cut > 0),
            Some(error) => {
                prop_assert_eq!(error.line(), Some(whole_lines + 1), "{}", error);
                prop_assert!(!at_line_end || cut == 0, "{}", error);
            }
        }
    }

    // A gzip file cut short is refused; the rows before come out intact.
    #[test]
    fn truncated_gzip_is_refused(seeds in row_seeds(), cut in any::<prop::sample::Index>()) {
        let written = trades(&seeds);
        let bytes = write_trades(&written, Compression::Gzip);
        let cut = cut.index(bytes.len());
        let (events, error) = read_all("trades.csv.gz", &bytes[..cut]);
        let want: Vec<TapeEvent> = expected_trades(&written).into_iter().map(TapeEvent::Trade).collect();
        prop_assert!(error.is_some());
        prop_assert_eq!(&events[..], &want[..events.len()]);
    }

    // A garbled byte never panics a reader; rows on earlier lines come out
    // intact, and an error names the garbled line or a later one.
    #[test]
    fn garbled_bytes_never_lose_earlier_rows(
        seeds in row_seeds(),
        book in any::<bool>(),
        spot in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let updates = book_updates(&seeds);
        let written_trades = trades(&seeds);
        let (bytes, want) = if book {
            let want = expected_updates(&updates).into_iter().map(TapeEvent::Book).collect();
            (write_book(&updates, Compression::None), want)
        } else {
            let want = expected_trades(&written_trades).into_iter().map(TapeEvent::Trade).collect();
            (write_trades(&written_trades, Compression::None), want)
        };
        let want: Vec<TapeEvent> = want;
        let mut garbled = bytes.clone();
        let at = spot.index(garbled.len());
        garbled[at] = value;
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
        let (events, error) = read_all("garbled.csv", &garbled);
        let before: Vec<&TapeEvent> = want.iter().filter(|event| event.line() < line).collect();
        prop_assert!(events.len() >= before.len() || error.is_some());
        for (got, want) in events.iter().zip(&before) {
            prop_assert_eq!(got, *want);
        }
        if let Some(error) = error {
            prop_assert!(error.line().unwrap() >= line, "{} (garbled line {})", error, line);
        }
    }
}

const BOOK_HEADER: &str =
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n";
const TRADES_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n";

/// The error a book file with these rows stops on.
fn book_error(rows: &str) -> TapeError {
    let text = format!("{BOOK_HEADER}{rows}");
    read_all("book.csv", text.as_bytes()).1.expect("refused")
}

fn trades_error(rows: &str) -> TapeError {
    let text = format!("{TRADES_HEADER}{rows}");
    read_all("trades.csv", text.as_bytes()).1.expect("refused")
}

const GOOD_ROW: &str =
    "binance-futures,BTCUSDT,1585699200000000,1585699200000100,true,bid,6443.5,1.25\n";

// Off-grid prices and amounts are refused with line and column, not rounded.
#[test]
fn off_grid_values_are_refused_with_line_and_column() {
    let error = book_error(&format!(
        "{GOOD_ROW}binance-futures,BTCUSDT,1585699200000000,1585699200000100,true,bid,6443.55,1\n"
    ));
    assert_eq!(
        error.to_string(),
        "book.csv: line 3, column 7 (price): \"6443.55\" is not a multiple of the step 0.1"
    );
    let error = book_error("deribit,BTC-PERPETUAL,1,2,true,ask,6443.5,15\n");
    assert_eq!(
        (error.line(), error.column_name()),
        (Some(2), Some("amount"))
    );
    assert!(
        matches!(error.kind(), TapeErrorKind::OffGrid { .. }),
        "{error}"
    );
    let error = trades_error("deribit,BTC-PERPETUAL,1,2,,buy,6443.25,10\n");
    assert_eq!(
        (error.line(), error.column_name()),
        (Some(2), Some("price"))
    );
}

// Each malformed field is named by its column.
#[test]
fn malformed_fields_name_their_column() {
    let row = |fields: [&str; 8]| format!("{}\n", fields.join(","));
    let good = [
        "binance-futures",
        "BTCUSDT",
        "1585699200000000",
        "1585699200000100",
        "false",
        "ask",
        "6443.5",
        "1",
    ];
    let cases = [
        (0, "exchange", "binance"),
        (1, "symbol", "ETHUSDT"),
        (2, "timestamp", "15856992000000.5"),
        (3, "local_timestamp", "18446744073709552"),
        (4, "is_snapshot", "True"),
        (5, "side", "buy"),
        (6, "price", "-1"),
        (7, "amount", "1,5"),
    ];
    for (index, column, value) in cases {
        let mut fields = good;
        fields[index] = value;
        let error = book_error(&format!("{}{}", row(good), row(fields)));
        assert_eq!(error.line(), Some(3), "{error}");
        let expected_column = match column {
            // "exchange" is found unknown as the pair, named at its symbol.
            "exchange" => "symbol",
            // "1,5" splits into one field too many.
            "amount" => {
                return assert!(matches!(
                    error.kind(),
                    TapeErrorKind::FieldCount {
                        expected: 8,
                        found: 9
                    }
                ))
            }
            other => other,
        };
        assert_eq!(error.column_name(), Some(expected_column), "{error}");
    }
    let long_id = "x".repeat(48);
    let error = trades_error(&format!("deribit,BTC-PERPETUAL,1,2,{long_id},buy,1,10\n"));
    assert_eq!(error.column_name(), Some("id"), "{error}");
    let error = trades_error("deribit,BTC-PERPETUAL,1,2,7,bid,1,10\n");
    assert_eq!(error.column_name(), Some("side"), "{error}");
    let error = trades_error("deribit,BTC-PERPETUAL,1,2,\"7\",buy,1,10\n");
    assert!(matches!(error.kind(), TapeErrorKind::Quoted), "{error}");
    assert_eq!(error.column_name(), Some("id"), "{error}");
    let error = book_error(&format!("{GOOD_ROW}\n{GOOD_ROW}"));
    assert!(
        matches!(error.kind(), TapeErrorKind::EmptyLine) && error.line() == Some(3),
        "{error}"
    );
}

// Headers decide the dataset; a wrong or missing one is refused at line 1.
#[test]
fn headers_are_checked() {
    let (events, error) = read_all("x.csv", b"exchange,symbol\n");
    assert!(events.is_empty());
    let error = error.unwrap();
    assert_eq!(error.line(), Some(1));
    assert!(
        matches!(error.kind(), TapeErrorKind::BadHeader { .. }),
        "{error}"
    );
    assert!(read_all("empty.csv", b"").1.is_some());
    let error = TardisReader::new("t.csv", TRADES_HEADER.as_bytes(), instruments())
        .unwrap()
        .expect_dataset(TardisDataset::IncrementalBookL2)
        .err()
        .unwrap();
    assert!(error
        .to_string()
        .contains("expected \"exchange,symbol,timestamp,local_timestamp,is_snapshot"));
    let error = TardisReader::new("b.csv", BOOK_HEADER.as_bytes(), instruments())
        .unwrap()
        .expect_dataset(TardisDataset::Trades)
        .err()
        .unwrap();
    assert!(
        matches!(error.kind(), TapeErrorKind::BadHeader { .. }),
        "{error}"
    );
}

fn book_update(event: TapeEvent) -> L2Update {
    match event {
        TapeEvent::Book(update) => update,
        TapeEvent::Trade(trade) => panic!("a trade in a book file: {trade:?}"),
    }
}

// Rows as Tardis publishes them (docs sample shape): CRLF tolerated,
// exponent amounts exact, unknown instruments skipped on request.
#[test]
fn reads_tardis_shaped_rows() {
    let text = format!(
        "{BOOK_HEADER}\
         deribit,BTC-PERPETUAL,1585699209920000,1585699209934201,false,ask,6443.5,38640\n\
         deribit,BTC-PERPETUAL,1585699209947000,1585699209958635,true,bid,6436,200\r\n\
         bitmex,XBTUSD,1585699209947000,1585699209958635,true,bid,6436,200\n\
         binance-futures,BTCUSDT,1585699209947000,1585699209958635,true,ask,6437.1,5e-3\n"
    );
    let mut reader = TardisReader::new("d.csv", text.as_bytes(), instruments()).unwrap();
    reader.skip_unknown_instruments(true);
    let updates: Vec<L2Update> = reader
        .by_ref()
        .map(|event| book_update(event.unwrap()))
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(
        (updates[0].price, updates[0].qty, updates[0].line),
        (Price(12_872), Qty(20), 3)
    );
    assert!(updates[0].starts_snapshot && updates[0].side == Side::Bid);
    assert_eq!(updates[0].ts_local_ns, 1_585_699_209_958_635_000);
    assert_eq!((updates[1].instrument_index, updates[1].qty), (0, Qty(5)));
    let stats = reader.stats();
    assert_eq!(stats.rows_read, 4);
    assert_eq!(stats.rows_skipped_before_snapshot, 1);
    assert_eq!(stats.rows_skipped_unknown_instrument, 1);
}

// A new snapshot block clears the book; amount 0 removes a level.
#[test]
fn snapshots_reset_the_book() {
    let rows = [
        "deribit,BTC-PERPETUAL,1,1,true,bid,100,10",
        "deribit,BTC-PERPETUAL,1,1,true,ask,101,10",
        "deribit,BTC-PERPETUAL,2,2,false,bid,99.5,20",
        "deribit,BTC-PERPETUAL,3,3,false,bid,100,0",
        "deribit,BTC-PERPETUAL,4,4,true,bid,98,30",
        "deribit,BTC-PERPETUAL,4,4,true,ask,99,30",
        "deribit,BTC-PERPETUAL,5,5,true,ask,99.5,30",
    ];
    let text = format!("{BOOK_HEADER}{}\n", rows.join("\n"));
    let mut book = L2Book::with_capacity(16);
    let mut starts = Vec::new();
    for event in TardisReader::new("b.csv", text.as_bytes(), instruments()).unwrap() {
        let update = book_update(event.unwrap());
        starts.push(update.starts_snapshot);
        update.apply(&mut book);
        assert!(book.finish_update());
        if update.line == 5 {
            assert_eq!(book.best_bid().unwrap().price, Price(199));
        }
    }
    // Two snapshot rows at timestamp 4 are one snapshot; timestamp 5 is another.
    assert_eq!(starts, [true, false, false, false, true, false, true]);
    assert_eq!(book.best_bid(), None);
    assert_eq!(book.best_ask().unwrap().price, Price(199));
}

// A file whose local time goes backwards cannot be merged: file, line, column.
#[test]
fn merger_refuses_backwards_local_time() {
    let text = format!(
        "{TRADES_HEADER}deribit,BTC-PERPETUAL,1,5,,buy,1,10\nderibit,BTC-PERPETUAL,1,4,,buy,1,10\n"
    );
    let reader = TardisReader::new(
        "t.csv",
        std::io::Cursor::new(text.into_bytes()),
        instruments(),
    )
    .unwrap();
    let mut merger = TapeMerger::new(vec![reader]);
    assert_eq!(merger.next_event().unwrap().unwrap().event.line(), 2);
    let error = merger.next_event().unwrap_err();
    assert_eq!(
        error.to_string(),
        "t.csv: line 3, column 4 (local_timestamp): local_timestamp 4000 ns is before the previous row's 5000 ns"
    );
    assert!(merger.next_event().unwrap().is_none());
}

// Files on disk: opened by path, gzip told by magic, the dataset by header.
#[test]
fn opens_files_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let book_path = dir.path().join("book.csv");
    let trades_path = dir.path().join("trades.csv.gz");
    let updates = book_updates(&[
        (false, 1, 5, true, true, 10, 3),
        (false, 1, 5, false, false, 20, 4),
    ]);
    let written_trades = trades(&[(false, 0, 6, false, true, 11, 2)]);
    std::fs::write(&book_path, write_book(&updates, Compression::Gzip)).unwrap();
    std::fs::write(
        &trades_path,
        write_trades(&written_trades, Compression::None),
    )
    .unwrap();
    assert_eq!(
        TapeFormat::detect(&book_path).unwrap(),
        TapeFormat::TardisBook
    );
    assert_eq!(
        TapeFormat::detect(&trades_path).unwrap(),
        TapeFormat::TardisTrades
    );
    let mut merger = TapeMerger::open(&[&book_path, &trades_path], instruments()).unwrap();
    assert_eq!(
        merger.sources()[0].dataset(),
        TardisDataset::IncrementalBookL2
    );
    assert_eq!(merger.sources()[1].dataset(), TardisDataset::Trades);
    let mut kinds = Vec::new();
    while let Some(event) = merger.next_event().unwrap() {
        kinds.push((event.source_index, event.event.line()));
    }
    // The trade and the first update arrive together (+6 µs); the trade's
    // exchange time is earlier, so it comes first.
    assert_eq!(kinds, [(1, 2), (0, 2), (0, 3)]);
    assert!(merger.file_bytes_read() > 0);
    let reader = TardisReader::open(&trades_path, instruments()).unwrap();
    assert!(reader.expect_dataset(TardisDataset::Trades).is_ok());
    let error = TapeMerger::open(&[dir.path().join("absent.csv")], instruments())
        .err()
        .unwrap();
    assert!(error.to_string().contains("absent.csv"), "{error}");
}

// The writer refuses what the readers would refuse or misread.
#[test]
fn writer_refuses_unreadable_rows() {
    let sink = TapeSink::new(Vec::new(), Compression::None);
    let mut writer = TardisWriter::new(sink, TardisDataset::Trades, instruments()).unwrap();
    let trade = trades(&[(false, 0, 0, false, true, 1, 1)])[0];
    assert!(writer
        .write_trade(&TardisTrade {
            ts_local_ns: 1,
            ..trade
        })
        .is_err());
    assert!(writer
        .write_trade(&TardisTrade {
            price: Price(-1),
            ..trade
        })
        .is_err());
    assert!(writer
        .write_trade(&TardisTrade {
            instrument_index: 9,
            ..trade
        })
        .is_err());
    assert!(writer
        .write_trade(&TardisTrade {
            id: TradeId::new(b"a,b").unwrap(),
            ..trade
        })
        .is_err());
    assert!(writer
        .write_update(&book_updates(&[(false, 0, 0, true, true, 1, 1)])[0])
        .is_err());
    writer.write_trade(&trade).unwrap();
    let bytes = writer.finish().unwrap();
    assert_eq!(read_all("t.csv", &bytes).0.len(), 1);
}
