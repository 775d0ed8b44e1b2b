#!/bin/sh
# One traced latency row under `perf sched`, analysed: where the slowest
# events waited (the pipeline's per-event trace) beside who held the CPUs
# (the scheduler's switches), on one clock (CLOCK_MONOTONIC).
#
#   perf/sched/trace_run.sh OUT_DIR [pipeline args...]
#   perf/sched/trace_run.sh /tmp/quiet --only pipelined --trace-top 0.01
#   perf/sched/trace_run.sh /tmp/quiet-pinned --only pipelined --pin
#   HOT=ingest+risk+str perf/sched/trace_run.sh /tmp/quiet-fused --only fused
#
# Runs target/release/pipeline --latency-rate 100000 --seconds 4 --trace
# with the arguments given (build it first; PIPELINE=path runs another
# build), writes OUT_DIR/run.txt (the
# row, the trace's tables, the CPU pressure before and after),
# OUT_DIR/slow-<row>.txt (perf/sched/slow_events.py per traced row) and
# OUT_DIR/preemptions.txt (perf/sched/preemptions.py: who preempted the hot
# threads, and each of our other threads' runs: how many, how long, how
# many took a hot thread's CPU). HOT
# names the stage threads in plan order (default: the two-thread plan's).
set -eu
out=$1
shift
here=$(dirname "$0")
pipeline=${PIPELINE:-target/release/pipeline}
hot=${HOT:-ingest+risk,strategy+execut}
mkdir -p "$out"
{
    echo "cpu pressure before: $(head -1 /proc/pressure/cpu)"
    perf sched record -k CLOCK_MONOTONIC -o "$out/sched.data" -- \
        "$pipeline" --latency-rate 100000 --seconds 4 --trace --trace-csv "$out/trace" "$@" 2>&1
    echo "cpu pressure after: $(head -1 /proc/pressure/cpu)"
} > "$out/run.txt"
perf script --ns -i "$out/sched.data" -F comm,pid,tid,cpu,time,event,trace > "$out/sched.txt" 2>/dev/null
# The kernel keeps 15 bytes of a task's name.
comm=$(basename "$pipeline" | cut -c1-15)
pid=$(grep -m1 -o "^ *$comm *[0-9]*/" "$out/sched.txt" | grep -o '[0-9]*/' | tr -d /)
for csv in "$out"/trace/*.csv; do
    row=$(basename "$csv" .csv)
    python3 "$here/slow_events.py" "$csv" "$out/sched.txt" --pid "$pid" --hot "$hot" > "$out/slow-$row.txt"
    echo "$out/slow-$row.txt"
done
python3 "$here/preemptions.py" "$out/sched.txt" --pid "$pid" --hot "$hot" > "$out/preemptions.txt"
echo "$out/preemptions.txt"
rm -f "$out/sched.data"
