//! The tape readers against hostile bytes: random files, and valid tapes
//! mutated the ways real damage and crafted files look (a length prefix
//! cut, zeroed or made absurd, bytes flipped or spliced in, a gzip stream
//! garbled or cut, CSV fields replaced by huge numbers, non-numbers, extra
//! or missing fields, binary tape headers and records garbled). Whatever
//! the bytes, every reader a backtest uses (the ITCH file reader, the
//! Tardis CSV reader, and `TapeRecords` over ITCH, Tardis and binary tapes,
//! order-by-order books included) never panics, never reads forever, and
//! any error names the file and a place in it: a byte offset within the
//! stream for ITCH and binary tapes, a line within the file for CSV.
//!
//! Cases are few and tapes small, so the whole file runs in a few seconds;
//! `TAPE_FUZZ_CASES=5000` searches longer.

use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderReplace, Price4, StockSymbol, Trade,
};
use genesis_io::tape::records::binary::BinaryTapeWriter;
use genesis_io::tape::records::{
    RecordInstrument, RecordKind, RecordOptions, TapeRecord, TapeRecords,
};
use genesis_io::tape::tardis::{TardisInstrument, TardisInstruments, TardisReader};
use genesis_io::tape::{
    Compression, ItchFileReader, ItchFileWriter, Location, TapeError, TapeSink,
};
use proptest::prelude::*;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

const MIDNIGHT_NS: u64 = 17_926 * 86_400_000_000_000;
/// More reads than any tape here can hold records: a reader that loops
/// without making progress fails the case instead of hanging it.
const READS_MAX: usize = 100_000;

fn record_options() -> RecordOptions {
    let instrument = |symbol: &str, tick: &str, lot: &str| RecordInstrument {
        symbol: symbol.into(),
        tick_size: tick.into(),
        lot_size: lot.into(),
    };
    RecordOptions {
        instruments: vec![
            instrument("ALPHA", "0.01", "1"),
            instrument("BTCUSDT", "0.1", "0.001"),
            instrument("ETHUSDT", "0.1", "0.001"),
        ],
        tardis_exchange: "binance-futures".into(),
        itch_midnight_ns: MIDNIGHT_NS,
        itch_orders_max: 32,
        itch_levels_max: 16,
    }
}

fn tardis_instruments() -> Arc<TardisInstruments> {
    let instrument = |symbol| TardisInstrument::new("binance-futures", symbol, "0.1", "0.001");
    Arc::new(TardisInstruments::new(vec![instrument("BTCUSDT"), instrument("ETHUSDT")]).unwrap())
}

/// Checks an error names `file` and a place within `len` bytes or `lines` lines.
fn check_error(error: &TapeError, file: &Path, len: u64, lines: u64) -> Result<(), TestCaseError> {
    let text = error.to_string();
    prop_assert!(
        text.starts_with(&file.display().to_string()),
        "the error names the file: {}",
        text
    );
    match error.location() {
        Location::Offset(offset) => prop_assert!(offset <= len, "offset past the end: {}", text),
        Location::Line { line, .. } => {
            prop_assert!(
                line >= 1 && line <= lines + 1,
                "line past the end: {}",
                text
            )
        }
        Location::File => {}
    }
    Ok(())
}

/// Reads `next` to the end or the first error; the records read and the error.
fn drain<T>(
    mut next: impl FnMut() -> Result<Option<T>, TapeError>,
) -> Result<(usize, Option<TapeError>), TestCaseError> {
    for count in 0..READS_MAX {
        match next() {
            Ok(Some(_)) => {}
            Ok(None) => return Ok((count, None)),
            Err(error) => return Ok((count, Some(error))),
        }
    }
    Err(TestCaseError::fail("a reader made no end of a small tape"))
}

