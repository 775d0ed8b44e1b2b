#!/usr/bin/env bash
# The race, peers' side: makes the synthetic Tardis tape, runs the same market
# maker on hftbacktest and NautilusTrader at N=8 and N=64, and writes
# target/perf-report/race-peers.{json,md}. A benchmark, not a test: only
# report_test.py (the report's repeats and medians) runs in CI. See
# perf/race/README.md.
#
#   perf/race/run.sh              # 2 M rows (10-30 min on 2 shared vCPUs)
#   perf/race/run.sh --small      # 50 k rows, a quick check
#   GENESIS=target/release/genesis perf/race/run.sh   # adds Genesis's rows
#   (build it first: cargo build --release -p genesis-cli --bin genesis)
#
# Environment: RACE_VENV (venv, default target/race-venv), OUT (report
# directory, default target/perf-report), RACE_NS (default "8 64"),
# RACE_SEED (default 1), RACE_ROWS (overrides the row count), RACE_PEERS
# (default "hftbacktest nautilus": Nautilus takes most of the time),
# RACE_REPEATS (turns of every engine but Nautilus, default 3; the report
# keeps each engine's median run).
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

# Genesis: the tape converted once to a binary tape (`genesis tape convert`:
# its time is Genesis's load_s, as conversion is the peers'), and the race's
# config (perf/race/genesis.toml) with N filled in, in one of two core plans:
# `fused` (one thread runs the five stages, as the peers run on one) or
# `tape-core` (core 1 runs one thread that reads the tape, applies it to
# the tape's books and makes each row's event ahead of the engine, and
# writes the journal behind it; core 0 runs the venue's matching, the merge
# and the other four stages: the second core used; the summary's `plan`
# names it, and its CPU s counts both).
genesis_config() {
    local cores='cores = { ingest = 0, risk = 0, strategy = 0, execution = 0, journal = 0 }'
    local tape_core=''
    # tape-core: both threads sleep when they wait (the journal for events,
    # ingest for room in the ring); tape-core-spin: both spin with a pause
    # hint (`spin-hint`), for the race only, where engines run one at a
    # time so two busy threads have the two cores. The summary's plan names
    # the wait that ran.
    if [[ $2 == tape-core* ]]; then
        local wait=sleep
        [[ $2 == tape-core-spin ]] && wait=spin-hint
        cores="cores = { ingest = 0, risk = 0, strategy = 0, execution = 0, journal = 1 }\\nwaits = { \"0\" = \"$wait\", \"1\" = \"$wait\" }"
        tape_core='\ntape_core = 1'
    fi
    sed -e "s/^requote_every_updates = [0-9]*/requote_every_updates = $1/" \
        -e "s/^cores = .*/$cores/" \
        -e "s/^tardis_exchange = .*/&$tape_core/" perf/race/genesis.toml
}
genesis_convert() {
    local started=$(date +%s%N)
    "$GENESIS" tape convert "$tape"/*.csv* --config perf/race/genesis.toml --out "$tape/tape.gnstape" >&2
    genesis_load_s=$(( ($(date +%s%N) - started) / 1000000 ))
    genesis_load_s=$(printf '%d.%03d' $((genesis_load_s / 1000)) $((genesis_load_s % 1000)))
}
# One Genesis run: backtest with the journal on, replay verifies the journal,
# the summary becomes one result line (engine renamed, load_s added).
genesis_run() {
    local n=$1 engine=$2 plan=$3 load_s=$4; shift 4
    local journal=target/race/genesis-journal-$engine-n$n summary=$out/race-$engine-n$n.json
    rm -rf "$journal"
    genesis_config "$n" "$plan" > "target/race/$engine-n$n.toml"
    "$GENESIS" backtest "$@" --config "target/race/$engine-n$n.toml" --journal "$journal" \
        --summary-json "$summary" > "$out/race-logs/$engine-n$n.log" 2>&1
    "$GENESIS" replay "$journal" >> "$out/race-logs/$engine-n$n.log" 2>&1
    "$python" -c "import json,sys; r=json.load(open(sys.argv[1])); r['engine']=sys.argv[2]; \
        r['load_s']=float(sys.argv[3]) if sys.argv[3] else None; r['replay_verified']=True; \
        print(json.dumps(r))" "$summary" "$engine" "$load_s"
}

mkdir -p "$out/race-logs"
results=$out/race-results.jsonl
: > "$results"
# Each engine runs RACE_REPEATS times (default 3), the engines taking turns,
# and the report keeps each one's median run: one run of the same binary
# moves by up to ±15 % on a shared VM. NautilusTrader runs in the first turn
# only (40-75 s a run, two orders of magnitude from the others).
for repeat in $(seq "${RACE_REPEATS:-3}"); do
for n in ${RACE_NS:-8 64}; do
    for peer in ${RACE_PEERS:-hftbacktest nautilus}; do
        [[ $peer == nautilus && $repeat -gt 1 ]] && continue
        echo "race: $peer, N=$n (turn $repeat)" >&2
        "$python" "perf/race/peer_$peer.py" "$tape" --n "$n" \
            2> "$out/race-logs/$peer-n$n.log" | tee -a "$results"
    done
    if [[ -n ${GENESIS:-} ]]; then
        echo "race: genesis, N=$n" >&2
        [[ -n ${genesis_load_s:-} ]] || genesis_convert
        genesis_run "$n" genesis fused "${genesis_load_s:-}" "$tape/tape.gnstape" | tee -a "$results"
        echo "race: genesis, the tape and the journal on core 1, N=$n" >&2
        genesis_run "$n" genesis-2cores tape-core "${genesis_load_s:-}" "$tape/tape.gnstape" \
            | tee -a "$results"
        echo "race: genesis, the tape and the journal on core 1, spinning waits, N=$n" >&2
        genesis_run "$n" genesis-2cores-spin tape-core-spin "${genesis_load_s:-}" "$tape/tape.gnstape" \
            | tee -a "$results"
        echo "race: genesis from the CSV files, N=$n" >&2
        genesis_run "$n" genesis-csv fused "" "$tape"/*.csv* | tee -a "$results"
    fi
done
done
"$python" perf/race/report.py "$results" --tape "$tape" --out "$out"
# The ratios against the committed baseline (a note, not a failure: a shared
# machine moves them; see perf/baseline/README.md).
if [[ -n ${GENESIS:-} && -f perf/baseline/race.json ]]; then
    cargo run --release -q -p genesis-perf --bin compare -- perf/baseline/race.json \
        "$out/race-peers.json" --tolerance "${TOLERANCE:-0.2}" || true
fi
