//! The interval-log writer allocates nothing per interval once its buffers
//! have been sized with `reserve_for`, so the reporter thread stays quiet.

// A counting global allocator needs `unsafe impl GlobalAlloc`: fenced to this test.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{sample_histogram, SECOND_NS, START_TIME_UNIX_NS, TAGS};
use genesis_engine::histlog::IntervalLogWriter;
use genesis_engine::metrics::new_histogram;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call unchanged to the system allocator; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours, passed through.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours, passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// After reserve_for with a histogram that fills every sub-bucket, 300 intervals allocate nothing.
#[test]
fn writing_intervals_allocates_nothing_after_reserve() {
    let mut widest = new_histogram();
    let mut value_ns: f64 = 1.0;
    while value_ns < 1e11 {
        widest.record(value_ns as u64).unwrap();
        value_ns = value_ns * 1.0004 + 1.0;
    }
    let intervals: Vec<_> = (0..100u64)
        .flat_map(|second| {
            TAGS.into_iter().enumerate().map(move |(index, tag)| {
                (
                    tag,
                    second,
                    sample_histogram(second * 7 + index as u64, 5_000, 1 + second % 3),
                )
            })
        })
        .collect();
    let mut writer = IntervalLogWriter::new(std::io::sink());
    writer.write_header(START_TIME_UNIX_NS, None).unwrap();
    writer.reserve_for(&widest).unwrap();

    COUNTING.with(|c| c.set(true));
    for (tag, second, histogram) in &intervals {
        writer
            .write_interval(tag, second * SECOND_NS, SECOND_NS, histogram)
            .unwrap();
    }
    writer
        .write_interval("widest", 0, SECOND_NS, &widest)
        .unwrap();
    COUNTING.with(|c| c.set(false));

    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations while writing"
    );
}
