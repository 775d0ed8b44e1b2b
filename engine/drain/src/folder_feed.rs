//! `FolderFeed`: the events of a folder of version-1 journal files
//! (`run-<secs>-<pid>.gjnl`, one per run, the format before segments), each
//! file its own stream named by its file stem. The segmented journal the
//! engine writes now is read by `JournalFeed`.
//!
//! Owned by the drain thread. Two modes:
//! - `finished`: every file is complete; each is read to its end (a torn
//!   tail is the end) and its stream marked finished.
//! - `follow`: the newest file may still grow (the engine is writing it).
//!   It is read only up to the last whole frame the file's size shows, so a
//!   frame half written is never read; it is finished once a newer file
//!   appears. Older files are read as finished.
//!
//! Invariant: events of one stream are returned in order, each exactly once
//! after `start_after`, starting after the stream's watermark.

use crate::error::FeedError;
use crate::feed::{Batch, EventFeed, StreamMark, Watermarks};
use genesis_engine::event::{Event, EVENT_BYTES};
use genesis_journal::{FileReader, ReadOutcome, FRAME_PREFIX_BYTES, HEADER_BYTES};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

const FRAME_BYTES: u64 = (FRAME_PREFIX_BYTES + EVENT_BYTES) as u64;

/// Whether the newest file may still grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderMode {
    Finished,
    Follow,
}

pub struct FolderFeed {
    dir: PathBuf,
    mode: FolderMode,
    marks: Watermarks,
    /// File names ever listed, so a rescan only adds new files.
    seen: BTreeSet<String>,
    pending: VecDeque<PathBuf>,
    current: Option<OpenFile>,
    finished: bool,
}

struct OpenFile {
    path: PathBuf,
    stream: String,
    reader: FileReader,
    /// The file ended in a torn frame.
    torn: bool,
    /// Records consumed from the file, including those skipped on resume.
    records_read: u64,
    /// `seq` of the last event read (returned or skipped).
    seq_returned: u64,
}

impl FolderFeed {
    /// A feed over `dir`'s journal files. Nothing is read until `start_after`.
    pub fn new(dir: &Path, mode: FolderMode) -> FolderFeed {
        FolderFeed {
            dir: dir.to_path_buf(),
            mode,
            marks: Watermarks::new(),
            seen: BTreeSet::new(),
            pending: VecDeque::new(),
            current: None,
            finished: false,
        }
    }

