//! Tape files in and out, plain or gzip: [`TapeInput`] gunzips a stream
//! that starts with the gzip magic bytes (the file name is never looked at),
//! [`TapeSink`] writes plain or gzip.
//!
//! Owning thread: the reader's or writer's. Invariants: compression is
//! decided once, from the first two bytes, before any byte is handed on; a
//! gzip stream may hold several members (as `cat a.gz b.gz` makes), and a
//! stream cut short or corrupt is an `io::Error`, never silently shorter.
//! Reading does not allocate after construction.

use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The two bytes every gzip member starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Read-ahead of the file under the (optional) decompressor.
const FILE_BUFFER_BYTES: usize = 32 * 1024;

/// How a tape is (to be) stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    #[default]
    None,
    /// gzip (RFC 1952), default level.
    Gzip,
}

/// Counts the bytes read from the underlying file, for progress reports.
#[derive(Debug)]
struct CountingReader<R> {
    inner: R,
    bytes_read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.bytes_read += count as u64;
        Ok(count)
    }
}

enum Decoder<R: Read> {
    Plain(BufReader<CountingReader<R>>),
    Gzip(MultiGzDecoder<BufReader<CountingReader<R>>>),
}

/// A tape's bytes, decompressed when the stream starts with the gzip magic.
pub struct TapeInput<R: Read> {
    decoder: Decoder<R>,
}

impl TapeInput<File> {
    /// Open `path` for reading.
    pub fn open(path: &Path) -> io::Result<TapeInput<File>> {
        TapeInput::new(File::open(path)?)
    }
}

impl<R: Read> TapeInput<R> {
    /// Wrap `reader`, gunzipping it if its first two bytes are the gzip magic.
    pub fn new(reader: R) -> io::Result<TapeInput<R>> {
        let mut buffered = BufReader::with_capacity(
            FILE_BUFFER_BYTES,
            CountingReader {
                inner: reader,
                bytes_read: 0,
            },
        );
        let head = buffered.fill_buf()?;
        let decoder = if head.starts_with(&GZIP_MAGIC) {
            Decoder::Gzip(MultiGzDecoder::new(buffered))
        } else {
            Decoder::Plain(buffered)
        };
        Ok(TapeInput { decoder })
    }

    /// Whether the stream is gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self.decoder, Decoder::Gzip(_))
    }

    /// Bytes read from the underlying file so far (compressed bytes for a
    /// gzip file; read-ahead included), for progress reports.
    pub fn file_bytes_read(&self) -> u64 {
        match &self.decoder {
            Decoder::Plain(reader) => reader.get_ref().bytes_read,
            Decoder::Gzip(reader) => reader.get_ref().get_ref().bytes_read,
        }
    }
}

impl<R: Read> Read for TapeInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.decoder {
            Decoder::Plain(reader) => reader.read(buf),
            Decoder::Gzip(reader) => reader.read(buf),
        }
    }
}

/// Where a writer's bytes go: plain or through a gzip encoder.
pub enum TapeSink<W: Write> {
    /// Plain bytes.
    Plain(W),
    /// gzip-compressed bytes.
    Gzip(GzEncoder<W>),
}

impl TapeSink<BufWriter<File>> {
    /// Create (or truncate) `path`.
    pub fn create(path: &Path, compression: Compression) -> io::Result<TapeSink<BufWriter<File>>> {
        let file = BufWriter::with_capacity(FILE_BUFFER_BYTES, File::create(path)?);
        Ok(TapeSink::new(file, compression))
    }
}

impl<W: Write> TapeSink<W> {
    /// Write into `writer`, compressed as asked.
    pub fn new(writer: W, compression: Compression) -> TapeSink<W> {
        match compression {
            Compression::None => TapeSink::Plain(writer),
            Compression::Gzip => {
                TapeSink::Gzip(GzEncoder::new(writer, flate2::Compression::default()))
            }
        }
    }

    /// Finish the gzip member (if any), flush, and hand back the writer.
    pub fn finish(self) -> io::Result<W> {
        let mut writer = match self {
            TapeSink::Plain(writer) => writer,
            TapeSink::Gzip(encoder) => encoder.finish()?,
        };
        writer.flush()?;
        Ok(writer)
    }
}

impl<W: Write> Write for TapeSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            TapeSink::Plain(writer) => writer.write(buf),
            TapeSink::Gzip(writer) => writer.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            TapeSink::Plain(writer) => writer.flush(),
            TapeSink::Gzip(writer) => writer.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (bool, Vec<u8>) {
        let mut input = TapeInput::new(bytes).unwrap();
        let mut out = Vec::new();
        input.read_to_end(&mut out).unwrap();
        (input.is_gzip(), out)
    }

    // Plain and gzip of the same bytes read back the same, told apart by magic.
    #[test]
    fn detects_gzip_by_magic() {
        let text = b"exchange,symbol\n".repeat(100);
        let mut sink = TapeSink::new(Vec::new(), Compression::Gzip);
        sink.write_all(&text).unwrap();
        let gz = sink.finish().unwrap();
        assert_eq!(read_all(&gz), (true, text.clone()));
        assert_eq!(read_all(&text), (false, text.clone()));
        assert_eq!(read_all(b""), (false, Vec::new()));
        assert_eq!(read_all(&[0x1f]), (false, vec![0x1f]));
    }

    // Two gzip members back to back read as one stream.
    #[test]
    fn reads_concatenated_members() {
        let mut joined = Vec::new();
        for part in [&b"first "[..], b"second"] {
            let mut sink = TapeSink::new(Vec::new(), Compression::Gzip);
            sink.write_all(part).unwrap();
            joined.extend(sink.finish().unwrap());
        }
        assert_eq!(read_all(&joined), (true, b"first second".to_vec()));
    }

    // A gzip stream cut short is an error, not a shorter file.
    #[test]
    fn truncated_gzip_is_an_error() {
        let mut sink = TapeSink::new(Vec::new(), Compression::Gzip);
        sink.write_all(&[7u8; 10_000]).unwrap();
        let gz = sink.finish().unwrap();
        let mut input = TapeInput::new(&gz[..gz.len() - 4]).unwrap();
        assert!(input.read_to_end(&mut Vec::new()).is_err());
    }
}
