//! CRC32C (Castagnoli) for the record path: the SSE4.2 `crc32` instruction
//! eight bytes at a time when the CPU has it, the `crc32c` crate otherwise.
//!
//! Any thread; no state but the standard library's cached CPU feature
//! bits. Why not the crate alone: a journal record is ~140 bytes, and the
//! crate's general path (alignment split, three-way interleave set-up for
//! long buffers, a call it does not inline) cost ~147 instructions per
//! record where the plain loop below is ~60; the writer's per-record CRC,
//! [`FrameCrc::frame`] (the payload's size known at compile time), is 17
//! `crc32`s and no loop (~27 with its call). Invariant, proved by property
//! tests against the crate: every path returns the crate's value for every
//! input and every starting CRC, so frames written either way are the same
//! bytes and either reader accepts them.
#![allow(unsafe_code)]

/// CRC32C of `data`.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_append(0, data)
}

/// CRC32C of `data` continuing from `crc` (the CRC of the bytes before it).
#[inline]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2, checked just above, which is
            // the only precondition of the `target_feature` function.
            return unsafe { x86::crc32c_append(crc, data) };
        }
    }
    portable(crc, data)
}

/// CRC32C of a frame's checked bytes, the sequence number (little endian)
/// then a payload whose size is known at compile time: the value of
/// `crc32c_append(crc32c(&seq.to_le_bytes()), payload)`, computed with the
/// sequence taken from a register and the payload's words unrolled (no
/// loop, no chunk iterator, no bounds check): the journal's per-record CRC.
/// The CPU's feature is decided once, when the value is made
/// ([`FrameCrc::detect`]), rather than on every call: the writer keeps one,
/// and each record pays a test of a kept flag instead of the standard
/// library's feature look (a load of its cache and a test, ~9 instructions
/// a record with the arguments it moved, measured with callgrind in
/// `docs/performance.md`). Invariant: `hardware` is true only when the CPU
/// has SSE4.2 (the only way to make one is `detect`), so the value is the
/// same whichever path computes it.
#[derive(Clone, Copy, Debug)]
pub struct FrameCrc {
    hardware: bool,
}

impl FrameCrc {
    /// Looks at the CPU once.
    pub fn detect() -> FrameCrc {
        #[cfg(target_arch = "x86_64")]
        let hardware = std::arch::is_x86_feature_detected!("sse4.2");
        #[cfg(not(target_arch = "x86_64"))]
        let hardware = false;
        FrameCrc { hardware }
    }

    /// The portable path whatever the CPU (for tests of both paths).
    #[cfg(test)]
    fn portable() -> FrameCrc {
        FrameCrc { hardware: false }
    }

    /// The frame CRC of `seq` and `payload`.
    #[inline(always)]
    pub fn frame<const N: usize>(self, seq: u64, payload: &[u8; N]) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if self.hardware {
            // SAFETY: `hardware` is true only when `detect` found SSE4.2
            // (the type's invariant), the only precondition of the
            // `target_feature` function.
            return unsafe { x86::crc32c_frame(seq, payload) };
        }
        portable(crc32c(&seq.to_le_bytes()), payload)
    }
}

