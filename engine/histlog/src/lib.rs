//! HdrHistogram interval logs: written by the engine's latency reporter, read
//! by `histo-dump`, and readable by the Java and Python HdrHistogram tools.
//!
//! A log is text. The header is written once:
//!
//! ```text
//! #[Histogram log format version 1.3]
//! #[StartTime: 1700000000.000 (seconds since epoch), 2023-11-14T22:13:20.000Z]
//! #[BaseTime: 1700000000.000 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! ```
//!
//! then one line per interval per tag:
//! `Tag=<tag>,<start s>,<length s>,<max ms>,<base64 V2-deflate histogram>`.
//! Start timestamps are seconds since BaseTime; the max column is the
//! histogram's max divided by [`MAX_VALUE_UNIT_RATIO`] (ns to ms, as the Java
//! writer does) and is informational only: readers take values from the
//! histogram itself.
//!
//! Ownership: one [`IntervalLogWriter`] belongs to the reporter thread (as
//! its [`IntervalSink`]); it
//! reuses its buffers, so writing an interval allocates nothing once the
//! buffers have grown to the largest histogram seen. Reading
//! ([`read_interval_log`]) is for tools: it never panics on bad input, skips a
//! damaged line, and lists each damage with its line number.
//!
//! Pitfalls this module exists to avoid: the `hdrhistogram` crate's plain V2
//! serializer is refused by the Java/Python readers (we always deflate), and
//! its log writer omits the version and legend lines (we write them).

mod decode;
mod encode;
mod error;
mod reader;
mod sink;
mod text;
mod writer;

pub use decode::HistogramDecoder;
pub use encode::HistogramEncoder;
pub use error::{Damage, DamageKind, HistLogError};
pub use reader::{read_interval_log, read_interval_log_file, Interval, IntervalLog};
pub use sink::IntervalSink;
pub use writer::IntervalLogWriter;

/// The log format version this writer produces (the Java writer's current one).
pub const LOG_FORMAT_VERSION: &str = "1.3";

/// The legend line every Java/Python-written log carries after the header.
pub const LEGEND_LINE: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// Divisor for the informational max column: histograms hold ns, the column
/// shows ms, like the Java writer's default `maxValueUnitRatio`.
pub const MAX_VALUE_UNIT_RATIO: u64 = 1_000_000;

/// Highest value the latency histograms written here track: 100 s in ns;
/// anything above saturates.
pub const LATENCY_NS_MAX: u64 = 100_000_000_000;

/// An empty latency histogram as the engine records them: 1 ns to
/// [`LATENCY_NS_MAX`], three significant digits.
pub fn new_latency_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3)
        .expect("static histogram bounds are valid")
}

/// V2 cookie with the 8-byte word-size bits, as every implementation writes it.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
/// V2 + DEFLATE (zlib) cookie.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

#[cfg(test)]
mod tests;
