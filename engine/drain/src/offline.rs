//! The offline drain: load everything a feed holds now (a finished journal
//! folder for `genesis drain --database-url URL DIR`), then return.
//!
//! Runs on the caller's thread. Fails on the first error; because each
//! chunk commits with its watermark, running it again resumes exactly
//! where the last committed chunk ended.

use crate::error::DrainError;
use crate::feed::{Batch, EventFeed};
use crate::folder_feed::{FolderFeed, FolderMode};
use crate::journal_feed::{JournalFeed, JOURNAL_STREAM_DEFAULT};
use crate::loader::Loader;
use crate::options::DrainOptions;
use crate::partitions::day_of_ns;
use crate::url::DbUrl;
use genesis_engine::clock::EpochClock;
use std::path::Path;

/// Where an offline drain is, for a progress bar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub events_loaded: u64,
    /// Events on disk still to load (an estimate from file sizes).
    pub events_behind: u64,
    /// The stream of the chunk just committed.
    pub stream: String,
}

/// What an offline drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfflineReport {
    pub events_loaded: u64,
    pub chunks: u64,
    pub streams_finished: u64,
    pub elapsed_ns: u64,
}

/// Loads the journal in `dir` into the database: a segmented journal (the
/// engine's, as stream `JOURNAL_STREAM_DEFAULT`) or, if `dir` holds no
/// segment, version-1 run files (a stream each). Reads what is on disk now.
pub fn drain_folder(
    url: &DbUrl,
    dir: &Path,
    options: &DrainOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<OfflineReport, DrainError> {
    if JournalFeed::is_journal(dir) {
        let mut feed = JournalFeed::new(dir, JOURNAL_STREAM_DEFAULT, FolderMode::Finished);
        return drain_feed(url, &mut feed, options, progress);
    }
    let mut feed = FolderFeed::new(dir, FolderMode::Finished);
    drain_feed(url, &mut feed, options, progress)
}

/// Loads what `feed` holds until it has nothing more to give.
pub fn drain_feed(
    url: &DbUrl,
    feed: &mut dyn EventFeed,
    options: &DrainOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<OfflineReport, DrainError> {
    let clock = EpochClock::new();
    let start_ns = clock.now_ns();
    let mut loader = Loader::connect(
        url,
        options.connect_timeout,
        &options.instruments,
        day_of_ns(start_ns),
        options.partitions_ahead_days,
    )?
    .with_fault(options.fault);
    let marks = loader.watermarks()?;
    feed.start_after(&marks)?;
    let mut report = OfflineReport::default();
    let mut batch = Batch::default();
    let mut state = Progress {
        events_behind: feed.events_behind().unwrap_or(0),
        ..Progress::default()
    };
    progress(&state);
    loop {
        feed.next_batch(options.chunk_events.max(1), &mut batch)?;
        if batch.is_empty() {
            break;
        }
        let chunk = loader.load(&batch)?;
        report.events_loaded += chunk.events;
        report.chunks += 1;
        report.streams_finished += u64::from(batch.stream_finished);
        state.events_loaded = report.events_loaded;
        state.events_behind = feed.events_behind().unwrap_or(0);
        state.stream.clone_from(&batch.stream);
        progress(&state);
    }
    report.elapsed_ns = clock.now_ns().saturating_sub(start_ns);
    Ok(report)
}