    /// Journal files in the folder, oldest run first.
    pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, FeedError> {
        let io = |op: &'static str| {
            let path = dir.to_path_buf();
            move |source| FeedError::Folder { path, op, source }
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io("list"))? {
            let path = entry.map_err(io("list"))?.path();
            if path.extension().is_some_and(|ext| ext == "gjnl") && path.is_file() {
                files.push(path);
            }
        }
        files.sort_by_key(|path| run_order_key(path));
        Ok(files)
    }

    /// Records in a journal file by its size (whole frames only).
    pub fn records_on_disk(path: &Path) -> u64 {
        std::fs::metadata(path)
            .map(|meta| meta.len().saturating_sub(HEADER_BYTES as u64) / FRAME_BYTES)
            .unwrap_or(0)
    }

    fn rescan(&mut self) -> Result<(), FeedError> {
        for path in FolderFeed::list_files(&self.dir)? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name else { continue };
            if self.seen.insert(name) {
                self.pending.push_back(path);
            }
        }
        Ok(())
    }

    /// Opens the next pending file not already finished, skipping its loaded events.
    fn open_next(&mut self) -> Result<bool, FeedError> {
        while let Some(path) = self.pending.pop_front() {
            let stream = stream_name(&path);
            let mark = self.marks.get(&stream).copied().unwrap_or_default();
            if mark.finished {
                continue;
            }
            let mut file = OpenFile {
                reader: open_v1(&path)?,
                torn: false,
                path,
                stream,
                records_read: 0,
                seq_returned: mark.seq_last,
            };
            file.skip_through(mark.seq_last)?;
            self.current = Some(file);
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether the open file can still grow: following, and no newer file yet.
    fn current_may_grow(&self) -> bool {
        self.mode == FolderMode::Follow && self.pending.is_empty()
    }
}

/// Opens a version-1 file, refusing records that are not events.
fn open_v1(path: &Path) -> Result<FileReader, FeedError> {
    let reader = FileReader::open(path)?;
    let got = reader.header().record_size_bytes as usize;
    if got != EVENT_BYTES {
        return Err(FeedError::RecordSize {
            path: path.to_path_buf(),
            got,
            expected: EVENT_BYTES,
        });
    }
    Ok(reader)
}

impl OpenFile {
    /// The next event, or `None` at the end (clean, or torn: see `torn`).
    fn next_event(&mut self) -> Result<Option<Event>, FeedError> {
        match self.reader.next_record()? {
            ReadOutcome::Record(record) => {
                let bytes: &[u8; EVENT_BYTES] =
                    record
                        .payload
                        .try_into()
                        .map_err(|_| FeedError::RecordSize {
                            path: self.path.clone(),
                            got: record.payload.len(),
                            expected: EVENT_BYTES,
                        })?;
                Event::decode(bytes)
                    .map(Some)
                    .map_err(|source| FeedError::Decode {
                        path: self.path.clone(),
                        seq: record.seq,
                        source,
                    })
            }
            ReadOutcome::End => Ok(None),
            ReadOutcome::TornTail { .. } => {
                self.torn = true;
                Ok(None)
            }
        }
    }

    /// Reads past every event with `seq <= seq_last`.
    fn skip_through(&mut self, seq_last: u64) -> Result<(), FeedError> {
        let mut seq_end = 0;
        while seq_end < seq_last {
            match self.next_event()? {
                Some(event) => {
                    self.records_read += 1;
                    seq_end = event.seq;
                    if event.seq == seq_last {
                        return Ok(());
                    }
                }
                None => {
                    return Err(FeedError::ShorterThanWatermark {
                        path: self.path.clone(),
                        seq_last,
                        seq_end,
                    })
                }
            }
        }
        Ok(())
    }
}

impl EventFeed for FolderFeed {
    fn start_after(&mut self, marks: &Watermarks) -> Result<(), FeedError> {
        self.marks = marks.clone();
        self.rescan()
    }

    fn next_batch(&mut self, max: usize, batch: &mut Batch) -> Result<(), FeedError> {
        batch.clear();
        loop {
            if self.current.is_none() {
                if self.mode == FolderMode::Follow {
                    self.rescan()?;
                }
                if !self.open_next()? {
                    self.finished = self.mode == FolderMode::Finished;
                    return Ok(());
                }
            }
            let may_grow = self.current_may_grow();
            let file = self.current.as_mut().expect("opened above");
            let mut room = max as u64;
            if may_grow {
                let on_disk = FolderFeed::records_on_disk(&file.path);
                room = room.min(on_disk.saturating_sub(file.records_read));
            }
            batch.stream.clone_from(&file.stream);
            let mut ended = false;
            while (batch.events.len() as u64) < room {
                match file.next_event()? {
                    Some(event) => {
                        file.records_read += 1;
                        batch.events.push(event);
                    }
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            if ended && may_grow && file.torn {
                // A frame the writer had not finished when read: reopen the
                // file later and resume after the last event returned.
                let seq_last = batch.events.last().map_or(file.seq_returned, |e| e.seq);
                let path = file.path.clone();
                self.marks.insert(
                    batch.stream.clone(),
                    StreamMark {
                        seq_last,
                        finished: false,
                    },
                );
                self.current = None;
                self.pending.push_front(path);
                return Ok(());
            }
            if let Some(last) = batch.events.last() {
                file.seq_returned = last.seq;
            }
            if ended && !may_grow {
                batch.stream_finished = true;
                self.current = None;
                return Ok(());
            }
            if !batch.events.is_empty() {
                return Ok(());
            }
            // Nothing new in a growing file: has a newer run started meanwhile?
            self.rescan()?;
            if self.current_may_grow() {
                return Ok(());
            }
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn events_behind(&self) -> Option<u64> {
        let mut behind = 0;
        if let Some(file) = &self.current {
            behind += FolderFeed::records_on_disk(&file.path).saturating_sub(file.records_read);
        }
        for path in &self.pending {
            let mark = self
                .marks
                .get(&stream_name(path))
                .copied()
                .unwrap_or_default();
            if !mark.finished {
                behind += FolderFeed::records_on_disk(path).saturating_sub(mark.seq_last);
            }
        }
        Some(behind)
    }
}

/// The stream a journal file feeds: its file name without `.gjnl`.
pub fn stream_name(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sorts `run-<secs>-<pid>[-n]` by start time, then name; other names last by name.
fn run_order_key(path: &Path) -> (u64, String) {
    let stem = stream_name(path);
    let secs = stem
        .strip_prefix("run-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(u64::MAX);
    (secs, stem)
}
