#!/usr/bin/env python3
"""Were the slowest traced events waiting for a descheduled thread? The
pipeline's per-event trace (`pipeline --trace --trace-csv DIR`) beside the
scheduler's switches of the same run, on one clock (CLOCK_MONOTONIC).

    perf sched record -k CLOCK_MONOTONIC -o sched.data -- \\
        target/release/pipeline --latency-rate 100000 --seconds 4 --only pipelined --trace --trace-csv trace
    perf script -i sched.data -F comm,pid,tid,cpu,time,event,trace > sched.txt
    python3 perf/sched/slow_events.py trace/pipelined.csv sched.txt --pid <pipeline's pid> --hot ingest+risk,strategy+execut

`--hot` names the run's stage threads (comm, as the kernel truncates it) in
plan order: thread 0 runs ingest, thread g reads ring g. For each slow
event, over its window (scheduled time to journal exit): how long each hot
thread was off its CPU, and who ran meanwhile on the CPU that thread had
taken the event on ("hot: …" is the other stage thread: both stacked on
one CPU).
Then the totals: how many slow events waited while a hot thread was
descheduled (and by whom, by overlapped time), and how many had every hot
thread on a CPU throughout (a wait the scheduler does not explain). The
event's longest part (`dominant`) says which thread it waited for; the
"dominant thread off" column checks that very thread over that very part.

Last, the episodes: most slow events only queued behind earlier ones, so
each is traced back (by the pipeline, `root_*` columns) to the part of an
earlier event that built the backlog (the head thread away, the reader
away, a stage). Per distinct such part: whether its thread was off its CPU
for most of it (preempted R, asleep S, or in I/O D when switched out) and
who ran on its CPU meanwhile, or on its CPU (busy with something the trace
does not split, such as polling the venue or sending an order).
"""

import argparse
import bisect
import collections
import csv
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from preemptions import KERNEL, SWITCH, records  # noqa: E402


def overlap(a_from, a_to, b_from, b_to):
    return max(0.0, min(a_to, b_to) - max(a_from, b_from))


def within(spans, starts, lo, hi):
    """The spans (sorted, not overlapping, `starts` their starts) that may overlap [lo, hi]."""
    first = max(0, bisect.bisect_left(starts, lo) - 1)
    return spans[first:bisect.bisect_right(starts, hi)]


def timelines(path, pid, hot_names):
    """Per hot thread name, its off-CPU spans [(from, to, state)] (the
    state it was switched out in: R preempted, S sleeping, D in I/O); per
    CPU, who ran when [(from, to, comm, tid)], both over the whole
    recording; and the benchmark's thread ids. A record whose current task
    is not the one the last switch on its CPU put there means switches were
    lost (perf drops records when its buffer fills): the task the record
    names is taken to run from then, and a hot thread seen running ends its
    off-CPU span there."""
    ours = set()
    for _t, _cpu, p, tid, _comm, _e, _trace in records(path):
        if p == pid:
            ours.add(tid)
    hot = {}  # tid -> name
    off = collections.defaultdict(list)
    off_since = {}
    ran = collections.defaultdict(list)
    running = {}  # cpu -> (since, comm, tid)

    def switch_in(time_s, cpu, tid, comm):
        if cpu in running:
            since, was, was_tid = running[cpu]
            ran[cpu].append((since, time_s, was, was_tid))
        running[cpu] = (time_s, comm if tid else "idle", tid)
        if tid in hot and tid in off_since:
            since, why = off_since.pop(tid)
            off[hot[tid]].append((since, time_s, why))

    for time_s, cpu, _pid, tid, comm, event, trace in records(path):
        if event != "sched:sched_switch":
            # The current task of any record is running on its CPU.
            if cpu in running and running[cpu][2] != tid:
                switch_in(time_s, cpu, tid, comm)
            continue
        m = SWITCH.search(trace)
        if not m:
            continue
        prev, nxt = int(m["prev_pid"]), int(m["next_pid"])
        for t, comm in ((prev, m["prev_comm"]), (nxt, m["next_comm"])):
            if t in ours and comm in hot_names:
                hot[t] = comm
        if prev in hot:
            off_since.pop(prev, None)
            off_since[prev] = (time_s, m["state"][:1])
        switch_in(time_s, cpu, nxt, m["next_comm"])
    return off, ran, ours


