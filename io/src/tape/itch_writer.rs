//! Writer of ITCH 5.0 tape files (2-byte big-endian length, then the
//! message), plain or gzip: the mirror of [`super::ItchFileReader`], for
//! tests, benchmarks and synthetic tapes.
//!
//! Owning thread: the writer's. Not a hot path: each message is encoded into
//! a reused scratch buffer, then written behind its length.

use super::input::{Compression, TapeSink};
use crate::itch::{encode_message, ItchMessage};
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::Path;

/// Writes length-prefixed ITCH 5.0 messages.
pub struct ItchFileWriter<W: Write> {
    sink: TapeSink<W>,
    scratch: Vec<u8>,
    messages_written: u64,
}

impl ItchFileWriter<BufWriter<File>> {
    /// Create (or truncate) the tape at `path`.
    pub fn create(
        path: impl AsRef<Path>,
        compression: Compression,
    ) -> io::Result<ItchFileWriter<BufWriter<File>>> {
        Ok(ItchFileWriter::new(TapeSink::create(
            path.as_ref(),
            compression,
        )?))
    }
}

impl<W: Write> ItchFileWriter<W> {
    /// Write into `sink`.
    pub fn new(sink: TapeSink<W>) -> ItchFileWriter<W> {
        ItchFileWriter {
            sink,
            scratch: Vec::with_capacity(64),
            messages_written: 0,
        }
    }

    /// Append one message.
    pub fn write_message(&mut self, message: &ItchMessage) -> io::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        encode_message(message, &mut scratch);
        let result = self.write_raw(&scratch);
        self.scratch = scratch;
        result
    }

    /// Append one message body as given (1 to 65535 bytes), e.g. a type
    /// this crate does not model.
    pub fn write_raw(&mut self, body: &[u8]) -> io::Result<()> {
        let length = u16::try_from(body.len())
            .ok()
            .filter(|&length| length > 0)
            .ok_or_else(|| {
                io::Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "an ITCH message body is 1 to 65535 bytes, not {}",
                        body.len()
                    ),
                )
            })?;
        self.sink.write_all(&length.to_be_bytes())?;
        self.sink.write_all(body)?;
        self.messages_written += 1;
        Ok(())
    }

    /// Messages written so far.
    pub fn messages_written(&self) -> u64 {
        self.messages_written
    }

    /// Finish the file (gzip trailer included) and hand back the writer.
    pub fn finish(self) -> io::Result<W> {
        self.sink.finish()
    }
}
