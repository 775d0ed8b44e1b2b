//! ITCH 5.0 tape files: the reader round-trips what the writer wrote (every
//! modelled message type, skipped types counted), plain and gzip alike, and
//! refuses truncated, garbled and malformed files with the file name and
//! the offset of the message at fault, never panicking and never losing a
//! message that came before the fault.

use genesis_io::itch::{
    AddOrder, BuySell, ItchError, ItchMessage, MessageHeader, OrderCancel, OrderDelete,
    OrderExecuted, OrderExecutedWithPrice, OrderReplace, Price4, StockDirectory, StockSymbol,
    SystemEvent, Trade,
};
use genesis_io::tape::{
    Compression, ItchFileReader, ItchFileWriter, ItchRecord, TapeError, TapeErrorKind, TapeFormat,
    TapeSink,
};
use proptest::prelude::*;

/// One item of a generated tape: a modelled message, or a raw body of a
/// type the reader skips.
#[derive(Clone, Debug)]
enum Item {
    Message(ItchMessage),
    Skipped(Vec<u8>),
}

/// Seeds for one item: (kind, wide value, another, narrow, another, bytes).
type Seed = (u8, u64, u64, u32, u32, [u8; 8]);

fn header(seed: &Seed) -> MessageHeader {
    MessageHeader {
        stock_locate: seed.3 as u16,
        tracking_number: (seed.3 >> 16) as u16,
        timestamp_ns: seed.1 & 0xFFFF_FFFF_FFFF,
    }
}

fn side(bit: u32) -> BuySell {
    if bit & 1 == 0 {
        BuySell::Buy
    } else {
        BuySell::Sell
    }
}

fn directory(seed: &Seed) -> StockDirectory {
    let bytes = seed.5;
    StockDirectory {
        header: header(seed),
        stock: StockSymbol(bytes),
        market_category: bytes[0],
        financial_status: bytes[1],
        round_lot_size: seed.4,
        round_lots_only: bytes[2],
        issue_classification: bytes[3],
        issue_sub_type: [bytes[4], bytes[5]],
        authenticity: bytes[6],
        short_sale_threshold: bytes[7],
        ipo_flag: bytes[0],
        luld_reference_price_tier: bytes[1],
        etp_flag: bytes[2],
        etp_leverage_factor: seed.3,
        inverse_indicator: bytes[3],
    }
}

/// A message of every modelled type, or a skipped body, from one seed.
fn item(seed: &Seed) -> Item {
    let h = header(seed);
    let (order_ref, number, shares, price) = (seed.2, seed.1, seed.4, Price4(seed.3));
    let stock = StockSymbol(seed.5);
    Item::Message(match seed.0 % 12 {
        0 => ItchMessage::SystemEvent(SystemEvent {
            header: h,
            event_code: seed.5[0],
        }),
        1 => ItchMessage::StockDirectory(directory(seed)),
        2 | 3 => ItchMessage::AddOrder(AddOrder {
            header: h,
            order_ref,
            side: side(seed.4),
            shares,
            stock,
            price,
            attribution: (seed.0 % 12 == 3).then_some([seed.5[0], seed.5[1], b'M', b'P']),
        }),
        4 => ItchMessage::OrderExecuted(OrderExecuted {
            header: h,
            order_ref,
            executed_shares: shares,
            match_number: number,
        }),
        5 => ItchMessage::OrderExecutedWithPrice(OrderExecutedWithPrice {
            header: h,
            order_ref,
            executed_shares: shares,
            match_number: number,
            printable: seed.5[0],
            execution_price: price,
        }),
        6 => ItchMessage::OrderCancel(OrderCancel {
            header: h,
            order_ref,
            cancelled_shares: shares,
        }),
        7 => ItchMessage::OrderDelete(OrderDelete {
            header: h,
            order_ref,
        }),
        8 => ItchMessage::OrderReplace(OrderReplace {
            header: h,
            original_order_ref: order_ref,
            new_order_ref: number,
            shares,
            price,
        }),
        9 => ItchMessage::Trade(Trade {
            header: h,
            order_ref,
            side: side(seed.4 >> 1),
            shares,
            stock,
            price,
            match_number: number,
        }),
        // A spec type the decoder does not model, at its spec length.
        10 => return Item::Skipped(skipped_body(b"HYLVWKJhQBIN"[seed.4 as usize % 12])),
        // A letter the spec does not define, any length.
        _ => {
            let mut body = vec![b'Z'; 1 + seed.4 as usize % 80];
            body[1..].fill(seed.5[0]);
            return Item::Skipped(body);
        }
    })
}

fn skipped_body(msg_type: u8) -> Vec<u8> {
    let length = genesis_io::itch::message_len(msg_type).expect("a spec type");
    let mut body = vec![0u8; length];
    body[0] = msg_type;
    body
}

