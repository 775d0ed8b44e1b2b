//! Proves the tape readers do not allocate per record: after a warm-up
//! (the first records, which fill the window and start the decompressor),
//! reading the rest of an ITCH tape, and merging Tardis book and trades
//! files, makes zero heap allocations, plain and gzip alike.
//!
//! Single-threaded; the counting allocator counts only on this thread and
//! only inside `allocations_in`. Tapes are built in memory before counting.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

use genesis_io::book::{Price, Qty, Side};
use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderDelete, Price4, StockSymbol,
};
use genesis_io::tape::tardis::{
    Aggressor, L2Update, TapeEvent, TapeMerger, TardisDataset, TardisInstrument, TardisInstruments,
    TardisReader, TardisTrade, TardisWriter, TradeId,
};
use genesis_io::tape::{Compression, ItchFileReader, ItchFileWriter, TapeSink};
use std::sync::Arc;

const RECORDS: u64 = 20_000;
const WARM_UP_RECORDS: u64 = 1_000;

/// Adds and deletes, with a skipped type every 16 messages.
fn itch_tape(compression: Compression) -> Vec<u8> {
    let mut writer = ItchFileWriter::new(TapeSink::new(Vec::new(), compression));
    for index in 0..RECORDS {
        let header = MessageHeader {
            stock_locate: 1,
            tracking_number: 0,
            timestamp_ns: index,
        };
        let message = if index % 2 == 0 {
            ItchMessage::AddOrder(AddOrder {
                header,
                order_ref: index,
                side: BuySell::Buy,
                shares: 100,
                stock: StockSymbol::from_str_padded("AAPL").unwrap(),
                price: Price4(1_000_000 + (index % 64) as u32 * 100),
                attribution: None,
            })
        } else {
            ItchMessage::OrderDelete(OrderDelete {
                header,
                order_ref: index - 1,
            })
        };
        writer.write_message(&message).unwrap();
        if index % 16 == 0 {
            writer.write_raw(&[b'I'; 50]).unwrap();
        }
    }
    writer.finish().unwrap()
}

fn instruments() -> Arc<TardisInstruments> {
    let instrument = |symbol| TardisInstrument::new("binance-futures", symbol, "0.1", "0.001");
    Arc::new(TardisInstruments::new(vec![instrument("BTCUSDT"), instrument("ETHUSDT")]).unwrap())
}

/// A book file and a trades file over two instruments, interleaved in time.
fn tardis_files(compression: Compression) -> [Vec<u8>; 2] {
    let sink = || TapeSink::new(Vec::new(), compression);
    let mut book =
        TardisWriter::new(sink(), TardisDataset::IncrementalBookL2, instruments()).unwrap();
    let mut trades = TardisWriter::new(sink(), TardisDataset::Trades, instruments()).unwrap();
    for index in 0..RECORDS {
        let ts_ns = 1_704_067_200_000_000_000 + index * 1_000;
        let instrument_index = (index % 2) as u16;
        if index % 5 == 0 {
            let id = index.to_string();
            trades
                .write_trade(&TardisTrade {
                    instrument_index,
                    ts_exchange_ns: ts_ns,
                    ts_local_ns: ts_ns + 3_000,
                    id: TradeId::new(id.as_bytes()).unwrap(),
                    aggressor: Aggressor::Buy,
                    price: Price(100_001),
                    qty: Qty(1 + (index % 9) as i64),
                    line: 0,
                })
                .unwrap();
        }
        book.write_update(&L2Update {
            instrument_index,
            ts_exchange_ns: ts_ns,
            ts_local_ns: ts_ns + 2_000,
            side: if index % 3 == 0 { Side::Bid } else { Side::Ask },
            price: Price(100_000 + (index % 40) as i64),
            qty: Qty((index % 7) as i64),
            is_snapshot: index < 4,
            starts_snapshot: false,
            line: 0,
        })
        .unwrap();
    }
    [book.finish().unwrap(), trades.finish().unwrap()]
}

// ITCH: after warm-up, reading the rest of the tape allocates nothing.
#[test]
fn itch_reader_allocates_nothing_per_message() {
    let probe = allocations_in(|| drop(std::hint::black_box(vec![0u8; 8])));
    assert_eq!(probe, 1, "the counting allocator counts");
    for compression in [Compression::None, Compression::Gzip] {
        let bytes = itch_tape(compression);
        let mut reader = ItchFileReader::new("alloc.itch", &bytes[..]).unwrap();
        for _ in 0..WARM_UP_RECORDS {
            reader.next_record().unwrap().unwrap();
        }
        let mut count = WARM_UP_RECORDS;
        let allocations = allocations_in(|| {
            while let Some(record) = reader.next_record().unwrap() {
                std::hint::black_box(record);
                count += 1;
            }
        });
        assert_eq!(count, RECORDS, "{compression:?}");
        assert_eq!(allocations, 0, "{compression:?}: allocations while reading");
    }
}

// Tardis: after warm-up, merging a book and a trades file allocates nothing.
#[test]
fn tardis_merger_allocates_nothing_per_row() {
    for compression in [Compression::None, Compression::Gzip] {
        let [book, trades] = tardis_files(compression);
        let sources = vec![
            TardisReader::new("book.csv", &book[..], instruments()).unwrap(),
            TardisReader::new("trades.csv", &trades[..], instruments()).unwrap(),
        ];
        let mut merger = TapeMerger::new(sources);
        for _ in 0..WARM_UP_RECORDS {
            merger.next_event().unwrap().unwrap();
        }
        let (mut rows, mut trade_rows) = (WARM_UP_RECORDS, 0u64);
        let allocations = allocations_in(|| {
            while let Some(merged) = merger.next_event().unwrap() {
                trade_rows += u64::from(matches!(merged.event, TapeEvent::Trade(_)));
                rows += 1;
            }
        });
        assert_eq!(rows, RECORDS + RECORDS / 5, "{compression:?}");
        assert!(trade_rows > 0);
        assert_eq!(allocations, 0, "{compression:?}: allocations while merging");
    }
}
