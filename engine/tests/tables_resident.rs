//! Tables sized at start-up and written sparsely over a run are resident
//! before the run (`genesis_engine::sys::resident`): the latency tallies'
//! buckets (one page per power of two of latency; made resident when a
//! reporter attaches the stage) and the circuit breakers' sample rings
//! (their cursor walks at the pace of mid changes; resident when built).
//! Left to the kernel they became resident page by page for minutes after
//! warm-up, the soak's slope. Its own test binary, one test: nothing else
//! in the process allocates or frees while the resident size is read.

use genesis_engine::risk::breaker::CircuitBreaker;
use genesis_engine::telemetry::tally::Tally;

#[path = "common/resident.rs"]
mod resident;
use resident::anon_resident_bytes;

/// Resident bytes `make` adds, and what it returned (kept alive).
fn resident_growth<T>(make: impl FnOnce() -> T) -> (u64, T) {
    let before = anon_resident_bytes();
    let made = make();
    (anon_resident_bytes().saturating_sub(before), made)
}

// 64 breakers (two 4,096-sample rings of 16 bytes each: 8 MiB) are ≥ 90 %
// resident right after construction, and 32 tallies (28,672 four-byte
// counts and as many two-byte indexes: 5.25 MiB) right after
// `make_resident`; the same bytes taken with `vec![0; n]` (calloc), and
// new tallies, are not, which shows the measure can tell.
#[test]
fn breakers_and_tallies_are_resident_when_built() {
    const BREAKERS: usize = 64;
    const TALLIES: usize = 32;
    let breaker_bytes = (BREAKERS * 2 * 4_096 * 16) as u64;
    let tally_bytes = (TALLIES * 28 * 1_024 * (4 + 2)) as u64;

    let (lazy, calloced) = resident_growth(|| {
        (0..BREAKERS)
            .map(|_| vec![0u64; 2 * 4_096 * 2])
            .collect::<Vec<_>>()
    });
    assert!(
        lazy < breaker_bytes / 4,
        "calloc'd vectors made {} KiB of {} KiB resident: the measure cannot tell",
        lazy / 1024,
        breaker_bytes / 1024
    );

    let (grown, mut breakers) = resident_growth(|| {
        (0..BREAKERS)
            .map(|_| CircuitBreaker::new(500, 1_000_000_000, 5_000_000_000))
            .collect::<Vec<_>>()
    });
    assert!(
        grown >= breaker_bytes * 9 / 10,
        "building {BREAKERS} breakers made {} KiB resident of the {} KiB their rings reserve",
        grown / 1024,
        breaker_bytes / 1024
    );
    // A tally is built lazily (the reporter's totals carry two that are
    // never written) and made resident when a reporter attaches its stage.
    let (lazy, mut tallies) =
        resident_growth(|| (0..TALLIES).map(|_| Tally::new()).collect::<Vec<_>>());
    assert!(
        lazy < tally_bytes / 4,
        "{TALLIES} new tallies are already {} KiB resident of {} KiB",
        lazy / 1024,
        tally_bytes / 1024
    );
    let (grown, ()) = resident_growth(|| tallies.iter_mut().for_each(Tally::make_resident));
    assert!(
        grown >= tally_bytes * 9 / 10,
        "making {TALLIES} tallies resident made {} KiB resident of the {} KiB they reserve",
        grown / 1024,
        tally_bytes / 1024
    );

    // Still empty and usable.
    assert!(tallies.iter().all(Tally::is_empty));
    tallies[0].record(1_234);
    assert!(!tallies[0].is_empty());
    assert!(!breakers[0].on_mid(1, 100), "a first mid halts nothing");
    drop(calloced);
}
