#!/usr/bin/env python3
"""The race's market maker (see common.py) on hftbacktest, one JSON line out.

Venue model: risk-averse queue position (a resting order advances only when
trades at its price take the volume ahead of it, or the level shrinks below
it), no partial fills, constant order latency (--latency-us both for entry and
for the response), no fees. Feed: the tape converted by
`hftbacktest.data.utils.tardis.convert`, one asset per instrument.

`events` counts the tape rows fed in (L2 rows + trade rows); the DEPTH_CLEAR
rows that the converter inserts before a snapshot are not counted.
`wall_s` is the backtest loop alone, after a warm-up run that compiles it;
`load_s` is conversion plus building the backtester; `cpu_s` is the process's
CPU time over the loop (user + system, all threads).
"""

import time

import numpy as np
from numba import njit

import hftbacktest
from hftbacktest import BUY, GTC, LIMIT, SELL, BacktestAsset, HashMapMarketDepthBacktest
from hftbacktest.data.utils import tardis
from hftbacktest.order import NONE
from hftbacktest.types import DEPTH_CLEAR_EVENT, LOCAL_EVENT

from common import check_events, emit, load_tape, parse_args, stdout_to_stderr

WARMUP_ROWS = 5_000
# A warm-up run's per-asset slices end at different times, and hftbacktest then
# times out instead of reporting the end of data: an hour without a feed row
# ends the loop (the tape has one every ~100 µs).
FEED_TIMEOUT_NS = 3_600_000_000_000
NO_ORDER = np.uint64(0)


@njit
def forget_done(hbt, asset, order_id):
    """The id if that order is working or on its way to the venue, else NO_ORDER."""
    if order_id == NO_ORDER:
        return NO_ORDER
    order = hbt.orders(asset).get(order_id)
    if order is None or not (order.cancellable or order.req != NONE):
        return NO_ORDER
    return order_id


@njit
def quote_side(hbt, asset, side, working_id, working_tick, touch_tick, wanted, qty, next_id):
    """Keeps, replaces or cancels one side's order; returns (id, tick, orders sent).
    An order with a request in flight is left alone until the venue answers."""
    if working_id != NO_ORDER:
        if wanted and working_tick == touch_tick:
            return working_id, working_tick, 0
        if not hbt.orders(asset).get(working_id).cancellable:
            return working_id, working_tick, 0
        hbt.cancel(asset, working_id, False)
    if not wanted:
        return NO_ORDER, 0, 0
    price = touch_tick * hbt.depth(asset).tick_size
    if side == BUY:
        hbt.submit_buy_order(asset, next_id, price, qty, GTC, LIMIT, False)
    else:
        hbt.submit_sell_order(asset, next_id, price, qty, GTC, LIMIT, False)
    return next_id, touch_tick, 1


@njit
def updated_asset(hbt, assets):
    """Which asset's feed row was just processed (every row has its own local timestamp)."""
    now = hbt.current_timestamp
    for asset in range(assets):
        latency = hbt.feed_latency(asset)
        if latency is not None:
            _, local_ts = latency
            if local_ts == now:
                return asset
    return -1


@njit
def market_maker(hbt, assets, n, lot_sizes, order_lots, max_position_lots):
    updates = np.zeros(assets, np.int64)
    ids = np.zeros((assets, 2), np.uint64)  # [asset, 0=buy 1=sell]
    ticks = np.zeros((assets, 2), np.int64)
    next_id = np.uint64(1)
    orders = 0
    while True:
        result = hbt.wait_next_feed(False, FEED_TIMEOUT_NS)
        if result == 0 or result == 1:  # no feed for an hour of tape time, or end of data
            break
        if result != 2:
            raise RuntimeError("wait_next_feed failed")
        asset = updated_asset(hbt, assets)
        if asset < 0:
            continue
        if len(hbt.last_trades(asset)) > 0:  # a trade row, not a book update
            hbt.clear_last_trades(asset)
            continue
        updates[asset] += 1
        if updates[asset] % n != 0:
            continue
        depth = hbt.depth(asset)
        if depth.best_bid_tick <= -2**62 or depth.best_ask_tick >= 2**62:
            continue  # one side of the book is empty
        position_lots = round(hbt.position(asset) / lot_sizes[asset])
        qty = order_lots * lot_sizes[asset]
        hbt.clear_inactive_orders(asset)
        for side in range(2):
            working = forget_done(hbt, asset, ids[asset, side])
            if side == 0:
                touch, wanted, direction = depth.best_bid_tick, position_lots + order_lots <= max_position_lots, BUY
            else:
                touch, wanted, direction = depth.best_ask_tick, position_lots - order_lots >= -max_position_lots, SELL
            ids[asset, side], ticks[asset, side], sent = quote_side(
                hbt, asset, direction, working, ticks[asset, side], touch, wanted, qty, next_id)
            next_id += np.uint64(sent)
            orders += sent
    fills = 0
    for asset in range(assets):
        fills += hbt.state_values(asset).num_trades
    return orders, fills, updates.sum()


def convert(inst):
    """Trades before depth, as the converter asks; its progress lines go to stderr."""
    rows = inst["l2_rows"] + inst["trade_rows"]
    with stdout_to_stderr():
        data = tardis.convert([inst["trades_path"], inst["l2_path"]], buffer_size=rows + 1000,
                              ss_buffer_size=inst["snapshot_rows"] + 1000)
    local = (data["ev"] & LOCAL_EVENT) != 0
    clear = (data["ev"] & 0xFF) == DEPTH_CLEAR_EVENT
    return data, int(np.count_nonzero(local & ~clear))


def backtester(meta, feeds, latency_ns):
    assets = []
    for inst, data in zip(meta["instruments"], feeds):
        assets.append(
            BacktestAsset()
            .data(data)
            .linear_asset(1.0)
            .constant_order_latency(latency_ns, latency_ns)
            .risk_adverse_queue_model()
            .no_partial_fill_exchange()
            .trading_value_fee_model(0.0, 0.0)
            .tick_size(float(inst["tick_size"]))
            .lot_size(float(inst["lot_size"]))
            .last_trades_capacity(16)
        )
    return HashMapMarketDepthBacktest(assets)


def run(args, meta, feeds):
    lots = np.array([float(i["lot_size"]) for i in meta["instruments"]])
    hbt = backtester(meta, feeds, args.latency_us * 1000)
    started, cpu_started = time.perf_counter(), time.process_time()
    orders, fills, updates = market_maker(hbt, len(feeds), args.n, lots, args.order_lots,
                                          args.max_position_lots)
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    hbt.close()
    return orders, fills, int(updates), wall_s, cpu_s


def main():
    args = parse_args(__doc__.splitlines()[0])
    meta = load_tape(args.tape)
    started = time.perf_counter()
    converted = [convert(inst) for inst in meta["instruments"]]
    feeds = [data for data, _ in converted]
    events = sum(count for _, count in converted)
    check_events(meta, events, "hftbacktest")
    load_s = time.perf_counter() - started
    run(args, meta, [data[:WARMUP_ROWS].copy() for data in feeds])  # compiles the loop
    orders, fills, updates, wall_s, cpu_s = run(args, meta, feeds)
    emit(args, "hftbacktest", hftbacktest.__version__, events, fills, orders, wall_s,
         cpu_s=cpu_s, book_updates=updates, load_s=round(load_s, 3), queue_model="risk-averse, no partial fills")


if __name__ == "__main__":
    main()
