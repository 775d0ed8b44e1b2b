//! [`IntervalSink`]: where a latency reporter hands finished intervals, and
//! the log writer as one. The reporter hands over absolute interval bounds
//! (ns since the epoch); the log wants offsets from the header's start time
//! and a length.

use std::io::{self, Write};

use hdrhistogram::Histogram;

use super::IntervalLogWriter;

/// Where finished intervals go (the HdrHistogram interval log).
pub trait IntervalSink: Send {
    /// One interval of one tag.
    fn write(
        &mut self,
        tag: &str,
        interval_start_ns: u64,
        interval_end_ns: u64,
        histogram: &Histogram<u64>,
    ) -> io::Result<()>;

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send> IntervalSink for IntervalLogWriter<W> {
    fn write(
        &mut self,
        tag: &str,
        interval_start_ns: u64,
        interval_end_ns: u64,
        histogram: &Histogram<u64>,
    ) -> io::Result<()> {
        // An interval that began before the header's start time is logged at 0.
        let offset_ns = interval_start_ns.saturating_sub(self.start_time_unix_ns());
        let length_ns = interval_end_ns.saturating_sub(interval_start_ns);
        self.write_interval(tag, offset_ns, length_ns, histogram)
            .map_err(io::Error::other)
    }

    fn flush(&mut self) -> io::Result<()> {
        IntervalLogWriter::flush(self).map_err(io::Error::other)
    }
}
