//! Tape reader throughput on one core, in records/s, each beside its
//! baseline measured in the same run:
//! - `itch/raw_read_*`: the same bytes through the reader's input layer
//!   (plain copy, or gunzip) into a 256 KiB buffer, no framing;
//! - `itch/reader_*`: `ItchFileReader` framing + ITCH 5.0 decode;
//! - `tardis/raw_read_*`, `tardis/reader_*`: the same for a synthetic
//!   `incremental_book_L2` file through `TardisReader` (split, instrument
//!   lookup, exact decimal → ticks/lots, snapshot rule);
//! - `tardis/merge_*`: the book file and its trades file through `TapeMerger`.
//!
//! Tapes are built in memory first (no disk in the loop). After criterion,
//! the ratios reader / baseline are printed, each the fastest of 5 passes
//! in thread CPU time (robust to waiting for a core on a shared machine).
//!
//! Run: `cargo bench -p genesis-io --bench tape -- --warm-up-time 1 --measurement-time 3`
#![allow(unsafe_code)] // one clock_gettime call, fenced below

use criterion::{black_box, Criterion, Throughput};
use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderDelete, OrderExecuted, Price4, StockSymbol,
};
use genesis_io::tape::synthetic::{write_synthetic_tape, SyntheticConfig};
use genesis_io::tape::tardis::{TapeMerger, TardisInstruments, TardisReader};
use genesis_io::tape::{Compression, ItchFileReader, ItchFileWriter, TapeInput, TapeSink};
use std::io::Read;
use std::sync::Arc;

const ITCH_MESSAGES: u64 = 400_000;
const TARDIS_ROWS: u64 = 400_000;

/// Adds, partial executions and deletes of one stock, as on a busy feed.
fn itch_tape(compression: Compression) -> Vec<u8> {
    let mut writer = ItchFileWriter::new(TapeSink::new(Vec::new(), compression));
    let stock = StockSymbol::from_str_padded("AAPL").unwrap();
    for index in 0..ITCH_MESSAGES {
        let header = MessageHeader {
            stock_locate: 1,
            tracking_number: 0,
            timestamp_ns: 34_200_000_000_000 + index * 700,
        };
        let order_ref = index / 3;
        let message = match index % 3 {
            0 => ItchMessage::AddOrder(AddOrder {
                header,
                order_ref,
                side: if index % 2 == 0 {
                    BuySell::Buy
                } else {
                    BuySell::Sell
                },
                shares: 100,
                stock,
                price: Price4(1_500_000 + (index % 50) as u32 * 100),
                attribution: None,
            }),
            1 => ItchMessage::OrderExecuted(OrderExecuted {
                header,
                order_ref,
                executed_shares: 40,
                match_number: index,
            }),
            _ => ItchMessage::OrderDelete(OrderDelete { header, order_ref }),
        };
        writer.write_message(&message).unwrap();
    }
    writer.finish().unwrap()
}

/// Bytes through the input layer only; returns the byte count.
fn raw_read(bytes: &[u8], buffer: &mut [u8]) -> usize {
    let mut input = TapeInput::new(bytes).unwrap();
    let mut total = 0;
    loop {
        let count = input.read(buffer).unwrap();
        if count == 0 {
            return total;
        }
        total += count;
    }
}

fn read_itch(bytes: &[u8]) -> u64 {
    let mut reader = ItchFileReader::new("bench.itch", bytes).unwrap();
    let mut count = 0;
    while let Some(record) = reader.next_record().unwrap() {
        black_box(record);
        count += 1;
    }
    count
}

/// A synthetic book file and trades file (one instrument), in memory.
struct TardisTape {
    instruments: Arc<TardisInstruments>,
    book: Vec<u8>,
    trades: Vec<u8>,
    book_rows: u64,
    all_rows: u64,
}

fn tardis_tape(compression: Compression) -> TardisTape {
    let dir = tempfile::tempdir().unwrap();
    let config = SyntheticConfig {
        instrument_count: 1,
        rows: TARDIS_ROWS,
        compression,
        ..SyntheticConfig::default()
    };
    let tape = write_synthetic_tape(dir.path(), &config).unwrap();
    TardisTape {
        instruments: Arc::new(TardisInstruments::new(tape.instruments.clone()).unwrap()),
        trades: std::fs::read(&tape.files[0].path).unwrap(),
        book: std::fs::read(&tape.files[1].path).unwrap(),
        book_rows: tape.files[1].rows,
        all_rows: tape.rows(),
    }
}

fn read_book(tape: &TardisTape) -> u64 {
    let mut reader =
        TardisReader::new("book.csv", &tape.book[..], tape.instruments.clone()).unwrap();
    let mut count = 0;
    while let Some(event) = reader.next_event().unwrap() {
        black_box(event);
        count += 1;
    }
    count
}

