//! Histogram → V2 + DEFLATE (zlib) bytes → base64, the encoding the Java and
//! Python readers expect, with every buffer and the zlib state kept between
//! calls.
//!
//! The crate's `V2DeflateSerializer` would do the same but builds a fresh
//! zlib compressor (hundreds of KiB) per histogram; this type resets one.
//!
//! Compression level 1 (zlib's fastest): the reporter encodes every
//! stage's histograms once a second, on a CPU a spinning stage thread may
//! need, and level 1 costs a fraction of the default level's instructions
//! for a slightly larger line. Any zlib level decodes the same way, so the
//! Java and Python readers read it as before.

use base64::Engine as _;
use flate2::{Compress, Compression, FlushCompress, Status};
use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

use super::{HistLogError, V2_COMPRESSED_COOKIE};

/// Bytes of the compressed header: cookie and payload length, both u32 BE.
const COMPRESSED_HEADER_BYTES: usize = 8;

/// Reusable encoder; owned by whoever writes the log.
pub struct HistogramEncoder {
    v2: V2Serializer,
    /// Uncompressed V2 encoding of the current histogram.
    plain: Vec<u8>,
    /// Compressed header followed by the zlib stream.
    packed: Vec<u8>,
    zlib: Compress,
}

impl Default for HistogramEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl HistogramEncoder {
    pub fn new() -> HistogramEncoder {
        HistogramEncoder {
            v2: V2Serializer::new(),
            plain: Vec::new(),
            packed: Vec::new(),
            zlib: Compress::new(Compression::fast(), true),
        }
    }

    /// Appends the base64 text of `histogram`'s V2-deflate encoding to `out`.
    /// `tag` only names the histogram in an error.
    pub fn encode_base64(
        &mut self,
        tag: &str,
        histogram: &Histogram<u64>,
        out: &mut String,
    ) -> Result<(), HistLogError> {
        self.plain.clear();
        self.v2
            .serialize(histogram, &mut self.plain)
            .map_err(|error| HistLogError::Serialize {
                tag: tag.to_owned(),
                reason: error.to_string(),
            })?;
        self.packed.clear();
        self.packed
            .extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
        self.packed.extend_from_slice(&[0; 4]);
        self.deflate().map_err(|reason| HistLogError::Compress {
            tag: tag.to_owned(),
            reason,
        })?;
        let stream_bytes = self.packed.len() - COMPRESSED_HEADER_BYTES;
        let stream_bytes = u32::try_from(stream_bytes).map_err(|_| HistLogError::Compress {
            tag: tag.to_owned(),
            reason: format!("{stream_bytes} compressed bytes do not fit the u32 length field"),
        })?;
        self.packed[4..COMPRESSED_HEADER_BYTES].copy_from_slice(&stream_bytes.to_be_bytes());
        base64::engine::general_purpose::STANDARD.encode_string(&self.packed, out);
        Ok(())
    }

    /// Compresses `plain` onto the end of `packed` as one zlib stream.
    fn deflate(&mut self) -> Result<(), String> {
        self.zlib.reset();
        let mut consumed_bytes = 0;
        loop {
            let pending_bytes = self.plain.len() - consumed_bytes;
            // zlib's worst case is a little over the input; a no-op once warm.
            self.packed.reserve(pending_bytes + pending_bytes / 8 + 64);
            let total_in_before = self.zlib.total_in();
            let status = self
                .zlib
                .compress_vec(
                    &self.plain[consumed_bytes..],
                    &mut self.packed,
                    FlushCompress::Finish,
                )
                .map_err(|error| error.to_string())?;
            let consumed_now = self.zlib.total_in() - total_in_before;
            // The input is in memory, so its length fits usize.
            consumed_bytes += usize::try_from(consumed_now).unwrap_or(usize::MAX);
            if status == Status::StreamEnd {
                return Ok(());
            }
        }
    }
}
