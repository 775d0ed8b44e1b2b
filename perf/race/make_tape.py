#!/usr/bin/env python3
"""Writes a seeded synthetic market-data tape in Tardis.dev CSV format.

One `incremental_book_L2` file and one `trades` file per instrument, named as
Tardis's downloads are (`{exchange}_{data_type}_{date}_{symbol}.csv[.gz]`),
and a `tape.json` sidecar with each instrument's tick and lot size.

Invariants of the tape (the race's readers may rely on them):
- each L2 file opens with one snapshot (all rows `is_snapshot=true`, one
  timestamp), then increments; amount 0 deletes a level;
- prices sit on the instrument's tick grid, amounts on its lot grid;
- the book is never crossed or locked after any row;
- every row of the whole tape has its own `local_timestamp` (microseconds,
  strictly increasing across all files), except that a snapshot's rows share
  one; `timestamp` is `local_timestamp` minus a constant feed latency;
- a trade at the touch is followed by the L2 row that shrinks that level.
Same arguments, same bytes: stdlib `random.Random(seed)` and gzip with mtime 0.
"""

import argparse
import gzip
import hashlib
import io
import json
import random
from decimal import Decimal
from pathlib import Path

EXCHANGE = "binance-futures"
DATE = "2024-01-01"
START_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
FEED_LATENCY_US = 1_000
GAP_MEAN_US = 100
L2_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
TRADE_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"

# symbol, tick size, lot size, start price, mean level size in lots, share of rows
INSTRUMENTS = [
    ("BTCUSDT", "0.1", "0.001", "42000.0", 40, 0.35),
    ("ETHUSDT", "0.01", "0.001", "2300.00", 60, 0.30),
    ("SOLUSDT", "0.001", "1", "100.000", 20, 0.20),
    ("XRPUSDT", "0.0001", "0.1", "0.6000", 80, 0.15),
]
SNAPSHOT_LEVELS = 25  # per side
MAX_DISTANCE_TICKS = 60  # levels further from the touch are deleted
MIN_LEVELS = 5  # per side; below this the generator only adds
TRADE_SHARE = 0.10
DELETE_SHARE = 0.25
INSIDE_SPREAD_SHARE = 0.35


def decimals(text):
    return max(0, -Decimal(text).as_tuple().exponent)


class Clock:
    """Global local-time source: every call returns a strictly later microsecond."""

    def __init__(self, rng):
        self.rng, self.now_us = rng, START_US

    def tick(self):
        self.now_us += 1 + int(self.rng.expovariate(1 / GAP_MEAN_US))
        return self.now_us


class Book:
    """One instrument's L2 book in integer ticks and lots, and its two output files."""

    def __init__(self, spec, rng, l2_out, trade_out):
        self.symbol, tick, lot, start, self.mean_lots, self.share = spec
        self.rng, self.l2_out, self.trade_out = rng, l2_out, trade_out
        self.px_dp, self.lot_dp = decimals(tick), decimals(lot)
        self.tick_units = int(Decimal(tick).scaleb(self.px_dp))
        self.lot_units = int(Decimal(lot).scaleb(self.lot_dp))
        mid = int(Decimal(start) / Decimal(tick))
        self.bids, self.asks = {}, {}
        self.best_bid, self.best_ask = mid, mid + 1
        self.l2_rows = self.trade_rows = self.trade_id = 0

    # ---- formatting ----
    def fmt(self, units, dp):
        if dp == 0:
            return str(units)
        text = str(units).rjust(dp + 1, "0")
        return f"{text[:-dp]}.{text[-dp:]}"

    def price(self, ticks):
        return self.fmt(ticks * self.tick_units, self.px_dp)

    def amount(self, lots):
        return "0" if lots == 0 else self.fmt(lots * self.lot_units, self.lot_dp)

    def lots(self):
        return 1 + int(self.rng.expovariate(1 / self.mean_lots))

    # ---- rows ----
    def l2_row(self, local_us, snapshot, is_bid, ticks, lots):
        side = "bid" if is_bid else "ask"
        self.l2_out.write(
            f"{EXCHANGE},{self.symbol},{local_us - FEED_LATENCY_US},{local_us},"
            f"{'true' if snapshot else 'false'},{side},{self.price(ticks)},{self.amount(lots)}\n"
        )
        self.l2_rows += 1

    def set_level(self, clock, is_bid, ticks, lots):
        """Applies one increment and emits its row, then deletes levels left too far away."""
        self.apply(clock, is_bid, ticks, lots)
        best = self.best_bid if is_bid else self.best_ask
        for far in [t for t in (self.bids if is_bid else self.asks) if abs(t - best) > MAX_DISTANCE_TICKS]:
            self.apply(clock, is_bid, far, 0)

    def apply(self, clock, is_bid, ticks, lots):
        levels = self.bids if is_bid else self.asks
        if lots:
            levels[ticks] = lots
        else:
            del levels[ticks]
        self.l2_row(clock.tick(), False, is_bid, ticks, lots)
        self.best_bid, self.best_ask = max(self.bids), min(self.asks)
        assert self.best_bid < self.best_ask, f"{self.symbol} crossed"

    def snapshot(self, local_us):
        for is_bid, levels, sign, best in ((True, self.bids, -1, self.best_bid), (False, self.asks, 1, self.best_ask)):
            for k in range(SNAPSHOT_LEVELS):
                levels[best + sign * k] = self.lots()
                self.l2_row(local_us, True, is_bid, best + sign * k, levels[best + sign * k])

    # ---- events ----
    def step(self, clock):
        if self.rng.random() < TRADE_SHARE:
            self.trade(clock)
        else:
            self.update(clock)

    def trade(self, clock):
        buyer = self.rng.random() < 0.5
        levels, ticks = (self.asks, self.best_ask) if buyer else (self.bids, self.best_bid)
        if len(levels) <= MIN_LEVELS:
            return self.update(clock)
        resting = levels[ticks]
        taken = resting if resting == 1 or self.rng.random() < 0.35 else self.rng.randint(1, resting - 1)
        local_us = clock.tick()
        self.trade_id += 1
        self.trade_out.write(
            f"{EXCHANGE},{self.symbol},{local_us - FEED_LATENCY_US},{local_us},{self.trade_id},"
            f"{'buy' if buyer else 'sell'},{self.price(ticks)},{self.amount(taken)}\n"
        )
        self.trade_rows += 1
        self.set_level(clock, not buyer, ticks, resting - taken)

    def update(self, clock):
        rng = self.rng
        is_bid = rng.random() < 0.5
        if min(len(self.bids), len(self.asks)) < MIN_LEVELS:
            is_bid = len(self.bids) < len(self.asks)
        levels, best, sign = (self.bids, self.best_bid, -1) if is_bid else (self.asks, self.best_ask, 1)
        spread = self.best_ask - self.best_bid
        if spread > 1 and rng.random() < INSIDE_SPREAD_SHARE:
            ticks = rng.randint(self.best_bid + 1, self.best_ask - 1)
        else:
            ticks = best + sign * min(int(rng.expovariate(0.25)), MAX_DISTANCE_TICKS)
        if ticks in levels and len(levels) > MIN_LEVELS and rng.random() < DELETE_SHARE:
            self.set_level(clock, is_bid, ticks, 0)
        else:
            self.set_level(clock, is_bid, ticks, self.lots())


