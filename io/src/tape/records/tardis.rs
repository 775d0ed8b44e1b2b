//! Tardis CSV files as tape records: the files merged by time
//! ([`TapeMerger`]), each book row a level change, each trade row a trade.
//!
//! Message boundaries: Tardis groups the rows of one message (a snapshot)
//! by a shared `local_timestamp`; a book row is flagged [`CONTINUES`] when
//! the next row is a book row of the same instrument with the same
//! `local_timestamp` that does not start a new snapshot. That needs one
//! row of look-ahead, held here.
//!
//! Owning thread: the reader's. Invariants: one row held back at most;
//! nothing allocates per row.

use super::{
    trade_id_number, RecordKind, RecordOptions, TapeRecord, CONTINUES, SNAPSHOT, SNAPSHOT_START,
};
use crate::tape::error::{Location, TapeError};
use crate::tape::tardis::{Aggressor, TapeEvent, TapeMerger, TardisInstrument, TardisInstruments};
use std::path::PathBuf;
use std::sync::Arc;

/// The records of a set of Tardis files.
pub struct TardisRecords {
    merger: TapeMerger,
    /// The next event, read ahead to see where a message ends.
    ahead: Option<TapeEvent>,
    started: bool,
}

impl TardisRecords {
    /// Opens every file (book or trades, plain or gzip) for the instruments
    /// of `options`, named by `options.tardis_exchange`.
    pub fn open(paths: &[PathBuf], options: &RecordOptions) -> Result<TardisRecords, TapeError> {
        let instruments = options
            .instruments
            .iter()
            .map(|i| {
                TardisInstrument::new(
                    &options.tardis_exchange,
                    &i.symbol,
                    &i.tick_size,
                    &i.lot_size,
                )
            })
            .collect();
        let instruments = TardisInstruments::new(instruments).map_err(|error| {
            let first = paths.first().map_or_else(PathBuf::new, PathBuf::clone);
            TapeError::new(
                &first,
                Location::File,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string()).into(),
            )
        })?;
        Ok(TardisRecords {
            merger: TapeMerger::open(paths, Arc::new(instruments))?,
            ahead: None,
            started: false,
        })
    }

    /// The next record, `Ok(None)` at the end.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        if !self.started {
            self.started = true;
            self.ahead = self.merger.next_event()?.map(|merged| merged.event);
        }
        let Some(event) = self.ahead.take() else {
            return Ok(None);
        };
        self.ahead = self.merger.next_event()?.map(|merged| merged.event);
        Ok(Some(record_of(&event, self.ahead.as_ref())))
    }

    /// Bytes of the files read so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        self.merger.file_bytes_read()
    }

    /// Book rows skipped before their instrument's first snapshot.
    pub fn skipped(&self) -> u64 {
        self.merger
            .sources()
            .iter()
            .map(|source| source.stats().rows_skipped_before_snapshot)
            .sum()
    }
}

/// The record of `event`; `next` (the event after it) tells whether its
/// message continues.
#[inline]
fn record_of(event: &TapeEvent, next: Option<&TapeEvent>) -> TapeRecord {
    match event {
        TapeEvent::Book(update) => {
            let continues = matches!(next, Some(TapeEvent::Book(next))
                if next.instrument_index == update.instrument_index
                    && next.ts_local_ns == update.ts_local_ns
                    && !next.starts_snapshot);
            let flags = (if update.starts_snapshot {
                SNAPSHOT_START
            } else {
                0
            }) | (if update.is_snapshot { SNAPSHOT } else { 0 })
                | (if continues { CONTINUES } else { 0 });
            TapeRecord {
                ts_local_ns: update.ts_local_ns,
                ts_exchange_ns: update.ts_exchange_ns,
                price: update.price.0,
                qty: update.qty.0,
                trade_id: 0,
                instrument: update.instrument_index,
                kind: match update.side {
                    crate::book::Side::Bid => RecordKind::Bid,
                    crate::book::Side::Ask => RecordKind::Ask,
                },
                flags,
            }
        }
        TapeEvent::Trade(trade) => TapeRecord {
            ts_local_ns: trade.ts_local_ns,
            ts_exchange_ns: trade.ts_exchange_ns,
            price: trade.price.0,
            qty: trade.qty.0,
            trade_id: trade_id_number(trade.id.as_bytes()),
            instrument: trade.instrument_index,
            kind: match trade.aggressor {
                Aggressor::Buy => RecordKind::TradeBuy,
                Aggressor::Sell => RecordKind::TradeSell,
                Aggressor::Unknown => RecordKind::TradeUnknown,
            },
            flags: 0,
        },
    }
}
