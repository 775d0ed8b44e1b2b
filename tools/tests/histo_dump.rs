//! histo-dump end to end: the binary on logs written by the engine's writer,
//! whole, cut off and garbled.

mod common;

use common::*;
use serde_json::Value;

const QUANTILE_KEYS: [(&str, f64); 5] = [
    ("p50_ns", 0.5),
    ("p90_ns", 0.9),
    ("p99_ns", 0.99),
    ("p99_9_ns", 0.999),
    ("p99_99_ns", 0.9999),
];

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&output.stdout)))
}

fn tag_row<'a>(report: &'a Value, tag: &str) -> &'a Value {
    report["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["tag"] == tag)
        .unwrap_or_else(|| panic!("no row for {tag} in {report}"))
}

// Every figure equals the hdrhistogram crate's value_at_quantile on the merged intervals.
#[test]
fn percentiles_match_value_at_quantile_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let entries = write_sample_log(&log, 3, 1);
    let output = histo_dump(&[log.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = json_of(&output);
    assert_eq!(report["damage"].as_array().unwrap().len(), 0);
    for tag in TAGS {
        let expected = merged(&entries, tag, 0, 2);
        let row = tag_row(&report, tag);
        assert_eq!(row["intervals"], 3);
        assert_eq!(row["count"], expected.len());
        for (key, quantile) in QUANTILE_KEYS {
            assert_eq!(
                row[key],
                expected.value_at_quantile(quantile),
                "{tag} {key}"
            );
        }
        assert_eq!(row["max_ns"], expected.max());
    }
}

// The text table has one row per tag, in µs by default and ns on request.
#[test]
fn text_table_rows_in_both_units() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let entries = write_sample_log(&log, 2, 1);
    let risk = merged(&entries, "risk", 0, 1);
    let p99_ns = risk.value_at_quantile(0.99);

    let output = histo_dump(&[log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + TAGS.len(), "{stdout}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["tag", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max", "(µs)"]
    );
    let risk_row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(risk_row[0], "risk");
    assert_eq!(risk_row[1], risk.len().to_string());
    assert_eq!(risk_row[4], format!("{:.3}", p99_ns as f64 / 1_000.0));

    let output = histo_dump(&[log.to_str().unwrap(), "--unit", "ns", "--tag", "risk"]);
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let risk_row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(risk_row[4], p99_ns.to_string());
}

// --from/--to are seconds since the log's start, inclusive at both ends.
#[test]
fn from_and_to_select_intervals_by_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let entries = write_sample_log(&log, 4, 1);
    let output = histo_dump(&[log.to_str().unwrap(), "--json", "--from", "1", "--to", "2"]);
    let report = json_of(&output);
    for tag in TAGS {
        let row = tag_row(&report, tag);
        assert_eq!(row["intervals"], 2);
        assert_eq!(row["count"], merged(&entries, tag, 1, 2).len());
    }
    let backwards = histo_dump(&[log.to_str().unwrap(), "--from", "3", "--to", "1"]);
    assert_eq!(backwards.status.code(), Some(1));
}

