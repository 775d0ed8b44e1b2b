//! Where the drain reads journaled events from: the `EventFeed` trait, and
//! the watermark it resumes after.
//!
//! Owned by the drain thread. The watermark is per **stream**: a stream is
//! one journal with its own sequence (today a run's file,
//! `run-<secs>-<pid>`; with the segmented journal, the journal folder).
//! `seq_last` is the event sequence (`Event::seq`) of the last event of that
//! stream committed to the database, so resuming means reading that stream
//! from `seq_last + 1`: exact, whatever chunk boundaries were.

use crate::error::FeedError;
use genesis_engine::event::Event;
use std::collections::BTreeMap;

/// How far one stream has been loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamMark {
    /// `Event::seq` of the last event committed to `events`.
    pub seq_last: u64,
    /// The stream has ended (a finished journal file) and all of it is loaded.
    pub finished: bool,
}

/// Every stream's mark, by stream name: the `drain_watermark` table.
pub type Watermarks = BTreeMap<String, StreamMark>;

/// Consecutive events of one stream, to load in one transaction.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub stream: String,
    /// Consecutive by `seq`.
    pub events: Vec<Event>,
    /// The stream ends after these events (possibly none): mark it finished.
    pub stream_finished: bool,
}

impl Batch {
    pub fn clear(&mut self) {
        self.stream.clear();
        self.events.clear();
        self.stream_finished = false;
    }

    /// Nothing to load: no events and no stream end.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.stream_finished
    }

    /// Drops the events a committed watermark already covers (after a lost
    /// connection whose last commit may or may not have landed).
    pub fn trim_to(&mut self, mark: Option<&StreamMark>) {
        let Some(mark) = mark else { return };
        self.events.retain(|event| event.seq > mark.seq_last);
        if mark.finished {
            self.events.clear();
            self.stream_finished = false;
        }
    }
}

/// A source of journaled events, read in batches. Reading never blocks the
/// journal's writer: a feed only reads what is on disk.
pub trait EventFeed: Send {
    /// Positions the feed just after what the database holds. Called once,
    /// before the first `next_batch`.
    fn start_after(&mut self, marks: &Watermarks) -> Result<(), FeedError>;

    /// Clears `batch` and fills it with up to `max` consecutive events of
    /// one stream. An empty batch means nothing is available now.
    fn next_batch(&mut self, max: usize, batch: &mut Batch) -> Result<(), FeedError>;

    /// True once no event will ever come again (a finished folder read to its end).
    fn is_finished(&self) -> bool;

    /// Events on disk that `next_batch` has not returned yet, if the feed can tell.
    fn events_behind(&self) -> Option<u64>;
}
