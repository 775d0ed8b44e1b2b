#!/usr/bin/env bash
# Regression check: compares a harness report's ratios with the
# committed baseline, perf/baseline/report.json, and exits 1 if any figure is
# more than 20 % worse (TOLERANCE=0.3 to loosen). Ratios only: absolute times
# move with the machine and its neighbours. A ratio the new report has and
# the baseline lacks (the engine's own tick-to-trade, until the baseline is
# regenerated; the 2-thread row's `throughput_two_thread_over_crossbeam` and
# `_over_tokio` until then; the fused plan with the journal's write thread,
# `throughput_fused_write_thread_over_crossbeam`, `_over_mpsc` and
# `_over_tokio`, until then; `p99_pipelined_pinned_over_fused`, the goal row,
# which runs pinned whatever `--no-pin` says, until then) is printed as "no
# baseline for row <key>" and does not fail; a ratio the baseline has and the
# new report lost does. `p99_pipelined_over_fused` is the pipelined plan
# unpinned, as the committed baseline measured it.
#
#   perf/compare.sh                    # runs `bench --quick` (~1 min), then compares
#   perf/compare.sh NEW/report.json    # compares an existing report
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=perf/baseline/report.json
if [[ $# -ge 1 ]]; then
    new=$1
else
    out=${OUT:-target/perf-report}
    # Same settings as the committed baseline (quick, Genesis unpinned: see perf/baseline/README.md).
    cargo run --release -q -p genesis-perf --bin bench -- --quick --no-pin --out "$out" >/dev/null
    new=$out/report.json
fi
cargo run --release -q -p genesis-perf --bin compare -- "$baseline" "$new" --tolerance "${TOLERANCE:-0.2}"
