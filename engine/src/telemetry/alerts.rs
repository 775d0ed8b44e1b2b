//! Threshold alerts from the original guide, evaluated by the reporter once
//! per interval: each is logged at warn or critical (error level) when
//! crossed, and cleared once when the value comes back. Defaults are the
//! guide's (absurdly loose for Genesis); the prod config tightens latency.
//! One more is Genesis's own: `reconcile`, critical while a reconciliation
//! with the venue timed out and its gate still holds new orders back (the
//! operator releases it with SIGHUP; `docs/restart.md`).
//! Two watch the market data ([`Alerts::evaluate_feed`]): a book stale
//! longer than `book_stale_max_ms`, and snapshots failing in a row.

use crate::config::AlertConfig;
use crate::telemetry::feed_health::FeedObserved;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Normal,
    Warn,
    Critical,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

/// One watched value with its two thresholds.
#[derive(Clone, Debug)]
pub struct Alert {
    pub name: &'static str,
    warn: f64,
    critical: f64,
    /// True when low values are bad (event rate).
    below: bool,
    pub level: Level,
}

impl Alert {
    pub fn above(name: &'static str, warn: f64, critical: f64) -> Alert {
        Alert {
            name,
            warn,
            critical,
            below: false,
            level: Level::Normal,
        }
    }

    pub fn below(name: &'static str, warn: f64, critical: f64) -> Alert {
        Alert {
            below: true,
            ..Alert::above(name, warn, critical)
        }
    }

    /// Takes a new value; returns the new level if it changed.
    pub fn evaluate(&mut self, value: f64) -> Option<Level> {
        let beyond = |threshold: f64| {
            if self.below {
                value < threshold
            } else {
                value > threshold
            }
        };
        let level = if beyond(self.critical) {
            Level::Critical
        } else if beyond(self.warn) {
            Level::Warn
        } else {
            Level::Normal
        };
        if level == self.level {
            return None;
        }
        self.level = level;
        Some(level)
    }
}

/// The four alerts of the guide, the reconciliation gate's, and the market data's two.
pub struct Alerts {
    pub event_rate: Alert,
    pub latency_p99: Alert,
    pub memory: Alert,
    pub error_rate: Alert,
    pub reconcile: Alert,
    pub book_stale: Alert,
    pub snapshot_failing: Alert,
}

/// The values one interval produced.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observed {
    pub events_per_sec: f64,
    pub latency_p99_ns: Option<u64>,
    pub rss_bytes: u64,
    pub errors_per_event: f64,
    pub feed_connected: bool,
    /// A timed-out reconciliation holds new orders back.
    pub reconcile_gate_held: bool,
}

impl Alerts {
    pub fn new(config: &AlertConfig) -> Alerts {
        Alerts {
            event_rate: Alert::below(
                "event_rate",
                config.event_rate_warn_below,
                config.event_rate_critical_below,
            ),
            latency_p99: Alert::above(
                "latency_p99",
                config.latency_p99_warn_ns as f64,
                config.latency_p99_critical_ns as f64,
            ),
            memory: Alert::above(
                "memory",
                config.memory_warn_bytes as f64,
                config.memory_critical_bytes as f64,
            ),
            error_rate: Alert::above(
                "error_rate",
                config.error_rate_warn,
                config.error_rate_critical,
            ),
            reconcile: Alert::above("reconcile", 0.5, 0.5),
            book_stale: Alert::above(
                "book_stale",
                config.book_stale_max_ms as f64,
                config.book_stale_max_ms as f64 * 10.0,
            ),
            // `above` is strict: n failures in a row cross n - 1.
            snapshot_failing: Alert::above(
                "snapshot_failing",
                config.snapshot_failures_warn as f64 - 0.5,
                config.snapshot_failures_critical as f64 - 0.5,
            ),
        }
    }

    /// Evaluates the market data's alerts, naming the stalest book in the log.
    pub fn evaluate_feed(&mut self, feed: &FeedObserved) {
        let (book, stale_ms) = feed
            .stalest
            .as_ref()
            .map_or(("none", 0.0), |(label, ms)| (label.as_str(), *ms));
        if let Some(level) = self.book_stale.evaluate(stale_ms) {
            log_level(&self.book_stale, level, stale_ms, "ms", book);
        }
        let failures = feed.snapshot_failures_in_a_row as f64;
        if let Some(level) = self.snapshot_failing.evaluate(failures) {
            log_level(
                &self.snapshot_failing,
                level,
                failures,
                "failed in a row",
                "",
            );
        }
    }

