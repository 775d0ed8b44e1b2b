//! ITCH 5.0 files as tape records: each file read in turn
//! ([`ItchFileReader`]), each configured stock's orders kept in an
//! order-by-order book ([`L3Book`]), and every message that changes a book
//! turned into the level change it makes, as an L2 feed would send it.
//!
//! | message | records |
//! |---|---|
//! | `A`/`F` add | the level at its price |
//! | `E` executed | a trade at the order's price (taker: the other side), then the level |
//! | `C` executed with price | a trade at the execution price, then the order's level |
//! | `X` cancel, `D` delete | the level |
//! | `U` replace | the old level, then the new one |
//! | `P` trade (non-displayed) | a trade (taker: the other side of the order) |
//!
//! Stocks are matched to instruments by symbol (Stock Directory `R`, or the
//! symbol of an `A`/`F`); messages of other stocks, and types that change no
//! book, make no record (counted). Prices become ticks through the
//! instrument's tick size (exactly: a price off the grid is an error naming
//! the file and offset); shares become lots (lot size: a whole number of
//! shares). Timestamps are the messages' nanoseconds after midnight plus
//! `RecordOptions::itch_midnight_ns`, as both local and exchange time. An
//! update the book refuses (an order reference it does not hold: a tape
//! that starts mid-day) is counted and makes no record.
//!
//! Owning thread: the reader's. Invariants: at most two records per
//! message, held in a fixed pair; books are allocated at open; nothing
//! allocates per message.

use super::{RecordKind, RecordOptions, TapeRecord, CONTINUES};
use crate::book::{L3Book, Price, Qty, Side};
use crate::itch::arith::price4_per_tick;
use crate::itch::{BuySell, ItchMessage, Price4, StockSymbol};
use crate::tape::error::{Location, TapeError, TapeErrorKind};
use crate::tape::{ItchFileReader, ItchRecord};
use std::path::PathBuf;

/// Marks a stock locate no instrument is bound to.
const UNBOUND: u16 = u16::MAX;

/// What the ITCH records reader has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItchRecordStats {
    /// Messages decoded.
    pub messages: u64,
    /// Messages that made no record (other stocks, types that change no book).
    pub messages_skipped: u64,
    /// Updates a book refused (unknown order reference and the like).
    pub book_rejects: u64,
    /// Records made.
    pub records: u64,
}

/// One instrument as ITCH carries it.
struct Stock {
    symbol: StockSymbol,
    price4_per_tick: i64,
    shares_per_lot: i64,
    book: L3Book,
}

/// The records of a list of ITCH files.
pub struct ItchRecords {
    paths: Vec<PathBuf>,
    file_index: usize,
    reader: Option<ItchFileReader>,
    bytes_of_done_files: u64,
    stocks: Vec<Stock>,
    instrument_of_locate: Box<[u16]>,
    midnight_ns: u64,
    pending: [TapeRecord; 2],
    pending_len: usize,
    pending_next: usize,
    stats: ItchRecordStats,
}

