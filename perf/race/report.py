#!/usr/bin/env python3
"""Gathers the race's result lines into one JSON report and a markdown table.

Input: files of JSON lines as the peer runners print them (common.RESULT_KEYS
first), and, when Genesis ran, its `--summary-json` files, which carry the same
keys plus `latency_ns` ({"p50", "p99", "p99_9", "max"}). Output:
`race-peers.json` (tape, machine, runs, ratios) and `race-peers.md`.
Ratios are events/s of one engine over another at the same N, in the same run.
"""

import argparse
import json
import os
from pathlib import Path

from common import RESULT_KEYS


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), "unknown")
    return {"cpu_model": model, "cpus": os.cpu_count(),
            "loadavg_at_report": Path("/proc/loadavg").read_text().split()[:3]}


def read_runs(paths):
    runs = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                run = json.loads(line)
                missing = [k for k in RESULT_KEYS if k not in run]
                if missing:
                    raise SystemExit(f"{path}: a result without {missing}")
                runs.append(run)
    return runs


def ratios(runs):
    """events/s ratios at each N: genesis over each peer when it ran, hftbacktest over nautilus always."""
    by_n = {}
    for run in runs:
        by_n.setdefault(run["n"], {})[run["engine"]] = run["events_per_s"]
    pairs = [("genesis", "hftbacktest"), ("genesis", "nautilus_trader"), ("hftbacktest", "nautilus_trader")]
    return {f"n={n}": {f"{a}/{b}": round(rates[a] / rates[b], 2) for a, b in pairs if a in rates and b in rates}
            for n, rates in sorted(by_n.items())}


def markdown(report):
    tape = report["tape"]
    lines = [
        f"Tape: {tape['rows']} rows (L2 + trades), {len(tape['instruments'])} instruments, "
        f"seed {tape['seed']}, csv sha256 `{tape['csv_sha256'][:16]}…`. "
        f"CPU: {report['machine']['cpu_model']} ({report['machine']['cpus']} cpus, shared with other work).",
        "",
        "| engine | version | N | events | events/s | fills | orders | wall s | load s | latency p50/p99/p99.9 ns |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["runs"]:
        latency = r.get("latency_ns")
        spread = "/".join(str(latency[k]) for k in ("p50", "p99", "p99_9")) if latency else "n/a"
        lines.append(f"| {r['engine']} | {r['version']} | {r['n']} | {r['events']} | {r['events_per_s']:,} "
                     f"| {r['fills']} | {r['orders']} | {r['wall_s']} | {r.get('load_s', 'n/a')} | {spread} |")
    lines.append("")
    for n, pairs in report["ratios"].items():
        lines.append(f"Ratios at {n}: " + ", ".join(f"{k} {v}×" for k, v in pairs.items()))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="files of JSON result lines")
    parser.add_argument("--tape", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    args = parser.parse_args()
    tape = json.loads((args.tape / "tape.json").read_text())
    runs = read_runs(args.results)
    report = {
        "tape": {k: tape[k] for k in ("rows", "seed", "gzip", "csv_sha256", "instruments")},
        "machine": machine(),
        "runs": runs,
        "ratios": ratios(runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "race-peers.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "race-peers.md").write_text(markdown(report))
    print(markdown(report), end="")


if __name__ == "__main__":
    main()
