//! Reader of Nasdaq TotalView-ITCH 5.0 tape files: messages back to back,
//! each behind a 2-byte big-endian length (the layout of Nasdaq's public
//! sample files such as `01302019.NASDAQ_ITCH50.gz`), plain or gzip.
//!
//! Owning thread: the thread replaying the tape. Invariants:
//! - Streaming through one fixed [`ByteWindow`]; no allocation per message.
//! - Every message is checked before it is handed on: a type the ITCH 5.0
//!   spec defines must have the spec's length (the decoder checks those it
//!   models; the reader checks the rest and skips them, counted per type).
//!   An unknown type whose byte is an ASCII letter is skipped and counted
//!   (a later spec revision); any other type byte means the framing is lost.
//! - A zero length, a file that ends inside a message, a malformed message
//!   or a read error stops the reader with a [`TapeError`] naming the file
//!   and the offset of the message's length prefix (in the decompressed
//!   stream). Every message before it has been handed on; after an error
//!   the reader returns `Ok(None)`.
//! - Nothing here panics on any input (fuzzed: `io/fuzz`, `tape_itch`).

use super::error::{Location, TapeError, TapeErrorKind};
use super::input::TapeInput;
use super::window::ByteWindow;
use crate::itch::{decode, message_len, ItchError, ItchMessage};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The big-endian length in front of every message.
const LENGTH_PREFIX_BYTES: usize = 2;

/// Window size: twice the longest possible message (2 + 65535 bytes).
const WINDOW_BYTES: usize = 128 * 1024;
const _: () = assert!(WINDOW_BYTES >= LENGTH_PREFIX_BYTES + u16::MAX as usize);

/// One decoded message and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItchRecord {
    /// Offset of the message's length prefix in the (decompressed) file.
    pub offset: u64,
    /// The message.
    pub message: ItchMessage,
}

/// What the reader has seen so far.
#[derive(Clone, Debug)]
pub struct ItchFileStats {
    /// Messages decoded and handed on.
    pub messages_decoded: u64,
    skipped_by_type: [u64; 256],
}

impl ItchFileStats {
    /// Messages of type `msg_type` skipped (the decoder does not model the
    /// type, or the spec does not define it).
    pub fn skipped(&self, msg_type: u8) -> u64 {
        self.skipped_by_type[usize::from(msg_type)]
    }

    /// All skipped messages.
    pub fn skipped_total(&self) -> u64 {
        self.skipped_by_type.iter().sum()
    }
}

/// What one framing step produced.
enum Step {
    End,
    Record(ItchMessage),
    Skipped,
}

/// Streaming reader of one ITCH 5.0 tape.
pub struct ItchFileReader<R: Read = File> {
    window: ByteWindow<TapeInput<R>>,
    file: PathBuf,
    stats: ItchFileStats,
    failed: bool,
}

impl ItchFileReader<File> {
    /// Open the tape at `path` (gzip detected from its first bytes).
    pub fn open(path: impl AsRef<Path>) -> Result<ItchFileReader<File>, TapeError> {
        let path = path.as_ref();
        let file =
            File::open(path).map_err(|error| TapeError::new(path, Location::File, error.into()))?;
        ItchFileReader::new(path, file)
    }
}

impl<R: Read> ItchFileReader<R> {
    /// Read a tape from `reader`; `name` names it in errors.
    pub fn new(name: impl Into<PathBuf>, reader: R) -> Result<ItchFileReader<R>, TapeError> {
        let file = name.into();
        let input = TapeInput::new(reader)
            .map_err(|error| TapeError::new(&file, Location::File, error.into()))?;
        Ok(ItchFileReader {
            window: ByteWindow::new(input, WINDOW_BYTES),
            file,
            stats: ItchFileStats {
                messages_decoded: 0,
                skipped_by_type: [0; 256],
            },
            failed: false,
        })
    }

    /// The next decoded message, `Ok(None)` at the end of the file (or
    /// after an error), or the error that stops the tape.
    pub fn next_record(&mut self) -> Result<Option<ItchRecord>, TapeError> {
        if self.failed {
            return Ok(None);
        }
        loop {
            let offset = self.window.stream_offset();
            match self.step() {
                Ok(Step::End) => return Ok(None),
                Ok(Step::Record(message)) => return Ok(Some(ItchRecord { offset, message })),
                Ok(Step::Skipped) => continue,
                Err(kind) => {
                    self.failed = true;
                    return Err(TapeError::new(&self.file, Location::Offset(offset), kind));
                }
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ItchFileStats {
        &self.stats
    }

    /// Whether the file is gzip.
    pub fn is_gzip(&self) -> bool {
        self.window.input().is_gzip()
    }

    /// Bytes of the file read so far (compressed bytes for gzip).
    pub fn file_bytes_read(&self) -> u64 {
        self.window.input().file_bytes_read()
    }

    /// Frame one message at the window's start, classify it, consume it.
    #[inline]
    fn step(&mut self) -> Result<Step, TapeErrorKind> {
        self.window.fill_to(LENGTH_PREFIX_BYTES)?;
        let length = match *self.window.available() {
            [] => return Ok(Step::End),
            [high, low, ..] => usize::from(u16::from_be_bytes([high, low])),
            [_] => {
                return Err(TapeErrorKind::Truncated {
                    needed: LENGTH_PREFIX_BYTES,
                    available: 1,
                })
            }
        };
        if length == 0 {
            return Err(TapeErrorKind::EmptyMessage);
        }
        let needed = LENGTH_PREFIX_BYTES + length;
        self.window.fill_to(needed)?;
        let available = self.window.available();
        let Some(body) = available.get(LENGTH_PREFIX_BYTES..needed) else {
            return Err(TapeErrorKind::Truncated {
                needed,
                available: available.len(),
            });
        };
        let step = classify(body, &mut self.stats)?;
        self.window.consume(needed);
        Ok(step)
    }
}

impl<R: Read> Iterator for ItchFileReader<R> {
    type Item = Result<ItchRecord, TapeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Decode one message body, or decide it is skipped, or garbled.
#[inline]
fn classify(body: &[u8], stats: &mut ItchFileStats) -> Result<Step, TapeErrorKind> {
    match decode(body) {
        Ok(message) => {
            stats.messages_decoded += 1;
            Ok(Step::Record(message))
        }
        Err(ItchError::UnknownType { msg_type, length }) => {
            match message_len(msg_type) {
                Some(expected) if expected != length => {
                    return Err(TapeErrorKind::Itch(ItchError::WrongLength {
                        msg_type,
                        expected,
                        got: length,
                    }))
                }
                Some(_) => {}
                None if msg_type.is_ascii_alphabetic() => {}
                None => return Err(TapeErrorKind::NotAMessageType(msg_type)),
            }
            stats.skipped_by_type[usize::from(msg_type)] += 1;
            Ok(Step::Skipped)
        }
        Err(error) => Err(TapeErrorKind::Itch(error)),
    }
}
