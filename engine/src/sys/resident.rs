//! Memory reserved at start-up made resident at start-up.
//!
//! glibc's `calloc` (what `vec![0; n]` becomes) hands out memory fresh from
//! the kernel without writing it, and so does `malloc` for a `Vec`'s spare
//! capacity: such pages become resident one by one as the program first
//! writes them. For a table written sparsely over a run (a histogram's
//! buckets, a ring whose cursor walks slowly) that reads as a leak in a
//! soak, minutes after warm-up. Such tables are built with
//! [`resident_vec`] (or [`make_spare_resident`] on their reserved
//! capacity), or, already built zeroed, passed through [`touch_pages`]:
//! every page is written once, up front.
//!
//! Owning thread: whichever owns the table. Invariant: no element and no
//! length changes; only a vector's spare capacity (allocated, not yet
//! initialised) is written with bytes of no meaning.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

/// Bytes between two writes: the smallest page size Linux uses.
const PAGE_BYTES: usize = 4096;

/// Writes one byte in every page of `vec`'s spare capacity, so the kernel
/// backs all of it now. The length and the elements are untouched.
pub fn make_spare_resident<T>(vec: &mut Vec<T>) {
    let spare: &mut [MaybeUninit<T>] = vec.spare_capacity_mut();
    let bytes = std::mem::size_of_val(spare);
    let base = spare.as_mut_ptr().cast::<u8>();
    let mut offset = 0;
    while offset < bytes {
        // SAFETY: `offset < bytes`, so the byte lies inside the spare
        // capacity, which this vector allocated and owns exclusively
        // (`&mut`) and which holds no initialised element: writing any
        // byte there is sound. Volatile, so the write is not removed as
        // dead (nothing reads it) nor merged into a `calloc`.
        unsafe { std::ptr::write_volatile(base.add(offset), 0) };
        offset += PAGE_BYTES;
    }
    if bytes > 0 {
        // SAFETY: as above, for the spare capacity's last byte.
        unsafe { std::ptr::write_volatile(base.add(bytes - 1), 0) };
    }
}

/// Rewrites one element in every page of `memory` with its own value, so
/// the kernel backs all of it now (for memory already allocated zeroed,
/// such as a `calloc`'d table). The values are unchanged.
pub fn touch_pages<T: Copy>(memory: &mut [T]) {
    let step = (PAGE_BYTES / std::mem::size_of::<T>().max(1)).max(1);
    let mut index = 0;
    while index < memory.len() {
        let element: *mut T = &mut memory[index];
        // SAFETY: `element` comes from a live `&mut` to an initialised
        // element, so reading it and writing the same value back is sound.
        // Volatile, so neither is removed as a no-op.
        unsafe { std::ptr::write_volatile(element, std::ptr::read_volatile(element)) };
        index += step;
    }
    if let Some(last) = memory.last_mut() {
        let element: *mut T = last;
        // SAFETY: as above, for the last element.
        unsafe { std::ptr::write_volatile(element, std::ptr::read_volatile(element)) };
    }
}

/// A vector of `len` copies of `value` whose pages are all resident.
pub fn resident_vec<T: Clone>(len: usize, value: T) -> Vec<T> {
    let mut vec = Vec::with_capacity(len);
    make_spare_resident(&mut vec);
    vec.resize(len, value);
    vec
}

#[cfg(test)]
mod tests {
    use super::*;

    // The spare capacity is written, the elements are not.
    #[test]
    fn elements_are_kept_and_length_unchanged() {
        let mut vec: Vec<u32> = Vec::with_capacity(10_000);
        vec.extend([7, 8, 9]);
        make_spare_resident(&mut vec);
        assert_eq!(vec, [7, 8, 9]);
        assert!(vec.capacity() >= 10_000);
        let mut empty: Vec<u64> = Vec::new();
        make_spare_resident(&mut empty);
        assert!(empty.is_empty());
        let mut values: Vec<u16> = (0..9_000).collect();
        touch_pages(&mut values);
        assert!(values.iter().copied().eq(0..9_000));
        touch_pages::<u64>(&mut []);
        let filled = resident_vec(5_000, (1u64, 2i64));
        assert_eq!(filled.len(), 5_000);
        assert!(filled.iter().all(|&s| s == (1, 2)));
    }
}
