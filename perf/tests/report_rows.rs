//! The fused plan with the journal's write thread in the main report: a
//! report lacking the row is what it was; a report with it gives the row's
//! ratios beside the default fused row's (which stay), in report.json,
//! report.md and the README's table, each verdict naming its row.

use genesis_perf::floor::RoundTrip;
use genesis_perf::latency::Summary;
use genesis_perf::machine::Machine;
use genesis_perf::outcome::Outcome;
use genesis_perf::report::{Report, CROSSBEAM, FUSED, FUSED_WRITE_THREAD, TOKIO};
use genesis_perf::{markdown, ratios, readme};

/// An unpaced row that ran `events` in one second.
fn unpaced(name: &'static str, events: u64) -> Outcome {
    Outcome {
        name,
        plan: format!("{name}'s plan, unpinned"),
        wait: "spin-hint".into(),
        offered_per_sec: 0,
        events,
        seconds: 1.0,
        end_to_end: Summary::default(),
        stages: Vec::new(),
    }
}

/// A report whose unpaced rows are `max`, and nothing else measured.
fn report(max: Vec<Outcome>) -> Report {
    Report {
        machine: Machine {
            cpu_model: "Test CPU".into(),
            cores_online: 2,
            cores_usable: 2,
            kernel: "6.1".into(),
            load_average_1m: 0.0,
            cpu_pressure_pct_start: Some(1.0),
        },
        mode: "quick",
        command: "bench --quick --no-pin".into(),
        unix_time_s: 0,
        seconds_per_variant: 1.0,
        genesis_pinned: false,
        max,
        offered_per_sec: 100_000,
        at_rate: Vec::new(),
        ping_pong: RoundTrip::default(),
        tcp: RoundTrip::default(),
        ladder: Vec::new(),
        loopback: Vec::new(),
        alloc: None,
        soak: None,
        notes: Vec::new(),
        cpu_pressure_pct_end: None,
    }
}

/// Fused 1.6× crossbeam (not met), 3.2× tokio (met); with the write
/// thread, 2.2× and 4.4× (both met).
fn rows(with_write_thread: bool) -> Vec<Outcome> {
    let mut rows = vec![
        unpaced(FUSED, 3_200_000),
        unpaced(CROSSBEAM, 2_000_000),
        unpaced(TOKIO, 1_000_000),
    ];
    if with_write_thread {
        rows.insert(1, unpaced(FUSED_WRITE_THREAD, 4_400_000));
    }
    rows
}

fn ratio_of(report: &Report, key: &str) -> Option<ratios::Ratio> {
    ratios::of(report).into_iter().find(|r| r.key == key)
}

// Without the row: the fused ratios as before, no write-thread key, and the
// goal lines name the default fused row as the one judged.
#[test]
fn a_report_without_the_row() {
    let report = report(rows(false));
    assert!(
        ratios::of(&report)
            .iter()
            .all(|r| !r.key.contains("write_thread")),
        "{:?}",
        ratios::of(&report)
    );
    let fused = ratio_of(&report, "throughput_fused_over_crossbeam").unwrap();
    assert!((fused.value - 1.6).abs() < 1e-9, "{fused:?}");
    let text = markdown::render(&report);
    assert!(text.contains("Goal: fused ≥ 2× the crossbeam pipeline's throughput (`genesis fused`): **1.60×, NOT met**."), "{text}");
    assert!(
        text.contains(
            "Goal: fused ≥ 3× the tokio pipeline's throughput (`genesis fused`): **3.20×, met**."
        ),
        "{text}"
    );
    assert!(!text.contains("write thread"), "{text}");
    let table = readme::table(&report.to_json());
    assert!(!table.contains("write thread"), "{table}");
}

// With the row: its ratios in report.json beside the fused row's (which
// keep their values), the goal lines judging it as the fused plan plus a
// second thread with the default fused row's verdict beside it, and the
// README's table giving both.
#[test]
fn a_report_with_the_row() {
    let report = report(rows(true));
    for (key, value) in [
        ("throughput_fused_write_thread_over_crossbeam", 2.2),
        ("throughput_fused_write_thread_over_tokio", 4.4),
        ("throughput_fused_over_crossbeam", 1.6),
        ("throughput_fused_over_tokio", 3.2),
    ] {
        let ratio = ratio_of(&report, key).unwrap_or_else(|| panic!("no ratio `{key}`"));
        assert!((ratio.value - value).abs() < 1e-9, "{ratio:?}");
        assert_eq!(ratio.better, ratios::Better::Higher, "{key}");
    }
    let what = ratio_of(&report, "throughput_fused_write_thread_over_crossbeam")
        .unwrap()
        .what;
    assert!(
        what.contains("the fused plan plus the journal's write thread")
            && what.contains("on a second, `journal-write`"),
        "{what}"
    );
    let json = report.to_json();
    assert_eq!(
        json["ratios"]["throughput_fused_write_thread_over_crossbeam"]["better"],
        "higher"
    );
    assert!(json["ratios"]["throughput_fused_over_crossbeam"].is_object());

    let text = markdown::render(&report);
    assert!(text.contains("Goal: fused ≥ 2× the crossbeam pipeline's throughput: `genesis fused, journal write thread` (the fused plan plus the journal's write thread, `[journal] write_thread = true`: the five stages on one thread, the journal's `pwrite`s on a second, `journal-write`) **2.20×, met**; beside it `genesis fused` (the fused plan with the engine's default journal, `[journal] write_thread = false`: the five stages and the journal's `pwrite`s on one thread) **1.60×, NOT met**."), "{text}");
    assert!(text.contains("Goal: fused ≥ 3× the tokio pipeline's throughput: `genesis fused, journal write thread` ("), "{text}");
    assert!(
        text.contains("**4.40×, met**; beside it `genesis fused` ("),
        "{text}"
    );
    assert!(
        text.contains("| `throughput_fused_write_thread_over_crossbeam` | 2.200 | higher |"),
        "{text}"
    );
    assert!(text.contains("| genesis fused, journal write thread | genesis fused, journal write thread's plan, unpinned |"), "{text}");

    let table = readme::table(&json);
    assert!(table.contains("| throughput, fused plus the journal's write thread ÷ crossbeam thread-per-stage (the fused plan with `[journal] write_thread = true`: 2 threads; same stages, unpaced) | ratio (same run) | 2.20× | ≥ 2×: met; the default fused row (one thread): 1.60× |"), "{table}");
    assert!(table.contains("| throughput, fused ÷ crossbeam thread-per-stage (same stages, unpaced) | ratio (same run) | 1.60× | ≥ 2×: **not met** |"), "{table}");
}

// A baseline taken before the row existed lists its ratios as unchecked.
#[test]
fn a_baseline_without_the_row_leaves_its_ratios_unchecked() {
    let baseline = report(rows(false)).to_json();
    let new = report(rows(true)).to_json();
    let mut unchecked = ratios::not_in_baseline(&baseline, &new);
    unchecked.sort();
    assert_eq!(
        unchecked,
        [
            "throughput_fused_write_thread_over_crossbeam",
            "throughput_fused_write_thread_over_tokio",
        ]
    );
    let findings = ratios::compare(&baseline, &new, 0.2).unwrap();
    assert!(findings.iter().all(|f| !f.flagged), "{findings:?}");
}
