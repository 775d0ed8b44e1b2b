//! Reader of one Tardis CSV file, `incremental_book_L2` or `trades` (its
//! header decides), plain or gzip, yielding exact [`TapeEvent`]s.
//!
//! Owning thread: the replay's. Invariants: no allocation per row; book
//! rows follow Tardis's snapshot rule ([`super::book_rows`]); after an error
//! the reader yields nothing more.

use super::book_rows::{parse_book_columns, SnapshotTracker};
use super::instruments::TardisInstruments;
use super::records::TapeEvent;
use super::rows::{TardisDataset, TardisRows, TardisStats};
use super::trade_rows::{parse_trade_columns, trade_of};
use crate::tape::error::{Location, TapeError, TapeErrorKind};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Streaming reader of one Tardis CSV file.
pub struct TardisReader<R: Read = File> {
    rows: TardisRows<R>,
    snapshots: SnapshotTracker,
}

impl TardisReader<File> {
    /// Open the file at `path` (gzip told by its first bytes); its header
    /// decides the dataset.
    pub fn open(
        path: impl AsRef<Path>,
        instruments: Arc<TardisInstruments>,
    ) -> Result<TardisReader<File>, TapeError> {
        let path = path.as_ref();
        let file =
            File::open(path).map_err(|error| TapeError::new(path, Location::File, error.into()))?;
        TardisReader::new(path, file, instruments)
    }
}

impl<R: Read> TardisReader<R> {
    /// Read from `reader` (`name` names it in errors); its header decides
    /// the dataset.
    pub fn new(
        name: impl Into<PathBuf>,
        reader: R,
        instruments: Arc<TardisInstruments>,
    ) -> Result<TardisReader<R>, TapeError> {
        let rows = TardisRows::new(name.into(), reader, instruments)?;
        let snapshots = SnapshotTracker::new(rows.instruments().len());
        Ok(TardisReader { rows, snapshots })
    }

    /// Refuse the file (at line 1) unless it is of `dataset`.
    pub fn expect_dataset(self, dataset: TardisDataset) -> Result<TardisReader<R>, TapeError> {
        if self.dataset() == dataset {
            return Ok(self);
        }
        let kind = TapeErrorKind::BadHeader {
            expected: dataset.header(),
            found: self.dataset().header().to_string(),
        };
        let location = Location::Line {
            line: 1,
            column: None,
        };
        Err(TapeError::new(self.file(), location, kind))
    }

    /// The file's dataset.
    pub fn dataset(&self) -> TardisDataset {
        self.rows.dataset()
    }

    /// Skip (and count) rows of instruments not in the table instead of
    /// refusing the file.
    pub fn skip_unknown_instruments(&mut self, skip: bool) {
        self.rows.skip_unknown_instruments = skip;
    }

    /// The next event (a book update or a trade, by dataset), `Ok(None)` at
    /// the end (or after an error).
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<TapeEvent>, TapeError> {
        match self.rows.dataset() {
            TardisDataset::IncrementalBookL2 => loop {
                let Some((common, columns)) = self.rows.next_row(parse_book_columns)? else {
                    return Ok(None);
                };
                match self.snapshots.admit(&common, &columns) {
                    Some(update) => return Ok(Some(TapeEvent::Book(update))),
                    None => self.rows.stats.rows_skipped_before_snapshot += 1,
                }
            },
            TardisDataset::Trades => Ok(self
                .rows
                .next_row(parse_trade_columns)?
                .map(|(common, columns)| TapeEvent::Trade(trade_of(&common, &columns)))),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TardisStats {
        self.rows.stats
    }

    /// The file's name as given.
    pub fn file(&self) -> &Path {
        self.rows.file()
    }

    /// Bytes of the file read so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        self.rows.file_bytes_read()
    }
}

impl<R: Read> Iterator for TardisReader<R> {
    type Item = Result<TapeEvent, TapeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}