// A log cut off mid-line: the whole lines are reported, the cut is on stderr, exit 3.
#[test]
fn truncated_log_is_read_up_to_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let entries = write_sample_log(&log, 2, 1);
    let bytes = std::fs::read(&log).unwrap();
    std::fs::write(&log, &bytes[..bytes.len() - 25]).unwrap();

    let output = histo_dump(&[log.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    // 5 header lines, then 6 intervals: the last, line 11, is cut.
    assert!(
        stderr.contains("line 11 (cut off at end of file)"),
        "{stderr}"
    );
    let report = json_of(&output);
    assert_eq!(report["damage"][0]["line"], 11);
    assert_eq!(report["damage"][0]["cut_off"], true);
    assert_eq!(tag_row(&report, "ingest")["intervals"], 2);
    assert_eq!(tag_row(&report, "risk")["intervals"], 2);
    let strategy = tag_row(&report, "strategy");
    assert_eq!(strategy["intervals"], 1);
    assert_eq!(strategy["count"], merged(&entries, "strategy", 0, 0).len());
}

// A garbled line is skipped and reported with its line number; the lines after it still count.
#[test]
fn garbled_line_is_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let entries = write_sample_log(&log, 2, 1);
    let original = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    // Line 7 is risk's first interval: damage its payload.
    let payload_at = lines[6].rfind(',').unwrap() + 40;
    lines[6].replace_range(payload_at..payload_at + 8, "@@@@@@@@");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();

    let output = histo_dump(&[log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("run.hlog: line 7: histogram"), "{stderr}");
    let stdout = text(&output.stdout);
    let risk_row = stdout
        .lines()
        .find(|line| line.starts_with("risk"))
        .unwrap();
    let count: u64 = risk_row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(count, merged(&entries, "risk", 1, 1).len());
}

// --hgrm prints Java's layout: header, 4-column rows, a 3-column 100% row, three footer lines.
#[test]
fn hgrm_has_the_classic_shape() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let entries = write_sample_log(&log, 1, 1);
    let risk = merged(&entries, "risk", 0, 0);
    let output = histo_dump(&[log.to_str().unwrap(), "--hgrm", "--tag", "risk"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "       Value     Percentile TotalCount 1/(1-Percentile)"
    );
    assert_eq!(lines[1], "");
    let footer = &lines[lines.len() - 3..];
    assert!(footer[0].starts_with("#[Mean    = "), "{}", footer[0]);
    assert!(footer[1].starts_with("#[Max     = "), "{}", footer[1]);
    assert!(footer[1].ends_with(&format!("Total count    = {:>12}]", risk.len())));
    assert_eq!(
        footer[2],
        "#[Buckets =           27, SubBuckets     =         2048]"
    );
    let rows = &lines[2..lines.len() - 3];
    assert!(rows.len() > 20, "{stdout}");
    let mut last_count = 0;
    for row in &rows[..rows.len() - 1] {
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields.len(), 4, "{row}");
        let quantile: f64 = fields[1].parse().unwrap();
        assert!((0.0..1.0).contains(&quantile), "{row}");
        let count: u64 = fields[2].parse().unwrap();
        assert!(count >= last_count, "{row}");
        last_count = count;
    }
    let last: Vec<&str> = rows[rows.len() - 1].split_whitespace().collect();
    assert_eq!(last.len(), 3);
    assert_eq!(last[0], format!("{:.3}", risk.max() as f64 / 1_000.0));
    assert_eq!(last[1], "1.000000000000");
    assert_eq!(last[2], risk.len().to_string());
}

// Several tags give one .hgrm section each, headed by #[Tag: T].
#[test]
fn hgrm_sections_per_tag() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    write_sample_log(&log, 1, 1);
    let output = histo_dump(&[log.to_str().unwrap(), "--hgrm"]);
    let stdout = text(&output.stdout);
    let headings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("#[Tag: "))
        .collect();
    assert_eq!(
        headings,
        ["#[Tag: ingest]", "#[Tag: risk]", "#[Tag: strategy]"]
    );
}

