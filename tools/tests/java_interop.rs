//! Interoperability with the reference implementation: Java's
//! `HistogramLogProcessor` (Debian `libhdrhistogram-java`) reads a log the
//! engine's writer wrote, and its percentile distribution (`.hgrm`) equals
//! `histo-dump --hgrm` line for line.
//!
//! Needs `java` and `/usr/share/java/hdrhistogram.jar` (test.sh installs
//! `default-jre-headless libhdrhistogram-java`). Without them the test is
//! skipped with a note, except under CI (`CI` set and not "false"), where
//! it fails.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use genesis_histlog::IntervalLogWriter;

const JAR: &str = "/usr/share/java/hdrhistogram.jar";

fn ci_requires_java() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false")
}

/// Whether java and the HdrHistogram jar are here; under CI their absence fails.
fn java_available() -> bool {
    let java = Command::new("java").arg("-version").output();
    let available =
        matches!(&java, Ok(output) if output.status.success()) && Path::new(JAR).exists();
    if !available {
        assert!(
            !ci_requires_java(),
            "CI is set but java or {JAR} is missing: apt-get install default-jre-headless libhdrhistogram-java"
        );
        eprintln!("SKIPPED java_interop: java or {JAR} missing");
    }
    available
}

/// A log with tag `exact`: eight values 1,093 times each (8,744 in all), so
/// exactly 87.5% of them lie at or below the seventh; and tag `sample`: the
/// usual spread with a millisecond tail; and one interval under a tag
/// named as the engine's tick-to-trade parts are.
fn write_log(path: &Path) {
    let mut writer = IntervalLogWriter::new(Vec::new());
    writer
        .write_header(START_TIME_UNIX_NS, Some("Logged by genesis-tools tests"))
        .unwrap();
    let mut exact = genesis_histlog::new_latency_histogram();
    for value_ns in [
        120_000, 125_000, 131_000, 140_000, 150_000, 158_463, 158_847, 170_000,
    ] {
        exact.record_n(value_ns, 1_093).unwrap();
    }
    writer
        .write_interval("exact", 0, SECOND_NS, &exact)
        .unwrap();
    for start_s in 0..3 {
        let sample = sample_histogram(start_s + 7, 8_744, 1);
        writer
            .write_interval("sample", start_s * SECOND_NS, SECOND_NS, &sample)
            .unwrap();
    }
    // A tag as the engine's tick-to-trade parts are named (dash and dot).
    let part = sample_histogram(11, 2_000, 3);
    writer
        .write_interval("engine-t2t.decide-send", 0, SECOND_NS, &part)
        .unwrap();
    std::fs::write(path, writer.into_inner()).unwrap();
}

/// Java's `.hgrm` for `tag`, in ns.
fn java_hgrm(log: &Path, tag: &str, dir: &Path) -> String {
    let out = dir.join(format!("java-{tag}"));
    let output = Command::new("java")
        .args(["-cp", JAR, "org.HdrHistogram.HistogramLogProcessor"])
        .arg("-i")
        .arg(log)
        .arg("-o")
        .arg(&out)
        .args(["-tag", tag, "-outputValueUnitRatio", "1"])
        .output()
        .expect("java runs");
    assert!(
        output.status.success(),
        "HistogramLogProcessor: {}",
        text(&output.stderr)
    );
    std::fs::read_to_string(format!("{}.hgrm", out.display())).unwrap()
}

/// The distribution rows of an .hgrm text (value, percentile, count), headers and footers left out.
fn rows(hgrm: &str) -> Vec<String> {
    hgrm.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#') && !line.contains("Value"))
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

// Every row of Java's distribution equals histo-dump's, including the 87.5%
// row where exactly 7,651 of 8,744 values lie at or below the seventh value.
#[test]
fn java_histogram_log_processor_matches_hgrm_exactly() {
    if !java_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    write_log(&log);
    for tag in ["exact", "sample", "engine-t2t.decide-send"] {
        let java = java_hgrm(&log, tag, dir.path());
        let ours = histo_dump(&[
            log.to_str().unwrap(),
            "--hgrm",
            "--tag",
            tag,
            "--unit",
            "ns",
        ]);
        assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
        let ours = text(&ours.stdout);
        assert_eq!(
            rows(&ours),
            rows(&java),
            "tag {tag}\njava:\n{java}\nours:\n{ours}"
        );
        assert!(rows(&java).len() > 15, "{java}");
    }
    let java = java_hgrm(&log, "exact", dir.path());
    assert!(
        rows(&java)
            .iter()
            .any(|row| row.ends_with("0.875000000000 7651")),
        "the 87.5% row stops at the seventh value: {java}"
    );
}