fn merge(tape: &TardisTape) -> u64 {
    let sources = [&tape.trades, &tape.book]
        .into_iter()
        .map(|bytes| TardisReader::new("tape.csv", &bytes[..], tape.instruments.clone()).unwrap())
        .collect();
    let mut merger = TapeMerger::new(sources);
    let mut count = 0;
    while let Some(event) = merger.next_event().unwrap() {
        black_box(event);
        count += 1;
    }
    count
}

fn bench_itch(c: &mut Criterion, tapes: &[(&str, Vec<u8>)]) {
    let mut group = c.benchmark_group("itch");
    group.throughput(Throughput::Elements(ITCH_MESSAGES));
    let mut buffer = vec![0u8; 256 * 1024];
    for (name, bytes) in tapes {
        assert_eq!(read_itch(bytes), ITCH_MESSAGES);
        group.bench_function(format!("raw_read_{name}"), |b| {
            b.iter(|| raw_read(bytes, &mut buffer))
        });
        group.bench_function(format!("reader_{name}"), |b| b.iter(|| read_itch(bytes)));
    }
    group.finish();
}

fn bench_tardis(c: &mut Criterion, tapes: &[(&str, TardisTape)]) {
    let mut group = c.benchmark_group("tardis");
    let mut buffer = vec![0u8; 256 * 1024];
    for (name, tape) in tapes {
        assert_eq!(read_book(tape), tape.book_rows);
        assert_eq!(merge(tape), tape.all_rows);
        group.throughput(Throughput::Elements(tape.book_rows));
        group.bench_function(format!("raw_read_{name}"), |b| {
            b.iter(|| raw_read(&tape.book, &mut buffer))
        });
        group.bench_function(format!("reader_{name}"), |b| b.iter(|| read_book(tape)));
        group.throughput(Throughput::Elements(tape.all_rows));
        group.bench_function(format!("merge_{name}"), |b| b.iter(|| merge(tape)));
    }
    group.finish();
}

/// CPU time of this thread, in seconds: unlike wall time, it leaves out
/// the time the thread waited for a core on a shared machine.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's duration,
    // and CLOCK_THREAD_CPUTIME_ID is supported by Linux.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(result, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// Fastest of five passes, in seconds of thread CPU time.
fn best_seconds(mut pass: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = thread_cpu_seconds();
            pass();
            thread_cpu_seconds() - start
        })
        .fold(f64::INFINITY, f64::min)
}

fn print_ratio(what: &str, records: u64, baseline: f64, reader: f64) {
    println!(
        "{what}: reader {:.2} M records/s, baseline {:.2} M records/s, reader/baseline time {:.2}",
        records as f64 / reader / 1e6,
        records as f64 / baseline / 1e6,
        reader / baseline
    );
}

fn print_ratios(itch: &[(&str, Vec<u8>)], tardis: &[(&str, TardisTape)]) {
    let mut buffer = vec![0u8; 256 * 1024];
    println!("== ratios (fastest of 5 passes in thread CPU time, same run)");
    for (name, bytes) in itch {
        let baseline = best_seconds(|| {
            black_box(raw_read(bytes, &mut buffer));
        });
        let reader = best_seconds(|| {
            black_box(read_itch(bytes));
        });
        print_ratio(&format!("itch {name}"), ITCH_MESSAGES, baseline, reader);
    }
    for (name, tape) in tardis {
        let baseline = best_seconds(|| {
            black_box(raw_read(&tape.book, &mut buffer));
        });
        let reader = best_seconds(|| {
            black_box(read_book(tape));
        });
        print_ratio(
            &format!("tardis book {name}"),
            tape.book_rows,
            baseline,
            reader,
        );
    }
}

fn main() {
    let itch = [
        ("plain", itch_tape(Compression::None)),
        ("gzip", itch_tape(Compression::Gzip)),
    ];
    let tardis = [
        ("plain", tardis_tape(Compression::None)),
        ("gzip", tardis_tape(Compression::Gzip)),
    ];
    println!(
        "itch tape: {} messages, {} bytes plain, {} gzip; tardis book: {} rows, {} bytes plain, {} gzip",
        ITCH_MESSAGES,
        itch[0].1.len(),
        itch[1].1.len(),
        tardis[0].1.book_rows,
        tardis[0].1.book.len(),
        tardis[1].1.book.len()
    );
    let mut criterion = Criterion::default().configure_from_args();
    bench_itch(&mut criterion, &itch);
    bench_tardis(&mut criterion, &tardis);
    criterion.final_summary();
    print_ratios(&itch, &tardis);
}
