//! The id memories' reserved memory is resident from construction
//! (`genesis_engine::recent`): a soak must not see it become resident page
//! by page as ids arrive. Its own test binary, one test: nothing else in
//! the process allocates or frees while the resident size is read.

use genesis_engine::recent::RecentMap;

#[path = "common/resident.rs"]
mod resident;
use resident::anon_resident_bytes;

// 2^20 ids: an 8 MiB ring and a table of 2^21 eight-byte buckets (16 MiB)
// plus its control bytes. Left to the kernel, only the control bytes would
// be resident before the first insert.
#[test]
fn a_new_memory_is_resident_in_full() {
    const CAPACITY: usize = 1 << 20;
    let reserved = (CAPACITY * 8 + (2 * CAPACITY) * 8) as u64;
    let before = anon_resident_bytes();
    let mut memory: RecentMap<()> = RecentMap::with_capacity(CAPACITY);
    let after = anon_resident_bytes();
    assert!(
        after - before >= reserved * 9 / 10,
        "constructing the memory made {} KiB resident of the {} KiB its ring and table reserve",
        (after - before) / 1024,
        reserved / 1024
    );
    // Still empty and usable: the filler ids are gone.
    assert!(memory.is_empty() && memory.get(0).is_none());
    assert!(memory.insert(7, ()));
    assert_eq!(memory.len(), 1);
    assert!(!memory.insert(7, ()));

    // A memory made resident on demand leaves most of it to the kernel.
    let before = anon_resident_bytes();
    let lazy: RecentMap<()> = RecentMap::with_capacity_on_demand(CAPACITY);
    let after = anon_resident_bytes();
    assert!(
        after.saturating_sub(before) < reserved / 4,
        "an on-demand memory made {} KiB resident of {} KiB",
        after.saturating_sub(before) / 1024,
        reserved / 1024
    );
    assert!(lazy.is_empty());
}
