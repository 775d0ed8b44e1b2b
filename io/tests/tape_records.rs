//! Tape records (`genesis_io::tape::records`): an ITCH 5.0 file becomes
//! the level changes and prints an L2 feed would send, through
//! order-by-order books; a Tardis snapshot is one message whose rows all
//! but the last continue; tapes of mixed formats, and ITCH prices off the
//! instrument's grid, are refused naming the file and the byte offset.

use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderDelete, OrderExecuted, OrderReplace,
    Price4, StockSymbol, Trade,
};
use genesis_io::tape::records::{
    RecordInstrument, RecordKind, RecordOptions, TapeRecord, TapeRecords, CONTINUES, SNAPSHOT,
    SNAPSHOT_START,
};
use genesis_io::tape::tardis::{
    L2Update, TardisDataset, TardisInstrument, TardisInstruments, TardisWriter,
};
use genesis_io::tape::{Compression, ItchFileWriter, TapeSink};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MIDNIGHT_NS: u64 = 17_926 * 86_400_000_000_000;

fn options(symbol: &str, tick: &str, lot: &str) -> RecordOptions {
    RecordOptions {
        instruments: vec![RecordInstrument {
            symbol: symbol.into(),
            tick_size: tick.into(),
            lot_size: lot.into(),
        }],
        tardis_exchange: "binance-futures".into(),
        itch_midnight_ns: MIDNIGHT_NS,
        itch_orders_max: 64,
        itch_levels_max: 64,
    }
}

fn header(locate: u16, ts_ns: u64) -> MessageHeader {
    MessageHeader {
        stock_locate: locate,
        tracking_number: 0,
        timestamp_ns: ts_ns,
    }
}

fn add(
    locate: u16,
    ts_ns: u64,
    order_ref: u64,
    side: BuySell,
    shares: u32,
    stock: &str,
    price4: u32,
) -> ItchMessage {
    ItchMessage::AddOrder(AddOrder {
        header: header(locate, ts_ns),
        order_ref,
        side,
        shares,
        stock: StockSymbol::from_str_padded(stock).unwrap(),
        price: Price4(price4),
        attribution: None,
    })
}

fn write_itch(path: &Path, messages: &[ItchMessage]) {
    let mut writer = ItchFileWriter::create(path, Compression::None).unwrap();
    for message in messages {
        writer.write_message(message).unwrap();
    }
    writer.finish().unwrap();
}

fn read_all(paths: &[PathBuf], options: &RecordOptions) -> Vec<TapeRecord> {
    let mut records = TapeRecords::open(paths, options).unwrap();
    let mut out = Vec::new();
    while let Some(record) = records.next_record().unwrap() {
        out.push(record);
    }
    out
}

/// (kind, price ticks, qty lots, flags) of each record.
fn shape(records: &[TapeRecord]) -> Vec<(RecordKind, i64, i64, u8)> {
    records
        .iter()
        .map(|r| (r.kind, r.price, r.qty, r.flags))
        .collect()
}

// Adds, an execution, a replace, a delete and a non-displayed trade make the levels and prints they imply.
#[test]
fn itch_messages_become_level_changes_and_prints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("day.itch");
    let ts = 34_200_000_000_000;
    write_itch(
        &path,
        &[
            add(1, ts, 1, BuySell::Buy, 300, "ALPHA", 1_000_000),
            add(1, ts + 1, 2, BuySell::Buy, 200, "ALPHA", 1_000_000),
            add(2, ts + 2, 3, BuySell::Sell, 100, "OTHER", 5_000),
            add(1, ts + 3, 4, BuySell::Sell, 500, "ALPHA", 1_000_100),
            ItchMessage::OrderExecuted(OrderExecuted {
                header: header(1, ts + 4),
                order_ref: 1,
                executed_shares: 100,
                match_number: 77,
            }),
            ItchMessage::OrderReplace(OrderReplace {
                header: header(1, ts + 5),
                original_order_ref: 2,
                new_order_ref: 5,
                shares: 200,
                price: Price4(999_900),
            }),
            ItchMessage::OrderDelete(OrderDelete {
                header: header(1, ts + 6),
                order_ref: 4,
            }),
            ItchMessage::Trade(Trade {
                header: header(1, ts + 7),
                order_ref: 0,
                side: BuySell::Sell,
                shares: 100,
                stock: StockSymbol::from_str_padded("ALPHA").unwrap(),
                price: Price4(1_000_100),
                match_number: 78,
            }),
        ],
    );
    // Tick 0.01 (100 price4 units), lots of 100 shares.
    let records = read_all(
        std::slice::from_ref(&path),
        &options("ALPHA", "0.01", "100"),
    );
    use RecordKind::*;
    assert_eq!(
        shape(&records),
        vec![
            (Bid, 10_000, 3, 0),
            (Bid, 10_000, 5, 0),
            (Ask, 10_001, 5, 0),
            // The execution: a sell taker's print at the order's price, then its level.
            (TradeSell, 10_000, 1, CONTINUES),
            (Bid, 10_000, 4, 0),
            // The replace: the old level, then the new one.
            (Bid, 10_000, 2, CONTINUES),
            (Bid, 9_999, 2, 0),
            (Ask, 10_001, 0, 0),
            // A non-displayed sell order traded: the taker bought.
            (TradeBuy, 10_001, 1, 0),
        ]
    );
    assert_eq!(records[3].trade_id, 77);
    assert!(records.iter().all(|r| r.instrument == 0));
    assert_eq!(records[0].ts_local_ns, MIDNIGHT_NS + ts);
    assert_eq!(records[0].ts_exchange_ns, records[0].ts_local_ns);

    // A price off a 0.05 grid is refused at the offset of its message, after the records before it.
    let mut records = TapeRecords::open(&[path], &options("ALPHA", "0.05", "100")).unwrap();
    let mut before = 0;
    let error = loop {
        match records.next_record() {
            Ok(Some(_)) => before += 1,
            Ok(None) => panic!("an off-grid price is refused"),
            Err(error) => break error,
        }
    };
    let text = error.to_string();
    // Three 38-byte adds come before the ask at 100.01: it starts at byte 114.
    assert!(
        text.contains("day.itch: byte 114:") && text.contains("not a multiple"),
        "{text}"
    );
    assert_eq!(before, 2, "the two bids came out first: {text}");
}

