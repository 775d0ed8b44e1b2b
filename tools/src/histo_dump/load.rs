//! Reads a log through `genesis_histlog`, keeps the selected
//! intervals (--tag, --from, --to) and adds them into one histogram per tag.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use genesis_histlog::{read_interval_log_file, Damage, DamageKind, Interval, IntervalLog};
use hdrhistogram::Histogram;

/// Which intervals to keep.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub tag: Option<String>,
    /// Seconds from the log's start, inclusive.
    pub from_s: Option<f64>,
    /// Seconds from the log's start, inclusive.
    pub to_s: Option<f64>,
}

impl Selection {
    /// No tag, no time bounds: every interval of the log.
    pub fn is_everything(&self) -> bool {
        self.tag.is_none() && self.from_s.is_none() && self.to_s.is_none()
    }

    fn keeps(&self, log: &IntervalLog, interval: &Interval) -> bool {
        if let Some(tag) = &self.tag {
            if interval.tag.as_deref() != Some(tag.as_str()) {
                return false;
            }
        }
        let offset_s = log.offset_s(interval);
        let too_early = matches!(self.from_s, Some(from_s) if offset_s < from_s);
        let too_late = matches!(self.to_s, Some(to_s) if offset_s > to_s);
        !too_early && !too_late
    }
}

/// All selected intervals of one tag, added together.
#[derive(Clone, Debug)]
pub struct TagHistogram {
    /// `None` for untagged lines.
    pub tag: Option<String>,
    pub interval_count: usize,
    pub histogram: Histogram<u64>,
}

impl TagHistogram {
    /// The tag as printed: untagged lines show as `(untagged)`.
    pub fn name(&self) -> &str {
        self.tag.as_deref().unwrap_or("(untagged)")
    }
}

/// One log, reduced to a histogram per tag.
#[derive(Clone, Debug)]
pub struct LoadedLog {
    pub path: PathBuf,
    /// In order of first appearance in the log.
    pub tags: Vec<TagHistogram>,
    pub damage: Vec<Damage>,
}

/// Reads `path` and merges the intervals `selection` keeps. Damage is data;
/// only an unreadable file or a --tag missing from the log is an error.
pub fn load(path: &Path, selection: &Selection) -> anyhow::Result<LoadedLog> {
    let log = read_interval_log_file(path)?;
    if let Some(tag) = &selection.tag {
        if !log.intervals.iter().any(|i| i.tag.as_deref() == Some(tag)) {
            let found: Vec<&str> = log.tags().into_iter().flatten().collect();
            bail!(
                "{}: no interval has tag {tag:?} (tags: {})",
                path.display(),
                found.join(", ")
            );
        }
    }
    let mut tags: Vec<TagHistogram> = Vec::new();
    let mut damage = log.damage.clone();
    for interval in log.intervals.iter().filter(|i| selection.keeps(&log, i)) {
        let index = match tags.iter().position(|t| t.tag == interval.tag) {
            Some(index) => index,
            None => {
                tags.push(empty_like(interval).with_context(|| {
                    format!("{}: line {}", path.display(), interval.line_number)
                })?);
                tags.len() - 1
            }
        };
        let merged = &mut tags[index];
        match merged.histogram.add(&interval.histogram) {
            Ok(()) => merged.interval_count += 1,
            Err(error) => damage.push(Damage {
                line_number: interval.line_number,
                cut_off: false,
                kind: DamageKind::BadHistogram {
                    reason: format!("cannot be added to the tag's other intervals: {error:?}"),
                },
            }),
        }
    }
    damage.sort_by_key(|d| d.line_number);
    Ok(LoadedLog {
        path: path.to_path_buf(),
        tags,
        damage,
    })
}

/// An empty, auto-resizing histogram with `interval`'s precision.
fn empty_like(interval: &Interval) -> anyhow::Result<TagHistogram> {
    let source = &interval.histogram;
    let mut histogram = Histogram::new_with_bounds(source.low(), source.high(), source.sigfig())
        .context("histogram bounds")?;
    histogram.auto(true);
    Ok(TagHistogram {
        tag: interval.tag.clone(),
        interval_count: 0,
        histogram,
    })
}
