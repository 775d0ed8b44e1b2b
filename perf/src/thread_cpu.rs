//! Per-thread CPU of a benchmark row, read from `/proc/self/task/*`: how
//! long each thread ran (`schedstat`, nanoseconds), how long it waited for a
//! core while runnable, its user and system split (`stat`, clock ticks) and
//! its voluntary (blocked) and involuntary (preempted) context switches.
//!
//! A [`Sampler`] takes two snapshots on its own sleeping thread, inside the
//! row's run (after start-up, before the stop), and keeps the difference per
//! thread, so a row is judged by where its CPU went, not only by its
//! throughput: which thread of a pipeline is the bottleneck, and how much
//! of each thread's time is waiting and switching rather than stage work.
//!
//! Owned by the harness thread; the sampler thread only sleeps and reads
//! `/proc`. On a system without these files the snapshot is empty.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::thread::JoinHandle;
use std::time::Duration;

/// The sampler's own thread name, left out of its figures.
const SAMPLER_NAME: &str = "cpu-sampler";

/// One thread's counters (a snapshot) or their growth over a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadCpu {
    pub tid: u32,
    pub name: String,
    /// Time on a CPU (`schedstat` field 1).
    pub run_ns: u64,
    /// Time runnable but waiting for a CPU (`schedstat` field 2).
    pub runqueue_ns: u64,
    pub user_ticks: u64,
    pub system_ticks: u64,
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
}

impl ThreadCpu {
    /// The share of its CPU time this thread spent in the kernel.
    pub fn system_share(&self) -> f64 {
        let total = self.user_ticks + self.system_ticks;
        if total == 0 {
            return 0.0;
        }
        self.system_ticks as f64 / total as f64
    }

    pub fn to_json(&self) -> Value {
        json!({
            "tid": self.tid,
            "name": self.name,
            "run_ns": self.run_ns,
            "runqueue_ns": self.runqueue_ns,
            "user_ticks": self.user_ticks,
            "system_ticks": self.system_ticks,
            "voluntary_switches": self.voluntary_switches,
            "involuntary_switches": self.involuntary_switches,
        })
    }
}

/// Every thread of this process now (those whose files could be read).
pub fn snapshot() -> Vec<ThreadCpu> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut threads: Vec<ThreadCpu> = tasks
        .flatten()
        .filter_map(|entry| {
            let tid: u32 = entry.file_name().to_str()?.parse().ok()?;
            read_task(&entry.path(), tid)
        })
        .collect();
    threads.sort_by_key(|t| t.tid);
    threads
}

fn read_task(dir: &std::path::Path, tid: u32) -> Option<ThreadCpu> {
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    let name = read("comm")?.trim_end().to_string();
    let (run_ns, runqueue_ns) = parse_schedstat(&read("schedstat")?)?;
    let (user_ticks, system_ticks) = parse_stat_times(&read("stat")?)?;
    let (voluntary_switches, involuntary_switches) = parse_switches(&read("status")?);
    Some(ThreadCpu {
        tid,
        name,
        run_ns,
        runqueue_ns,
        user_ticks,
        system_ticks,
        voluntary_switches,
        involuntary_switches,
    })
}

/// `schedstat`: run time, run-queue wait (both ns), time slices.
fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    Some((fields.next()?.ok()?, fields.next()?.ok()?))
}

/// `stat`: utime and stime, fields 14 and 15, counted after the name in
/// parentheses (which may itself hold spaces and parentheses).
fn parse_stat_times(text: &str) -> Option<(u64, u64)> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// `status`: voluntary and involuntary context switches (0 if absent).
fn parse_switches(text: &str) -> (u64, u64) {
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        field("voluntary_ctxt_switches:"),
        field("nonvoluntary_ctxt_switches:"),
    )
}

