//! The record frame: `[length u32][crc32c u32][sequence u64][payload]`, little endian.
//!
//! The CRC covers the sequence number and the payload, so a stale record left
//! in a reused file, whose sequence is not the one expected, never passes.

use crate::crc;

/// Bytes before the payload: length, CRC32C and sequence.
pub const FRAME_PREFIX_BYTES: usize = 16;
/// Bytes a frame adds to its payload.
pub const FRAME_OVERHEAD_BYTES: usize = FRAME_PREFIX_BYTES;

/// CRC32C (Castagnoli) over the sequence number and the payload.
#[inline]
pub fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let crc = crc::crc32c(&seq.to_le_bytes());
    crc::crc32c_append(crc, payload)
}

/// Writes one frame into `out`, which must be exactly `FRAME_PREFIX_BYTES + payload.len()` long.
#[inline]
pub fn encode(seq: u64, payload: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), FRAME_PREFIX_BYTES + payload.len());
    let length = u32::try_from(payload.len()).expect("payload fits in u32");
    out[0..4].copy_from_slice(&length.to_le_bytes());
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    out[16..].copy_from_slice(payload);
    // Sequence and payload are contiguous: one CRC pass over both.
    let crc = crc::crc32c(&out[8..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Writes one frame into `out` (exactly one frame long) with the length word
/// stored last, after a release fence: a reader that sees a non-zero length
/// in a live mapping sees the sequence, payload and CRC written before it.
/// Until then the slot still reads as empty (zero length).
#[inline]
pub fn encode_length_last(seq: u64, payload: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), FRAME_PREFIX_BYTES + payload.len());
    encode_length_last_with(seq, out, |slot| slot.copy_from_slice(payload));
}

