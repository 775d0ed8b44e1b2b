//! A hint that a cache line is about to be used (`prefetcht0`), so the
//! line's fetch overlaps the work before the accesses instead of stalling
//! them. A hint only: it never faults and changes no value.

#![allow(unsafe_code)]

/// Asks for the cache line holding `addr` in every level of the cache.
/// Any address is accepted (a prefetch of an unmapped address is dropped by
/// the CPU); nothing is read or written as the program sees it.
#[inline(always)]
pub fn prefetch(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it neither reads nor writes memory as
    // the program sees it and does not fault on any address. The intrinsic
    // needs SSE, which every x86_64 CPU has.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}
