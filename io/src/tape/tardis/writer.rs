//! Writer of Tardis CSV files (`incremental_book_L2` or `trades`), plain or
//! gzip: the mirror of the readers, for tests, benchmarks and synthetic
//! tapes. Rows are written as Tardis writes them: header first, comma
//! separated, LF ended, timestamps in microseconds, prices and amounts as
//! plain decimals with trailing zeros trimmed.
//!
//! Owning thread: the writer's. Each row is formatted into one reused line
//! buffer. Anything the readers would refuse or misread (a timestamp that
//! is not a whole microsecond, a negative price, an id with a comma) is an
//! `InvalidInput` error, and nothing of that row is written.

use super::instruments::TardisInstruments;
use super::records::{Aggressor, L2Update, TapeEvent, TardisTrade};
use super::rows::TardisDataset;
use crate::book::{Price, Qty, Side};
use crate::fix::decimal::DECIMAL_TEXT_LEN_MAX;
use crate::fix::Step;
use crate::tape::input::{Compression, TapeSink};
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::Path;
use std::sync::Arc;

/// How one instrument's prices and amounts are printed.
#[derive(Clone, Copy)]
struct Steps {
    tick: Step,
    lot: Step,
}

/// Writes one Tardis CSV file.
pub struct TardisWriter<W: Write> {
    sink: TapeSink<W>,
    dataset: TardisDataset,
    instruments: Arc<TardisInstruments>,
    steps: Vec<Steps>,
    line: Vec<u8>,
    rows_written: u64,
}

impl TardisWriter<BufWriter<File>> {
    /// Create (or truncate) the file at `path` and write its header.
    pub fn create(
        path: impl AsRef<Path>,
        dataset: TardisDataset,
        compression: Compression,
        instruments: Arc<TardisInstruments>,
    ) -> io::Result<TardisWriter<BufWriter<File>>> {
        let sink = TapeSink::create(path.as_ref(), compression)?;
        TardisWriter::new(sink, dataset, instruments)
    }
}

impl<W: Write> TardisWriter<W> {
    /// Write a `dataset` file into `sink`, header first.
    pub fn new(
        mut sink: TapeSink<W>,
        dataset: TardisDataset,
        instruments: Arc<TardisInstruments>,
    ) -> io::Result<TardisWriter<W>> {
        let steps = instruments
            .iter()
            .map(|instrument| {
                Ok(Steps {
                    tick: Step::parse("tick size", &instrument.tick_size).map_err(unprintable)?,
                    lot: Step::parse("lot size", &instrument.lot_size).map_err(unprintable)?,
                })
            })
            .collect::<io::Result<Vec<Steps>>>()?;
        sink.write_all(dataset.header().as_bytes())?;
        sink.write_all(b"\n")?;
        Ok(TardisWriter {
            sink,
            dataset,
            instruments,
            steps,
            line: Vec::with_capacity(256),
            rows_written: 0,
        })
    }

    /// Write one event (a book update into a book file, a trade into a
    /// trades file).
    pub fn write_event(&mut self, event: &TapeEvent) -> io::Result<()> {
        match event {
            TapeEvent::Book(update) => self.write_update(update),
            TapeEvent::Trade(trade) => self.write_trade(trade),
        }
    }

    /// Write one `incremental_book_L2` row (`starts_snapshot` and `line`
    /// are the reader's, not written).
    pub fn write_update(&mut self, update: &L2Update) -> io::Result<()> {
        self.expect_dataset(TardisDataset::IncrementalBookL2)?;
        let steps = self.start_row(
            update.instrument_index,
            update.ts_exchange_ns,
            update.ts_local_ns,
        )?;
        self.line.extend_from_slice(if update.is_snapshot {
            b"true,"
        } else {
            b"false,"
        });
        self.line.extend_from_slice(match update.side {
            Side::Bid => b"bid,",
            Side::Ask => b"ask,",
        });
        self.end_row(&steps, update.price, update.qty)
    }

    /// Write one `trades` row (`line` is the reader's, not written).
    pub fn write_trade(&mut self, trade: &TardisTrade) -> io::Result<()> {
        self.expect_dataset(TardisDataset::Trades)?;
        let id = trade.id.as_bytes();
        if id.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            return Err(invalid(format!("trade id {id:?} holds a CSV delimiter")));
        }
        let steps = self.start_row(
            trade.instrument_index,
            trade.ts_exchange_ns,
            trade.ts_local_ns,
        )?;
        self.line.extend_from_slice(id);
        self.line.extend_from_slice(match trade.aggressor {
            Aggressor::Buy => b",buy,",
            Aggressor::Sell => b",sell,",
            Aggressor::Unknown => b",unknown,",
        });
        self.end_row(&steps, trade.price, trade.qty)
    }

    /// Rows written so far (header excluded).
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Finish the file (gzip trailer included) and hand back the writer.
    pub fn finish(self) -> io::Result<W> {
        self.sink.finish()
    }

    fn expect_dataset(&self, dataset: TardisDataset) -> io::Result<()> {
        if self.dataset == dataset {
            return Ok(());
        }
        Err(invalid(format!(
            "a {} row does not go into a {} file",
            dataset.name(),
            self.dataset.name()
        )))
    }

    /// Start the line: exchange, symbol and both timestamps.
    fn start_row(
        &mut self,
        instrument_index: u16,
        ts_exchange_ns: u64,
        ts_local_ns: u64,
    ) -> io::Result<Steps> {
        let steps = *self
            .steps
            .get(usize::from(instrument_index))
            .ok_or_else(|| invalid(format!("no instrument {instrument_index}")))?;
        self.line.clear();
        self.line
            .extend_from_slice(self.instruments.key(instrument_index));
        for ts_ns in [ts_exchange_ns, ts_local_ns] {
            if ts_ns % 1_000 != 0 {
                return Err(invalid(format!(
                    "timestamp {ts_ns} ns is not a whole microsecond"
                )));
            }
            write!(self.line, ",{}", ts_ns / 1_000)?;
        }
        self.line.push(b',');
        Ok(steps)
    }

    /// Finish the line with price and amount, and write it.
    fn end_row(&mut self, steps: &Steps, price: Price, qty: Qty) -> io::Result<()> {
        if price.0 < 0 || qty.0 < 0 {
            return Err(invalid(format!(
                "price {} ticks or amount {} lots is negative",
                price.0, qty.0
            )));
        }
        let mut text = [0u8; DECIMAL_TEXT_LEN_MAX];
        let length = steps.tick.write(price.0, &mut text);
        self.line.extend_from_slice(&text[..length]);
        self.line.push(b',');
        let length = steps.lot.write(qty.0, &mut text);
        self.line.extend_from_slice(&text[..length]);
        self.line.push(b'\n');
        self.sink.write_all(&self.line)?;
        self.rows_written += 1;
        Ok(())
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, message)
}

fn unprintable(error: crate::fix::FixError) -> io::Error {
    invalid(format!(
        "{error} (steps of at most 12 digits and 12 decimals can be written)"
    ))
}
