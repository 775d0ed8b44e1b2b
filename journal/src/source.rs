//! Reading a segment's bytes at an offset, whether it is a plain file or a
//! `.gjseg.gz` that `archive` compressed.
//!
//! Owned by one reader thread (range reader, tailer, verify, the check at
//! open). A plain segment is read with `pread`. A compressed one is read
//! through a streaming gzip decoder that remembers its position: reading
//! forward (what every reader does) decompresses each byte once; asking for
//! an earlier offset starts the stream again from the top. Memory is the
//! decoder's window and a small buffer, whatever the segment size.
//!
//! gzip checks its own CRC32 and length at the end of the stream; a
//! damaged compressed segment reads as an I/O error naming the file.

use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// Something a segment can be read from at an offset.
pub(crate) trait ReadAt {
    /// Reads until `buf` is full or the data ends; returns the byte count.
    fn read_up_to_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl<R: ReadAt + ?Sized> ReadAt for &mut R {
    fn read_up_to_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_up_to_at(buf, offset)
    }
}

impl ReadAt for &File {
    fn read_up_to_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// A segment's bytes: the file itself, or a decompressing view of it.
pub(crate) enum SegmentSource {
    Plain(File),
    /// Boxed: the decoder's state is far larger than a file descriptor.
    Gz(Box<GzSource>),
}

impl SegmentSource {
    /// The segment's size in bytes as far as its file tells without reading
    /// it: the file length, or for gzip the length its trailer records
    /// (modulo 2^32, as gzip stores it).
    pub fn len_bytes(&self) -> io::Result<u64> {
        match self {
            SegmentSource::Plain(file) => Ok(file.metadata()?.len()),
            SegmentSource::Gz(gz) => Ok(u64::from(gz.len_bytes_mod_2_32)),
        }
    }
}

impl ReadAt for SegmentSource {
    fn read_up_to_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            SegmentSource::Plain(file) => (&*file).read_up_to_at(buf, offset),
            SegmentSource::Gz(gz) => gz.read_up_to_at(buf, offset),
        }
    }
}

/// A gzip-compressed segment read as a stream with a remembered position.
pub(crate) struct GzSource {
    file: File,
    /// Reads a duplicate of `file`'s descriptor, so it can be started again.
    decoder: GzDecoder<BufReader<File>>,
    /// Uncompressed offset of the decoder's next byte.
    position: u64,
    len_bytes_mod_2_32: u32,
}

impl GzSource {
    /// Opens a `.gjseg.gz`: reads the length from its trailer and starts the stream.
    pub fn open(mut file: File) -> io::Result<GzSource> {
        let file_len = file.metadata()?.len();
        if file_len < 18 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{file_len} bytes is too short for a gzip file"),
            ));
        }
        let mut trailer = [0u8; 4];
        file.read_exact_at(&mut trailer, file_len - 4)?;
        let decoder = GzSource::start(&mut file)?;
        Ok(GzSource {
            file,
            decoder,
            position: 0,
            len_bytes_mod_2_32: u32::from_le_bytes(trailer),
        })
    }

    fn start(file: &mut File) -> io::Result<GzDecoder<BufReader<File>>> {
        file.seek(SeekFrom::Start(0))?;
        Ok(GzDecoder::new(BufReader::new(file.try_clone()?)))
    }

    /// Starts decompressing again from the first byte.
    fn rewind(&mut self) -> io::Result<()> {
        self.decoder = GzSource::start(&mut self.file)?;
        self.position = 0;
        Ok(())
    }

    fn read_up_to_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset < self.position {
            self.rewind()?;
        }
        let skip = offset - self.position;
        let skipped = io::copy(&mut (&mut self.decoder).take(skip), &mut io::sink())?;
        self.position += skipped;
        if skipped < skip {
            return Ok(0);
        }
        let mut filled = 0;
        while filled < buf.len() {
            match self.decoder.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.position += filled as u64;
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz_file(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        let mut encoder = GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap();
        let file = File::open(&path).unwrap();
        (dir, file)
    }

    // Reads at any offset, forward and backward, return the uncompressed bytes.
    #[test]
    fn compressed_reads_at_any_offset() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (_dir, file) = gz_file(&bytes);
        let mut source = SegmentSource::Gz(Box::new(GzSource::open(file).unwrap()));
        assert_eq!(source.len_bytes().unwrap(), bytes.len() as u64);
        for offset in [0u64, 5000, 4000, 99_990, 10] {
            let mut buf = [0u8; 64];
            let got = source.read_up_to_at(&mut buf, offset).unwrap();
            let end = (offset as usize + 64).min(bytes.len());
            assert_eq!(&buf[..got], &bytes[offset as usize..end], "offset {offset}");
        }
        let mut buf = [0u8; 8];
        assert_eq!(source.read_up_to_at(&mut buf, 200_000).unwrap(), 0);
    }

    // A flipped bit in the compressed stream is an error, not wrong bytes.
    #[test]
    fn damaged_compressed_stream_is_an_error() {
        let bytes: Vec<u8> = (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).unwrap();
        let mut gz = encoder.finish().unwrap();
        let middle = gz.len() / 2;
        gz[middle] ^= 0x20;
        std::fs::write(&path, &gz).unwrap();
        let mut source = GzSource::open(File::open(&path).unwrap()).unwrap();
        // Read to the end of the stream, where gzip checks its CRC32 and length.
        let mut buf = vec![0u8; bytes.len() + 1];
        match source.read_up_to_at(&mut buf, 0) {
            Err(_) => {}
            Ok(got) => assert!(
                buf[..got] != bytes[..],
                "a damaged stream read back as the original"
            ),
        }
    }
}
