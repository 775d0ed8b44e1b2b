//! base64 → V2 (optionally DEFLATE-compressed) bytes → histogram, checking
//! everything the `hdrhistogram` deserializer would trust: it must never
//! panic or allocate without bound on a garbled log line.

use base64::Engine as _;
use flate2::{Decompress, FlushDecompress, Status};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use super::{DamageKind, V2_COMPRESSED_COOKIE, V2_COOKIE};

/// Header of an uncompressed V2 histogram: cookie, payload length,
/// normalizing offset, significant digits (u32 each), low, high (u64 each),
/// integer-to-double ratio (f64).
const V2_HEADER_BYTES: usize = 40;
/// Refuse to inflate past this: a 1 ns..100 s, 3-digit histogram needs
/// well under 1 MiB even in the worst case.
const PLAIN_BYTES_MAX: usize = 64 << 20;
/// The most significant digits any implementation accepts.
const SIGNIFICANT_DIGITS_MAX: u32 = 5;

/// Reusable decoder; owned by the reader.
pub struct HistogramDecoder {
    packed: Vec<u8>,
    plain: Vec<u8>,
    zlib: Decompress,
    deserializer: Deserializer,
}

impl Default for HistogramDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn bad(reason: impl Into<String>) -> DamageKind {
    DamageKind::BadHistogram {
        reason: reason.into(),
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

impl HistogramDecoder {
    pub fn new() -> HistogramDecoder {
        HistogramDecoder {
            packed: Vec::new(),
            plain: Vec::new(),
            zlib: Decompress::new(true),
            deserializer: Deserializer::new(),
        }
    }

    /// Decodes one base64 histogram as found in the last field of a log line.
    pub fn decode_base64(&mut self, text: &str) -> Result<Histogram<u64>, DamageKind> {
        self.packed.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(text.trim(), &mut self.packed)
            .map_err(|error| DamageKind::BadBase64 {
                reason: error.to_string(),
            })?;
        if self.packed.len() < 8 {
            return Err(bad(format!("{} bytes, too short", self.packed.len())));
        }
        match be_u32(&self.packed, 0) {
            V2_COMPRESSED_COOKIE => self.inflate()?,
            V2_COOKIE => {
                self.plain.clear();
                self.plain.extend_from_slice(&self.packed);
            }
            cookie => return Err(bad(format!("unknown cookie {cookie:#010x}"))),
        }
        check_v2(&self.plain)?;
        self.deserializer
            .deserialize(&mut &self.plain[..])
            .map_err(|error| bad(error.to_string()))
    }

    /// Inflates the zlib stream after the compressed header into `plain`.
    fn inflate(&mut self) -> Result<(), DamageKind> {
        let stream_bytes = be_u32(&self.packed, 4) as usize;
        let stream = self
            .packed
            .get(8..8usize.saturating_add(stream_bytes))
            .ok_or_else(|| {
                bad(format!(
                    "compressed length {stream_bytes} runs past the {} bytes present",
                    self.packed.len() - 8
                ))
            })?;
        self.zlib.reset(true);
        self.plain.clear();
        let mut consumed_bytes = 0;
        loop {
            if self.plain.len() >= PLAIN_BYTES_MAX {
                return Err(bad("inflates past 64 MiB"));
            }
            self.plain.reserve(stream.len().max(1024) * 4);
            let total_in_before = self.zlib.total_in();
            let total_out_before = self.zlib.total_out();
            let status = self
                .zlib
                .decompress_vec(
                    &stream[consumed_bytes..],
                    &mut self.plain,
                    FlushDecompress::Finish,
                )
                .map_err(|error| bad(format!("zlib: {error}")))?;
            consumed_bytes +=
                usize::try_from(self.zlib.total_in() - total_in_before).unwrap_or(usize::MAX);
            if status == Status::StreamEnd {
                return Ok(());
            }
            let progressed = self.zlib.total_in() != total_in_before
                || self.zlib.total_out() != total_out_before;
            if !progressed {
                return Err(bad("zlib stream ends early"));
            }
        }
    }
}

/// Checks an uncompressed V2 histogram before the crate's deserializer sees
/// it: sizes agree, parameters are sane, and no varint decodes to the one
/// value (`i64::MIN`) whose negation overflows inside the crate.
fn check_v2(plain: &[u8]) -> Result<(), DamageKind> {
    if plain.len() < V2_HEADER_BYTES {
        return Err(bad(format!(
            "{} bytes, shorter than a V2 header",
            plain.len()
        )));
    }
    if be_u32(plain, 0) != V2_COOKIE {
        return Err(bad("inner cookie is not V2"));
    }
    let payload_bytes = be_u32(plain, 4) as usize;
    if V2_HEADER_BYTES + payload_bytes > plain.len() {
        return Err(bad(format!(
            "payload length {payload_bytes} runs past the {} bytes present",
            plain.len() - V2_HEADER_BYTES
        )));
    }
    let significant_digits = be_u32(plain, 12);
    let low = be_u64(plain, 16);
    let high = be_u64(plain, 24);
    if significant_digits > SIGNIFICANT_DIGITS_MAX || low < 1 || high < low.saturating_mul(2) {
        return Err(bad(format!(
            "bad bounds: low {low}, high {high}, {significant_digits} significant digits"
        )));
    }
    check_varints(&plain[V2_HEADER_BYTES..V2_HEADER_BYTES + payload_bytes])
}

/// Walks the LEB128-64b9B varints of a V2 payload.
fn check_varints(payload: &[u8]) -> Result<(), DamageKind> {
    let mut index = 0;
    while index < payload.len() {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&byte) = payload.get(index) else {
                return Err(bad("payload ends inside a varint"));
            };
            index += 1;
            if shift == 56 {
                // The ninth byte contributes all eight bits.
                value |= u64::from(byte) << 56;
                break;
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        // Zig-zag: u64::MAX decodes to i64::MIN.
        if value == u64::MAX {
            return Err(bad("payload holds an impossible zero-run length"));
        }
    }
    Ok(())
}
