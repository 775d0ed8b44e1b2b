#!/usr/bin/env python3
"""Reads a tape written by make_tape.py back and checks what its header promises.

Independent of the generator: it rebuilds each book from the CSV text alone and
checks, per instrument, the row counts in tape.json, that the L2 file opens
with one snapshot, that every price is on the tick grid and every amount on the
lot grid, that the book is never crossed or locked after a message (rows
sharing a local timestamp), that a delete names a level in the book, and
across the whole tape that no two messages share a local timestamp. Exits 1 naming the
file and line of the first fault.
"""

import csv
import gzip
import sys
from decimal import Decimal
from pathlib import Path

from common import load_tape


def rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        yield from enumerate(csv.DictReader(f), start=2)


def on_grid(text, step, what, where):
    if Decimal(text) % step:
        sys.exit(f"{where}: {what} {text} is off its grid {step}")


def check_l2(inst, message_times):
    tick, lot = Decimal(inst["tick_size"]), Decimal(inst["lot_size"])
    book = {"bid": {}, "ask": {}}
    last_local, snapshot_done, count = None, False, 0
    for line, row in rows(inst["l2_path"]):
        where = f"{inst['l2_file']}:{line}"
        on_grid(row["price"], tick, "price", where)
        on_grid(row["amount"], lot, "amount", where)
        is_snapshot = row["is_snapshot"] == "true"
        if (is_snapshot and snapshot_done) or (line == 2 and not is_snapshot):
            sys.exit(f"{where}: the file must open with snapshot rows, and have none later")
        snapshot_done |= not is_snapshot
        if row["local_timestamp"] != last_local and last_local is not None:
            uncrossed(book, f"{inst['l2_file']}:{line - 1}")
            message_times.append(int(last_local))
        last_local, count = row["local_timestamp"], count + 1
        price, amount = Decimal(row["price"]), Decimal(row["amount"])
        if amount:
            book[row["side"]][price] = amount
        elif book[row["side"]].pop(price, None) is None:
            sys.exit(f"{where}: deletes a level that is not in the book")
    uncrossed(book, inst["l2_file"] + ":end")
    message_times.append(int(last_local))
    return count, book


def uncrossed(book, where):
    if book["bid"] and book["ask"] and max(book["bid"]) >= min(book["ask"]):
        sys.exit(f"{where}: book crossed or locked: {max(book['bid'])} >= {min(book['ask'])}")


def check_trades(inst, message_times):
    tick, lot, count = Decimal(inst["tick_size"]), Decimal(inst["lot_size"]), 0
    for line, row in rows(inst["trades_path"]):
        where = f"{inst['trades_file']}:{line}"
        on_grid(row["price"], tick, "price", where)
        on_grid(row["amount"], lot, "amount", where)
        if row["side"] not in ("buy", "sell"):
            sys.exit(f"{where}: side {row['side']!r}")
        message_times.append(int(row["local_timestamp"]))
        count += 1
    return count


def main():
    meta = load_tape(Path(sys.argv[1]))
    message_times = []
    for inst in meta["instruments"]:
        l2_rows, _ = check_l2(inst, message_times)
        trade_rows = check_trades(inst, message_times)
        if (l2_rows, trade_rows) != (inst["l2_rows"], inst["trade_rows"]):
            sys.exit(f"{inst['symbol']}: {l2_rows} L2 and {trade_rows} trade rows, tape.json says otherwise")
    if len(set(message_times)) != len(message_times):
        sys.exit("two messages share a local timestamp")
    print(f"tape {sys.argv[1]}: {meta['rows']} rows, {len(message_times)} messages, all checks passed")


if __name__ == "__main__":
    main()