/// Opens `bytes` written to `path` as `TapeRecords` and reads it all; any
/// error (opening or reading) must name the file and a place in it, within
/// `plain`, the bytes before compression.
fn records_of_file(
    path: &Path,
    bytes: &[u8],
    plain: &[u8],
) -> Result<Option<TapeError>, TestCaseError> {
    std::fs::write(path, bytes).unwrap();
    let lines = plain.iter().filter(|&&b| b == b'\n').count() as u64;
    let error = match TapeRecords::open(&[path.to_path_buf()], &record_options()) {
        Err(error) => Some(error),
        Ok(mut records) => drain(|| records.next_record())?.1,
    };
    if let Some(error) = &error {
        check_error(error, path, plain.len() as u64, lines)?;
    }
    Ok(error)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// What is done to a valid tape.
#[derive(Clone, Debug)]
enum Damage {
    /// Cut the file at a point.
    Truncate(prop::sample::Index),
    /// XOR a byte.
    Flip(prop::sample::Index, u8),
    /// Insert bytes.
    Splice(prop::sample::Index, Vec<u8>),
    /// Overwrite two bytes (an ITCH length prefix, when on a boundary) with
    /// 0, 1, 0xFFFF or any value.
    Length(prop::sample::Index, u16),
    /// Replace the file with random bytes.
    Random(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    let length = prop_oneof![Just(0u16), Just(1), Just(2), Just(u16::MAX), any::<u16>()];
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
        (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(at, x)| Damage::Flip(at, x)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(at, bytes)| Damage::Splice(at, bytes)),
        (any::<prop::sample::Index>(), length).prop_map(|(at, v)| Damage::Length(at, v)),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(Damage::Random),
    ]
}

fn apply(damage: &Damage, bytes: &mut Vec<u8>) {
    match damage {
        Damage::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
        Damage::Flip(at, x) if !bytes.is_empty() => {
            let at = at.index(bytes.len());
            bytes[at] ^= x;
        }
        Damage::Splice(at, spliced) => {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, spliced.iter().copied());
        }
        Damage::Length(at, value) if bytes.len() >= 2 => {
            let at = at.index(bytes.len() - 1);
            bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
        }
        Damage::Random(random) => *bytes = random.clone(),
        _ => {}
    }
}

/// A seed for one ITCH message, with extreme values as likely as tame ones.
type ItchSeed = (u8, u64, u32, u32, bool);

fn extreme_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(u32::MAX),
        1..2_000u32,
        any::<u32>()
    ]
}

fn itch_seeds() -> impl Strategy<Value = Vec<ItchSeed>> {
    let seed = (
        0..7u8,
        prop_oneof![1..12u64, Just(u64::MAX), any::<u64>()],
        extreme_u32(),
        extreme_u32(),
        any::<bool>(),
    );
    prop::collection::vec(seed, 0..60)
}

/// A tape of adds, executions, cancels, deletes, replaces and trades with
/// the seeds' (possibly absurd) refs, sizes and prices, on ALPHA and
/// another stock.
fn itch_tape(seeds: &[ItchSeed]) -> Vec<u8> {
    let mut writer = ItchFileWriter::new(TapeSink::new(Vec::new(), Compression::None));
    for (index, &(kind, order_ref, shares, price, buy)) in seeds.iter().enumerate() {
        let header = MessageHeader {
            stock_locate: 1 + u16::from(kind == 6),
            tracking_number: 0,
            timestamp_ns: 34_200_000_000_000 + index as u64,
        };
        let side = if buy { BuySell::Buy } else { BuySell::Sell };
        let stock =
            StockSymbol::from_str_padded(if kind == 6 { "OTHER" } else { "ALPHA" }).unwrap();
        let message = match kind {
            0 | 6 => ItchMessage::AddOrder(AddOrder {
                header,
                order_ref,
                side,
                shares,
                stock,
                price: Price4(price),
                attribution: None,
            }),
            1 => ItchMessage::OrderExecuted(OrderExecuted {
                header,
                order_ref,
                executed_shares: shares,
                match_number: index as u64,
            }),
            2 => ItchMessage::OrderCancel(OrderCancel {
                header,
                order_ref,
                cancelled_shares: shares,
            }),
            3 => ItchMessage::OrderDelete(OrderDelete { header, order_ref }),
            4 => ItchMessage::OrderReplace(OrderReplace {
                header,
                original_order_ref: order_ref,
                new_order_ref: order_ref.wrapping_add(1),
                shares,
                price: Price4(price),
            }),
            _ => ItchMessage::Trade(Trade {
                header,
                order_ref,
                side,
                shares,
                stock,
                price: Price4(price),
                match_number: index as u64,
            }),
        };
        writer.write_message(&message).unwrap();
    }
    writer.finish().unwrap()
}

const BOOK_HEADER: &str =
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n";
const TRADES_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n";

