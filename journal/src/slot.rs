//! Judging one slot: a valid record, empty (all zero), or damaged, and why.
//!
//! Pure functions over bytes, shared by recovery, verify, the range reader
//! and the tailer. The end of the log is a slot that is zero from its first
//! byte to its last: preallocated space is zero-filled, and a zero length
//! word never belongs to a record, so zeros can never pass as data. A slot
//! whose length word is zero but which holds other bytes is damage (or a
//! frame caught mid-write by a live reader), never the clean end.

use crate::crc::FrameCrc;
use crate::frame::{self, FRAME_PREFIX_BYTES};

/// Why a slot is not a valid record. `Copy`, so judging never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotDamage {
    /// The length word is zero but the slot holds other non-zero bytes.
    ZeroLengthWithData,
    /// The length word is not the journal's record size.
    LengthMismatch { length_found: u32 },
    /// The CRC32C over sequence and payload does not match.
    CrcMismatch,
    /// The frame is intact but carries another sequence than its slot's.
    SequenceMismatch { seq_found: u64 },
}

impl std::fmt::Display for SlotDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotDamage::ZeroLengthWithData => {
                write!(f, "length word is zero but the frame holds data")
            }
            SlotDamage::LengthMismatch { length_found } => {
                write!(
                    f,
                    "length field says {length_found} bytes, not the record size"
                )
            }
            SlotDamage::CrcMismatch => write!(f, "CRC32C does not match"),
            SlotDamage::SequenceMismatch { seq_found } => {
                write!(f, "frame carries sequence {seq_found}, out of place")
            }
        }
    }
}

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// A record with the expected sequence and a matching CRC.
    Valid,
    /// Every byte is zero: nothing was ever written here.
    Empty,
    Damaged(SlotDamage),
}

/// Judges the frame in `bytes` (exactly one frame) against the sequence its slot must hold.
#[inline]
pub fn judge(bytes: &[u8], seq_expected: u64) -> SlotState {
    judge_by(FrameCrc::detect(), bytes, seq_expected)
}

/// [`judge`] with the CRC's CPU features decided by the caller, once
/// ([`FrameCrc`]): the readers that judge slot after slot (the cursor under
/// the range reader and the tailer, the segment scans) keep one, and a
/// record-sized payload's CRC takes the writer's fixed-size path.
#[inline]
pub(crate) fn judge_by(frame_crc: FrameCrc, bytes: &[u8], seq_expected: u64) -> SlotState {
    debug_assert!(bytes.len() > FRAME_PREFIX_BYTES);
    let prefix = frame::decode_prefix(bytes[..FRAME_PREFIX_BYTES].try_into().expect("16 bytes"));
    if prefix.length == 0 {
        return if is_zero(bytes) {
            SlotState::Empty
        } else {
            SlotState::Damaged(SlotDamage::ZeroLengthWithData)
        };
    }
    let payload = &bytes[FRAME_PREFIX_BYTES..];
    if prefix.length as usize != payload.len() {
        return SlotState::Damaged(SlotDamage::LengthMismatch {
            length_found: prefix.length,
        });
    }
    if prefix.crc != frame_crc.frame_of(prefix.seq, payload) {
        return SlotState::Damaged(SlotDamage::CrcMismatch);
    }
    if prefix.seq != seq_expected {
        return SlotState::Damaged(SlotDamage::SequenceMismatch {
            seq_found: prefix.seq,
        });
    }
    SlotState::Valid
}

/// True when every byte is zero (word at a time: this runs over whole segments).
#[inline]
pub fn is_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for word in &mut words {
        acc |= u64::from_le_bytes(word.try_into().expect("8 bytes"));
    }
    acc == 0 && words.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> [u8; 40] {
        let mut out = [0u8; 40];
        frame::encode(seq, &[9u8; 24], &mut out);
        out
    }

    // A frame in its own slot is valid; zeros are empty.
    #[test]
    fn valid_and_empty() {
        assert_eq!(judge(&frame(3), 3), SlotState::Valid);
        assert_eq!(judge(&[0u8; 40], 3), SlotState::Empty);
    }

    // A stale but intact frame in the wrong slot fails on its sequence.
    #[test]
    fn stale_frame_is_out_of_place() {
        assert_eq!(
            judge(&frame(3), 4),
            SlotState::Damaged(SlotDamage::SequenceMismatch { seq_found: 3 })
        );
    }

    // An event-sized frame (the readers' fixed-size CRC path) is valid in
    // its slot and a CRC mismatch with any one payload bit flipped, on every
    // path this CPU has.
    #[test]
    fn event_sized_frames_are_judged_on_every_path() {
        for size in [128usize, 64] {
            let payload: Vec<u8> = (0..size).map(|i| (i * 29 + 3) as u8).collect();
            let mut bytes = vec![0u8; FRAME_PREFIX_BYTES + size];
            frame::encode(77, &payload, &mut bytes);
            for frame_crc in FrameCrc::every_path() {
                let path = frame_crc.name();
                assert_eq!(
                    judge_by(frame_crc, &bytes, 77),
                    SlotState::Valid,
                    "{size} bytes, {path}"
                );
                for bit in [0, 8 * 8 + 5, 8 * (8 + size) - 1] {
                    let mut damaged = bytes.clone();
                    damaged[8 + bit / 8] ^= 1 << (bit % 8);
                    assert_eq!(
                        judge_by(frame_crc, &damaged, 77),
                        SlotState::Damaged(SlotDamage::CrcMismatch),
                        "{size} bytes, {path}, bit {bit} of sequence and payload"
                    );
                }
            }
        }
    }

    // A frame whose body arrived but whose length word did not is damage, not the end.
    #[test]
    fn zero_length_with_data_is_damage() {
        let mut bytes = frame(3);
        bytes[0..4].fill(0);
        assert_eq!(
            judge(&bytes, 3),
            SlotState::Damaged(SlotDamage::ZeroLengthWithData)
        );
    }
}
