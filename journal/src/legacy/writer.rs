//! Appends framed records to one journal file through a buffer owned by the writer.
//!
//! Owned by the journal stage's thread. `append` copies into a preallocated
//! buffer and never allocates; the buffer goes to the page cache in one
//! `write` when it fills or when the caller flushes (the journal stage
//! flushes when its input runs dry). `sync` adds an `fdatasync`.

use crate::frame::{self, FRAME_PREFIX_BYTES};
use crate::legacy::header::FileHeader;
use crate::JournalError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct FileWriter {
    path: PathBuf,
    file: File,
    buffer: Vec<u8>,
    record_size_bytes: usize,
    seq_next: u64,
    bytes_written: u64,
}

impl FileWriter {
    /// Creates a new journal file (it must not exist) whose first record will be `seq_first`.
    pub fn create(
        path: &Path,
        record_size_bytes: usize,
        seq_first: u64,
        buffer_bytes: usize,
    ) -> Result<FileWriter, JournalError> {
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |error| JournalError::Io { path, op, error }
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io("create"))?;
        let record_size = u32::try_from(record_size_bytes).expect("record size fits in u32");
        let header = FileHeader::new(record_size, seq_first).encode();
        file.write_all(&header).map_err(io("write header"))?;
        let frame_bytes = FRAME_PREFIX_BYTES + record_size_bytes;
        // At least one frame fits, and the buffer is a whole number of frames.
        let capacity = buffer_bytes.max(frame_bytes) / frame_bytes * frame_bytes;
        Ok(FileWriter {
            path: path.to_path_buf(),
            file,
            buffer: Vec::with_capacity(capacity),
            record_size_bytes,
            seq_next: seq_first,
            bytes_written: header.len() as u64,
        })
    }

    /// Appends one record and returns its sequence number.
    #[inline]
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() != self.record_size_bytes {
            return Err(JournalError::PayloadSize {
                path: self.path.clone(),
                got: payload.len(),
                expected: self.record_size_bytes,
            });
        }
        let frame_bytes = FRAME_PREFIX_BYTES + payload.len();
        if self.buffer.len() + frame_bytes > self.buffer.capacity() {
            self.flush()?;
        }
        let start = self.buffer.len();
        let seq = self.seq_next;
        // Stays within the capacity reserved at creation, so this never reallocates.
        frame::append(seq, payload, &mut self.buffer);
        debug_assert_eq!(self.buffer.len(), start + frame_bytes);
        self.seq_next += 1;
        Ok(seq)
    }

    /// Hands buffered records to the operating system (the page cache).
    pub fn flush(&mut self) -> Result<(), JournalError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buffer)
            .map_err(|error| JournalError::Io {
                path: self.path.clone(),
                op: "write",
                error,
            })?;
        self.bytes_written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Flushes, then waits until the data is on disk (`fdatasync`).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        self.file.sync_data().map_err(|error| JournalError::Io {
            path: self.path.clone(),
            op: "fdatasync",
            error,
        })
    }

    /// Sequence number the next append will get.
    pub fn seq_next(&self) -> u64 {
        self.seq_next
    }

    /// Bytes waiting in the buffer.
    pub fn bytes_buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Bytes handed to the operating system so far, header included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
