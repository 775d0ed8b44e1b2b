#!/usr/bin/env python3
"""Who takes the pipeline's hot threads off their cores, from `perf sched record`.

    perf sched record -o sched.data -- target/release/pipeline --latency-rate 100000 --seconds 5 --only pipelined
    perf script -i sched.data -F comm,pid,tid,cpu,time,event,trace > sched.txt
    python3 perf/sched/preemptions.py sched.txt --pid <pipeline pid> --hot ingest+risk,strategy+execut

A hot thread switched out while still runnable (prev_state R) was preempted:
the task switched in at that moment is its preemptor, and the hot thread is
off-CPU until it is switched in again (on either CPU). Prints, per
preemptor, how often and for how long it took a hot thread's core, per
second of the recording, split into this process's threads ("ours"), the
kernel's own threads ("kernel": ksoftirqd, kworker, rcu, migration, ...)
and everything else ("other": builds, other processes); then how often each of our other
threads was switched in (its wake-ups) per second, and how long it ran
(on-CPU ms per second: the work it takes from the hot threads' cores when
no core is spare), in how many runs, how long each (p50, p99, longest),
and how often its switch-in preempted a hot thread. Last, the p99 and p99.9 wait those off-CPU spans imply
for events arriving uniformly (an event that arrives while a hot thread is
off waits out the rest of the span; both threads' spans pooled, an upper
bound where they overlap): compare it with the run's measured p99 to see
whether the preemptions account for it.
"""

import argparse
import collections
import re

SWITCH = re.compile(
    r"prev_comm=(?P<prev_comm>.+?) prev_pid=(?P<prev_pid>\d+) prev_prio=\d+ "
    r"prev_state=(?P<state>\S+) ==> next_comm=(?P<next_comm>.+?) next_pid=(?P<next_pid>\d+)"
)
KERNEL = re.compile(r"^(ksoftirqd|kworker|rcu_|rcuc|rcuog|rcuop|migration|kthreadd|irq/|watchdog|cpuhp|kcompactd|khugepaged|kswapd|jbd2|ext4-|xfs|kblockd|oom_reaper|idle_inject|swapper)")
HEAD = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<pid>-?\d+)/(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<time>[\d.]+):\s+(?P<event>\S+):")


def records(path):
    """Yields (time_s, cpu, pid, tid, comm, event, trace) per record; comm,
    pid and tid are the task current on that CPU."""
    with open(path, errors="replace") as lines:
        for line in lines:
            head = HEAD.match(line)
            if head:
                yield (
                    float(head["time"]),
                    int(head["cpu"]),
                    int(head["pid"]),
                    int(head["tid"]),
                    head["comm"],
                    head["event"],
                    line[head.end():],
                )


def parse(path):
    """Yields (time_s, cpu, pid, tid, event, trace) per line; pid is the current task's process."""
    for time_s, cpu, pid, tid, _comm, event, trace in records(path):
        yield time_s, cpu, pid, tid, event, trace


