//! The README's performance table is the committed baseline's, as
//! `genesis_perf::readme` renders it: a hand edit of either without the
//! other fails here.

use genesis_perf::readme::{splice, table, with_long_soak};

// The table between the README's markers is exactly what the baseline renders to.
#[test]
fn readme_table_matches_the_baseline() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let report_path = format!("{root}/perf/baseline/report.json");
    let readme_path = format!("{root}/README.md");
    let mut report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&report_path).expect("the committed baseline is readable"),
    )
    .expect("the committed baseline is JSON");
    with_long_soak(
        &mut report,
        format!("{root}/perf/baseline/soak/soak.json").as_ref(),
    )
    .expect("the committed soak is readable JSON");
    let readme = std::fs::read_to_string(&readme_path).expect("the README is readable");
    let expected = splice(&readme, &table(&report)).expect("the README has the table's markers");
    assert!(
        expected == readme,
        "README.md's performance table differs from perf/baseline/report.json; run `cargo run -p genesis-perf --bin readme-table` and commit both"
    );
}
