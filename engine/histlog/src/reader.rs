//! Reads an interval log line by line. A line that cannot be used (garbled,
//! or cut off at the end of the file) is skipped and recorded as [`Damage`]
//! with its line number; every good line before and after it is kept. Each
//! histogram is zlib-checksummed, so a damaged payload does not pass as data.

use std::path::Path;

use hdrhistogram::Histogram;

use super::decode::HistogramDecoder;
use super::{Damage, DamageKind, HistLogError};

/// Seconds in the year that Java/Python use to tell absolute timestamps from
/// offsets when a log has StartTime but no BaseTime.
const YEAR_S: f64 = 365.0 * 24.0 * 3600.0;

/// One interval histogram read from a log.
#[derive(Clone, Debug)]
pub struct Interval {
    /// `None` for an untagged line.
    pub tag: Option<String>,
    /// Start as written: seconds since BaseTime (or since the epoch when
    /// the log has none); see [`IntervalLog::offset_s`].
    pub start_s: f64,
    pub length_s: f64,
    /// The informational max column as written (ms for this engine's logs).
    pub max_scaled: f64,
    /// 1-based line number in the file.
    pub line_number: usize,
    pub histogram: Histogram<u64>,
}

/// Everything read from a log, and what could not be read.
#[derive(Clone, Debug, Default)]
pub struct IntervalLog {
    /// From `#[Histogram log format version X]`.
    pub format_version: Option<String>,
    /// From `#[StartTime: X …]`, seconds since the epoch (the last one seen).
    pub start_time_s: Option<f64>,
    /// From `#[BaseTime: X …]`, seconds since the epoch (the last one seen).
    pub base_time_s: Option<f64>,
    /// In file order.
    pub intervals: Vec<Interval>,
    /// In file order; empty for an intact log.
    pub damage: Vec<Damage>,
}

impl IntervalLog {
    /// Seconds from the log's start to `interval`'s start, as the Java and
    /// Python readers compute their "relative" time: StartTime defaults to
    /// the first interval's timestamp; without BaseTime, timestamps more than
    /// a year before StartTime are offsets from it, others are absolute.
    pub fn offset_s(&self, interval: &Interval) -> f64 {
        let first_start_s = self.intervals.first().map_or(0.0, |first| first.start_s);
        let start_time_s = self.start_time_s.unwrap_or(first_start_s);
        let base_time_s = match self.base_time_s {
            Some(base_time_s) => base_time_s,
            None if first_start_s < start_time_s - YEAR_S => start_time_s,
            None => 0.0,
        };
        interval.start_s + base_time_s - start_time_s
    }

    /// The distinct tags in order of first appearance (`None` = untagged).
    pub fn tags(&self) -> Vec<Option<&str>> {
        let mut tags: Vec<Option<&str>> = Vec::new();
        for interval in &self.intervals {
            let tag = interval.tag.as_deref();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }
}

/// Reads the log file at `path`; only failing to read the file is an error,
/// damage inside it is in [`IntervalLog::damage`].
pub fn read_interval_log_file(path: &Path) -> Result<IntervalLog, HistLogError> {
    let bytes = std::fs::read(path).map_err(|source| HistLogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(read_interval_log(&bytes))
}

/// Reads a whole log held in memory. Never panics.
pub fn read_interval_log(bytes: &[u8]) -> IntervalLog {
    let mut log = IntervalLog::default();
    let mut decoder = HistogramDecoder::new();
    let ends_with_newline = bytes.last() == Some(&b'\n');
    let mut lines = bytes.split(|&byte| byte == b'\n').peekable();
    let mut line_number = 0;
    while let Some(raw) = lines.next() {
        line_number += 1;
        let is_last = lines.peek().is_none();
        if is_last && ends_with_newline {
            break; // The empty piece after the final newline.
        }
        let outcome = match std::str::from_utf8(raw) {
            Ok(line) => read_line(
                &mut log,
                &mut decoder,
                line.trim_end_matches('\r'),
                line_number,
            ),
            Err(_) => Err(DamageKind::NotUtf8),
        };
        if let Err(kind) = outcome {
            log.damage.push(Damage {
                line_number,
                cut_off: is_last,
                kind,
            });
        }
    }
    log
}

/// Applies one line to `log`: a header, a comment, the legend or an interval.
fn read_line(
    log: &mut IntervalLog,
    decoder: &mut HistogramDecoder,
    line: &str,
    line_number: usize,
) -> Result<(), DamageKind> {
    if line.trim().is_empty() || line.starts_with("\"StartTimestamp\"") {
        return Ok(());
    }
    if let Some(rest) = line.strip_prefix("#[StartTime: ") {
        log.start_time_s = Some(header_seconds(rest, "StartTime")?);
    } else if let Some(rest) = line.strip_prefix("#[BaseTime: ") {
        log.base_time_s = Some(header_seconds(rest, "BaseTime")?);
    } else if let Some(rest) = line.strip_prefix("#[Histogram log format version ") {
        log.format_version = Some(rest.trim_end_matches(']').trim().to_owned());
    } else if !line.starts_with('#') {
        let interval = read_interval(decoder, line, line_number)?;
        log.intervals.push(interval);
    }
    Ok(())
}

/// The number of seconds that opens a StartTime/BaseTime header.
fn header_seconds(rest: &str, header: &'static str) -> Result<f64, DamageKind> {
    let text = rest
        .trim_start()
        .split([' ', ',', ']'])
        .next()
        .unwrap_or_default();
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
        _ => Err(DamageKind::BadHeader { header }),
    }
}

/// `[Tag=<tag>,]<start>,<length>,<max>,<base64 histogram>`
fn read_interval(
    decoder: &mut HistogramDecoder,
    line: &str,
    line_number: usize,
) -> Result<Interval, DamageKind> {
    let (tag, rest) = match line.strip_prefix("Tag=") {
        Some(after) => match after.split_once(',') {
            Some((tag, rest)) if !tag.is_empty() => (Some(tag.to_owned()), rest),
            _ => return Err(DamageKind::BadTag),
        },
        None => (None, line),
    };
    let fields: Vec<&str> = rest.splitn(4, ',').collect();
    let [start, length, max, encoded] = fields[..] else {
        return Err(DamageKind::MissingFields {
            found: fields.len(),
        });
    };
    Ok(Interval {
        tag,
        start_s: number(start, "start timestamp")?,
        length_s: number(length, "interval length")?,
        max_scaled: number(max, "interval max")?,
        line_number,
        histogram: decoder.decode_base64(encoded)?,
    })
}

fn number(text: &str, field: &'static str) -> Result<f64, DamageKind> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(DamageKind::BadNumber {
            field,
            text: text.chars().take(40).collect(),
        }),
    }
}