/// Fields a CSV cell may be replaced with: huge, negative, fractional,
/// non-numeric, quoted, non-UTF-8, empty.
fn nasty_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"".to_vec()),
        Just(b"-".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"1e400".to_vec()),
        Just(b"NaN".to_vec()),
        Just(b"inf".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        Just(b"18446744073709551615".to_vec()),
        Just(b"9223372036854775808".to_vec()),
        Just(b"-9223372036854775809".to_vec()),
        Just(b"99999999999999999999999999999999.9".to_vec()),
        Just(b"0.00000000000000000000000000001".to_vec()),
        Just(b"1.2.3".to_vec()),
        Just(b"\"100\"".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"true".to_vec()),
        Just(b"a,b".to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// A seed for one CSV row: stamps, price, amount, side, snapshot flag.
type RowSeed = (u16, u16, u16, bool, bool);

fn row_seeds() -> impl Strategy<Value = Vec<RowSeed>> {
    prop::collection::vec(any::<RowSeed>(), 1..40)
}

/// A valid Tardis book or trades file from the seeds (its first rows a snapshot).
fn tardis_csv(seeds: &[RowSeed], book: bool) -> Vec<u8> {
    let mut text = String::from(if book { BOOK_HEADER } else { TRADES_HEADER });
    let mut us = 1_704_067_200_000_000u64;
    for (index, &(step, price, amount, bid, snapshot)) in seeds.iter().enumerate() {
        us += u64::from(step % 100);
        let price = format!("{}.{}", 40_000 + u32::from(price % 500), price % 10);
        let amount = format!("0.{:03}", 1 + amount % 999);
        let side = if bid { "bid" } else { "ask" };
        let symbol = if index % 3 == 0 { "ETHUSDT" } else { "BTCUSDT" };
        let middle = if book {
            format!("{},{side}", index < 3 || snapshot && index < 5)
        } else {
            format!("{index},{}", if bid { "buy" } else { "sell" })
        };
        text.push_str(&format!(
            "binance-futures,{symbol},{us},{},{middle},{price},{amount}\n",
            us + 50
        ));
    }
    text.into_bytes()
}

/// Replaces field `field` (0-based, modulo the row's fields) of line
/// `line` (modulo the lines) with `value`; `extra` adds or drops a field.
fn replace_field(
    bytes: &[u8],
    line: prop::sample::Index,
    field: usize,
    value: &[u8],
    extra: i8,
) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let at = line.index(lines.len());
    let mut fields: Vec<Vec<u8>> = lines[at]
        .split(|&b| b == b',')
        .map(<[u8]>::to_vec)
        .collect();
    let which = field % fields.len();
    fields[which] = value.to_vec();
    match extra {
        1 => fields.push(b"0".to_vec()),
        -1 if fields.len() > 1 => {
            fields.pop();
        }
        _ => {}
    }
    lines[at] = fields.join(&b","[..]);
    lines.join(&b"\n"[..])
}

/// A valid binary tape of `count` records on the two instruments.
fn binary_tape(seeds: &[(u16, i64, i64, u8)]) -> Vec<u8> {
    let options = record_options();
    let mut writer = BinaryTapeWriter::new(Vec::new(), &options.instruments).unwrap();
    for (index, &(step, price, qty, kind)) in seeds.iter().enumerate() {
        let ts = 1_000_000 + index as u64 * 1_000 + u64::from(step);
        writer
            .write(&TapeRecord {
                ts_local_ns: ts,
                ts_exchange_ns: ts - 1,
                price,
                qty,
                trade_id: index as u64,
                instrument: u16::from(kind % 2),
                kind: RecordKind::from_u8(kind % 5).unwrap(),
                flags: 0,
            })
            .unwrap();
    }
    writer.finish().unwrap()
}

/// Cases per property: 128 (CI), or `TAPE_FUZZ_CASES` for a longer search.
fn cases() -> u32 {
    std::env::var("TAPE_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    // ITCH, plain or gzip, damaged: the file reader (in memory) and the
    // records with their order books (from a file) never panic, and any
    // error names the file and a byte offset in it.
    #[test]
    fn damaged_itch_tapes_never_panic(seeds in itch_seeds(), damage in damage(), gzipped in any::<bool>()) {
        let mut plain = itch_tape(&seeds);
        apply(&damage, &mut plain);
        let bytes = if gzipped { gzip(&plain) } else { plain.clone() };
        let name = Path::new("day.itch");
        if let Ok(mut reader) = ItchFileReader::new(name, &bytes[..]) {
            let (_, error) = drain(|| reader.next_record())?;
            if let Some(error) = error {
                check_error(&error, name, plain.len() as u64, 0)?;
                prop_assert!(error.offset().is_some(), "a read error has an offset: {}", error);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(if gzipped { "day.itch.gz" } else { "day.itch" });
        records_of_file(&file, &bytes, &plain)?;
    }

    // A gzip stream damaged (bytes flipped, cut, spliced, lengths
    // overwritten): refused with the file named, never a panic; what was
    // read before the damage came out.
    #[test]
    fn damaged_gzip_is_refused(seeds in itch_seeds(), damage in damage()) {
        let plain = itch_tape(&seeds);
        let mut bytes = gzip(&plain);
        apply(&damage, &mut bytes);
        let name = Path::new("day.itch.gz");
        match ItchFileReader::new(name, &bytes[..]) {
            Err(error) => check_error(&error, name, plain.len() as u64, 0)?,
            Ok(mut reader) => {
                let (_, error) = drain(|| reader.next_record())?;
                if let Some(error) = error {
                    check_error(&error, name, plain.len() as u64 + 65_536, 0)?;
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        // The stream may decompress past the damage: bound offsets loosely.
        let loose = vec![0u8; plain.len() + 65_536];
        records_of_file(&dir.path().join("day.itch.gz"), &bytes, &loose)?;
    }

    // Tardis CSV with a field replaced by a huge, negative, fractional or
    // non-numeric value, a field added or dropped, then damaged bytes too:
    // the reader and the records never panic; errors name the file and a line.
    #[test]
    fn damaged_tardis_rows_never_panic(
        seeds in row_seeds(),
        book in any::<bool>(),
        line in any::<prop::sample::Index>(),
        field in 0..8usize,
        value in nasty_field(),
        extra in -1..=1i8,
        damage in prop::option::of(damage()),
        gzipped in any::<bool>(),
    ) {
        let valid = tardis_csv(&seeds, book);
        let mut plain = replace_field(&valid, line, field, &value, extra);
        if let Some(damage) = &damage {
            apply(damage, &mut plain);
        }
        let lines = plain.iter().filter(|&&b| b == b'\n').count() as u64;
        let bytes = if gzipped { gzip(&plain) } else { plain.clone() };
        let name = Path::new("rows.csv");
        match TardisReader::new(name, &bytes[..], tardis_instruments()) {
            Err(error) => check_error(&error, name, 0, lines)?,
            Ok(mut reader) => {
                let (_, error) = drain(|| reader.next_event())?;
                if let Some(error) = error {
                    check_error(&error, name, 0, lines)?;
                    prop_assert!(error.line().is_some(), "a row error has a line: {}", error);
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(if gzipped { "rows.csv.gz" } else { "rows.csv" });
        records_of_file(&file, &bytes, &plain)?;
    }

    // Binary tapes damaged in the header or the records: never a panic;
    // errors name the file and a byte offset.
    #[test]
    fn damaged_binary_tapes_never_panic(
        seeds in prop::collection::vec(
            (any::<u16>(), prop_oneof![Just(i64::MAX), Just(i64::MIN), any::<i64>()], any::<i64>(), any::<u8>()),
            0..30,
        ),
        damage in damage(),
    ) {
        let mut bytes = binary_tape(&seeds);
        apply(&damage, &mut bytes);
        let dir = tempfile::tempdir().unwrap();
        if let Some(error) = records_of_file(&dir.path().join("tape.gtape"), &bytes, &bytes)? {
            prop_assert!(
                !matches!(error.location(), Location::Line { .. }),
                "a binary tape is placed by offset: {}",
                error
            );
        }
    }
}

// Hand-made framing damage the random cases may miss: an absurd length
// prefix, a zero length, a prefix cut in half, each named by offset.
#[test]
fn itch_framing_damage_is_named_by_offset() {
    let add = itch_tape(&[(0, 7, 100, 1_000_000, true)]);
    let message_bytes = add.len() as u64;
    let cases: [(&str, Vec<u8>, u64); 3] = [
        (
            "absurd length",
            [add.clone(), vec![0xFF, 0xFF, b'A']].concat(),
            message_bytes,
        ),
        (
            "zero length",
            [add.clone(), vec![0, 0]].concat(),
            message_bytes,
        ),
        (
            "half a prefix",
            [add.clone(), vec![0]].concat(),
            message_bytes,
        ),
    ];
    for (what, bytes, offset) in cases {
        let mut reader = ItchFileReader::new("cut.itch", &bytes[..]).unwrap();
        assert!(
            reader.next_record().unwrap().is_some(),
            "{what}: the whole message"
        );
        let error = reader.next_record().unwrap_err();
        assert_eq!(error.offset(), Some(offset), "{what}: {error}");
        assert!(
            error.to_string().starts_with("cut.itch: byte "),
            "{what}: {error}"
        );
    }
}
