//! One variant's result: what ran (threads, cores, wait strategy), how much
//! it processed, and its latency end to end and per stage.

use crate::latency::Summary;
use genesis_engine::telemetry::metrics::StageMetrics;
use serde_json::{json, Value};

/// Latency of one stage: from the event's scheduled time to the stage's
/// exit, and the stage's own processing time.
#[derive(Clone, Debug)]
pub struct StageFigures {
    pub name: String,
    pub since_scheduled: Summary,
    pub processing: Summary,
}

impl StageFigures {
    pub fn of(metrics: &StageMetrics) -> StageFigures {
        StageFigures {
            name: metrics.name.to_string(),
            since_scheduled: Summary::of(&metrics.since_recv_ns),
            processing: Summary::of(&metrics.processing_ns),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: &'static str,
    /// Threads, cores and channels.
    pub plan: String,
    /// How each thread waits when it has nothing to do.
    pub wait: String,
    /// Offered market-data rate; 0 means as fast as the pipeline takes it.
    pub offered_per_sec: u64,
    /// Events through the journal stage (market data, acks, fills, timers).
    pub events: u64,
    pub seconds: f64,
    /// The journal stage's latency: scheduled time to the end of the pipeline.
    pub end_to_end: Summary,
    pub stages: Vec<StageFigures>,
}

impl Outcome {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }

    pub fn stage(&self, name: &str) -> Option<&StageFigures> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn to_json(&self) -> Value {
        let stages: Vec<Value> = self
            .stages
            .iter()
            .map(|s| {
                json!({
                    "stage": s.name,
                    "since_scheduled": s.since_scheduled.to_json(),
                    "processing": s.processing.to_json(),
                })
            })
            .collect();
        json!({
            "name": self.name,
            "plan": self.plan,
            "wait": self.wait,
            "offered_per_sec": self.offered_per_sec,
            "events": self.events,
            "seconds": self.seconds,
            "events_per_sec": self.events_per_sec(),
            "end_to_end": self.end_to_end.to_json(),
            "stages": stages,
        })
    }
}