/// [`encode_length_last`] with the payload written in place by
/// `write_payload` (handed exactly the payload's bytes, `out` less the
/// prefix), so a caller that encodes its record needs no copy of it.
#[inline(always)]
pub fn encode_length_last_with(seq: u64, out: &mut [u8], write_payload: impl FnOnce(&mut [u8])) {
    let length = u32::try_from(out.len() - FRAME_PREFIX_BYTES).expect("payload fits in u32");
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    write_payload(&mut out[16..]);
    let crc = crc::crc32c(&out[8..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
    out[0..4].copy_from_slice(&length.to_le_bytes());
}

/// [`encode_length_last_with`] for a payload size known at compile time,
/// the frame handed over as its prefix and its payload: the same bytes,
/// with no bounds check, the CRC over the sequence from a register and the
/// payload's words unrolled ([`crc::FrameCrc::frame`]), the CRC's CPU
/// feature looked up on each call. The writer decides it once, at open, and
/// calls [`encode_record_length_last_by`].
#[inline(always)]
pub fn encode_record_length_last<const N: usize>(
    seq: u64,
    prefix: &mut [u8; FRAME_PREFIX_BYTES],
    payload: &mut [u8; N],
    write_payload: impl FnOnce(&mut [u8; N]),
) {
    encode_record_length_last_by(crc::FrameCrc::detect(), seq, prefix, payload, write_payload);
}

/// [`encode_record_length_last`] with the CRC's CPU feature decided by the
/// caller, once ([`crc::FrameCrc`]): the writer's per-record path.
#[inline(always)]
pub(crate) fn encode_record_length_last_by<const N: usize>(
    frame_crc: crc::FrameCrc,
    seq: u64,
    prefix: &mut [u8; FRAME_PREFIX_BYTES],
    payload: &mut [u8; N],
    write_payload: impl FnOnce(&mut [u8; N]),
) {
    const { assert!(N <= u32::MAX as usize, "a payload's length fits in u32") };
    prefix[8..16].copy_from_slice(&seq.to_le_bytes());
    write_payload(payload);
    let crc = frame_crc.frame(seq, payload);
    prefix[4..8].copy_from_slice(&crc.to_le_bytes());
    std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
    prefix[0..4].copy_from_slice(&(N as u32).to_le_bytes());
}

/// The prefix fields of a frame, not yet checked against its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub length: u32,
    pub crc: u32,
    pub seq: u64,
}

/// Appends one frame to `out` (which should have room).
#[inline]
pub fn append(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let length = u32::try_from(payload.len()).expect("payload fits in u32");
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc::crc32c(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads a frame prefix from the first 16 bytes of `bytes`.
pub fn decode_prefix(bytes: &[u8; FRAME_PREFIX_BYTES]) -> Prefix {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    Prefix {
        length: u32_at(0),
        crc: u32_at(4),
        seq: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A frame encodes and its prefix decodes back with a matching checksum.
    #[test]
    fn frame_round_trips() {
        let payload = [7u8; 24];
        let mut out = [0u8; 40];
        encode(42, &payload, &mut out);
        let prefix = decode_prefix(out[..16].try_into().unwrap());
        assert_eq!(prefix.length, 24);
        assert_eq!(prefix.seq, 42);
        assert_eq!(prefix.crc, checksum(42, &payload));
    }

    // Both encoders produce the same bytes.
    #[test]
    fn length_last_encodes_the_same_frame() {
        let payload = [3u8; 24];
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        encode(5, &payload, &mut a);
        encode_length_last(5, &payload, &mut b);
        assert_eq!(a, b);
    }

    // Writing the payload in place gives the same frame as copying it in,
    // and as appending it to a buffer.
    #[test]
    fn in_place_payloads_encode_the_same_frames() {
        let payload: Vec<u8> = (0..128u8).collect();
        let mut copied = [0u8; 144];
        let mut in_place = [0u8; 144];
        encode_length_last(9, &payload, &mut copied);
        encode_length_last_with(9, &mut in_place, |slot| slot.copy_from_slice(&payload));
        assert_eq!(copied, in_place);
        let mut appended = vec![0xAA];
        append(9, &payload, &mut appended);
        assert_eq!(&appended[1..], &copied[..]);
    }

    // The fixed-size encoder writes the same frame as the general one, for
    // an event-sized payload and one that ends in a part word, over a
    // stale slot.
    #[test]
    fn fixed_size_records_encode_the_same_frames() {
        fn check<const N: usize>(seq: u64) {
            let payload: Vec<u8> = (0..N).map(|i| (i * 37 + 11) as u8).collect();
            let mut general = vec![0u8; FRAME_PREFIX_BYTES + N];
            encode_length_last(seq, &payload, &mut general);
            let mut fixed = vec![0xEEu8; FRAME_PREFIX_BYTES + N];
            let (prefix, rest) = fixed.split_first_chunk_mut::<FRAME_PREFIX_BYTES>().unwrap();
            let slot: &mut [u8; N] = rest.try_into().unwrap();
            encode_record_length_last(seq, prefix, slot, |slot| slot.copy_from_slice(&payload));
            assert_eq!(fixed, general, "payload of {N} bytes, sequence {seq}");
            // The writer's form, the CRC's CPU features decided once, on
            // every path this CPU has (portable, serial, interleaved).
            for frame_crc in crc::FrameCrc::every_path() {
                let mut by = vec![0xEEu8; FRAME_PREFIX_BYTES + N];
                let (prefix, rest) = by.split_first_chunk_mut::<FRAME_PREFIX_BYTES>().unwrap();
                let slot: &mut [u8; N] = rest.try_into().unwrap();
                encode_record_length_last_by(frame_crc, seq, prefix, slot, |slot| {
                    slot.copy_from_slice(&payload)
                });
                assert_eq!(
                    by,
                    general,
                    "payload of {N} bytes, sequence {seq}, by the writer's form on the {} path",
                    frame_crc.name()
                );
            }
        }
        check::<128>(1);
        check::<128>(u64::MAX - 3);
        check::<64>(1 << 40);
        check::<21>(77);
        check::<8>(5);
    }

    // The same payload under another sequence number has another checksum.
    #[test]
    fn checksum_covers_the_sequence() {
        assert_ne!(checksum(1, b"abc"), checksum(2, b"abc"));
    }
}