def episodes(events, hot_names, offs, runs_by_cpu, ours):
    """Per distinct event that began a slow event's backlog (`root_seq`):
    its beginning part, whether that part's thread was off its CPU for
    most of it, and who ran on the thread's CPU meanwhile."""
    seen = {}
    for event in events:
        if not event.get("root_seq") or event["root_seq"] in seen:
            continue
        group = int(event["root_group"])
        lo, hi = int(event["root_from_mono_ns"]) / 1e9, int(event["root_to_mono_ns"]) / 1e9
        name = hot_names[group] if group < len(hot_names) else None
        cpus = [int(c) for c in event["cpus"].split()]
        spans = offs[1](name, lo, hi)
        away = sum(overlap(a, b, lo, hi) for a, b, _ in spans)
        states = collections.Counter()
        who = collections.Counter()
        for a, b, why in spans:
            slo, shi = max(a, lo), min(b, hi)
            if shi <= slo:
                continue
            states[why] += shi - slo
            cpu = cpus[group] if group < len(cpus) else None
            ran, starts = runs_by_cpu
            for ra, rb, comm, tid in within(ran.get(cpu, []), starts.get(cpu, []), slo, shi):
                if comm != "idle" and comm != name:
                    side = "hot: " if comm in hot_names else "ours: " if tid in ours else ""
                    who[side + re.sub(r"[/:]\d+$|\d+$", "", comm)] += overlap(ra, rb, slo, shi)
        seen[event["root_seq"]] = (event["root"], hi - lo, away, states, who)
    return seen


def print_episodes(found):
    n = max(len(found), 1)
    off_cpu = [e for e in found.values() if e[2] >= 0.5 * e[1]]
    print()
    print(f"episodes (distinct events that began a slow event's wait): {len(found)}")
    print(f"  the beginning part's thread off its CPU for most of it: {len(off_cpu)} ({len(off_cpu) * 100 / n:.1f} %)")
    print(f"  on its CPU for most of it (busy with something else, or a stall the scheduler does not show): {len(found) - len(off_cpu)}")
    print()
    print("| began by | episodes | mean µs | off-CPU share | preempted / asleep / in I/O µs (summed) |")
    print("|---|---:|---:|---:|---|")
    by_root = collections.defaultdict(list)
    for root, length, away, states, _who in found.values():
        by_root[root].append((length, away, states))
    for root, rows in sorted(by_root.items(), key=lambda kv: -len(kv[1])):
        length = sum(r[0] for r in rows)
        away = sum(r[1] for r in rows)
        st = collections.Counter()
        for r in rows:
            st.update(r[2])
        print(
            f"| {root} | {len(rows)} | {length * 1e6 / len(rows):.1f} | {away * 100 / max(length, 1e-12):.0f} % "
            f"| {st['R'] * 1e6:.0f} / {st['S'] * 1e6:.0f} / {st['D'] * 1e6:.0f} |"
        )
    who = collections.Counter()
    for *_rest, w in found.values():
        who.update(w)
    print()
    print("| on the beginning thread's CPU while it was off (all episodes) | µs |")
    print("|---|---:|")
    for comm, seconds in who.most_common(12):
        print(f"| {comm} | {seconds * 1e6:.0f} |")


