//! Memory: heap allocations per event on the fused hot path, and resident
//! memory of the engine on its defaults, sampled through a soak.
//!
//! The soak runs in a child process (`bench soak-child`) so its RSS is the
//! engine's alone, not the harness's leftovers from earlier variants.

use crate::counting_alloc::{count_allocations, is_installed};
use crate::machine::{mib, Rss};
use crate::setup::{bench_config, stage_chains, PLAN_FUSED};
use crate::soak_breakdown::Breakdown;
use anyhow::{anyhow, bail, Context, Result};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::event::Event;
use genesis_engine::ingest::{Ingest, Sink};
use genesis_engine::topology::chain::Chain;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Heap allocations on the fused hot path after warm-up.
#[derive(Clone, Copy, Debug)]
pub struct AllocFigure {
    pub events_warm_up: u64,
    pub events_counted: u64,
    pub allocations: u64,
}

impl AllocFigure {
    pub fn per_event(&self) -> f64 {
        self.allocations as f64 / self.events_counted.max(1) as f64
    }

    pub fn to_json(self) -> Value {
        json!({
            "events_warm_up": self.events_warm_up,
            "events_counted": self.events_counted,
            "allocations": self.allocations,
            "allocations_per_event": self.per_event(),
        })
    }
}

/// The four stages fused behind ingest, on the calling thread.
struct FusedStages(Vec<Chain>);

impl Sink for FusedStages {
    fn offer(&mut self, event: &Event) -> bool {
        let mut copy = *event;
        for chain in &mut self.0 {
            chain.process(&mut copy);
        }
        true
    }
}

fn pump(ingest: &mut Ingest, sink: &mut FusedStages, events: u64) {
    let target = ingest.counters().published + events;
    while ingest.counters().published < target {
        if ingest.poll(sink) == 0 {
            ingest.on_idle();
            sink.0.iter_mut().for_each(Chain::on_idle);
        }
    }
}

/// Counts this thread's allocations over `events_counted` unpaced events
/// after `events_warm_up` (no reporter attached: `engine/tests/no_alloc.rs`
/// covers interval hand-off).
pub fn allocations_per_event(
    journal_dir: &Path,
    events_warm_up: u64,
    events_counted: u64,
) -> Result<AllocFigure> {
    if !is_installed() {
        bail!("the counting allocator is not this binary's global allocator");
    }
    let mut config = bench_config(journal_dir, PLAN_FUSED, false);
    config.market_data.timer_interval_ms = 1;
    let clock = EpochClock::new();
    let (mut ingest, chains, _beside) = stage_chains(&config, 0, &clock)?;
    let mut sink = FusedStages(chains);
    pump(&mut ingest, &mut sink, events_warm_up);
    let ((), allocations) = count_allocations(|| pump(&mut ingest, &mut sink, events_counted));
    if let Some(error) = sink.0.iter().find_map(|c| c.fatal.clone()) {
        bail!("allocation count: {error}");
    }
    Ok(AllocFigure {
        events_warm_up,
        events_counted,
        allocations,
    })
}

/// The window of the end-of-soak slope: the last five minutes.
pub const LAST_WINDOW_S: f64 = 300.0;

/// The share of the requested rate below which a soak's growth is not
/// judged: the engine's bounded tables (order ids, recent fills, the
/// snapshot's buffer) fill by events, not by seconds, so a run that fell
/// well behind its rate was still warming up when the warm-up ended.
pub const RATE_HELD_SHARE: f64 = 0.9;

/// What the soak child reports.
#[derive(Clone, Debug, Default)]
pub struct Soak {
    pub seconds_requested: f64,
    pub rate_per_sec: u64,
    pub plan: String,
    pub events: u64,
    pub elapsed_s: f64,
    /// (seconds since start, RSS).
    pub samples: Vec<(f64, Rss)>,
    pub warm_up_s: f64,
    /// Where the memory is at the steady-state sample and at the last one.
    pub detail_steady: Option<Breakdown>,
    pub detail_last: Option<Breakdown>,
}