    /// Evaluates every alert and logs each change once.
    pub fn evaluate(&mut self, observed: &Observed) {
        if observed.feed_connected {
            log_change(&mut self.event_rate, observed.events_per_sec, "events/s");
        }
        if let Some(p99) = observed.latency_p99_ns {
            log_change(&mut self.latency_p99, p99 as f64, "ns");
        }
        log_change(&mut self.memory, observed.rss_bytes as f64, "bytes");
        log_change(
            &mut self.error_rate,
            observed.errors_per_event,
            "errors/event",
        );
        let held = f64::from(u8::from(observed.reconcile_gate_held));
        log_change(&mut self.reconcile, held, "gate held after a timeout");
    }

    /// Alerts not at normal, with their level.
    pub fn raised(&self) -> Vec<(&'static str, &'static str)> {
        [
            &self.event_rate,
            &self.latency_p99,
            &self.memory,
            &self.error_rate,
            &self.reconcile,
            &self.book_stale,
            &self.snapshot_failing,
        ]
        .into_iter()
        .filter(|a| a.level != Level::Normal)
        .map(|a| (a.name, a.level.name()))
        .collect()
    }
}

fn log_change(alert: &mut Alert, value: f64, unit: &str) {
    if let Some(level) = alert.evaluate(value) {
        log_level(alert, level, value, unit, "");
    }
}

/// Logs an alert's new level once; `what` names the thing (a book), if
/// any (an empty name leaves the field out of the line).
fn log_level(alert: &Alert, level: Level, value: f64, unit: &str, what: &str) {
    let what = (!what.is_empty()).then_some(what);
    match level {
        Level::Critical => tracing::error!(
            alert = alert.name,
            value,
            unit,
            what,
            "CRITICAL threshold crossed"
        ),
        Level::Warn => {
            tracing::warn!(
                alert = alert.name,
                value,
                unit,
                what,
                "warning threshold crossed"
            )
        }
        Level::Normal => tracing::info!(alert = alert.name, value, unit, what, "alert cleared"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Latency crosses warn, then critical, then clears: each change reported once.
    #[test]
    fn crosses_and_clears_once() {
        let mut alert = Alert::above("latency_p99", 100.0, 500.0);
        assert_eq!(alert.evaluate(50.0), None);
        assert_eq!(alert.evaluate(150.0), Some(Level::Warn));
        assert_eq!(alert.evaluate(160.0), None);
        assert_eq!(alert.evaluate(600.0), Some(Level::Critical));
        assert_eq!(alert.evaluate(90.0), Some(Level::Normal));
        assert_eq!(alert.evaluate(80.0), None);
    }

    // A book stale past the limit raises the alert, ten times the limit is
    // critical, a fresh book clears it; one failed snapshot warns.
    #[test]
    fn stale_books_and_failing_snapshots_alert() {
        let mut alerts = Alerts::new(&AlertConfig {
            book_stale_max_ms: 100,
            ..AlertConfig::default()
        });
        let stale = |ms: f64| FeedObserved {
            stalest: Some(("itch/ALPHA".into(), ms)),
            snapshot_failures_in_a_row: 0,
        };
        alerts.evaluate_feed(&stale(50.0));
        assert!(alerts.raised().is_empty());
        alerts.evaluate_feed(&stale(150.0));
        assert_eq!(alerts.raised(), vec![("book_stale", "warn")]);
        alerts.evaluate_feed(&stale(1_500.0));
        assert_eq!(alerts.raised(), vec![("book_stale", "critical")]);
        alerts.evaluate_feed(&FeedObserved {
            stalest: None,
            snapshot_failures_in_a_row: 1,
        });
        assert_eq!(alerts.raised(), vec![("snapshot_failing", "warn")]);
        alerts.evaluate_feed(&FeedObserved::default());
        assert!(alerts.raised().is_empty());
    }

    // The event-rate alert fires when the rate drops below its thresholds.
    #[test]
    fn low_event_rate_alerts() {
        let mut alerts = Alerts::new(&AlertConfig::default());
        let mut observed = Observed {
            events_per_sec: 50.0,
            feed_connected: true,
            ..Observed::default()
        };
        alerts.evaluate(&observed);
        assert_eq!(alerts.raised(), vec![("event_rate", "critical")]);
        observed.events_per_sec = 10_000.0;
        alerts.evaluate(&observed);
        assert!(alerts.raised().is_empty());
        // With no feed connected a silent engine is not an alert.
        observed.events_per_sec = 0.0;
        observed.feed_connected = false;
        alerts.evaluate(&observed);
        assert!(alerts.raised().is_empty());
    }

    // A reconciliation gate held after a timeout is critical until released.
    #[test]
    fn held_reconciliation_gate_is_critical() {
        let mut alerts = Alerts::new(&AlertConfig::default());
        let mut observed = Observed {
            reconcile_gate_held: true,
            ..Observed::default()
        };
        alerts.evaluate(&observed);
        assert_eq!(alerts.raised(), vec![("reconcile", "critical")]);
        observed.reconcile_gate_held = false;
        alerts.evaluate(&observed);
        assert!(alerts.raised().is_empty());
    }
}
