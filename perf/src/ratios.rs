//! The figures a regression check compares: ratios measured within one run
//! (Genesis against a baseline, or against the hardware floor), plus
//! dimensionless counts. Absolute times are left out: they move with the
//! machine and its neighbours, ratios much less.

use crate::machine::mib;
use crate::report::{
    Report, CROSSBEAM, FUSED, FUSED_WRITE_THREAD, FUSED_WRITE_THREAD_IS, GOAL_RSS_MIB, MPSC,
    PIPELINED, PIPELINED_UNPINNED, TOKIO, TWO_THREAD,
};
use serde_json::{json, Value};

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

impl Better {
    pub fn name(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }

    pub fn parse(name: &str) -> Option<Better> {
        match name {
            "higher" => Some(Better::Higher),
            "lower" => Some(Better::Lower),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Ratio {
    pub key: String,
    pub value: f64,
    pub better: Better,
    pub what: String,
}

impl Ratio {
    pub fn to_json(&self) -> Value {
        json!({"value": self.value, "better": self.better.name(), "what": self.what})
    }
}

fn slug(name: &str) -> &'static str {
    match name {
        CROSSBEAM => "crossbeam",
        MPSC => "mpsc",
        TOKIO => "tokio",
        FUSED => "fused",
        FUSED_WRITE_THREAD => "fused_write_thread",
        PIPELINED => "pipelined",
        TWO_THREAD => "two_thread",
        _ => "other",
    }
}

/// A loopback feed's name in ratio keys.
fn feed_slug(feed: &str) -> &'static str {
    match feed {
        "itch-sim" => "itch",
        "binance-sim" => "websocket",
        _ => "other",
    }
}

/// Every ratio the report can give (those whose inputs were measured).
pub fn of(report: &Report) -> Vec<Ratio> {
    let mut ratios = Ratios(Vec::new());
    ratios.against_baselines(report);
    ratios.against_floors(report);
    ratios.over_sockets(report);
    ratios.of_resources(report);
    ratios.0
}

/// Ratios collected so far; one whose value is not finite is left out.
struct Ratios(Vec<Ratio>);

impl Ratios {
    fn push(&mut self, key: String, value: f64, better: Better, what: String) {
        if value.is_finite() {
            self.0.push(Ratio {
                key,
                value,
                better,
                what,
            });
        }
    }

    /// Genesis beside each baseline: throughput unpaced, p99 at the offered
    /// rate; and pipelined p99 beside fused p99.
    fn against_baselines(&mut self, report: &Report) {
        // The goal row (pinned) under a key of its own; the unpinned row
        // keeps the key the committed baselines measured unpinned.
        for (key, pipelined) in [
            ("p99_pipelined_pinned_over_fused", PIPELINED),
            ("p99_pipelined_over_fused", PIPELINED_UNPINNED),
        ] {
            if let (Some(f), Some(p)) = (report.at_rate_of(FUSED), report.at_rate_of(pipelined)) {
                self.push(
                    key.into(),
                    p.end_to_end.p99_ns as f64 / f.end_to_end.p99_ns.max(1) as f64,
                    Better::Lower,
                    format!(
                        "end-to-end p99, {pipelined} ÷ {FUSED}, at {} events/s offered",
                        report.offered_per_sec
                    ),
                );
            }
        }
        // The 2-thread row and the fused row with the journal's write
        // thread run unpaced only: they have throughput ratios, no p99 ones.
        for genesis in [FUSED, FUSED_WRITE_THREAD, PIPELINED, TWO_THREAD] {
            let is = if genesis == FUSED_WRITE_THREAD {
                format!(" ({FUSED_WRITE_THREAD_IS})")
            } else {
                String::new()
            };
            for baseline in [CROSSBEAM, MPSC, TOKIO] {
                if let (Some(g), Some(b)) = (report.max_of(genesis), report.max_of(baseline)) {
                    self.push(
                        format!("throughput_{}_over_{}", slug(genesis), slug(baseline)),
                        g.events_per_sec() / b.events_per_sec(),
                        Better::Higher,
                        format!("events/s, {genesis} ÷ {baseline}, unpaced{is}"),
                    );
                }
                if let (Some(g), Some(b)) =
                    (report.at_rate_of(genesis), report.at_rate_of(baseline))
                {
                    self.push(
                        format!("p99_{}_over_{}", slug(baseline), slug(genesis)),
                        b.end_to_end.p99_ns as f64 / g.end_to_end.p99_ns.max(1) as f64,
                        Better::Higher,
                        format!(
                            "end-to-end p99, {baseline} ÷ {genesis}, at {} events/s offered",
                            report.offered_per_sec
                        ),
                    );
                }
            }
        }
    }