// --compare gives LOG, OTHER and LOG/OTHER per percentile; a run twice as slow shows ~2.
#[test]
fn compare_gives_ratios_per_percentile() {
    let dir = tempfile::tempdir().unwrap();
    let slow = temp_path(&dir, "slow.hlog");
    let fast = temp_path(&dir, "fast.hlog");
    let slow_entries = write_sample_log(&slow, 2, 2);
    let fast_entries = write_sample_log(&fast, 2, 1);
    let output = histo_dump(&[
        slow.to_str().unwrap(),
        "--compare",
        fast.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let comparison = json_of(&output);
    for tag in TAGS {
        let entry = comparison["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tag"] == tag)
            .unwrap();
        let slow_merged = merged(&slow_entries, tag, 0, 1);
        let fast_merged = merged(&fast_entries, tag, 0, 1);
        let ratios = entry["ratio"].as_array().unwrap();
        assert_eq!(ratios[0], serde_json::json!(["count", 1.0]));
        for (index, (_, quantile)) in QUANTILE_KEYS.into_iter().enumerate() {
            let expected = slow_merged.value_at_quantile(quantile) as f64
                / fast_merged.value_at_quantile(quantile) as f64;
            let ratio = &ratios[index + 1];
            // JSON keeps the ratio to the last bit or so.
            let relative_error = (ratio[1].as_f64().unwrap() - expected).abs() / expected;
            assert!(relative_error < 1e-12, "{tag} {ratio} vs {expected}");
            // Doubling every value doubles each percentile within HDR precision.
            assert!((expected - 2.0).abs() < 0.01, "{tag} {ratio}");
        }
    }

    let output = histo_dump(&[
        slow.to_str().unwrap(),
        "--compare",
        fast.to_str().unwrap(),
        "--tag",
        "risk",
    ]);
    let stdout = text(&output.stdout);
    let p99 = stdout
        .lines()
        .find(|l| l.starts_with("risk") && l.split_whitespace().nth(1) == Some("p99"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let ratio: f64 = p99.split_whitespace().last().unwrap().parse().unwrap();
    assert!((ratio - 2.0).abs() < 0.01, "{p99}");
}

// --plot writes well-formed SVG with a curve and a legend entry per tag.
#[test]
fn plot_writes_well_formed_svg() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let svg = temp_path(&dir, "latency.svg");
    write_sample_log(&log, 2, 1);
    let output = histo_dump(&[log.to_str().unwrap(), "--plot", svg.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let content = std::fs::read_to_string(&svg).unwrap();
    let document = roxmltree::Document::parse(&content).expect("well-formed SVG");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for tag in TAGS {
        assert!(texts.contains(&tag), "legend lacks {tag}: {texts:?}");
    }
    assert!(texts.contains(&"99%"), "x axis lacks 99%: {texts:?}");
    let curves = document
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert!(curves >= TAGS.len(), "{curves} polylines");
}

// A --tag that the log lacks is fatal (exit 1) and names the tags it has.
#[test]
fn unknown_tag_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    write_sample_log(&log, 1, 1);
    let output = histo_dump(&[log.to_str().unwrap(), "--tag", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("ingest, risk, strategy"), "{stderr}");
    let missing = histo_dump(&[dir.path().join("absent.hlog").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
}

// --help documents every option, the units, the interval range and the exit codes.
#[test]
fn help_documents_everything() {
    let output = histo_dump(&["--help"]);
    let help = text(&output.stdout);
    for needle in [
        "--unit",
        "--tag",
        "--from",
        "--to",
        "--hgrm",
        "--plot",
        "--compare",
        "--json",
        "Seconds, not an interval index",
        "Exit codes",
        "3  damage",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
}

// An empty log (no interval at all) is an error, not an empty success.
#[test]
fn empty_log_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "empty.hlog");
    std::fs::write(&log, "").unwrap();
    let output = histo_dump(&[log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("no interval"),
        "{}",
        text(&output.stderr)
    );
}

// By default --plot draws the stage totals and tick-to-trade (not the
// `.processing` tags), each series in its own colour, on a log latency axis
// whose labels span decades; --tag draws what it names.
#[test]
fn plot_defaults_to_totals_on_a_log_axis() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.hlog");
    let mut writer = genesis_histlog::IntervalLogWriter::new(Vec::new());
    writer.write_header(START_TIME_UNIX_NS, None).unwrap();
    for (index, tag) in ["risk", "risk.processing", "journal", "tick-to-trade"]
        .into_iter()
        .enumerate()
    {
        let histogram = sample_histogram(index as u64 + 3, 2_000, 1 + index as u64 * 40);
        writer
            .write_interval(tag, 0, SECOND_NS, &histogram)
            .unwrap();
    }
    std::fs::write(&log, writer.into_inner()).unwrap();
    let svg = temp_path(&dir, "latency.svg");
    let output = histo_dump(&[log.to_str().unwrap(), "--plot", svg.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let content = std::fs::read_to_string(&svg).unwrap();
    let document = roxmltree::Document::parse(&content).expect("well-formed SVG");
    let texts: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for tag in ["risk", "journal", "tick-to-trade"] {
        assert!(texts.contains(&tag), "legend lacks {tag}: {texts:?}");
    }
    assert!(!texts.contains(&"risk.processing"), "{texts:?}");
    let colours: std::collections::BTreeSet<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter_map(|n| n.attribute("stroke"))
        .filter(|stroke| *stroke != "#000000")
        .collect();
    assert!(colours.len() >= 3, "one colour per series: {colours:?}");
    // Log axis: the y labels (numbers) span at least two decades.
    let numbers: Vec<f64> = texts
        .iter()
        .filter_map(|t| t.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .collect();
    let (low, high) = numbers
        .iter()
        .fold((f64::MAX, 0f64), |(l, h), v| (l.min(*v), h.max(*v)));
    assert!(high / low >= 100.0, "y labels {numbers:?}");
    let tagged = histo_dump(&[
        log.to_str().unwrap(),
        "--tag",
        "risk.processing",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(tagged.status.code(), Some(0), "{}", text(&tagged.stderr));
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("risk.processing"));
}