// A Tardis snapshot is one message: the first row starts it, every row but the last continues.
#[test]
fn tardis_snapshots_are_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv");
    let instruments = Arc::new(
        TardisInstruments::new(vec![TardisInstrument::new(
            "binance-futures",
            "BTCUSDT",
            "0.1",
            "0.001",
        )])
        .unwrap(),
    );
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = TardisWriter::new(
        TapeSink::new(file, Compression::None),
        TardisDataset::IncrementalBookL2,
        instruments,
    )
    .unwrap();
    let row = |ts_us: u64, side, price, qty, is_snapshot| L2Update {
        instrument_index: 0,
        ts_exchange_ns: ts_us * 1_000 - 1_000,
        ts_local_ns: ts_us * 1_000,
        side,
        price: genesis_io::book::Price(price),
        qty: genesis_io::book::Qty(qty),
        is_snapshot,
        starts_snapshot: false,
        line: 0,
    };
    use genesis_io::book::Side as S;
    for update in [
        row(10, S::Bid, 1_000, 5, true),
        row(10, S::Bid, 999, 4, true),
        row(10, S::Ask, 1_001, 3, true),
        row(20, S::Ask, 1_001, 0, false),
        row(30, S::Ask, 1_002, 7, false),
    ] {
        writer.write_update(&update).unwrap();
    }
    writer.finish().unwrap();
    let records = read_all(&[path], &options("BTCUSDT", "0.1", "0.001"));
    let flags: Vec<u8> = records.iter().map(|r| r.flags).collect();
    assert_eq!(
        flags,
        vec![
            SNAPSHOT_START | SNAPSHOT | CONTINUES,
            SNAPSHOT | CONTINUES,
            SNAPSHOT,
            0,
            0
        ]
    );
    assert_eq!(records[3].kind, RecordKind::Ask);
    assert_eq!((records[3].price, records[3].qty), (1_001, 0));
}

// Tapes of two formats in one run are refused, naming both files.
#[test]
fn mixed_formats_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let itch = dir.path().join("day.itch");
    write_itch(&itch, &[add(1, 1, 1, BuySell::Buy, 100, "ALPHA", 100)]);
    let csv = dir
        .path()
        .join("binance-futures_trades_2024-01-01_BTCUSDT.csv");
    std::fs::write(
        &csv,
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n",
    )
    .unwrap();
    let error = TapeRecords::open(&[itch, csv], &options("ALPHA", "0.01", "1"))
        .err()
        .unwrap();
    let text = error.to_string();
    assert!(
        text.contains("trades_2024") && text.contains("day.itch"),
        "{text}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    // Arbitrary bytes after a valid binary-tape header (and any file at all)
    // never panic the reader; an error names the file and the offset of the
    // record at fault, after every whole record before it came out.
    #[test]
    fn garbled_binary_tapes_are_refused_at_a_record_offset(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        whole_file in proptest::prelude::any::<bool>(),
    ) {
        use genesis_io::tape::records::binary::{BinaryTapeWriter, RECORD_BYTES};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbled.gnstape");
        let wanted = options("AAA", "0.1", "1").instruments;
        let mut bytes = if whole_file {
            genesis_io::tape::records::binary::MAGIC.to_vec()
        } else {
            BinaryTapeWriter::new(Vec::new(), &wanted).unwrap().finish().unwrap()
        };
        let header_bytes = bytes.len() as u64;
        bytes.extend_from_slice(&body);
        std::fs::write(&path, &bytes).unwrap();
        let Ok(mut records) = TapeRecords::open(std::slice::from_ref(&path), &options("AAA", "0.1", "1")) else {
            proptest::prop_assert!(whole_file, "a valid header opens");
            return Ok(());
        };
        let mut read = 0u64;
        loop {
            match records.next_record() {
                Ok(Some(_)) => read += 1,
                Ok(None) => {
                    proptest::prop_assert_eq!(body.len() % RECORD_BYTES, 0);
                    break;
                }
                Err(error) => {
                    let text = error.to_string();
                    proptest::prop_assert!(text.contains("garbled.gnstape"), "{}", text);
                    let offset = error.offset().expect("an offset");
                    proptest::prop_assert_eq!(offset, header_bytes + read * RECORD_BYTES as u64, "{}", text);
                    break;
                }
            }
        }
    }
}