impl Soak {
    fn after_warm_up(&self) -> impl Iterator<Item = &(f64, Rss)> {
        self.samples
            .iter()
            .filter(move |(t, _)| *t >= self.warm_up_s)
    }

    /// The first sample after warm-up: RSS at steady state.
    pub fn steady(&self) -> Rss {
        self.after_warm_up().next().map(|s| s.1).unwrap_or_default()
    }

    pub fn last(&self) -> Rss {
        self.samples.last().map(|s| s.1).unwrap_or_default()
    }

    pub fn max(&self) -> Rss {
        let mut max = Rss::default();
        for (_, rss) in self.after_warm_up() {
            max.total_bytes = max.total_bytes.max(rss.total_bytes);
            max.anon_bytes = max.anon_bytes.max(rss.anon_bytes);
            max.file_bytes = max.file_bytes.max(rss.file_bytes);
        }
        max
    }

    /// Growth from steady state to the last sample, in bytes (negative: shrank).
    pub fn growth_total_bytes(&self) -> i64 {
        self.last().total_bytes as i64 - self.steady().total_bytes as i64
    }

    pub fn growth_anon_bytes(&self) -> i64 {
        self.last().anon_bytes as i64 - self.steady().anon_bytes as i64
    }

    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed_s.max(1e-9)
    }

    /// The share of the requested rate the engine processed (1.0 = all).
    pub fn rate_kept(&self) -> f64 {
        if self.rate_per_sec == 0 {
            return 1.0;
        }
        self.events_per_sec() / self.rate_per_sec as f64
    }

    /// Whether the growth after warm-up can be judged: the engine kept at
    /// least [`RATE_HELD_SHARE`] of the requested rate.
    pub fn rate_held(&self) -> bool {
        self.rate_kept() >= RATE_HELD_SHARE
    }

    /// Total RSS growth per minute after warm-up, straight line from steady to last.
    pub fn growth_mib_per_min(&self) -> f64 {
        let first = self.after_warm_up().next().map_or(0.0, |s| s.0);
        let last = self.samples.last().map_or(0.0, |s| s.0);
        if last <= first {
            return 0.0;
        }
        self.growth_total_bytes() as f64 / (1024.0 * 1024.0) / (last - first) * 60.0
    }

    /// Total RSS growth per minute over the last `window_s` of samples (at
    /// most the time after warm-up): the least-squares slope, so one noisy
    /// sample does not set it. Whether the curve is still rising at the end.
    pub fn growth_mib_per_min_last(&self, window_s: f64) -> f64 {
        let end = self.samples.last().map_or(0.0, |s| s.0);
        let from = (end - window_s).max(self.warm_up_s);
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|(t, rss)| (*t, rss.total_bytes as f64 / (1024.0 * 1024.0)))
            .collect();
        let n = points.len() as f64;
        if points.len() < 2 {
            return 0.0;
        }
        let (mean_t, mean_m) = (
            points.iter().map(|p| p.0).sum::<f64>() / n,
            points.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let spread: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
        if spread == 0.0 {
            return 0.0;
        }
        let covariance: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean_m)).sum();
        covariance / spread * 60.0
    }

    pub fn to_json(&self) -> Value {
        let rss = |r: Rss| json!({"total_mib": mib(r.total_bytes), "anon_mib": mib(r.anon_bytes), "file_mib": mib(r.file_bytes)});
        json!({
            "seconds_requested": self.seconds_requested,
            "rate_per_sec": self.rate_per_sec,
            "plan": self.plan,
            "events": self.events,
            "elapsed_s": self.elapsed_s,
            "events_per_sec": self.events_per_sec(),
            "rate_kept": self.rate_kept(),
            "warm_up_s": self.warm_up_s,
            "samples": self.samples.len(),
            "rss_steady": rss(self.steady()),
            "rss_last": rss(self.last()),
            "rss_max": rss(self.max()),
            "growth_total_mib": self.growth_total_bytes() as f64 / (1024.0 * 1024.0),
            "growth_anon_mib": self.growth_anon_bytes() as f64 / (1024.0 * 1024.0),
            "growth_mib_per_min": self.growth_mib_per_min(),
            "growth_mib_per_min_last_5min": self.growth_mib_per_min_last(LAST_WINDOW_S),
            "series": self.samples.iter().map(|(t, r)| json!([t, r.total_bytes, r.anon_bytes, r.file_bytes])).collect::<Vec<_>>(),
            "detail_steady": self.detail_steady.as_ref().map(Breakdown::to_json),
            "detail_last": self.detail_last.as_ref().map(Breakdown::to_json),
        })
    }

    fn from_json(value: &Value) -> Result<Soak> {
        let number = |key: &str| {
            value[key]
                .as_f64()
                .ok_or_else(|| anyhow!("soak child: no `{key}`"))
        };
        let samples = value["series"]
            .as_array()
            .ok_or_else(|| anyhow!("soak child: no series"))?
            .iter()
            .map(|s| {
                let field = |i: usize| s[i].as_u64().unwrap_or(0);
                (
                    s[0].as_f64().unwrap_or(0.0),
                    Rss {
                        total_bytes: field(1),
                        anon_bytes: field(2),
                        file_bytes: field(3),
                    },
                )
            })
            .collect();
        Ok(Soak {
            seconds_requested: number("seconds_requested")?,
            rate_per_sec: number("rate_per_sec")? as u64,
            plan: value["plan"].as_str().unwrap_or_default().to_string(),
            events: number("events")? as u64,
            elapsed_s: number("elapsed_s")?,
            samples,
            warm_up_s: number("warm_up_s")?,
            detail_steady: Breakdown::from_json(&value["detail_steady"]),
            detail_last: Breakdown::from_json(&value["detail_last"]),
        })
    }
}

