//! JSON shapes of the report and the comparison, and the text comparison.

use std::io::{self, Write};

use genesis_histlog::Damage;
use serde::Serialize;

use super::args::Unit;
use super::load::{LoadedLog, TagHistogram};
use super::table::{SummaryRow, VALUE_LABELS};

/// A damaged line, for JSON.
#[derive(Clone, Debug, Serialize)]
pub struct DamageReport {
    pub line: usize,
    pub cut_off: bool,
    pub what: String,
}

impl DamageReport {
    fn of(damage: &Damage) -> DamageReport {
        DamageReport {
            line: damage.line_number,
            cut_off: damage.cut_off,
            what: damage.kind.to_string(),
        }
    }
}

/// One log's report, for JSON. Latencies are integer nanoseconds.
#[derive(Clone, Debug, Serialize)]
pub struct LogReport {
    pub log: String,
    pub tags: Vec<SummaryRow>,
    pub damage: Vec<DamageReport>,
}

impl LogReport {
    pub fn of(log: &LoadedLog) -> LogReport {
        LogReport {
            log: log.path.display().to_string(),
            tags: log.tags.iter().map(SummaryRow::of).collect(),
            damage: log.damage.iter().map(DamageReport::of).collect(),
        }
    }
}

/// One tag in both logs: both rows and LOG / OTHER per figure.
#[derive(Clone, Debug, Serialize)]
pub struct TagComparison {
    pub tag: Option<String>,
    pub log: SummaryRow,
    pub other: SummaryRow,
    /// `count`, then `p50` … `max`: LOG / OTHER, `null` where OTHER is 0.
    pub ratio: Vec<(&'static str, Option<f64>)>,
}

/// The whole comparison, for JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub log: LogReport,
    pub other: LogReport,
    pub tags: Vec<TagComparison>,
    pub only_in_log: Vec<Option<String>>,
    pub only_in_other: Vec<Option<String>>,
}

fn ratio(log_value: u64, other_value: u64) -> Option<f64> {
    (other_value != 0).then(|| log_value as f64 / other_value as f64)
}

fn find<'a>(tags: &'a [TagHistogram], tag: &Option<String>) -> Option<&'a TagHistogram> {
    tags.iter().find(|t| &t.tag == tag)
}

impl Comparison {
    pub fn of(log: &LoadedLog, other: &LoadedLog) -> Comparison {
        let mut tags = Vec::new();
        let mut only_in_log = Vec::new();
        for tag in &log.tags {
            let Some(other_tag) = find(&other.tags, &tag.tag) else {
                only_in_log.push(tag.tag.clone());
                continue;
            };
            let log_row = SummaryRow::of(tag);
            let other_row = SummaryRow::of(other_tag);
            let mut ratios = vec![("count", ratio(log_row.count, other_row.count))];
            for ((label, log_ns), other_ns) in VALUE_LABELS
                .into_iter()
                .zip(log_row.values_ns())
                .zip(other_row.values_ns())
            {
                ratios.push((label, ratio(log_ns, other_ns)));
            }
            tags.push(TagComparison {
                tag: tag.tag.clone(),
                log: log_row,
                other: other_row,
                ratio: ratios,
            });
        }
        let only_in_other = other
            .tags
            .iter()
            .filter(|t| find(&log.tags, &t.tag).is_none())
            .map(|t| t.tag.clone())
            .collect();
        Comparison {
            log: LogReport::of(log),
            other: LogReport::of(other),
            tags,
            only_in_log,
            only_in_other,
        }
    }

    /// Text: one line per tag and figure, LOG and OTHER side by side.
    pub fn write_text(&self, out: &mut dyn Write, unit: Unit) -> io::Result<()> {
        writeln!(out, "LOG   = {}", self.log.log)?;
        writeln!(out, "OTHER = {}", self.other.log)?;
        let tag_width = self
            .tags
            .iter()
            .map(|t| tag_name(&t.tag).len())
            .max()
            .unwrap_or(0)
            .max(3);
        writeln!(
            out,
            "{:<tag_width$} {:<7} {:>14} {:>14} {:>10}",
            "tag",
            "figure",
            format!("LOG ({})", unit.label()),
            format!("OTHER ({})", unit.label()),
            "LOG/OTHER"
        )?;
        for tag in &self.tags {
            let name = tag_name(&tag.tag);
            let ratio_text = |label: &str| match tag.ratio.iter().find(|(l, _)| *l == label) {
                Some((_, Some(ratio))) => format!("{ratio:.3}"),
                _ => "-".to_owned(),
            };
            writeln!(
                out,
                "{name:<tag_width$} {:<7} {:>14} {:>14} {:>10}",
                "count",
                tag.log.count,
                tag.other.count,
                ratio_text("count")
            )?;
            for ((label, log_ns), other_ns) in VALUE_LABELS
                .into_iter()
                .zip(tag.log.values_ns())
                .zip(tag.other.values_ns())
            {
                writeln!(
                    out,
                    "{name:<tag_width$} {label:<7} {:>14} {:>14} {:>10}",
                    unit.format(log_ns),
                    unit.format(other_ns),
                    ratio_text(label)
                )?;
            }
        }
        for tag in &self.only_in_log {
            writeln!(out, "# tag {} is only in LOG", tag_name(tag))?;
        }
        for tag in &self.only_in_other {
            writeln!(out, "# tag {} is only in OTHER", tag_name(tag))?;
        }
        Ok(())
    }
}

fn tag_name(tag: &Option<String>) -> &str {
    tag.as_deref().unwrap_or("(untagged)")
}