    /// The engine over loopback sockets: the engine's own tick-to-trade p50
    /// and p99, the venue's tick-to-trade p50 and
    /// the engine's receive → journal exit p50, each over the loopback TCP
    /// round trip measured in the same row.
    fn over_sockets(&mut self, report: &Report) {
        for row in &report.loopback {
            let feed = feed_slug(&row.feed);
            if let Some(value) = row.tick_to_trade_over_rtt() {
                self.push(
                    format!("tick_to_trade_p50_{feed}_over_tcp"),
                    value,
                    Better::Lower,
                    format!(
                        "venue tick-to-trade p50 over {} at {} updates/s ÷ loopback TCP round trip p50 (same row)",
                        row.feed, row.rate_offered
                    ),
                );
            }
            for (quantile, pick) in [("p50", pick_p50 as fn(&_) -> u64), ("p99", pick_p99)] {
                if let Some(value) = row.engine_tick_to_trade_over_rtt(pick) {
                    self.push(
                        format!("engine_tick_to_trade_{quantile}_{feed}_over_tcp"),
                        value,
                        Better::Lower,
                        format!(
                            "engine tick-to-trade {quantile} (kernel receive → order written) over {} at {} updates/s ÷ loopback TCP round trip p50 (same row)",
                            row.feed, row.rate_offered
                        ),
                    );
                }
            }
            if let Some(value) = row.journal_over_rtt() {
                self.push(
                    format!("receive_to_journal_p50_{feed}_over_tcp"),
                    value,
                    Better::Lower,
                    format!(
                        "engine receive → journal exit p50 over {} at {} updates/s ÷ loopback TCP round trip p50 (same row)",
                        row.feed, row.rate_offered
                    ),
                );
            }
        }
    }

    /// Genesis beside the hardware floor: a stage hop and end-to-end p50
    /// over the cache-line and TCP round trips.
    fn against_floors(&mut self, report: &Report) {
        let ping_pong_ns = report.ping_pong.timed.p50_ns.max(1) as f64;
        let tcp_ns = report.tcp.timed.p50_ns.max(1) as f64;
        if let Some(hop_ns) = report.stage_hop_ns() {
            self.push(
                "stage_hop_over_ping_pong".into(),
                hop_ns.max(0) as f64 / ping_pong_ns,
                Better::Lower,
                "Genesis pipelined stage hop p50 ÷ cache-line round trip p50".into(),
            );
        }
        for genesis in [FUSED, PIPELINED] {
            if let Some(g) = report.at_rate_of(genesis) {
                self.push(
                    format!("end_to_end_p50_{}_over_ping_pong", slug(genesis)),
                    g.end_to_end.p50_ns as f64 / ping_pong_ns,
                    Better::Lower,
                    format!("{genesis} end-to-end p50 ÷ cache-line round trip p50"),
                );
                self.push(
                    format!("end_to_end_p50_{}_over_tcp", slug(genesis)),
                    g.end_to_end.p50_ns as f64 / tcp_ns,
                    Better::Lower,
                    format!("{genesis} end-to-end p50 ÷ loopback TCP round trip p50"),
                );
            }
        }
    }