impl ItchRecords {
    /// Opens the first of `paths`; the rest are opened in turn.
    pub fn open(paths: &[PathBuf], options: &RecordOptions) -> Result<ItchRecords, TapeError> {
        let first = paths.first().cloned().unwrap_or_default();
        let refuse = |message: String| {
            TapeError::new(
                &first,
                Location::File,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, message).into(),
            )
        };
        let mut stocks = Vec::with_capacity(options.instruments.len());
        for instrument in &options.instruments {
            let symbol = StockSymbol::from_str_padded(&instrument.symbol).ok_or_else(|| {
                refuse(format!(
                    "symbol {:?} is longer than ITCH's 8 bytes",
                    instrument.symbol
                ))
            })?;
            let price4_per_tick = price4_per_tick(&instrument.tick_size).ok_or_else(|| {
                refuse(format!(
                    "{}: tick size {:?} is not a multiple of ITCH's 0.0001",
                    instrument.symbol, instrument.tick_size
                ))
            })?;
            let shares_per_lot = instrument
                .lot_size
                .parse::<i64>()
                .ok()
                .filter(|shares| *shares > 0)
                .ok_or_else(|| {
                    refuse(format!(
                        "{}: lot size {:?} is not a whole number of shares",
                        instrument.symbol, instrument.lot_size
                    ))
                })?;
            stocks.push(Stock {
                symbol,
                price4_per_tick,
                shares_per_lot,
                book: L3Book::with_capacity(options.itch_orders_max, options.itch_levels_max),
            });
        }
        let blank = TapeRecord::BLANK;
        Ok(ItchRecords {
            reader: Some(ItchFileReader::open(&first)?),
            paths: paths.to_vec(),
            file_index: 0,
            bytes_of_done_files: 0,
            stocks,
            instrument_of_locate: vec![UNBOUND; usize::from(u16::MAX) + 1].into_boxed_slice(),
            midnight_ns: options.itch_midnight_ns,
            pending: [blank; 2],
            pending_len: 0,
            pending_next: 0,
            stats: ItchRecordStats::default(),
        })
    }

    /// The next record, `Ok(None)` after the last file.
    pub fn next_record(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        loop {
            if self.pending_next < self.pending_len {
                let record = self.pending[self.pending_next];
                self.pending_next += 1;
                self.stats.records += 1;
                return Ok(Some(record));
            }
            let Some(record) = self.next_message()? else {
                return Ok(None);
            };
            self.pending_len = 0;
            self.pending_next = 0;
            self.stats.messages += 1;
            if let Err(kind) = self.records_of(&record.message) {
                return Err(TapeError::new(
                    &self.paths[self.file_index],
                    Location::Offset(record.offset),
                    kind,
                ));
            }
            if self.pending_len == 0 {
                self.stats.messages_skipped += 1;
            }
        }
    }

    /// Bytes of the files read so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        self.bytes_of_done_files + self.reader.as_ref().map_or(0, |r| r.file_bytes_read())
    }

    /// Counters so far.
    pub fn stats(&self) -> ItchRecordStats {
        self.stats
    }

    /// The next message of the current file, moving on to the next file at
    /// the end of one.
    fn next_message(&mut self) -> Result<Option<ItchRecord>, TapeError> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            if let Some(record) = reader.next_record()? {
                return Ok(Some(record));
            }
            self.bytes_of_done_files += reader.file_bytes_read();
            self.reader = None;
            self.file_index += 1;
            if let Some(path) = self.paths.get(self.file_index) {
                self.reader = Some(ItchFileReader::open(path)?);
            }
        }
    }

    /// The records one message makes, into `pending`.
    fn records_of(&mut self, message: &ItchMessage) -> Result<(), TapeErrorKind> {
        let header = message.header();
        let ts_ns = self.midnight_ns + header.timestamp_ns;
        let locate = usize::from(header.stock_locate);
        match message {
            ItchMessage::StockDirectory(directory) => {
                self.bind(locate, directory.stock);
                return Ok(());
            }
            ItchMessage::AddOrder(add) => self.bind(locate, add.stock),
            ItchMessage::Trade(trade) => self.bind(locate, trade.stock),
            _ => {}
        }
        let instrument = self.instrument_of_locate[locate];
        if instrument == UNBOUND {
            return Ok(());
        }
        let mut made = Made {
            records: &mut self.pending,
            len: &mut self.pending_len,
            instrument,
            ts_ns,
        };
        let stock = &mut self.stocks[usize::from(instrument)];
        match apply(stock, message, &mut made) {
            Ok(()) => Ok(()),
            Err(Applied::Refused) => {
                self.stats.book_rejects += 1;
                self.pending_len = 0;
                Ok(())
            }
            Err(Applied::Bad(kind)) => Err(kind),
        }
    }

    /// Binds `locate` to the instrument trading `symbol`, if one does.
    fn bind(&mut self, locate: usize, symbol: StockSymbol) {
        if self.instrument_of_locate[locate] != UNBOUND {
            return;
        }
        if let Some(index) = self.stocks.iter().position(|s| s.symbol == symbol) {
            // Fewer than u16::MAX instruments: the table was built from a u16 index.
            self.instrument_of_locate[locate] = index as u16;
        }
    }
}

/// Where a message's records go.
struct Made<'a> {
    records: &'a mut [TapeRecord; 2],
    len: &'a mut usize,
    instrument: u16,
    ts_ns: u64,
}

impl Made<'_> {
    fn push(&mut self, kind: RecordKind, price: i64, qty: i64, trade_id: u64, flags: u8) {
        debug_assert!(*self.len < 2, "a message makes at most two records");
        self.records[*self.len] = TapeRecord {
            ts_local_ns: self.ts_ns,
            ts_exchange_ns: self.ts_ns,
            price,
            qty,
            trade_id,
            instrument: self.instrument,
            kind,
            flags,
        };
        *self.len += 1;
    }

    /// The level at `price` on `side` as the book now holds it.
    fn level(&mut self, stock: &Stock, side: Side, price: Price, flags: u8) {
        let shares = stock.book.levels(side).get(price).map_or(0, |l| l.qty.0);
        let kind = match side {
            Side::Bid => RecordKind::Bid,
            Side::Ask => RecordKind::Ask,
        };
        self.push(kind, price.0, shares / stock.shares_per_lot, 0, flags);
    }
}

