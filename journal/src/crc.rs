//! CRC32C (Castagnoli) for the record path: the SSE4.2 `crc32` instruction
//! eight bytes at a time when the CPU has it, the `crc32c` crate otherwise.
//!
//! Any thread; no state but the standard library's cached CPU feature
//! bits. Why not the crate alone: a journal record is ~140 bytes, and the
//! crate's general path (alignment split, three-way interleave set-up for
//! long buffers, a call it does not inline) cost ~147 instructions per
//! record where the plain loop below is ~60. The per-record CRC,
//! [`FrameCrc::frame`] (the payload's size known at compile time; the
//! writer's, and the readers' slot check for event-sized records), is 17
//! `crc32`s and no loop. One chain of them is ~3 cycles each, ~51 a record,
//! the latency the fused thread waited on; with PCLMULQDQ too it runs as
//! three independent chains (4 / 4 / 9 words for a 128-byte event) joined by
//! two carry-less multiplies, Intel's "Fast CRC computation for iSCSI
//! polynomial using CRC32 instruction" combine, its constants computed by a
//! `const fn` ([`x_pow_mod_p`]). Invariant, proved by property tests
//! against the crate: every path (portable, serial, interleaved) returns
//! the crate's value for every input and every starting CRC, so frames
//! written either way are the same bytes and every reader accepts them.
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
/// The CPU's features are decided once, when the value is made
/// ([`FrameCrc::detect`]), rather than on every call: the writer keeps one,
/// and each record pays a test of a kept tag instead of the standard
/// library's feature look (a load of its cache and a test, ~9 instructions
/// a record with the arguments it moved, measured with callgrind in
/// `docs/performance.md`). Invariant: the path is `Interleaved` only when
/// the CPU has SSE4.2 and PCLMULQDQ, `Serial` only when it has SSE4.2 (the
/// only ways to make one are `detect` and, in tests, constructors that
/// check the same), so the value is the same whichever path computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCrc {
    path: FramePath,
}

/// How [`FrameCrc`] computes a frame's CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FramePath {
    /// Three independent chains of `crc32` joined by carry-less multiplies
    /// (SSE4.2 and PCLMULQDQ): ~a third of the serial chain's latency.
    #[cfg(target_arch = "x86_64")]
    Interleaved,
    /// One chain of `crc32`s (SSE4.2 without PCLMULQDQ, e.g. Nehalem).
    #[cfg(target_arch = "x86_64")]
    Serial,
    /// The crate, on CPUs without the instruction.
    Portable,
}

impl FrameCrc {
    /// Looks at the CPU once.
    pub fn detect() -> FrameCrc {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("sse4.2") {
                let path = if std::arch::is_x86_feature_detected!("pclmulqdq") {
                    FramePath::Interleaved
                } else {
                    FramePath::Serial
                };
                return FrameCrc { path };
            }
        }
        FrameCrc {
            path: FramePath::Portable,
        }
    }

    /// Every path this CPU can run, the portable one first (for tests and
    /// the bench that compares them).
    pub fn every_path() -> Vec<FrameCrc> {
        let mut paths = vec![FrameCrc {
            path: FramePath::Portable,
        }];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("sse4.2") {
                paths.push(FrameCrc {
                    path: FramePath::Serial,
                });
                if std::arch::is_x86_feature_detected!("pclmulqdq") {
                    paths.push(FrameCrc {
                        path: FramePath::Interleaved,
                    });
                }
            }
        }
        paths
    }

    /// The path's name, for benches and reports.
    pub fn name(self) -> &'static str {
        match self.path {
            #[cfg(target_arch = "x86_64")]
            FramePath::Interleaved => "interleaved",
            #[cfg(target_arch = "x86_64")]
            FramePath::Serial => "serial",
            FramePath::Portable => "portable",
        }
    }

    /// The frame CRC of `seq` and `payload`.
    #[inline(always)]
    pub fn frame<const N: usize>(self, seq: u64, payload: &[u8; N]) -> u32 {
        match self.path {
            // SAFETY: `Interleaved` only when the CPU has SSE4.2 and
            // PCLMULQDQ (the type's invariant), the only precondition of the
            // `target_feature` function.
            #[cfg(target_arch = "x86_64")]
            FramePath::Interleaved => unsafe { x86::crc32c_frame_interleaved(seq, payload) },
            // SAFETY: `Serial` only when the CPU has SSE4.2 (the type's
            // invariant), the only precondition of the `target_feature`
            // function.
            #[cfg(target_arch = "x86_64")]
            FramePath::Serial => unsafe { x86::crc32c_frame(seq, payload) },
            FramePath::Portable => portable(crc32c(&seq.to_le_bytes()), payload),
        }
    }

    /// The frame CRC of `seq` and a payload whose size is known only at run
    /// time (a reader's slot): [`FrameCrc::frame`] when it is one of the
    /// event sizes the engine uses (128 or 64 bytes), else the general path.
    /// The same value either way.
    #[inline]
    pub fn frame_of(self, seq: u64, payload: &[u8]) -> u32 {
        if let Ok(event) = <&[u8; 128]>::try_from(payload) {
            return self.frame(seq, event);
        }
        if let Ok(event) = <&[u8; 64]>::try_from(payload) {
            return self.frame(seq, event);
        }
        crc32c_append(crc32c(&seq.to_le_bytes()), payload)
    }
}

