//! `topology.realtime_priority`: the pinned stage threads of a run are
//! `SCHED_FIFO` at that priority (read back with `sched_getscheduler` on
//! each thread, found by name in /proc/self/task while the run goes on),
//! and the helper threads beside them stay normal. Without permission
//! (neither root nor CAP_SYS_NICE) the run is refused with an error naming
//! the key; the FIFO check is skipped then, with a message, never in CI
//! (CI runs as root). The stage threads sleep when idle: nothing spins.

mod common;

use genesis_engine::config::{Config, CorePlan, MarketDataSource, VenueKind};
use genesis_engine::run::{run, NoHooks, Parts};
use genesis_engine::sys;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The FIFO priority the test asks for (low: the threads sleep anyway).
const PRIORITY: u8 = 2;

/// Ingest and risk on the first CPU, the rest on the second (one thread
/// on one CPU when the machine has only one), pinned, real-time.
fn realtime_config(dir: &std::path::Path) -> Config {
    let cpus = sys::thread_cpus().unwrap();
    let (first, second) = (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]));
    let mut config = common::test_config(dir);
    config.market_data.source = MarketDataSource::Synthetic;
    config.market_data.rate_per_sec = 2_000;
    config.venue.kind = VenueKind::Paper;
    config.snapshot.enabled = false;
    config.topology.cores = CorePlan {
        ingest: first,
        risk: first,
        strategy: second,
        execution: second,
        journal: second,
    };
    config.topology.pin_threads = true;
    config.topology.realtime_priority = PRIORITY;
    config
}

/// Thread ids of this process by name (`comm`, at most 15 bytes).
fn threads() -> Vec<(i32, String)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let tid = path.file_name()?.to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            Some((tid, name.trim().to_string()))
        })
        .collect()
}

/// Waits (deadline 10 s) until a thread whose name starts with `prefix`
/// exists; returns its id.
#[allow(clippy::disallowed_methods)] // the test's own deadline
fn thread_named(prefix: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((tid, _)) = threads().into_iter().find(|(_, n)| n.starts_with(prefix)) {
            return tid;
        }
        assert!(
            Instant::now() < deadline,
            "no thread named {prefix}* within 10 s: {:?}",
            threads()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Thread `tid`'s policy once it is `wanted`, or the last one read when
/// 10 s passed (the caller's assertion then names the thread).
#[allow(clippy::disallowed_methods)] // the test's own deadline
fn policy_becomes(tid: i32, wanted: (i32, i32)) -> (i32, i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let policy = sys::thread_policy(tid).unwrap();
        if policy == wanted || Instant::now() >= deadline {
            return policy;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

// Each stage thread runs SCHED_FIFO at the configured priority; the
// reporter beside them stays SCHED_OTHER; the run ends without error.
#[test]
fn stage_threads_run_fifo_and_helpers_stay_normal() {
    if let Err(err) = sys::check_fifo_allowed(i32::from(PRIORITY)) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be allowed SCHED_FIFO: {err}"
        );
        eprintln!(
            "skipped: SCHED_FIFO is not permitted for this user ({err}); run as root to check it"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = realtime_config(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let run_stop = Arc::clone(&stop);
    let (parts, _control) = Parts::from_config(&config).unwrap();
    let engine = std::thread::spawn(move || {
        run(
            &config,
            parts,
            &mut NoHooks,
            run_stop,
            Some(Duration::from_secs(20)),
        )
    });
    let fifo = (libc::SCHED_FIFO, i32::from(PRIORITY));
    // A stage thread has its name from its start and makes itself FIFO
    // once pinned: wait for the policy, not just the thread.
    let head = policy_becomes(thread_named("ingest"), fifo);
    let tail = policy_becomes(thread_named("strategy"), fifo);
    let reporter = sys::thread_policy(thread_named("reporter"));
    stop.store(true, Ordering::Release);
    let report = engine.join().unwrap().unwrap();
    assert_eq!(report.error, None, "the run ended cleanly");
    assert_eq!(head, fifo, "ingest+risk thread (within 10 s)");
    assert_eq!(
        tail, fifo,
        "strategy+execution+journal thread (within 10 s)"
    );
    assert_eq!(
        reporter.unwrap().0,
        libc::SCHED_OTHER,
        "the reporter stays normal"
    );
}

// Real-time threads that are not pinned are refused by name: a FIFO
// thread free to land on any CPU could starve whatever runs there.
#[test]
fn unpinned_realtime_threads_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = realtime_config(dir.path());
    config.topology.pin_threads = false;
    let err = config.validate("test.toml").unwrap_err().to_string();
    assert!(
        err.contains("topology.realtime_priority") && err.contains("pin_threads"),
        "{err}"
    );
    config.topology.pin_threads = true;
    config.topology.realtime_priority = 100;
    let err = config.validate("test.toml").unwrap_err().to_string();
    assert!(err.contains("topology.realtime_priority"), "{err}");
}
