//! Reads a journal file front to back, checking every frame.
//!
//! A damaged frame that is the last thing in the file is a torn tail, the
//! normal result of a crash mid-write: reading stops there and says so.
//! A damaged frame with more bytes after it is mid-log corruption: an error
//! naming the byte offset, because records after it cannot be trusted.

use crate::frame::{self, FRAME_PREFIX_BYTES};
use crate::legacy::header::{FileHeader, HEADER_BYTES};
use crate::{JournalError, Record};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// What one read step found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome<'a> {
    Record(Record<'a>),
    /// The file ends cleanly after the last record.
    End,
    /// The file ends in an incomplete or damaged last frame starting at `offset`.
    TornTail {
        offset: u64,
        reason: String,
    },
}

/// Reads a version-1 single-file journal front to back.
pub struct FileReader {
    path: PathBuf,
    input: BufReader<File>,
    header: FileHeader,
    file_len_bytes: u64,
    offset: u64,
    seq_expected: u64,
    frame: Vec<u8>,
}

impl FileReader {
    pub fn open(path: &Path) -> Result<FileReader, JournalError> {
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |error| JournalError::Io { path, op, error }
        };
        let file = File::open(path).map_err(io("open"))?;
        let file_len_bytes = file.metadata().map_err(io("stat"))?.len();
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut header_bytes = [0u8; HEADER_BYTES];
        let header_len = read_up_to(&mut input, &mut header_bytes).map_err(io("read header"))?;
        let header = FileHeader::decode(&header_bytes[..header_len], path)?;
        let frame_len = FRAME_PREFIX_BYTES + header.record_size_bytes as usize;
        Ok(FileReader {
            path: path.to_path_buf(),
            input,
            header,
            file_len_bytes,
            offset: HEADER_BYTES as u64,
            seq_expected: header.seq_first,
            frame: vec![0u8; frame_len],
        })
    }

    pub fn header(&self) -> FileHeader {
        self.header
    }

    /// Reads the next record, or tells how the file ends.
    pub fn next_record(&mut self) -> Result<ReadOutcome<'_>, JournalError> {
        let offset = self.offset;
        let got =
            read_up_to(&mut self.input, &mut self.frame).map_err(|error| JournalError::Io {
                path: self.path.clone(),
                op: "read",
                error,
            })?;
        if got == 0 {
            return Ok(ReadOutcome::End);
        }
        let frame_end = offset + self.frame.len() as u64;
        if let Err(reason) = self.check_frame(got) {
            if frame_end >= self.file_len_bytes {
                return Ok(ReadOutcome::TornTail { offset, reason });
            }
            return Err(JournalError::Corrupt {
                path: self.path.clone(),
                offset,
                seq_expected: self.seq_expected,
                reason,
            });
        }
        self.offset = frame_end;
        let seq = self.seq_expected;
        self.seq_expected += 1;
        Ok(ReadOutcome::Record(Record {
            seq,
            payload: &self.frame[FRAME_PREFIX_BYTES..],
        }))
    }

    /// Checks the frame just read (`got` bytes of it) and says what is wrong.
    fn check_frame(&self, got: usize) -> Result<(), String> {
        if got < self.frame.len() {
            return Err(format!(
                "frame is cut off after {got} of {} bytes",
                self.frame.len()
            ));
        }
        let prefix = frame::decode_prefix(
            self.frame[..FRAME_PREFIX_BYTES]
                .try_into()
                .expect("16 bytes"),
        );
        let payload = &self.frame[FRAME_PREFIX_BYTES..];
        if prefix.length as usize != payload.len() {
            return Err(format!(
                "length field says {} bytes, records are {}",
                prefix.length,
                payload.len()
            ));
        }
        if prefix.crc != frame::checksum(prefix.seq, payload) {
            return Err("CRC32C does not match".into());
        }
        if prefix.seq != self.seq_expected {
            return Err(format!(
                "sequence {} where {} was expected",
                prefix.seq, self.seq_expected
            ));
        }
        Ok(())
    }

    /// Sequence number of the next record to be read.
    pub fn seq_expected(&self) -> u64 {
        self.seq_expected
    }
}

/// Reads until `buf` is full or the input ends; returns the byte count.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