/// The fallback on CPUs without the instruction: the crate's own choice.
#[inline]
fn portable(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};

    /// One `crc32` instruction per eight bytes, then per remaining byte.
    /// Records are short, so no interleaving across three streams: the
    /// instruction's latency chain over ~17 words is cheaper than the
    /// set-up and the combine step that interleaving needs.
    ///
    /// # Safety
    /// The CPU must support SSE4.2.
    #[target_feature(enable = "sse4.2")]
    #[allow(unused_unsafe)] // the intrinsics are safe to call here from Rust 1.87 on
    pub unsafe fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
        let mut state = u64::from(!crc);
        // Four words a turn (a record is ~17 words), then single words:
        // the same chain of `crc32`s with a quarter of the loop's steps.
        let mut blocks = data.chunks_exact(32);
        for block in &mut blocks {
            let word =
                |at: usize| u64::from_le_bytes(block[at..at + 8].try_into().expect("8 bytes"));
            // SAFETY: this function is compiled with SSE4.2, which the
            // caller guarantees the CPU has.
            state = unsafe {
                let state = _mm_crc32_u64(state, word(0));
                let state = _mm_crc32_u64(state, word(8));
                let state = _mm_crc32_u64(state, word(16));
                _mm_crc32_u64(state, word(24))
            };
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            // SAFETY: this function is compiled with SSE4.2, which the
            // caller guarantees the CPU has.
            state = unsafe { _mm_crc32_u64(state, word) };
        }
        let mut state = state as u32;
        for &byte in words.remainder() {
            // SAFETY: as above.
            state = unsafe { _mm_crc32_u8(state, byte) };
        }
        !state
    }

    /// [`super::FrameCrc::frame`] with the instruction: one `crc32` for the
    /// sequence, then one per payload word (the loop has a constant trip
    /// count and is unrolled whole), then per remaining byte.
    ///
    /// # Safety
    /// The CPU must support SSE4.2.
    #[target_feature(enable = "sse4.2")]
    #[allow(unused_unsafe)] // the intrinsics are safe to call here from Rust 1.87 on
    pub unsafe fn crc32c_frame<const N: usize>(seq: u64, payload: &[u8; N]) -> u32 {
        // SAFETY: this function is compiled with SSE4.2, which the caller
        // guarantees the CPU has.
        let mut state = unsafe { _mm_crc32_u64(u64::from(u32::MAX), seq) };
        for index in 0..N / 8 {
            let word = &payload[index * 8..index * 8 + 8];
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            // SAFETY: as above.
            state = unsafe { _mm_crc32_u64(state, word) };
        }
        let mut state = state as u32;
        for &byte in &payload[N / 8 * 8..] {
            // SAFETY: as above.
            state = unsafe { _mm_crc32_u8(state, byte) };
        }
        !state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The standard check value of CRC32C ("123456789").
    #[test]
    fn check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    // A journal-record-sized buffer (sequence + 128-byte event) agrees with
    // the crate at every split point of an append.
    #[test]
    fn appends_at_every_split_agree() {
        let data: Vec<u8> = (0..136u32).map(|i| (i * 131 + 7) as u8).collect();
        let whole = crc32c::crc32c(&data);
        for split in 0..=data.len() {
            let head = crc32c(&data[..split]);
            assert_eq!(crc32c_append(head, &data[split..]), whole, "split {split}");
        }
    }

    proptest! {
        // Any bytes, any starting CRC: the dispatching path equals the crate.
        #[test]
        fn equals_the_crate(crc in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(crc32c_append(crc, &data), crc32c::crc32c_append(crc, &data));
        }

        // The hardware loop itself (when this CPU has it) equals the crate,
        // so a host without SSE4.2 (the portable path) writes the same frames.
        #[test]
        fn hardware_loop_equals_the_crate(crc in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..600)) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("sse4.2") {
                // SAFETY: SSE4.2 was detected just above.
                let hardware = unsafe { x86::crc32c_append(crc, &data) };
                prop_assert_eq!(hardware, crc32c::crc32c_append(crc, &data));
            }
            prop_assert_eq!(portable(crc, &data), crc32c::crc32c_append(crc, &data));
        }

        // The fixed-size frame CRC equals the general path over the
        // sequence's bytes and the payload, for the journal's event size
        // and for sizes that end in a part word.
        #[test]
        fn frame_crc_equals_the_general_path(seq in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 128)) {
            let general = |payload: &[u8]| crc32c_append(crc32c(&seq.to_le_bytes()), payload);
            let event: &[u8; 128] = data.as_slice().try_into().unwrap();
            let detected = FrameCrc::detect();
            prop_assert_eq!(detected.frame(seq, event), crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), event));
            let odd: &[u8; 21] = data[..21].try_into().unwrap();
            let empty: &[u8; 0] = &[];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("sse4.2") {
                // SAFETY: SSE4.2 was detected just above.
                let hardware = unsafe { x86::crc32c_frame(seq, event) };
                prop_assert_eq!(hardware, general(event));
            }
            prop_assert_eq!(portable(crc32c(&seq.to_le_bytes()), event), general(event));
            // Both paths, the detected one and the portable one.
            for frame_crc in [FrameCrc::detect(), FrameCrc::portable()] {
                prop_assert_eq!(frame_crc.frame(seq, event), general(event));
                prop_assert_eq!(frame_crc.frame(seq, odd), general(odd));
                prop_assert_eq!(frame_crc.frame(seq, empty), general(empty));
            }
        }
    }
}