def open_csv(path, gz, header, digests):
    raw = open(path, "wb")
    stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) if gz else raw
    text = io.TextIOWrapper(stream, encoding="ascii", newline="\n", write_through=False)
    text.write(header)
    digests.append((path, raw, stream, text))
    return text


def file_name(data_type, symbol, gz):
    return f"{EXCHANGE}_{data_type}_{DATE}_{symbol}.csv" + (".gz" if gz else "")


def generate(out, rows, seed, gz):
    rng = random.Random(seed)
    clock, files, books = Clock(rng), [], []
    for spec in INSTRUMENTS:
        l2 = open_csv(out / file_name("incremental_book_L2", spec[0], gz), gz, L2_HEADER, files)
        trades = open_csv(out / file_name("trades", spec[0], gz), gz, TRADE_HEADER, files)
        books.append(Book(spec, rng, l2, trades))
    for book in books:
        book.snapshot(clock.tick())
    weights = [b.share for b in books]
    while sum(b.l2_rows + b.trade_rows for b in books) < rows:
        rng.choices(books, weights)[0].step(clock)
    for _, raw, stream, text in files:
        text.close()
        if stream is not raw:
            raw.close()
    return books, [f[0] for f in files]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def csv_sha256(paths):
    """Digest of the uncompressed CSV text, in file order: the same with or without gzip."""
    digest = hashlib.sha256()
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def sidecar(books, paths, seed, rows, gz):
    instruments = []
    for book, spec in zip(books, INSTRUMENTS):
        instruments.append({
            "symbol": book.symbol,
            "tick_size": spec[1],
            "lot_size": spec[2],
            "price_precision": book.px_dp,
            "size_precision": book.lot_dp,
            "l2_file": file_name("incremental_book_L2", book.symbol, gz),
            "trades_file": file_name("trades", book.symbol, gz),
            "l2_rows": book.l2_rows,
            "trade_rows": book.trade_rows,
            "snapshot_rows": 2 * SNAPSHOT_LEVELS,
        })
    return {
        "format": "tardis-csv",
        "synthetic": True,
        "generator": "perf/race/make_tape.py",
        "seed": seed,
        "rows_requested": rows,
        "rows": sum(b.l2_rows + b.trade_rows for b in books),
        "gzip": gz,
        "exchange": EXCHANGE,
        "date": DATE,
        "timestamp_unit": "us",
        "feed_latency_us": FEED_LATENCY_US,
        "instruments": instruments,
        "files_sha256": {p.name: sha256(p) for p in paths},
        "csv_sha256": csv_sha256(paths),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the tape")
    parser.add_argument("--rows", type=int, default=2_000_000, help="L2 + trade rows, about")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob(f"{EXCHANGE}_*.csv*"):
        old.unlink()
    books, paths = generate(args.out, args.rows, args.seed, args.gzip)
    meta = sidecar(books, paths, args.seed, args.rows, args.gzip)
    (args.out / "tape.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"tape {args.out}: {meta['rows']} rows, seed {args.seed}, csv sha256 {meta['csv_sha256']}")


if __name__ == "__main__":
    main()