/// Why a message made no record.
enum Applied {
    /// The book refused the update (counted, not fatal).
    Refused,
    /// A price or size off the instrument's grid.
    Bad(TapeErrorKind),
}

/// Applies one message to its stock's book, making its records.
fn apply(stock: &mut Stock, message: &ItchMessage, made: &mut Made) -> Result<(), Applied> {
    let refused = |_| Applied::Refused;
    match message {
        ItchMessage::AddOrder(m) => {
            let (side, price) = (side_of(m.side), ticks(stock, m.price)?);
            stock
                .book
                .add(m.order_ref, side, price, lots(stock, m.shares)?)
                .map_err(refused)?;
            made.level(stock, side, price, 0);
        }
        ItchMessage::OrderExecuted(m) => {
            let execution = (m.order_ref, m.executed_shares, None, m.match_number);
            execute(stock, execution, made)?;
        }
        ItchMessage::OrderExecutedWithPrice(m) => {
            let price = Some(m.execution_price);
            execute(
                stock,
                (m.order_ref, m.executed_shares, price, m.match_number),
                made,
            )?;
        }
        ItchMessage::OrderCancel(m) => {
            let order = stock.book.order(m.order_ref).ok_or(Applied::Refused)?;
            let qty = lots(stock, m.cancelled_shares)?;
            stock.book.reduce(m.order_ref, qty).map_err(refused)?;
            made.level(stock, order.side, order.price, 0);
        }
        ItchMessage::OrderDelete(m) => {
            let order = stock.book.order(m.order_ref).ok_or(Applied::Refused)?;
            stock.book.delete(m.order_ref).map_err(refused)?;
            made.level(stock, order.side, order.price, 0);
        }
        ItchMessage::OrderReplace(m) => {
            let order = stock
                .book
                .order(m.original_order_ref)
                .ok_or(Applied::Refused)?;
            let (price, qty) = (ticks(stock, m.price)?, lots(stock, m.shares)?);
            stock
                .book
                .replace(m.original_order_ref, m.new_order_ref, price, qty)
                .map_err(refused)?;
            made.level(stock, order.side, order.price, CONTINUES);
            made.level(stock, order.side, price, 0);
        }
        ItchMessage::Trade(m) => {
            let (price, qty) = (ticks(stock, m.price)?, lots(stock, m.shares)?);
            made.push(
                taker_of(side_of(m.side)),
                price.0,
                qty.0 / stock.shares_per_lot,
                m.match_number,
                0,
            );
        }
        ItchMessage::SystemEvent(_) | ItchMessage::StockDirectory(_) => {}
    }
    Ok(())
}

/// An execution of a resting order (at its own price, or at `price`): the
/// print, then the order's level as it is left.
fn execute(
    stock: &mut Stock,
    (order_ref, shares, price, match_number): (u64, u32, Option<Price4>, u64),
    made: &mut Made,
) -> Result<(), Applied> {
    let order = stock.book.order(order_ref).ok_or(Applied::Refused)?;
    let qty = lots(stock, shares)?;
    let price = match price {
        Some(price) => ticks(stock, price)?,
        None => order.price,
    };
    stock
        .book
        .reduce(order_ref, qty)
        .map_err(|_| Applied::Refused)?;
    made.push(
        taker_of(order.side),
        price.0,
        qty.0 / stock.shares_per_lot,
        match_number,
        CONTINUES,
    );
    made.level(stock, order.side, order.price, 0);
    Ok(())
}

fn side_of(side: BuySell) -> Side {
    match side {
        BuySell::Buy => Side::Bid,
        BuySell::Sell => Side::Ask,
    }
}

/// The taker of a trade against a resting order on `side`.
fn taker_of(resting: Side) -> RecordKind {
    match resting {
        Side::Bid => RecordKind::TradeSell,
        Side::Ask => RecordKind::TradeBuy,
    }
}

/// An ITCH price in the instrument's ticks, exactly.
fn ticks(stock: &Stock, price: Price4) -> Result<Price, Applied> {
    let units = i64::from(price.0);
    if units % stock.price4_per_tick != 0 {
        return Err(Applied::Bad(TapeErrorKind::OffGrid {
            found: format!("{}.{:04}", units / 10_000, units % 10_000),
            step: format!("{} price4 units", stock.price4_per_tick),
        }));
    }
    Ok(Price(units / stock.price4_per_tick))
}

/// Shares, checked to be whole lots (the book keeps shares).
fn lots(stock: &Stock, shares: u32) -> Result<Qty, Applied> {
    let shares = i64::from(shares);
    if shares % stock.shares_per_lot != 0 {
        return Err(Applied::Bad(TapeErrorKind::OffGrid {
            found: shares.to_string(),
            step: format!("{} shares", stock.shares_per_lot),
        }));
    }
    Ok(Qty(shares))
}