def main():
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("trace_csv")
    args.add_argument("script_output")
    args.add_argument("--pid", type=int, required=True, help="the benchmark's process id")
    args.add_argument("--hot", required=True, help="the stage threads' names (comm), in plan order")
    args.add_argument("--show", type=int, default=20, help="slow events to list one by one")
    opts = args.parse_args()
    hot_names = opts.hot.split(",")
    off, ran, ours = timelines(opts.script_output, opts.pid, set(hot_names))
    starts = {cpu: [run[0] for run in runs] for cpu, runs in ran.items()}
    off_starts = {name: [span[0] for span in spans] for name, spans in off.items()}

    def off_in(name, lo, hi):
        return within(off.get(name, []), off_starts.get(name, []), lo, hi)
    missing = [name for name in hot_names if name not in off]
    if missing:
        print(f"note: no switch of {missing} in the recording (never descheduled, or a wrong name)")

    with open(opts.trace_csv) as f:
        events = list(csv.DictReader(f))
    descheduled = 0
    dominant_thread_off = 0
    by_whom = collections.Counter()
    by_dominant = collections.Counter()
    by_state = collections.Counter()
    unexplained = []
    print("| seq | total µs | longest part | its µs | longest part's thread off-CPU µs | each hot thread off-CPU in the window µs | on their CPUs meanwhile (µs) |")
    print("|---:|---:|---|---:|---:|---|---|")
    for index, event in enumerate(events):
        start, end = int(event["due_mono_ns"]) / 1e9, int(event["done_mono_ns"]) / 1e9
        cpus = [int(c) for c in event["cpus"].split()]
        offs = [sum(overlap(a, b, start, end) for a, b, _ in off_in(name, start, end)) for name in hot_names]
        for name in hot_names:
            for a, b, why in off_in(name, start, end):
                by_state[why] += overlap(a, b, start, end)
        group = int(event["dominant_group"])
        part = next(
            (p for p in event["parts"].split(";") if p.startswith(event["dominant"] + "@")),
            None,
        )
        dominant_off = 0.0
        if part is not None and group < len(hot_names):
            from_ns, to_ns = (int(x) for x in part.rsplit("=", 1)[1].split(":"))
            dominant_off = sum(
                overlap(a, b, from_ns / 1e9, to_ns / 1e9) for a, b, _ in off_in(hot_names[group], from_ns / 1e9, to_ns / 1e9)
            )
        # While a hot thread was off its CPU in the window: who ran on the
        # CPU it had taken the event on (the other hot thread there means
        # the two were stacked on one CPU).
        others = collections.Counter()
        for group, name in enumerate(hot_names):
            cpu = cpus[group] if group < len(cpus) else None
            for a, b, _ in off_in(name, start, end):
                lo, hi = max(a, start), min(b, end)
                if hi <= lo or cpu is None:
                    continue
                for ra, rb, comm, tid in within(ran.get(cpu, []), starts.get(cpu, []), lo, hi):
                    if comm != "idle" and comm != name:
                        side = "hot: " if comm in hot_names else "ours: " if tid in ours else ""
                        label = side + re.sub(r"[/:]\d+$|\d+$", "", comm)
                        others[label] += overlap(ra, rb, lo, hi)
        if any(o > 0 for o in offs):
            descheduled += 1
            for comm, seconds in others.items():
                side = "kernel: " if KERNEL.match(comm) else ""
                by_whom[side + comm] += seconds
        else:
            unexplained.append(event)
        if dominant_off > 0:
            dominant_thread_off += 1
        by_dominant[event["dominant"]] += 1
        if index < opts.show:
            who = ", ".join(f"{c} {s * 1e6:.0f}" for c, s in others.most_common(3) if s > 0)
            print(
                f"| {event['seq']} | {int(event['total_ns']) / 1e3:.1f} | {event['dominant']} "
                f"| {int(event['dominant_ns']) / 1e3:.1f} | {dominant_off * 1e6:.0f} "
                f"| {' / '.join(f'{o * 1e6:.0f}' for o in offs)} | {who} |"
            )
    n = max(len(events), 1)
    print()
    print(f"slow events: {len(events)}")
    print(f"  a hot thread off its CPU during the event's window: {descheduled} ({descheduled * 100 / n:.1f} %)")
    print(f"  the longest part's own thread off its CPU during that part: {dominant_thread_off} ({dominant_thread_off * 100 / n:.1f} %)")
    print(f"  every hot thread on a CPU throughout: {len(unexplained)} ({len(unexplained) * 100 / n:.1f} %)")
    states = {"R": "preempted (R)", "S": "asleep (S)", "D": "in I/O (D)"}
    print("  hot threads' off-CPU time in the slow windows, by how they left: " + ", ".join(
        f"{states.get(k, k)} {v * 1e6:.0f} µs" for k, v in by_state.most_common()))
    print()
    print("| longest part | slow events |")
    print("|---|---:|")
    for name, count in by_dominant.most_common():
        print(f"| {name} | {count} |")
    print()
    print("| on a hot thread's CPU while it was off it, in a slow event's window | µs summed over events |")
    print("|---|---:|")
    for comm, seconds in by_whom.most_common(12):
        print(f"| {comm} | {seconds * 1e6:.0f} |")
    print_episodes(episodes(events, hot_names, (off, off_in), (ran, starts), ours))


if __name__ == "__main__":
    main()