/// The engine's defaults, except where a benchmark must differ: a scratch
/// journal folder, no fsync at exit, and the metrics endpoint on an
/// ephemeral port (the default 9464 may be taken on a shared machine).
pub fn defaults_config(journal_dir: &Path, rate_per_sec: u64) -> Config {
    let mut config = Config::builtin();
    config.market_data.rate_per_sec = rate_per_sec;
    config.journal.dir = journal_dir.to_path_buf();
    config.journal.sync_on_exit = false;
    config.metrics.listen = "127.0.0.1:0".into();
    config
}

/// Runs in the child process: the engine on its defaults for `seconds`, RSS sampled every `sample_ms`.
#[allow(clippy::disallowed_methods)] // harness wall time
pub fn soak_child(
    journal_dir: &Path,
    seconds: f64,
    rate_per_sec: u64,
    sample_ms: u64,
) -> Result<Soak> {
    let config = defaults_config(journal_dir, rate_per_sec);
    let assembly = genesis_cli::assemble(&config)?;
    let started = Instant::now();
    let run_config = config.clone();
    let run = std::thread::Builder::new()
        .name("soak-engine".into())
        .spawn(move || {
            genesis_cli::run(
                &run_config,
                assembly,
                Arc::new(AtomicBool::new(false)),
                Some(Duration::from_secs_f64(seconds)),
            )
        })?;
    let warm_up = warm_up_s(seconds);
    let (mut samples, mut detail_steady, mut detail_last) = (Vec::new(), None, None);
    while !run.is_finished() {
        let at = started.elapsed().as_secs_f64();
        if at >= seconds {
            // The soak is over: what the engine allocates to stop and
            // report is not the soak's memory.
            std::thread::sleep(Duration::from_millis(sample_ms));
            continue;
        }
        samples.push((at, Rss::now()));
        if at >= warm_up {
            // The steady sample's breakdown, then the latest one's.
            let detail = Breakdown::now(at);
            detail_steady.get_or_insert_with(|| detail.clone());
            detail_last = Some(detail);
        }
        std::thread::sleep(Duration::from_millis(sample_ms));
    }
    let report = run
        .join()
        .map_err(|_| anyhow!("the soak's engine thread panicked"))??;
    if let Some(error) = report.error {
        bail!("soak: the engine stopped with an error: {error}");
    }
    Ok(Soak {
        seconds_requested: seconds,
        rate_per_sec,
        plan: report.plan.describe(),
        events: report.ingest.published,
        elapsed_s: report.elapsed.as_secs_f64(),
        samples,
        warm_up_s: warm_up,
        detail_steady,
        detail_last,
    })
}

