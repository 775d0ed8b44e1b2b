#!/usr/bin/env bash
# The race, peers' side: makes the synthetic Tardis tape, runs the same market
# maker on hftbacktest and NautilusTrader at N=8 and N=64, and writes
# target/perf-report/race-peers.{json,md}. A benchmark, not a test: nothing
# here runs in CI. See perf/race/README.md.
#
#   perf/race/run.sh              # 2 M rows (10-30 min on 2 shared vCPUs)
#   perf/race/run.sh --small      # 50 k rows, a quick check
#   GENESIS=target/release/genesis perf/race/run.sh   # adds Genesis's rows
#
# Environment: RACE_VENV (venv, default target/race-venv), OUT (report
# directory, default target/perf-report), RACE_NS (default "8 64"),
# RACE_SEED (default 1), RACE_ROWS (overrides the row count).
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=2000000 tape=target/race/tape
if [[ ${1:-} == --small ]]; then rows=50000 tape=target/race/tape-small; fi
rows=${RACE_ROWS:-$rows} seed=${RACE_SEED:-1} out=${OUT:-target/perf-report}
venv=${RACE_VENV:-target/race-venv}
python=$venv/bin/python
export PYTHONPYCACHEPREFIX=$PWD/target/race/pycache  # no __pycache__ in the source tree

RACE_VENV=$venv perf/race/setup.sh

# A tape with the same rows and seed is reused; make_tape.py is deterministic.
if ! "$python" -c "import json,sys; m=json.load(open('$tape/tape.json')); \
        sys.exit(not (m['rows_requested'], m['seed']) == ($rows, $seed))" 2>/dev/null; then
    "$python" perf/race/make_tape.py --out "$tape" --rows "$rows" --seed "$seed"
    "$python" perf/race/check_tape.py "$tape"
fi

# Genesis's config comes from the ```toml block in the README, with {n} filled in.
genesis_config() {
    sed -n '/^```toml$/,/^```$/p' perf/race/README.md | sed '1d;$d' | sed "s/{n}/$1/g"
}

mkdir -p "$out/race-logs"
results=$out/race-results.jsonl
: > "$results"
for n in ${RACE_NS:-8 64}; do
    for peer in hftbacktest nautilus; do
        echo "race: $peer, N=$n" >&2
        "$python" "perf/race/peer_$peer.py" "$tape" --n "$n" \
            2> "$out/race-logs/$peer-n$n.log" | tee -a "$results"
    done
    if [[ -n ${GENESIS:-} ]]; then
        echo "race: genesis, N=$n" >&2
        genesis_config "$n" > "target/race/genesis-n$n.toml"
        "$GENESIS" backtest "$tape"/*.csv* --config "target/race/genesis-n$n.toml" \
            --summary-json "$out/race-genesis-n$n.json" 2> "$out/race-logs/genesis-n$n.log"
        # one line per run, as report.py reads them
        "$python" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))" \
            "$out/race-genesis-n$n.json" | tee -a "$results"
    fi
done
"$python" perf/race/report.py "$results" --tape "$tape" --out "$out"