/// Growth per thread from `before` to `after`, for threads alive at both
/// (a thread born in between counts from zero), the sampler left out.
pub fn delta(before: &[ThreadCpu], after: &[ThreadCpu]) -> Vec<ThreadCpu> {
    let earlier: HashMap<u32, &ThreadCpu> = before.iter().map(|t| (t.tid, t)).collect();
    let zero = ThreadCpu::default();
    after
        .iter()
        .filter(|t| t.name != SAMPLER_NAME)
        .map(|t| {
            let b = earlier.get(&t.tid).copied().unwrap_or(&zero);
            ThreadCpu {
                tid: t.tid,
                name: t.name.clone(),
                run_ns: t.run_ns.saturating_sub(b.run_ns),
                runqueue_ns: t.runqueue_ns.saturating_sub(b.runqueue_ns),
                user_ticks: t.user_ticks.saturating_sub(b.user_ticks),
                system_ticks: t.system_ticks.saturating_sub(b.system_ticks),
                voluntary_switches: t.voluntary_switches.saturating_sub(b.voluntary_switches),
                involuntary_switches: t
                    .involuntary_switches
                    .saturating_sub(b.involuntary_switches),
            }
        })
        .collect()
}

/// One row's per-thread CPU over a window inside its run.
#[derive(Clone, Debug, Default)]
pub struct RowThreads {
    pub row: String,
    pub window_s: f64,
    /// Threads that ran at least a millisecond in the window, busiest first.
    pub threads: Vec<ThreadCpu>,
}

impl RowThreads {
    pub fn to_json(&self) -> Value {
        json!({
            "row": self.row,
            "window_s": self.window_s,
            "threads": self.threads.iter().map(ThreadCpu::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Takes a snapshot `start` after it is started and another `window` later,
/// on a thread of its own that sleeps in between.
pub struct Sampler {
    handle: JoinHandle<(f64, Vec<ThreadCpu>)>,
}

impl Sampler {
    pub fn start(start: Duration, window: Duration) -> std::io::Result<Sampler> {
        let handle = std::thread::Builder::new()
            .name(SAMPLER_NAME.into())
            .spawn(move || {
                std::thread::sleep(start);
                let before = snapshot();
                std::thread::sleep(window);
                (window.as_secs_f64(), delta(&before, &snapshot()))
            })?;
        Ok(Sampler { handle })
    }

    /// The window's figures (empty if the sampler thread failed).
    pub fn finish(self, row: &str) -> RowThreads {
        let (window_s, mut threads) = self.handle.join().unwrap_or_default();
        threads.retain(|t| t.run_ns >= 1_000_000);
        threads.sort_by_key(|t| std::cmp::Reverse(t.run_ns));
        RowThreads {
            row: row.to_string(),
            window_s,
            threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fields come from the right places, a name with spaces and a
    // parenthesis included.
    #[test]
    fn parses_the_proc_files() {
        assert_eq!(parse_schedstat("123 456 7\n"), Some((123, 456)));
        let stat = "42 (baseline (x) 1) S 1 1 1 0 -1 4194304 10 0 0 0 250 31 0 0 20 0 5";
        assert_eq!(parse_stat_times(stat), Some((250, 31)));
        let status = "Name:\tx\nvoluntary_ctxt_switches:\t17\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_switches(status), (17, 3));
    }

    // Fixed work on this thread shows as run time in its own counters,
    // and the sampler leaves itself out of what it reports.
    #[test]
    fn fixed_work_shows_as_run_time() {
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        let tid: u32 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let mine = |threads: Vec<ThreadCpu>| threads.into_iter().find(|t| t.tid == tid).unwrap();
        let before = mine(snapshot());
        let mut x = 0u64;
        for i in 0..300_000_000u64 {
            x = std::hint::black_box(x ^ i);
        }
        let after = mine(snapshot());
        assert!(after.run_ns > before.run_ns, "{before:?} then {after:?}");
        let sampler = Sampler::start(Duration::ZERO, Duration::from_millis(1)).unwrap();
        let row = sampler.finish("test");
        assert!(
            row.threads.iter().all(|t| t.name != SAMPLER_NAME),
            "{row:?}"
        );
    }
}
