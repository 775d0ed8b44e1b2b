//! Bytes as Tardis CSV rows: behind a book header, behind a trades header
//! (the first byte picks, and whether unknown instruments are skipped), and
//! as a whole file; then the book and trades readings merged.
#![no_main]

use genesis_io::tape::tardis::{
    TapeMerger, TardisInstrument, TardisInstruments, TardisReader, BOOK_HEADER, TRADES_HEADER,
};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fn instruments() -> Arc<TardisInstruments> {
    let instruments = TardisInstruments::new(vec![
        TardisInstrument::new("binance-futures", "BTCUSDT", "0.1", "0.001"),
        TardisInstrument::new("deribit", "BTC-PERPETUAL", "0.5", "10"),
    ]);
    Arc::new(instruments.unwrap())
}

fn with_header(header: &str, rows: &[u8]) -> Vec<u8> {
    let mut file = format!("{header}\n").into_bytes();
    file.extend_from_slice(rows);
    file
}

fn drain(reader: &mut TardisReader<&[u8]>) {
    while let Ok(Some(_)) = reader.next_event() {}
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&flags, rows)) = bytes.split_first() else {
        return;
    };
    let book = with_header(BOOK_HEADER, rows);
    let trades = with_header(TRADES_HEADER, rows);
    let skip_unknown = flags & 2 != 0;
    let picked: &[u8] = if flags & 1 == 0 { &book } else { &trades };
    for file in [picked, bytes] {
        if let Ok(mut reader) = TardisReader::new("fuzz.csv", file, instruments()) {
            reader.skip_unknown_instruments(skip_unknown);
            drain(&mut reader);
        }
    }
    let sources = [&book[..], &trades[..]]
        .into_iter()
        .filter_map(|file| TardisReader::new("fuzz.csv", file, instruments()).ok())
        .collect();
    let mut merger = TapeMerger::new(sources);
    while let Ok(Some(_)) = merger.next_event() {}
});
