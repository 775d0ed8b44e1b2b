//! The part every Tardis CSV reader shares: lines out of a fixed window,
//! the header check, and the columns both datasets have (instrument,
//! timestamps, price, amount), parsed exactly; faults become [`TapeError`]s
//! naming the file, the line and the column.
//!
//! Owning thread: the reader's. Invariants: no allocation per row (the
//! window is fixed; an instrument is found by comparing the row's
//! "exchange,symbol" with the last one found, then by a hash lookup on the
//! borrowed bytes); lines end with LF (a CR before it is dropped), and a
//! last line without one is refused as truncated; after an error the reader
//! yields nothing more.

use super::decimal::{parse_steps, parse_timestamp_ns, NumberFault};
use super::fields::{
    split_fields, SplitFault, AMOUNT, BOOK_HEADER, COLUMN_COUNT, LOCAL_TIMESTAMP, PRICE, SYMBOL,
    TIMESTAMP, TRADES_HEADER,
};
use super::instruments::TardisInstruments;
use crate::book::{Price, Qty};
use crate::tape::error::{quote, Column, Location, TapeError, TapeErrorKind};
use crate::tape::input::TapeInput;
use crate::tape::window::ByteWindow;
use memchr::memchr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Window size: the longest line a reader accepts (Tardis rows are a few
/// hundred bytes at most). Small enough that a merger of many files keeps
/// its windows in cache.
const WINDOW_BYTES: usize = 64 * 1024;

/// A Tardis CSV dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TardisDataset {
    /// `incremental_book_L2`.
    IncrementalBookL2,
    /// `trades`.
    Trades,
}

impl TardisDataset {
    /// The dataset's name as Tardis spells it (and puts in file names).
    pub fn name(self) -> &'static str {
        match self {
            TardisDataset::IncrementalBookL2 => "incremental_book_L2",
            TardisDataset::Trades => "trades",
        }
    }

    /// The header line of its files.
    pub fn header(self) -> &'static str {
        match self {
            TardisDataset::IncrementalBookL2 => BOOK_HEADER,
            TardisDataset::Trades => TRADES_HEADER,
        }
    }

    fn columns(self) -> [&'static str; COLUMN_COUNT] {
        match self {
            TardisDataset::IncrementalBookL2 => super::fields::BOOK_COLUMNS,
            TardisDataset::Trades => super::fields::TRADE_COLUMNS,
        }
    }
}

/// Counters of one Tardis reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TardisStats {
    /// Data rows read (header excluded), skipped ones included.
    pub rows_read: u64,
    /// Book rows before the instrument's first snapshot, skipped as Tardis
    /// documents ("skip these rows until the first is_snapshot=true row").
    pub rows_skipped_before_snapshot: u64,
    /// Rows of instruments not in the table, skipped on request.
    pub rows_skipped_unknown_instrument: u64,
}

/// A fault in one row: the column at fault (if one is) and what.
pub(crate) struct RowFault {
    pub(crate) column: Option<usize>,
    pub(crate) kind: TapeErrorKind,
}

impl RowFault {
    /// A field that is not what its column holds.
    pub(crate) fn bad_value(column: usize, expected: &'static str, field: &[u8]) -> RowFault {
        RowFault {
            column: Some(column),
            kind: TapeErrorKind::BadValue {
                expected,
                found: quote(field),
            },
        }
    }
}

/// Columns every dataset has, parsed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowCommon {
    pub(crate) instrument_index: u16,
    pub(crate) ts_exchange_ns: u64,
    pub(crate) ts_local_ns: u64,
    pub(crate) price: Price,
    pub(crate) qty: Qty,
    pub(crate) line: u64,
}

/// The lines of one file, out of a fixed window.
struct Lines<R: Read> {
    window: ByteWindow<TapeInput<R>>,
    /// Bytes of the line last handed out, consumed on the next call.
    pending_consume: usize,
    /// Line number of the line last handed out.
    line: u64,
}

/// Lines, header and shared columns of one Tardis CSV file.
pub(crate) struct TardisRows<R: Read> {
    lines: Lines<R>,
    file: PathBuf,
    dataset: TardisDataset,
    instruments: Arc<TardisInstruments>,
    last_instrument: u16,
    pub(crate) skip_unknown_instruments: bool,
    pub(crate) stats: TardisStats,
    failed: bool,
}

