//! `compare` (what `perf/compare.sh` runs) on a report with a figure the
//! baseline lacks: it names the row as having no baseline and does not
//! fail; a figure the baseline has and the new report has lost still fails.

use std::process::Command;

fn run(
    dir: &std::path::Path,
    baseline: serde_json::Value,
    new: serde_json::Value,
) -> (bool, String) {
    let (base_path, new_path) = (dir.join("baseline.json"), dir.join("new.json"));
    std::fs::write(&base_path, baseline.to_string()).unwrap();
    std::fs::write(&new_path, new.to_string()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args([&base_path, &new_path])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn a_row_without_baseline_is_named_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let venue = serde_json::json!({"value": 2.0, "better": "lower"});
    let engine = serde_json::json!({"value": 0.2, "better": "lower"});
    let baseline = serde_json::json!({"ratios": {"tick_to_trade_p50_itch_over_tcp": venue}});
    let new = serde_json::json!({"ratios": {
        "tick_to_trade_p50_itch_over_tcp": venue,
        "engine_tick_to_trade_p50_itch_over_tcp": engine,
    }});
    let (passed, text) = run(dir.path(), baseline.clone(), new);
    assert!(passed, "{text}");
    assert!(
        text.contains("no baseline for row engine_tick_to_trade_p50_itch_over_tcp"),
        "{text}"
    );
    let lost = serde_json::json!({"ratios": {}});
    let (passed, text) = run(dir.path(), baseline, lost);
    assert!(!passed, "a figure the baseline has must not vanish: {text}");
}

// The fused plan with the journal's write thread: a baseline without its
// ratio names it and passes; a baseline with it checks it like any other
// (a fall past the tolerance fails, a small one passes, losing it fails).
#[test]
fn the_fused_write_thread_ratio_is_checked_once_the_baseline_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let ratio = |value: f64| serde_json::json!({"value": value, "better": "higher"});
    let fused = ratio(1.6);
    let without = serde_json::json!({"ratios": {"throughput_fused_over_crossbeam": fused}});
    let with = |value: f64| {
        serde_json::json!({"ratios": {
            "throughput_fused_over_crossbeam": fused,
            "throughput_fused_write_thread_over_crossbeam": ratio(value),
        }})
    };
    let (passed, text) = run(dir.path(), without.clone(), with(2.0));
    assert!(passed, "{text}");
    assert!(
        text.contains("no baseline for row throughput_fused_write_thread_over_crossbeam"),
        "{text}"
    );
    let (passed, text) = run(dir.path(), with(2.0), with(1.5));
    assert!(!passed, "2.0× falling to 1.5× is 33 % worse: {text}");
    assert!(
        text.contains("| `throughput_fused_write_thread_over_crossbeam` | higher | 2.000 | 1.500 | +33 % | **REGRESSION** |"),
        "{text}"
    );
    let (passed, text) = run(dir.path(), with(2.0), with(1.9));
    assert!(passed, "5 % worse is inside the tolerance: {text}");
    assert!(!text.contains("no baseline for row"), "{text}");
    let (passed, text) = run(dir.path(), with(2.0), without);
    assert!(!passed, "a checked ratio must not vanish: {text}");
}