/// `x^n mod P` in the bit-reflected form the `crc32` instruction uses (bit
/// 31 is `x^0`, bit 0 is `x^31`; P is CRC32C's polynomial, reflected
/// `0x82F63B78`): starting from `x^0`, each multiply by `x` is a shift right,
/// and the `x^32` that falls out of bit 0 is replaced by P's lower terms.
/// Evaluated at compile time for the interleaved frame CRC's constants.
pub(crate) const fn x_pow_mod_p(n: u32) -> u32 {
    const POLY_REFLECTED: u32 = 0x82F6_3B78;
    let mut value = 0x8000_0000u32;
    let mut step = 0;
    while step < n {
        value = if value & 1 == 1 {
            (value >> 1) ^ POLY_REFLECTED
        } else {
            value >> 1
        };
        step += 1;
    }
    value
}

/// How the interleaved frame CRC splits a frame's `words` quadwords (the
/// sequence, then the payload's whole words) into three lanes `(a, b, c)`,
/// `a + b + c == words`: lane C, whose CRC feeds the final `crc32` without a
/// carry-less multiply, carries about five words more than A and B, so the
/// three chains end about together (A's and B's states still pass two
/// moves between register files, a multiply and two xors, ~11 cycles, about
/// three `crc32`s, and C's last word waits for them). 17 words (a 128-byte
/// event) split 4 / 4 / 9; the bench `frame_crc` compared 5 / 5 / 7 and
/// 3 / 3 / 11 (`docs/performance.md`).
pub(crate) const fn lanes(words: usize) -> (usize, usize, usize) {
    let a = words.saturating_sub(5) / 3;
    (a, a, words - 2 * a)
}

/// Fewest quadwords the interleaved path splits (lanes of at least one,
/// one and six words); shorter frames take the serial chain, too short for
/// the join to pay.
pub(crate) const INTERLEAVE_WORDS_MIN: usize = 8;