/// Seconds before RSS counts as steady: the first seconds touch the pages of
/// preallocated tables and histograms (about 4 s at 100k events/s here).
fn warm_up_s(seconds: f64) -> f64 {
    (seconds * 0.2).clamp(5.0, 60.0).min(seconds / 2.0)
}

/// Prints the child's result for the parent to read.
pub fn print_soak(soak: &Soak) -> Result<()> {
    println!("{}", serde_json::to_string(&soak.to_json())?);
    Ok(())
}

/// Runs the soak in a child process of this same binary and reads its result.
pub fn soak_in_child(
    scratch: &Path,
    seconds: f64,
    rate_per_sec: u64,
    sample_ms: u64,
) -> Result<Soak> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let output = std::process::Command::new(exe)
        .arg("soak-child")
        .arg("--seconds")
        .arg(seconds.to_string())
        .arg("--rate")
        .arg(rate_per_sec.to_string())
        .arg("--sample-ms")
        .arg(sample_ms.to_string())
        .arg("--scratch")
        .arg(scratch)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("starting the soak child")?;
    if !output.status.success() {
        bail!("the soak child failed: {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow!("the soak child printed no result"))?;
    Soak::from_json(&serde_json::from_str(line)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soak_of(mib_at: impl Fn(f64) -> f64) -> Soak {
        let samples = (0..=600)
            .map(|t| {
                let t = f64::from(t);
                let total_bytes = (mib_at(t) * 1024.0 * 1024.0) as u64;
                (
                    t,
                    Rss {
                        total_bytes,
                        anon_bytes: total_bytes,
                        file_bytes: 0,
                    },
                )
            })
            .collect();
        Soak {
            samples,
            warm_up_s: 60.0,
            ..Soak::default()
        }
    }

    // A curve that rises until minute 5 and is flat after has no slope at
    // the end, though its growth after warm-up is not zero.
    #[test]
    fn the_last_slope_sees_a_curve_that_settled() {
        let soak = soak_of(|t| 60.0 + t.min(300.0) / 300.0);
        assert!(soak.growth_mib_per_min() > 0.05);
        assert!(soak.growth_mib_per_min_last(LAST_WINDOW_S).abs() < 1e-3);
        // A steady 0.09 MiB/min is found as such.
        let rising = soak_of(|t| 60.0 + 0.09 * t / 60.0);
        let slope = rising.growth_mib_per_min_last(LAST_WINDOW_S);
        assert!((slope - 0.09).abs() < 1e-3, "slope {slope}");
        assert_eq!(Soak::default().growth_mib_per_min_last(LAST_WINDOW_S), 0.0);
    }

    // The soak's verdict needs the engine to have kept its rate; the share is
    // events per second over the requested rate, and it reaches the JSON.
    #[test]
    fn a_soak_knows_whether_it_kept_its_rate() {
        let mut soak = Soak {
            rate_per_sec: 100_000,
            events: 12_424_032,
            elapsed_s: 600.0,
            ..Soak::default()
        };
        assert!((soak.rate_kept() - 0.207).abs() < 1e-3);
        assert!(!soak.rate_held());
        soak.events = 59_000_000;
        assert!(soak.rate_held());
        assert!((soak.to_json()["rate_kept"].as_f64().unwrap() - 0.983).abs() < 1e-3);
        let mut text = String::new();
        soak.events = 12_424_032;
        crate::markdown::soak_section(&mut text, &soak);
        assert!(
            text.contains("not judged: the engine processed 21 % of the requested rate"),
            "{text}"
        );
    }
}