impl<R: Read> TardisRows<R> {
    /// Open `reader` and read its header, which decides the dataset.
    pub(crate) fn new(
        file: PathBuf,
        reader: R,
        instruments: Arc<TardisInstruments>,
    ) -> Result<TardisRows<R>, TapeError> {
        let input = TapeInput::new(reader)
            .map_err(|error| TapeError::new(&file, Location::File, error.into()))?;
        let mut rows = TardisRows {
            lines: Lines {
                window: ByteWindow::new(input, WINDOW_BYTES),
                pending_consume: 0,
                line: 0,
            },
            file,
            dataset: TardisDataset::IncrementalBookL2,
            instruments,
            last_instrument: 0,
            skip_unknown_instruments: false,
            stats: TardisStats::default(),
            failed: false,
        };
        rows.dataset = rows.read_header()?;
        Ok(rows)
    }

    pub(crate) fn dataset(&self) -> TardisDataset {
        self.dataset
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn instruments(&self) -> &Arc<TardisInstruments> {
        &self.instruments
    }

    pub(crate) fn file_bytes_read(&self) -> u64 {
        self.lines.window.input().file_bytes_read()
    }

    /// An error at `column` (an index) of the current line.
    pub(crate) fn error_at(&self, column: Option<usize>, kind: TapeErrorKind) -> TapeError {
        let names = self.dataset.columns();
        let column = column.and_then(|index| {
            Some(Column {
                number: u8::try_from(index + 1).ok()?,
                name: names.get(index)?,
            })
        });
        let location = Location::Line {
            line: self.lines.line,
            column,
        };
        TapeError::new(&self.file, location, kind)
    }

    /// The next data row: shared columns parsed, the rest by `parse`.
    /// Rows of unknown instruments are skipped when asked to.
    #[inline]
    pub(crate) fn next_row<T>(
        &mut self,
        parse: impl Fn(&[&[u8]; COLUMN_COUNT]) -> Result<T, RowFault>,
    ) -> Result<Option<(RowCommon, T)>, TapeError> {
        if self.failed {
            return Ok(None);
        }
        let result = loop {
            match self.parse_next(&parse) {
                Ok(Some(Some(row))) => break Ok(Some(row)),
                Ok(Some(None)) => continue,
                Ok(None) => break Ok(None),
                Err(fault) => break Err(self.error_at(fault.column, fault.kind)),
            }
        };
        self.failed = result.is_err();
        result
    }

    /// One line: `None` at the end, `Some(None)` for a skipped row.
    #[inline]
    #[allow(clippy::type_complexity)]
    fn parse_next<T>(
        &mut self,
        parse: &impl Fn(&[&[u8]; COLUMN_COUNT]) -> Result<T, RowFault>,
    ) -> Result<Option<Option<(RowCommon, T)>>, RowFault> {
        let line_number = self.lines.line + 1;
        let Some(line) = self.lines.next_line().map_err(whole_line)? else {
            return Ok(None);
        };
        let fields = split_fields(line).map_err(|fault| match fault {
            SplitFault::FieldCount(found) => whole_line(TapeErrorKind::FieldCount {
                expected: COLUMN_COUNT,
                found,
            }),
            SplitFault::Quoted(column) => RowFault {
                column: Some(column),
                kind: TapeErrorKind::Quoted,
            },
        })?;
        // The row's leading "exchange,symbol" bytes.
        let key = &line[..fields[0].len() + 1 + fields[SYMBOL].len()];
        let Some(instrument_index) =
            find_instrument(&self.instruments, &mut self.last_instrument, key)
        else {
            if self.skip_unknown_instruments {
                self.stats.rows_read += 1;
                self.stats.rows_skipped_unknown_instrument += 1;
                return Ok(Some(None));
            }
            return Err(RowFault {
                column: Some(SYMBOL),
                kind: TapeErrorKind::UnknownInstrument { found: quote(key) },
            });
        };
        let common = parse_common(&self.instruments, instrument_index, &fields, line_number)?;
        let rest = parse(&fields)?;
        self.stats.rows_read += 1;
        Ok(Some(Some((common, rest))))
    }

    fn read_header(&mut self) -> Result<TardisDataset, TapeError> {
        let dataset = match self.lines.next_line() {
            Ok(line) => dataset_of(line.unwrap_or_default()),
            Err(TapeErrorKind::EmptyLine) => Err(String::new()),
            Err(kind) => return Err(self.error_at(None, kind)),
        };
        dataset.map_err(|found| {
            self.error_at(
                None,
                TapeErrorKind::BadHeader {
                    expected: "a Tardis incremental_book_L2 or trades header",
                    found,
                },
            )
        })
    }
}

impl<R: Read> Lines<R> {
    /// The next line without its line end; `None` at a clean end of file.
    #[inline]
    fn next_line(&mut self) -> Result<Option<&[u8]>, TapeErrorKind> {
        self.window.consume(self.pending_consume);
        self.pending_consume = 0;
        self.line += 1;
        let end = loop {
            if let Some(end) = memchr(b'\n', self.window.available()) {
                break end;
            }
            let held = self.window.available().len();
            if self.window.at_eof() {
                return if held == 0 {
                    Ok(None)
                } else {
                    Err(TapeErrorKind::MissingLineFeed)
                };
            }
            if held == self.window.capacity() {
                return Err(TapeErrorKind::LineTooLong { max: held });
            }
            self.window.fill_more()?;
        };
        self.pending_consume = end + 1;
        let line = &self.window.available()[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Err(TapeErrorKind::EmptyLine);
        }
        Ok(Some(line))
    }
}

/// The dataset a header line announces, or the header quoted.
fn dataset_of(header: &[u8]) -> Result<TardisDataset, String> {
    if header == BOOK_HEADER.as_bytes() {
        Ok(TardisDataset::IncrementalBookL2)
    } else if header == TRADES_HEADER.as_bytes() {
        Ok(TardisDataset::Trades)
    } else {
        Err(quote(header))
    }
}

fn whole_line(kind: TapeErrorKind) -> RowFault {
    RowFault { column: None, kind }
}

/// The instrument of a row: the last one found if the key matches, else a
/// hash lookup.
#[inline]
fn find_instrument(instruments: &TardisInstruments, last: &mut u16, key: &[u8]) -> Option<u16> {
    if instruments.key(*last) == key {
        return Some(*last);
    }
    let index = instruments.lookup(key)?;
    *last = index;
    Some(index)
}

/// Timestamps, price and amount of a row.
#[inline]
fn parse_common(
    instruments: &TardisInstruments,
    instrument_index: u16,
    fields: &[&[u8]; COLUMN_COUNT],
    line: u64,
) -> Result<RowCommon, RowFault> {
    let grid = instruments
        .grid(instrument_index)
        .expect("the index came from this table");
    let timestamp = |column: usize| {
        parse_timestamp_ns(fields[column]).map_err(|fault| number_fault(column, fields, fault, ""))
    };
    let steps = |column: usize, grid: &crate::binance::DecimalGrid, step: &str| {
        parse_steps(grid, fields[column]).map_err(|fault| number_fault(column, fields, fault, step))
    };
    let instrument = instruments
        .get(instrument_index)
        .expect("the index came from this table");
    Ok(RowCommon {
        instrument_index,
        ts_exchange_ns: timestamp(TIMESTAMP)?,
        ts_local_ns: timestamp(LOCAL_TIMESTAMP)?,
        price: Price(steps(PRICE, &grid.price, &instrument.tick_size)?),
        qty: Qty(steps(AMOUNT, &grid.qty, &instrument.lot_size)?),
        line,
    })
}

fn number_fault(
    column: usize,
    fields: &[&[u8]; COLUMN_COUNT],
    fault: NumberFault,
    step: &str,
) -> RowFault {
    let field = fields[column];
    let kind = match fault {
        NumberFault::Overflow(found_us) => TapeErrorKind::TimestampOverflow { found_us },
        NumberFault::OffGrid => TapeErrorKind::OffGrid {
            found: quote(field),
            step: step.to_string(),
        },
        NumberFault::Malformed if step.is_empty() => {
            return RowFault::bad_value(column, "microseconds since the epoch", field)
        }
        NumberFault::Malformed => {
            return RowFault::bad_value(column, "a non-negative decimal", field)
        }
    };
    RowFault {
        column: Some(column),
        kind,
    }
}