/// The fallback on CPUs without the instruction: the crate's own choice.
#[inline]
fn portable(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_crc32_u64, _mm_crc32_u8, _mm_cvtsi128_si64, _mm_cvtsi32_si128,
    };

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

    /// [`super::FrameCrc::frame`] in three lanes: the frame's quadwords
    /// (the sequence, then the payload's whole words) split as
    /// [`super::lanes`] says, lane A from the frame's initial CRC and lanes
    /// B and C from zero, each a chain of `crc32`s independent of the
    /// others, so the CPU runs them side by side. They are joined as in
    /// Intel's "Fast CRC computation for iSCSI polynomial using CRC32
    /// instruction": a CRC state `s` followed by `m` more bytes contributes
    /// `s·x^(8m) mod P` to the state after them, and folding a 64-bit value
    /// into the last word's `crc32` multiplies it by `x^32`, while a
    /// carry-less multiply of two reflected 32-bit values yields their
    /// product times `x`; so lane A's and lane B's states, multiplied by
    /// `x^(8m − 33) mod P` for their `m` following bytes, are xored into lane
    /// C's last word, whose `crc32` finishes the frame. Then the payload's
    /// remaining bytes, one `crc32` each. The value is the serial chain's
    /// (property tests against the crate); the longest chain is lane C's
    /// seven `crc32`s instead of seventeen for a 128-byte payload.
    ///
    /// # Safety
    /// The CPU must support SSE4.2 and PCLMULQDQ.
    #[target_feature(enable = "sse4.2,pclmulqdq")]
    #[allow(unused_unsafe)] // the intrinsics are safe to call here from Rust 1.87 on
    pub unsafe fn crc32c_frame_interleaved<const N: usize>(seq: u64, payload: &[u8; N]) -> u32 {
        let words = 1 + N / 8;
        if words < super::INTERLEAVE_WORDS_MIN {
            // SAFETY: this function is compiled with SSE4.2, which the
            // caller guarantees the CPU has, the callee's only precondition.
            return unsafe { crc32c_frame(seq, payload) };
        }
        let (a, b, c) = const { super::lanes(1 + N / 8) };
        // Lane A's state passes lanes B's and C's bytes, lane B's lane C's.
        let k_a = const {
            let (_, b, c) = super::lanes(1 + N / 8);
            super::x_pow_mod_p((64 * (b + c) - 33) as u32)
        };
        let k_b = const {
            let (_, _, c) = super::lanes(1 + N / 8);
            super::x_pow_mod_p((64 * c - 33) as u32)
        };
        // Quadword `index` of the frame: the sequence, then payload words.
        let word = |index: usize| -> u64 {
            if index == 0 {
                return seq;
            }
            let at = (index - 1) * 8;
            u64::from_le_bytes(payload[at..at + 8].try_into().expect("8 bytes"))
        };
        let mut state_a = u64::from(u32::MAX);
        let mut state_b = 0u64;
        let mut state_c = 0u64;
        // One step of each lane a turn (constant trip count, unrolled whole):
        // three independent chains, lane C's last word kept for the join.
        for step in 0..c - 1 {
            // SAFETY: this function is compiled with SSE4.2, which the
            // caller guarantees the CPU has.
            unsafe {
                if step < a {
                    state_a = _mm_crc32_u64(state_a, word(step));
                }
                if step < b {
                    state_b = _mm_crc32_u64(state_b, word(a + step));
                }
                state_c = _mm_crc32_u64(state_c, word(a + b + step));
            }
        }
        // SAFETY: compiled with SSE4.2 and PCLMULQDQ, which the caller
        // guarantees the CPU has (`clmul`'s only precondition, and the
        // `crc32` intrinsic's).
        let mut state = unsafe {
            let folded = clmul(state_a as u32, k_a) ^ clmul(state_b as u32, k_b);
            _mm_crc32_u64(state_c, word(words - 1) ^ folded) as u32
        };
        for &byte in &payload[N / 8 * 8..] {
            // SAFETY: as above.
            state = unsafe { _mm_crc32_u8(state, byte) };
        }
        !state
    }

    /// The carry-less product of two 32-bit values (63 bits).
    ///
    /// # Safety
    /// The CPU must support PCLMULQDQ.
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    #[allow(unused_unsafe)] // the intrinsics are safe to call here from Rust 1.87 on
    unsafe fn clmul(a: u32, b: u32) -> u64 {
        // SAFETY: this function is compiled with PCLMULQDQ, which the
        // caller guarantees the CPU has; SSE2 is x86_64's baseline.
        unsafe {
            let product = _mm_clmulepi64_si128(
                _mm_cvtsi32_si128(a as i32),
                _mm_cvtsi32_si128(b as i32),
                0x00,
            );
            _mm_cvtsi128_si64(product) as u64
        }
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

        // The fixed-size frame CRC equals the crate over the sequence's
        // bytes and the payload on every path this CPU has (portable,
        // serial, interleaved), for every payload size the code
        // instantiates: the journal's event (128) and its other event size
        // (64), sizes that end in a part word, sizes at and around the
        // interleaved path's smallest split, and empty.
        #[test]
        fn frame_crc_equals_the_crate_on_every_path(seq in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 200)) {
            for frame_crc in FrameCrc::every_path() {
                check_sizes(frame_crc, seq, &data)?;
            }
            // The detected path is one of them, and agrees too.
            check_sizes(FrameCrc::detect(), seq, &data)?;
        }

        // A reader's run-time-sized slot gives the same CRC as the crate for
        // every length, on every path.
        #[test]
        fn frame_of_equals_the_crate(seq in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
            for frame_crc in FrameCrc::every_path() {
                prop_assert_eq!(frame_crc.frame_of(seq, &data), crate_frame(seq, &data), "{} path, {} bytes", frame_crc.name(), data.len());
            }
        }
    }

    /// The crate's CRC of a frame's checked bytes: the oracle.
    fn crate_frame(seq: u64, payload: &[u8]) -> u32 {
        crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
    }

    fn check_size<const N: usize>(
        frame_crc: FrameCrc,
        seq: u64,
        data: &[u8],
    ) -> Result<(), TestCaseError> {
        let payload: &[u8; N] = data[..N].try_into().unwrap();
        prop_assert_eq!(
            frame_crc.frame(seq, payload),
            crate_frame(seq, payload),
            "{} path, {} bytes",
            frame_crc.name(),
            N
        );
        Ok(())
    }

    fn check_sizes(frame_crc: FrameCrc, seq: u64, data: &[u8]) -> Result<(), TestCaseError> {
        check_size::<128>(frame_crc, seq, data)?;
        check_size::<64>(frame_crc, seq, data)?;
        check_size::<0>(frame_crc, seq, data)?;
        check_size::<8>(frame_crc, seq, data)?;
        check_size::<21>(frame_crc, seq, data)?;
        check_size::<40>(frame_crc, seq, data)?;
        check_size::<55>(frame_crc, seq, data)?;
        check_size::<56>(frame_crc, seq, data)?;
        check_size::<63>(frame_crc, seq, data)?;
        check_size::<127>(frame_crc, seq, data)?;
        check_size::<136>(frame_crc, seq, data)?;
        check_size::<200>(frame_crc, seq, data)?;
        Ok(())
    }

    // The constants' arithmetic: x^31 is the lowest bit, x^32 reduces to
    // the polynomial's lower terms, and multiplying by x^32 (one `crc32`
    // of a zero word's worth of shift, checked with the crate) agrees.
    #[test]
    fn powers_of_x_reduce_by_the_polynomial() {
        assert_eq!(x_pow_mod_p(0), 0x8000_0000);
        assert_eq!(x_pow_mod_p(31), 1);
        assert_eq!(x_pow_mod_p(32), 0x82F6_3B78);
        assert_eq!(x_pow_mod_p(33), 0x82F6_3B78 >> 1);
    }

    // The lanes cover every word, and a 128-byte event splits 4 / 4 / 9.
    #[test]
    fn lanes_cover_every_word() {
        assert_eq!(lanes(17), (4, 4, 9));
        for words in INTERLEAVE_WORDS_MIN..64 {
            let (a, b, c) = lanes(words);
            assert_eq!(a + b + c, words, "{words} words");
            assert!(a >= 1 && b >= 1 && c >= 2, "{words} words: {a} / {b} / {c}");
        }
    }

    // On this CPU every path the features allow is tried: a test host with
    // SSE4.2 and PCLMULQDQ proves the interleaved path, not only the portable one.
    #[test]
    fn every_path_lists_what_the_cpu_has() {
        let paths = FrameCrc::every_path();
        assert!(paths.contains(&FrameCrc::detect()));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sse4.2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
        {
            let names: Vec<&str> = paths.iter().map(|path| path.name()).collect();
            assert_eq!(names, ["portable", "serial", "interleaved"]);
            assert_eq!(FrameCrc::detect().name(), "interleaved");
        }
    }
}
