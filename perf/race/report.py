#!/usr/bin/env python3
"""Gathers the race's result lines into one JSON report and a markdown table.

Input: files of JSON lines as the peer runners print them (common.RESULT_KEYS
first), and, when Genesis ran, its `--summary-json` files, which carry the same
keys plus `latency_ns` ({"p50", "p99", "p99_9", "max"}). Output:
`race-peers.json` (tape, machine, runs, ratios) and `race-peers.md`.
An engine run more than once at one N (`RACE_REPEATS`) is reported by its
median run by events/s (the lower middle one for an even count), with every
run's events/s beside it; the ratios are of those median runs.
Ratios are events/s of one engine over another at the same N, in the same run,
in two scopes:
- (b) each engine from its own pre-converted input: the peers' loop over the
  data their loaders already converted in memory (`wall_s`; conversion is
  `load_s`), Genesis's backtest of its binary tape (`genesis`: reading and
  decoding the binary file inside `wall_s`; `genesis tape convert` is its
  `load_s`). Keys `race_n{N}_{a}_over_{b}` (and `_per_cpu_s`).
- (a) from the same Tardis CSV files, conversion included for everyone:
  `events / (load_s + wall_s)` for the peers and for `genesis` (convert, then
  backtest), `events / wall_s` for `genesis-csv` (the gzip CSV parsed inside
  its run). Keys `race_n{N}_{a}_over_{b}_from_csv`.
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


def median_runs(runs):
    """One run per engine and N, in the order they first appear: the run with
    the median events/s of its repeats (the lower middle one for an even
    count), with `repeats` and every repeat's `events_per_s_runs` (in the
    order they ran) added."""
    groups = {}
    for run in runs:
        groups.setdefault((run["engine"], run["n"]), []).append(run)
    out = []
    for repeats in groups.values():
        ranked = sorted(repeats, key=lambda r: r["events_per_s"])
        chosen = dict(ranked[(len(ranked) - 1) // 2])
        chosen["repeats"] = len(repeats)
        chosen["events_per_s_runs"] = [r["events_per_s"] for r in repeats]
        out.append(chosen)
    return out


PAIRS = [("genesis", "hftbacktest"), ("genesis", "nautilus_trader"),
         ("genesis-2cores", "hftbacktest"), ("genesis-2cores", "nautilus_trader"),
         ("genesis-2cores-spin", "hftbacktest"), ("genesis-2cores-spin", "nautilus_trader"),
         ("genesis-csv", "hftbacktest"), ("genesis-csv", "nautilus_trader"),
         ("hftbacktest", "nautilus_trader")]


def from_csv_rate(run):
    """Events per second from the CSV files to the end of the run: the
    conversion (`load_s`, when the engine has one) plus the run."""
    seconds = run["wall_s"] + (run.get("load_s") or 0.0)
    return round(run["events"] / seconds) if seconds > 0 else None


def ratios(runs):
    """Ratios at each N, one engine over another measured in the same run: of
    events/s (wall) and of events per CPU second. Keyed and shaped as the
    bench report's ratios ({value, better, what}), so that `compare` checks
    them against perf/baseline/race.json."""
    by_n = {}
    for run in runs:
        by_n.setdefault(run["n"], {})[run["engine"]] = run
    out = {}
    for n, engines in sorted(by_n.items()):
        for a, b in PAIRS:
            if a not in engines or b not in engines:
                continue
            slug = f"race_n{n}_{a.replace('-', '_')}_over_{b}"
            for key, unit in (("events_per_s", "events/s"), ("events_per_cpu_s", "events per CPU second")):
                # genesis-csv parses the CSV inside its run: scope (a) only.
                if a != "genesis-csv" and engines[a].get(key) and engines[b].get(key):
                    suffix = "" if key == "events_per_s" else "_per_cpu_s"
                    out[slug + suffix] = {
                        "value": round(engines[a][key] / engines[b][key], 3),
                        "better": "higher",
                        "what": f"{unit}, {a} ÷ {b}, N = {n}, scope (b): each from its own "
                                "pre-converted input, same tape, same run",
                    }
            rate_a, rate_b = from_csv_rate(engines[a]), from_csv_rate(engines[b])
            if rate_a and rate_b:
                out[slug + "_from_csv"] = {
                    "value": round(rate_a / rate_b, 3),
                    "better": "higher",
                    "what": f"events/s, {a} ÷ {b}, N = {n}, scope (a): from the same Tardis CSV "
                            "files, conversion included, same run",
                }
    return out


def fills_note(runs):
    """Fills and orders of each engine as a share of hftbacktest's at the same N
    (the same queue model: they should agree within a few per cent)."""
    by_n = {}
    for run in runs:
        by_n.setdefault(run["n"], {})[run["engine"]] = run
    notes = {}
    for n, engines in sorted(by_n.items()):
        base = engines.get("hftbacktest")
        for engine, run in engines.items():
            if base and engine != "hftbacktest" and base["fills"] and base["orders"]:
                notes[f"n={n} {engine}/hftbacktest"] = {
                    "fills": round(run["fills"] / base["fills"], 4),
                    "orders": round(run["orders"] / base["orders"], 4),
                }
    return notes


def markdown(report):
    tape = report["tape"]
    lines = [
        f"Tape: {tape['rows']} rows (L2 + trades), {len(tape['instruments'])} instruments, "
        f"seed {tape['seed']}, csv sha256 `{tape['csv_sha256'][:16]}…`. "
        f"CPU: {report['machine']['cpu_model']} ({report['machine']['cpus']} cpus, shared with other work).",
        "",
        "| engine | version | plan | N | events | events/s (b) | events/CPU-s (b) | events/s from CSV (a) | fills | orders | wall s | CPU s | load s | load avg | latency p50/p99/p99.9/max ns |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["runs"]:
        latency = r.get("latency_ns")
        spread = "/".join(str(latency[k]) for k in ("p50", "p99", "p99_9", "max")) if latency else "n/a"
        per_cpu = r.get("events_per_cpu_s")
        lines.append(f"| {r['engine']} | {r['version']} | {r.get('plan', '1 thread')} | {r['n']} | {r['events']} | {r['events_per_s']:,} "
                     f"| {f'{per_cpu:,}' if per_cpu else 'n/a'} | {from_csv_rate(r) or 0:,} "
                     f"| {r['fills']} | {r['orders']} | {r['wall_s']} "
                     f"| {r.get('cpu_s', 'n/a')} | {r.get('load_s') if r.get('load_s') is not None else '—'} | {r.get('loadavg_1m', 'n/a')} | {spread} |")
    lines.append("")
    lines.append("Scope (b), each engine from its own pre-converted input: the peers' loop over the data "
                 "their loaders converted in memory (conversion is their load s); genesis: its binary tape "
                 "(`genesis tape convert`, whose time is its load s), read and decoded inside its wall time. "
                 "Scope (a), from the same Tardis CSV files, conversion included for everyone: events ÷ "
                 "(load s + wall s); genesis-csv: the gzip CSV files read and parsed inside its wall time. "
                 "Genesis's journal is on in every run (group commit: fdatasync on a background thread "
                 "every 4,096 records or 1 ms; its full 256 KiB buffers are written by a `journal-write` "
                 "thread, `[journal] write_thread`, whose CPU counts in CPU s). Plan: the threads that ran the engine's stages; the peers "
                 "are single-threaded; genesis and genesis-csv run all five stages fused on one thread; "
                 "genesis-2cores runs one thread on a second core that reads the tape, applies it to the tape's books and makes each "
                 "row's event ahead of the engine, and writes the journal behind it (`backtest.tape_core`); core 0 keeps the "
                 "venue's matching, the merge and the other four stages; both threads sleep when they wait (its CPU s counts both threads, so "
                 "events/CPU-s shows what the second core costs); genesis-2cores-spin is the same plan with both threads "
                 "spinning with a pause hint when they wait (`spin-hint`, named in its plan column). Genesis's latency is per event, from "
                 "the row taken off the tape to its journal write (fused), or to its hand-over to the "
                 "journal's ring (genesis-2cores), timed on a 1-in-16 sample with exact counts.")
    repeated = [r for r in report["runs"] if r.get("repeats", 1) > 1]
    if repeated:
        lines.append("")
        lines.append("Each row above is the median run by events/s of its repeats; every repeat, in the order they ran "
                     "(the engines took turns):")
        lines.append("")
        for r in repeated:
            runs = ", ".join(f"{rate:,}" for rate in r["events_per_s_runs"])
            lines.append(f"- {r['engine']}, N = {r['n']}: {r['repeats']} runs, events/s {runs}")
    lines.append("")
    for key, ratio in report["ratios"].items():
        lines.append(f"- `{key}`: {ratio['value']}× ({ratio['what']})")
    for key, note in report["fills_vs_hftbacktest"].items():
        lines.append(f"- {key}: fills {note['fills']}×, orders {note['orders']}×")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="files of JSON result lines")
    parser.add_argument("--tape", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    args = parser.parse_args()
    tape = json.loads((args.tape / "tape.json").read_text())
    runs = median_runs(read_runs(args.results))
    report = {
        "tape": {k: tape[k] for k in ("rows", "seed", "gzip", "csv_sha256", "instruments")},
        "machine": machine(),
        "runs": runs,
        "ratios": ratios(runs),
        "fills_vs_hftbacktest": fills_note(runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "race-peers.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "race-peers.md").write_text(markdown(report))
    print(markdown(report), end="")


if __name__ == "__main__":
    main()
