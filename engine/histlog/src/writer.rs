//! The interval-log writer the latency reporter owns: header once, then one
//! line per (tag, interval). Each line is assembled in a reused buffer and
//! handed to the sink with one `write_all`, so a crash leaves at most one
//! cut-off last line, which the reader reports.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use hdrhistogram::Histogram;

use super::encode::HistogramEncoder;
use super::text::{push_scaled_3, push_seconds, push_utc_date};
use super::{HistLogError, LEGEND_LINE, LOG_FORMAT_VERSION, MAX_VALUE_UNIT_RATIO};

/// Writes a standard HdrHistogram interval log to `W` (wrap a file in a
/// `BufWriter` and call [`IntervalLogWriter::flush`] after each interval).
pub struct IntervalLogWriter<W: Write> {
    sink: W,
    encoder: HistogramEncoder,
    line: String,
    /// From the header: what interval starts are offsets from.
    start_time_unix_ns: u64,
}

impl IntervalLogWriter<BufWriter<File>> {
    /// Creates (truncates) the log file at `path` and writes its header.
    pub fn create(
        path: &Path,
        start_time_unix_ns: u64,
        comment: Option<&str>,
    ) -> Result<IntervalLogWriter<BufWriter<File>>, HistLogError> {
        let file = File::create(path).map_err(|source| HistLogError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let mut writer = IntervalLogWriter::new(BufWriter::new(file));
        writer.write_header(start_time_unix_ns, comment)?;
        writer.flush()?;
        Ok(writer)
    }
}

impl<W: Write> IntervalLogWriter<W> {
    pub fn new(sink: W) -> IntervalLogWriter<W> {
        IntervalLogWriter {
            sink,
            encoder: HistogramEncoder::new(),
            line: String::new(),
            start_time_unix_ns: 0,
        }
    }

    /// Writes the header: an optional `#[…]` comment (say, what wrote the
    /// log), the format version, StartTime and BaseTime (both
    /// `start_time_unix_ns`, so interval starts are seconds since the start)
    /// and the legend line. Call once, before any interval.
    pub fn write_header(
        &mut self,
        start_time_unix_ns: u64,
        comment: Option<&str>,
    ) -> Result<(), HistLogError> {
        self.start_time_unix_ns = start_time_unix_ns;
        self.line.clear();
        if let Some(comment) = comment {
            if comment.contains(['\n', '\r']) {
                return Err(HistLogError::BadComment);
            }
            self.line.push_str("#[");
            self.line.push_str(comment);
            self.line.push_str("]\n");
        }
        self.line.push_str("#[Histogram log format version ");
        self.line.push_str(LOG_FORMAT_VERSION);
        self.line.push_str("]\n#[StartTime: ");
        push_seconds(&mut self.line, start_time_unix_ns);
        self.line.push_str(" (seconds since epoch), ");
        push_utc_date(&mut self.line, start_time_unix_ns);
        self.line.push_str("]\n#[BaseTime: ");
        push_seconds(&mut self.line, start_time_unix_ns);
        self.line.push_str(" (seconds since epoch)]\n");
        self.line.push_str(LEGEND_LINE);
        self.line.push('\n');
        self.emit()
    }

    /// Writes one interval: `tag` (no ',', ' ', '\r', '\n'; not empty),
    /// the interval's start as ns since the header's start time, its length
    /// in ns, and its histogram of ns values. Allocates nothing once the
    /// buffers have grown to fit the largest histogram.
    pub fn write_interval(
        &mut self,
        tag: &str,
        interval_start_ns: u64,
        interval_length_ns: u64,
        histogram: &Histogram<u64>,
    ) -> Result<(), HistLogError> {
        if tag.is_empty() || tag.contains([',', ' ', '\r', '\n']) {
            return Err(HistLogError::BadTag {
                tag: tag.to_owned(),
            });
        }
        self.line.clear();
        self.line.push_str("Tag=");
        self.line.push_str(tag);
        self.line.push(',');
        push_seconds(&mut self.line, interval_start_ns);
        self.line.push(',');
        push_seconds(&mut self.line, interval_length_ns);
        self.line.push(',');
        push_scaled_3(&mut self.line, histogram.max(), MAX_VALUE_UNIT_RATIO);
        self.line.push(',');
        self.encoder.encode_base64(tag, histogram, &mut self.line)?;
        self.line.push('\n');
        self.emit()
    }

    /// Grows the buffers to fit `widest` without writing anything, so that
    /// later intervals whose histograms encode no larger allocate nothing.
    /// Call at start-up with a histogram of the stages' bounds that has a
    /// count in every sub-bucket (the largest encoding those bounds allow).
    pub fn reserve_for(&mut self, widest: &Histogram<u64>) -> Result<(), HistLogError> {
        self.line.clear();
        let result = self
            .encoder
            .encode_base64("reserve", widest, &mut self.line);
        // Room for the tag and numbers around the histogram text too.
        self.line.reserve(256);
        self.line.clear();
        result
    }

    /// Writes a `#` comment line anywhere in the log.
    pub fn write_comment(&mut self, comment: &str) -> Result<(), HistLogError> {
        if comment.contains(['\n', '\r']) {
            return Err(HistLogError::BadComment);
        }
        self.line.clear();
        self.line.push('#');
        self.line.push_str(comment);
        self.line.push('\n');
        self.emit()
    }

    /// The header's start time (0 before [`Self::write_header`]).
    pub fn start_time_unix_ns(&self) -> u64 {
        self.start_time_unix_ns
    }

    /// Flushes the sink, so readers see every interval written so far.
    pub fn flush(&mut self) -> Result<(), HistLogError> {
        self.sink
            .flush()
            .map_err(|source| HistLogError::Write { source })
    }

    /// The sink back, for tests and for closing a file explicitly.
    pub fn into_inner(self) -> W {
        self.sink
    }

    fn emit(&mut self) -> Result<(), HistLogError> {
        self.sink
            .write_all(self.line.as_bytes())
            .map_err(|source| HistLogError::Write { source })
    }
}