    /// Allocations per event and steady RSS against their goals.
    fn of_resources(&mut self, report: &Report) {
        if let Some(alloc) = report.alloc {
            self.push(
                "allocations_per_event".into(),
                alloc.per_event(),
                Better::Lower,
                "heap allocations per event, fused hot path after warm-up".into(),
            );
        }
        if let Some(soak) = &report.soak {
            self.push(
                "rss_steady_over_goal".into(),
                mib(soak.steady().total_bytes) / GOAL_RSS_MIB,
                Better::Lower,
                "RSS at steady state on the defaults ÷ 64 MiB".into(),
            );
        }
    }
}

/// One figure of a regression check.
#[derive(Clone, Debug)]
pub struct Finding {
    pub key: String,
    pub baseline: f64,
    pub new: Option<f64>,
    pub better: Better,
    /// new ÷ baseline, turned so that above 1 is worse.
    pub worse_by: Option<f64>,
    pub flagged: bool,
}

/// Compares the `ratios` of two JSON reports; `tolerance` 0.2 flags anything 20 % worse.
pub fn compare(baseline: &Value, new: &Value, tolerance: f64) -> Result<Vec<Finding>, String> {
    let base_ratios = baseline["ratios"]
        .as_object()
        .ok_or("the baseline report has no `ratios`")?;
    let new_ratios = new["ratios"]
        .as_object()
        .ok_or("the new report has no `ratios`")?;
    let mut findings = Vec::new();
    for (key, entry) in base_ratios {
        let base_value = entry["value"]
            .as_f64()
            .ok_or_else(|| format!("baseline ratio `{key}` has no value"))?;
        let better = entry["better"]
            .as_str()
            .and_then(Better::parse)
            .ok_or_else(|| format!("baseline ratio `{key}` has no direction"))?;
        let new_value = new_ratios.get(key).and_then(|e| e["value"].as_f64());
        let worse_by = new_value.map(|n| worse_factor(base_value, n, better));
        let flagged = worse_by.is_none_or(|w| w > 1.0 + tolerance);
        findings.push(Finding {
            key: key.clone(),
            baseline: base_value,
            new: new_value,
            better,
            worse_by,
            flagged,
        });
    }
    Ok(findings)
}

/// Ratios the new report has and the baseline lacks: not checked until
/// the baseline is regenerated with them.
pub fn not_in_baseline(baseline: &Value, new: &Value) -> Vec<String> {
    let Some(new_ratios) = new["ratios"].as_object() else {
        return Vec::new();
    };
    new_ratios
        .keys()
        .filter(|key| baseline["ratios"].get(key.as_str()).is_none())
        .cloned()
        .collect()
}

fn pick_p50(p: &genesis_engine::telemetry::metrics::Percentiles) -> u64 {
    p.p50
}

fn pick_p99(p: &genesis_engine::telemetry::metrics::Percentiles) -> u64 {
    p.p99
}

/// How many times worse `new` is than `base` (1 = same, below 1 = better).
fn worse_factor(base: f64, new: f64, better: Better) -> f64 {
    let (worse, reference) = match better {
        Better::Higher => (base, new),
        Better::Lower => (new, base),
    };
    if reference <= 0.0 {
        return if worse <= 0.0 { 1.0 } else { f64::INFINITY };
    }
    worse / reference
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ratios: &[(&str, f64, &str)]) -> Value {
        let map: serde_json::Map<String, Value> = ratios
            .iter()
            .map(|(k, v, b)| (k.to_string(), json!({"value": v, "better": b})))
            .collect();
        json!({ "ratios": map })
    }

    // A throughput ratio that fell by a quarter is flagged; one that fell by a tenth is not.
    #[test]
    fn higher_is_better_flags_past_tolerance() {
        let base = report(&[("a", 8.0, "higher"), ("b", 8.0, "higher")]);
        let new = report(&[("a", 6.0, "higher"), ("b", 7.2, "higher")]);
        let findings = compare(&base, &new, 0.2).unwrap();
        let flagged: Vec<&str> = findings
            .iter()
            .filter(|f| f.flagged)
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(flagged, vec!["a"]);
    }

    // A latency multiple that grew by half is flagged; zero allocations staying zero is not.
    #[test]
    fn lower_is_better_and_zero_baseline() {
        let base = report(&[
            ("hop", 2.0, "lower"),
            ("alloc", 0.0, "lower"),
            ("alloc2", 0.0, "lower"),
        ]);
        let new = report(&[
            ("hop", 3.0, "lower"),
            ("alloc", 0.0, "lower"),
            ("alloc2", 0.01, "lower"),
        ]);
        let findings = compare(&base, &new, 0.2).unwrap();
        let flagged: Vec<&str> = findings
            .iter()
            .filter(|f| f.flagged)
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(flagged, vec!["alloc2", "hop"]);
    }

    // A ratio only the new report has is listed as unchecked, not flagged.
    #[test]
    fn new_figure_is_listed_unchecked() {
        let base = report(&[("old", 1.0, "higher")]);
        let new = report(&[("old", 1.0, "higher"), ("fresh", 2.0, "lower")]);
        assert_eq!(not_in_baseline(&base, &new), vec!["fresh".to_string()]);
        assert!(compare(&base, &new, 0.2)
            .unwrap()
            .iter()
            .all(|f| !f.flagged));
    }

    // A ratio the new report lacks is flagged: the check cannot vouch for it.
    #[test]
    fn missing_figure_is_flagged() {
        let base = report(&[("gone", 1.0, "higher")]);
        let findings = compare(&base, &report(&[]), 0.2).unwrap();
        assert!(findings[0].flagged && findings[0].new.is_none());
    }
}
