//! The interval-log writer allocates nothing per interval once its buffers
//! have been sized with `reserve_for`, so the reporter thread stays quiet.

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;

use common::{sample_histogram, SECOND_NS, START_TIME_UNIX_NS, TAGS};
use genesis_histlog::new_latency_histogram as new_histogram;
use genesis_histlog::IntervalLogWriter;

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

    let allocations = counting_alloc::allocations_in(|| {
        for (tag, second, histogram) in &intervals {
            writer
                .write_interval(tag, second * SECOND_NS, SECOND_NS, histogram)
                .unwrap();
        }
        writer
            .write_interval("widest", 0, SECOND_NS, &widest)
            .unwrap();
    });

    assert_eq!(allocations, 0, "allocations while writing");
}