def main():
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("script_output")
    args.add_argument("--pid", type=int, required=True, help="the benchmark's process id")
    args.add_argument("--hot", required=True, help="comma-separated names (comm) of the hot threads")
    opts = args.parse_args()
    hot_names = set(opts.hot.split(","))

    ours = set()  # tids of the benchmark's process
    names = {}
    hot_tids = set()
    off_since = {}  # hot tid -> (time, preemptor label)
    stolen = collections.defaultdict(list)  # label -> [off-CPU durations]
    switched_in = collections.Counter()  # our non-hot tids -> switch-ins
    on_cpu = collections.Counter()  # our non-hot thread names -> seconds on a CPU
    runs = collections.defaultdict(list)  # our non-hot thread names -> each run's seconds
    took_hot = collections.Counter()  # our non-hot thread names -> switch-ins preempting a hot thread
    running = {}  # cpu -> (tid, since)
    first = last = None
    switches = []
    for time_s, cpu, pid, tid, event, trace in parse(opts.script_output):
        first = time_s if first is None else first
        last = time_s
        if pid == opts.pid:
            ours.add(tid)
        if event == "sched:sched_switch":
            m = SWITCH.search(trace)
            if m:
                switches.append((time_s, cpu, m))
    for time_s, cpu, m in switches:
        prev, nxt = int(m["prev_pid"]), int(m["next_pid"])
        names[prev], names[nxt] = m["prev_comm"], m["next_comm"]
        for t, name in ((prev, m["prev_comm"]), (nxt, m["next_comm"])):
            if t in ours and name in hot_names:
                hot_tids.add(t)
    # The window: from the hot threads' first switch to their last (the run
    # itself, not the benchmark's start-up or its other phases).
    hot_times = [t for t, _, m in switches if int(m["prev_pid"]) in hot_tids or int(m["next_pid"]) in hot_tids]
    first, last = (hot_times[0], hot_times[-1]) if hot_times else (0.0, 0.0)
    for time_s, cpu, m in switches:
        if not first <= time_s <= last:
            continue
        prev, nxt = int(m["prev_pid"]), int(m["next_pid"])
        if prev in hot_tids and m["state"].startswith("R"):
            who = names[nxt] if nxt else "idle"
            side = "ours: " if nxt in ours else "kernel: " if KERNEL.match(who) else "other: "
            label = side + re.sub(r"[/:]\d+$|\d+$", "", who)
            off_since[prev] = (time_s, label)
        if nxt in hot_tids and nxt in off_since:
            since, label = off_since.pop(nxt)
            stolen[label].append(time_s - since)
        if nxt in ours and nxt not in hot_tids:
            switched_in[names[nxt]] += 1
            if prev in hot_tids and m["state"].startswith("R"):
                took_hot[names[nxt]] += 1
        if cpu in running and running[cpu][0] == prev and prev in ours and prev not in hot_tids:
            on_cpu[names[prev]] += time_s - running[cpu][1]
            runs[names[prev]].append(time_s - running[cpu][1])
        running[cpu] = (nxt, time_s)
    seconds = max((last or 0) - (first or 0), 1e-9)
    print(f"window (hot threads' first to last switch): {seconds:.2f} s; hot threads: {sorted(names[t] for t in hot_tids)}")
    print()
    print("| preemptor | preemptions/s | off-CPU ms/s | p50 µs | max µs |")
    print("|---|---:|---:|---:|---:|")
    total = collections.Counter()
    for label, spans in sorted(stolen.items(), key=lambda kv: -sum(kv[1])):
        spans.sort()
        side = label.split(":")[0]
        total[side] += sum(spans)
        print(
            f"| {label} | {len(spans) / seconds:.1f} | {sum(spans) * 1e3 / seconds:.2f} "
            f"| {spans[len(spans) // 2] * 1e6:.0f} | {spans[-1] * 1e6:.0f} |"
        )
    print()
    for side in ("ours", "kernel", "other"):
        print(f"{side}: hot threads off-CPU {total[side] * 1e3 / seconds:.2f} ms per second")
    print()
    print("| preemptors | implied p99 wait µs | implied p99.9 wait µs | time with a hot thread off-CPU |")
    print("|---|---:|---:|---:|")
    for side in ("ours", "kernel", "other", "all"):
        spans = [d for label, ds in stolen.items() for d in ds if side == "all" or label.startswith(side)]
        print(
            f"| {side} | {implied_wait(spans, seconds, 0.01) * 1e6:.0f} "
            f"| {implied_wait(spans, seconds, 0.001) * 1e6:.0f} | {sum(spans) / seconds * 100:.2f} % |"
        )
    print()
    print("| our other thread | switched in /s | of which preempting a hot thread /s | on-CPU ms/s | runs | run p50 µs | run p99 µs | longest run µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, count in switched_in.most_common():
        lengths = sorted(runs[name]) or [0.0]
        print(
            f"| {name} | {count / seconds:.1f} | {took_hot[name] / seconds:.1f} "
            f"| {on_cpu[name] * 1e3 / seconds:.2f} | {len(runs[name])} "
            f"| {lengths[len(lengths) // 2] * 1e6:.0f} | {lengths[min(len(lengths) - 1, len(lengths) * 99 // 100)] * 1e6:.0f} "
            f"| {lengths[-1] * 1e6:.0f} |"
        )


def implied_wait(spans, seconds, tail):
    """The wait d exceeded by a fraction `tail` of uniformly arriving events:
    an arrival inside a span of length s waits s - t, so the fraction waiting
    more than d is sum(max(0, s - d)) / seconds. Bisection on d."""
    def beyond(d):
        return sum(max(0.0, s - d) for s in spans) / seconds
    if beyond(0.0) <= tail:
        return 0.0
    low, high = 0.0, max(spans)
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if beyond(mid) > tail else (low, mid)
    return high


if __name__ == "__main__":
    main()
