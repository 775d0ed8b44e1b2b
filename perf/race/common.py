"""What both peer runners share: the tape's sidecar, the strategy's parameters
and the one-line JSON result.

The strategy, the same in every engine: per instrument, count book updates
(one update = one L2 message, i.e. the rows sharing a timestamp: the opening
snapshot is one update, every increment is one); on every Nth update requote
that instrument: a buy of `order_lots` at the best bid and a sell at the best
ask, each kept while its price is still the touch and otherwise cancelled and
sent again at the new touch; a side whose fill would take the position beyond
`max_position_lots` is not quoted (its order is cancelled). Limit orders, GTC.
"""

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

# What every result line carries, in this order; engines may add fields after these.
RESULT_KEYS = ("engine", "version", "n", "events", "events_per_s", "fills", "wall_s", "orders")


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("tape", type=Path, help="directory written by make_tape.py")
    parser.add_argument("--n", type=int, default=8, help="requote every Nth book update")
    parser.add_argument("--order-lots", type=int, default=1, help="order size in lots")
    parser.add_argument("--max-position-lots", type=int, default=10)
    parser.add_argument("--latency-us", type=int, default=100, help="constant order latency")
    args = parser.parse_args()
    if args.n < 1 or args.order_lots < 1 or args.max_position_lots < args.order_lots:
        parser.error("need n >= 1 and max-position-lots >= order-lots >= 1")
    return args


def load_tape(tape_dir):
    """The sidecar, with each instrument's two file paths made absolute."""
    meta = json.loads((tape_dir / "tape.json").read_text())
    for inst in meta["instruments"]:
        inst["l2_path"] = str(tape_dir / inst["l2_file"])
        inst["trades_path"] = str(tape_dir / inst["trades_file"])
    return meta


def check_events(meta, events, engine):
    """Both engines must be fed every row of the tape, no more and no less."""
    if events != meta["rows"]:
        sys.exit(f"{engine}: loaded {events} rows, tape.json says {meta['rows']}")


@contextlib.contextmanager
def stdout_to_stderr():
    """Sends file descriptor 1 to stderr (engines' banners and Rust loggers write
    there directly), so that stdout carries only the result line."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def emit(args, engine, version, events, fills, orders, wall_s, cpu_s, **extra):
    """Prints the result line. `cpu_s` (the process's CPU time over the loop)
    gives `events_per_cpu_s`, which a shared machine's load disturbs less
    than `events_per_s`."""
    result = {
        "engine": engine,
        "version": version,
        "n": args.n,
        "events": events,
        "events_per_s": round(events / wall_s),
        "fills": fills,
        "wall_s": round(wall_s, 3),
        "orders": orders,
        "order_lots": args.order_lots,
        "max_position_lots": args.max_position_lots,
        "latency_us": args.latency_us,
        "cpu_s": round(cpu_s, 3),
        "events_per_cpu_s": round(events / max(cpu_s, 1e-9)),
        # The machine is shared: the load over the last minute says how much.
        "loadavg_1m": float(Path("/proc/loadavg").read_text().split()[0]),
        **extra,
    }
    print(json.dumps(result), flush=True)
