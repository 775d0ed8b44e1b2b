//! One event stream out of several Tardis files: [`TapeMerger`] interleaves
//! any number of [`TardisReader`]s (book or trades files alike) by time.
//!
//! Order: by `local_timestamp` (arrival), then `timestamp` (exchange), then
//! trades before book updates (a book update caused by a trade then comes
//! after it, as hftbacktest's converter wants), then by the position of the
//! file in the list. Each file's own rows keep their order. The key has no
//! ties, so the merge is stable and deterministic.
//!
//! Owning thread: the replay's. Invariants: one pending event per file; the
//! file whose event was handed out is read again only on the next call, so
//! an error there never loses an event already accepted; a file whose
//! `local_timestamp` goes backwards is refused (file, line, column), since
//! it could not be merged by time. Choosing the next event scans the files'
//! heads (a handful of files); nothing allocates after construction.

use super::instruments::TardisInstruments;
use super::reader::TardisReader;
use super::records::TapeEvent;
use crate::tape::error::{Column, Location, TapeError, TapeErrorKind};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// The `local_timestamp` column, for ordering errors.
const LOCAL_TIMESTAMP_COLUMN: Column = Column {
    number: 4,
    name: "local_timestamp",
};

/// One event of the merged stream and the file it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergedEvent {
    /// Position of the event's file in the merger's list.
    pub source_index: usize,
    /// The event.
    pub event: TapeEvent,
}

/// Interleaves Tardis files by time.
pub struct TapeMerger<R: Read = File> {
    sources: Vec<TardisReader<R>>,
    heads: Vec<Option<TapeEvent>>,
    last_ts_local_ns: Vec<u64>,
    /// The source whose head went out last, read again on the next call.
    refill: Option<usize>,
    started: bool,
    failed: bool,
}

impl TapeMerger<File> {
    /// Open every file in `paths` (either dataset, plain or gzip).
    pub fn open<P: AsRef<Path>>(
        paths: &[P],
        instruments: Arc<TardisInstruments>,
    ) -> Result<TapeMerger<File>, TapeError> {
        let sources = paths
            .iter()
            .map(|path| TardisReader::open(path, Arc::clone(&instruments)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TapeMerger::new(sources))
    }
}

impl<R: Read> TapeMerger<R> {
    /// Merge `sources`; on equal keys the earlier source comes first.
    pub fn new(sources: Vec<TardisReader<R>>) -> TapeMerger<R> {
        let count = sources.len();
        TapeMerger {
            sources,
            heads: vec![None; count],
            last_ts_local_ns: vec![0; count],
            refill: None,
            started: false,
            failed: false,
        }
    }

    /// The next event in time order, `Ok(None)` when every file has ended
    /// (or after an error).
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<MergedEvent>, TapeError> {
        if self.failed {
            return Ok(None);
        }
        if let Err(error) = self.refill_heads() {
            self.failed = true;
            return Err(error);
        }
        let Some(source_index) = self.earliest() else {
            return Ok(None);
        };
        let event = self.heads[source_index]
            .take()
            .expect("earliest() picks a source with a head");
        self.refill = Some(source_index);
        Ok(Some(MergedEvent {
            source_index,
            event,
        }))
    }

    /// The merged files.
    pub fn sources(&self) -> &[TardisReader<R>] {
        &self.sources
    }

    /// Bytes read from all files so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        self.sources.iter().map(TardisReader::file_bytes_read).sum()
    }

    fn refill_heads(&mut self) -> Result<(), TapeError> {
        if !self.started {
            self.started = true;
            for source_index in 0..self.sources.len() {
                self.advance(source_index)?;
            }
        }
        if let Some(source_index) = self.refill.take() {
            self.advance(source_index)?;
        }
        Ok(())
    }

    /// Read the next event of one source into its head.
    #[inline]
    fn advance(&mut self, source_index: usize) -> Result<(), TapeError> {
        debug_assert!(self.heads[source_index].is_none(), "a head is read once");
        let source = &mut self.sources[source_index];
        let Some(event) = source.next_event()? else {
            return Ok(());
        };
        let previous_ns = self.last_ts_local_ns[source_index];
        if event.ts_local_ns() < previous_ns {
            let location = Location::Line {
                line: event.line(),
                column: Some(LOCAL_TIMESTAMP_COLUMN),
            };
            let kind = TapeErrorKind::OutOfOrder {
                previous_ns,
                found_ns: event.ts_local_ns(),
            };
            return Err(TapeError::new(source.file(), location, kind));
        }
        self.last_ts_local_ns[source_index] = event.ts_local_ns();
        self.heads[source_index] = Some(event);
        Ok(())
    }

    /// The source whose head comes first.
    #[inline]
    fn earliest(&self) -> Option<usize> {
        self.heads
            .iter()
            .enumerate()
            .filter_map(|(index, head)| head.as_ref().map(|event| (merge_key(event), index)))
            .min()
            .map(|(_, index)| index)
    }
}

/// Sort key of an event: arrival, exchange time, trades first.
#[inline]
fn merge_key(event: &TapeEvent) -> (u64, u64, u8) {
    let kind_rank = match event {
        TapeEvent::Trade(_) => 0,
        TapeEvent::Book(_) => 1,
    };
    (event.ts_local_ns(), event.ts_exchange_ns(), kind_rank)
}