/// Write `items` as a tape; returns the bytes and each item's offset.
fn write_tape(items: &[Item], compression: Compression) -> (Vec<u8>, Vec<u64>) {
    let mut writer = ItchFileWriter::new(TapeSink::new(Vec::new(), compression));
    let mut offsets = Vec::with_capacity(items.len());
    let mut offset = 0u64;
    let mut scratch = Vec::new();
    for item in items {
        offsets.push(offset);
        let body = match item {
            Item::Message(message) => {
                writer.write_message(message).unwrap();
                scratch.clear();
                genesis_io::itch::encode_message(message, &mut scratch);
                &scratch
            }
            Item::Skipped(body) => {
                writer.write_raw(body).unwrap();
                body
            }
        };
        offset += 2 + body.len() as u64;
    }
    (writer.finish().unwrap(), offsets)
}

/// Everything the reader yields, and its error if it stopped on one.
fn read_tape(bytes: &[u8]) -> (Vec<ItchRecord>, Option<TapeError>) {
    let mut reader = ItchFileReader::new("tape.itch", bytes).unwrap();
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(record)) => records.push(record),
            Ok(None) => return (records, None),
            Err(error) => {
                assert!(
                    reader.next_record().unwrap().is_none(),
                    "nothing after an error"
                );
                return (records, Some(error));
            }
        }
    }
}

/// The records the reader must yield for `items` at `offsets`.
fn expected(items: &[Item], offsets: &[u64]) -> Vec<ItchRecord> {
    items
        .iter()
        .zip(offsets)
        .filter_map(|(item, &offset)| match item {
            Item::Message(message) => Some(ItchRecord {
                offset,
                message: *message,
            }),
            Item::Skipped(_) => None,
        })
        .collect()
}

fn seeds() -> impl Strategy<Value = Vec<Seed>> {
    prop::collection::vec(any::<Seed>(), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Written then read: the same messages at the same offsets, skipped
    // types counted; plain and gzip give the same records.
    #[test]
    fn round_trips_plain_and_gzip(seeds in seeds()) {
        let items: Vec<Item> = seeds.iter().map(item).collect();
        let (plain, offsets) = write_tape(&items, Compression::None);
        let (gzip, _) = write_tape(&items, Compression::Gzip);
        let want = expected(&items, &offsets);
        for bytes in [&plain, &gzip] {
            let (records, error) = read_tape(bytes);
            prop_assert!(error.is_none(), "{:?}", error);
            prop_assert_eq!(&records, &want);
        }
        let mut reader = ItchFileReader::new("tape.itch", &gzip[..]).unwrap();
        prop_assert!(reader.is_gzip());
        while reader.next_record().unwrap().is_some() {}
        let skipped = items.iter().filter(|item| matches!(item, Item::Skipped(_))).count();
        prop_assert_eq!(reader.stats().skipped_total(), skipped as u64);
        prop_assert_eq!(reader.stats().messages_decoded, want.len() as u64);
    }

    // A file cut anywhere yields exactly the whole messages before the cut,
    // then a truncation error at the first cut message's offset.
    #[test]
    fn truncation_is_refused_at_its_offset(seeds in seeds(), cut in any::<prop::sample::Index>()) {
        let items: Vec<Item> = seeds.iter().map(item).collect();
        let (plain, offsets) = write_tape(&items, Compression::None);
        let cut = cut.index(plain.len() + 1);
        let (records, error) = read_tape(&plain[..cut]);
        let whole = offsets.iter().zip(offsets.iter().skip(1).chain([&(plain.len() as u64)]))
            .filter(|(_, &end)| end <= cut as u64).count();
        let want = expected(&items[..whole], &offsets[..whole]);
        prop_assert_eq!(&records, &want);
        match error {
            None => prop_assert!(whole == items.len() || offsets[whole] == cut as u64),
            Some(error) => {
                prop_assert_eq!(error.offset(), Some(offsets[whole]));
                prop_assert!(matches!(error.kind(), TapeErrorKind::Truncated { .. }), "{}", error);
            }
        }
    }

    // A garbled byte never panics the reader; every message before the one
    // it hit comes out intact, and an error points at or after that one.
    #[test]
    fn garbled_bytes_never_lose_earlier_messages(
        seeds in seeds(),
        spot in any::<prop::sample::Index>(),
        value in any::<u8>(),
        gzip in any::<bool>(),
    ) {
        let items: Vec<Item> = seeds.iter().map(item).collect();
        prop_assume!(!items.is_empty());
        let compression = if gzip { Compression::Gzip } else { Compression::None };
        let (bytes, offsets) = write_tape(&items, compression);
        let (plain, _) = write_tape(&items, Compression::None);
        let mut garbled = bytes.clone();
        let at = spot.index(garbled.len());
        garbled[at] ^= value | 1;
        let (records, error) = read_tape(&garbled);
        if gzip {
            // A gzip stream fails its CRC, or it garbled nothing readable.
            prop_assert!(error.is_some() || records == read_tape(&plain).0);
            return Ok(());
        }
        let hit = offsets.iter().rposition(|&offset| offset <= at as u64).unwrap_or(0);
        let want = expected(&items[..hit], &offsets[..hit]);
        prop_assert_eq!(&records[..want.len().min(records.len())], &want[..]);
        prop_assert!(records.len() >= want.len() || error.is_some());
        if let Some(error) = error {
            prop_assert!(error.offset().unwrap() >= offsets[hit], "{}", error);
        }
    }
}

/// A tape of hand-laid bodies.
fn raw_tape(bodies: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for body in bodies {
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

fn delete_body() -> Vec<u8> {
    let mut body = vec![b'D', 0, 1, 0, 2, 0, 0, 0, 0, 0, 9];
    body.extend_from_slice(&77u64.to_be_bytes());
    body
}

/// Whether an error kind is the one a case expects.
type KindCheck = fn(&TapeErrorKind) -> bool;

// Each malformed message is refused at its own offset with what was wrong,
// after the good message in front of it.
#[test]
fn malformed_messages_are_refused_with_offset() {
    let good = delete_body();
    let mut wrong_length = delete_body();
    wrong_length.push(0);
    let mut bad_side = vec![0u8; 36];
    bad_side[0] = b'A';
    bad_side[19] = b'Q';
    let cases: [(Vec<u8>, KindCheck); 5] = [
        (raw_tape(&[&good, &[]]), |k| {
            matches!(k, TapeErrorKind::EmptyMessage)
        }),
        (raw_tape(&[&good, &[0x07, 1, 2]]), |k| {
            matches!(k, TapeErrorKind::NotAMessageType(0x07))
        }),
        (raw_tape(&[&good, &wrong_length]), |k| {
            matches!(
                k,
                TapeErrorKind::Itch(ItchError::WrongLength {
                    msg_type: b'D',
                    expected: 19,
                    got: 20
                })
            )
        }),
        (raw_tape(&[&good, &[b'H'; 30]]), |k| {
            matches!(
                k,
                TapeErrorKind::Itch(ItchError::WrongLength {
                    msg_type: b'H',
                    expected: 25,
                    got: 30
                })
            )
        }),
        (raw_tape(&[&good, &bad_side]), |k| {
            matches!(
                k,
                TapeErrorKind::Itch(ItchError::InvalidField { msg_type: b'A', .. })
            )
        }),
    ];
    for (bytes, is_expected) in cases {
        let (records, error) = read_tape(&bytes);
        assert_eq!(records.len(), 1);
        let error = error.expect("refused");
        assert_eq!(error.offset(), Some(21), "{error}");
        assert!(is_expected(error.kind()), "{error}");
        assert!(
            error.to_string().starts_with("tape.itch: byte 21: "),
            "{error}"
        );
    }
}

// A file on disk: written gzip, detected by magic not by name, errors name the path.
#[test]
fn files_on_disk_name_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("01302019.NASDAQ_ITCH50");
    let mut writer = ItchFileWriter::create(&path, Compression::Gzip).unwrap();
    let message = ItchMessage::OrderDelete(OrderDelete {
        header: MessageHeader::default(),
        order_ref: 5,
    });
    writer.write_message(&message).unwrap();
    writer.write_raw(&[b'Y'; 20]).unwrap();
    assert_eq!(writer.messages_written(), 2);
    writer.finish().unwrap();
    assert_eq!(TapeFormat::detect(&path).unwrap(), TapeFormat::Itch);
    let mut reader = ItchFileReader::open(&path).unwrap();
    assert!(reader.is_gzip());
    assert_eq!(reader.next_record().unwrap().unwrap().message, message);
    assert!(reader.next_record().unwrap().is_none());
    assert_eq!(reader.stats().skipped(b'Y'), 1);
    assert!(reader.file_bytes_read() > 0);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
    let error = ItchFileReader::open(&path)
        .unwrap()
        .find_map(Result::err)
        .expect("a truncated gzip file is refused");
    assert!(
        error.to_string().contains("01302019.NASDAQ_ITCH50"),
        "{error}"
    );
    let missing = ItchFileReader::open(dir.path().join("absent"))
        .err()
        .unwrap();
    assert!(missing.to_string().contains("absent"), "{missing}");
}

// The writer refuses bodies that cannot be framed.
#[test]
fn writer_refuses_unframeable_bodies() {
    let mut writer = ItchFileWriter::new(TapeSink::new(Vec::new(), Compression::None));
    assert!(writer.write_raw(&[]).is_err());
    assert!(writer.write_raw(&vec![b'Z'; 65_536]).is_err());
    assert!(writer.write_raw(&vec![b'Z'; 65_535]).is_ok());
    let bytes = writer.finish().unwrap();
    let (records, error) = read_tape(&bytes);
    assert!(records.is_empty() && error.is_none());
}
