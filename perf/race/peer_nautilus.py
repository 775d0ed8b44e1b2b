#!/usr/bin/env python3
"""The race's market maker (see common.py) on NautilusTrader, one JSON line out.

Venue model: a simulated venue with an L2 (market-by-price) book built from the
tape, trade execution on, a constant order latency (--latency-us on every
command to the venue; events come back at once), no fees, netting margin
account. Nautilus models no queue position: a resting limit fills when the
tape's opposite side reaches its price. Feed: TardisCSVDataLoader, one
CryptoPerpetual per instrument. The risk engine runs with its order-rate
throttle raised out of the way. The data engine buffers deltas up to each
F_LAST flag, so the strategy sees one callback per L2 message.

`events` counts the tape rows fed in (deltas + trade ticks). `wall_s` is
`engine.run()` alone; `load_s` is loading plus adding the data to the engine;
`cpu_s` is the process's CPU time over the run (user + system, all threads).
"""

import time
from decimal import Decimal

import nautilus_trader
from nautilus_trader.adapters.tardis import TardisCSVDataLoader
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.models import LatencyModel
from nautilus_trader.config import (BacktestEngineConfig, DataEngineConfig, LoggingConfig,
                                    RiskEngineConfig, StrategyConfig)
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import AccountType, BookType, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Symbol, TraderId, Venue
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.objects import Currency, Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from common import check_events, emit, load_tape, parse_args, stdout_to_stderr

VENUE = Venue("SIM")
RATE = "1000000/00:00:01"


class MakerConfig(StrategyConfig, frozen=True):
    instrument_ids: tuple[str, ...]
    lot_sizes: tuple[str, ...]
    n: int
    order_lots: int
    max_position_lots: int


class Quoting:
    """One instrument's state: book updates seen, position, the two working orders."""

    def __init__(self, lot_size, order_lots):
        self.lot_size = Decimal(lot_size)
        self.qty = Quantity.from_str(str(self.lot_size * order_lots))
        self.updates = self.position_lots = 0
        self.orders = [None, None]  # buy, sell


class Maker(Strategy):
    def __init__(self, config):
        super().__init__(config)
        self.quoting = {InstrumentId.from_str(i): Quoting(lot, config.order_lots)
                        for i, lot in zip(config.instrument_ids, config.lot_sizes)}
        self.fills = self.orders_sent = 0

    def on_start(self):
        for instrument_id in self.quoting:
            self.subscribe_order_book_deltas(instrument_id, BookType.L2_MBP)

    def on_order_book_deltas(self, deltas):
        q = self.quoting[deltas.instrument_id]
        q.updates += 1
        if q.updates % self.config.n:
            return
        book = self.cache.order_book(deltas.instrument_id)
        bid, ask = book.best_bid_price(), book.best_ask_price()
        if bid is None or ask is None:
            return
        lots, limit = self.config.order_lots, self.config.max_position_lots
        self.quote(deltas.instrument_id, q, 0, bid, q.position_lots + lots <= limit)
        self.quote(deltas.instrument_id, q, 1, ask, q.position_lots - lots >= -limit)

    def quote(self, instrument_id, q, side, touch, wanted):
        """Keeps, replaces or cancels one side's order; one with a request in
        flight is left alone until the venue answers."""
        order = q.orders[side]
        if order is not None and not order.is_closed:
            if (wanted and order.price == touch) or order.is_inflight:
                return
            self.cancel_order(order)
        q.orders[side] = None
        if wanted:
            order_side = OrderSide.BUY if side == 0 else OrderSide.SELL
            order = self.order_factory.limit(instrument_id, order_side, q.qty, touch)
            self.submit_order(order)
            q.orders[side] = order
            self.orders_sent += 1

    def on_order_filled(self, fill):
        q = self.quoting[fill.instrument_id]
        lots = int(fill.last_qty.as_decimal() / q.lot_size)
        q.position_lots += lots if fill.order_side == OrderSide.BUY else -lots
        self.fills += 1


def instrument(inst):
    symbol = inst["symbol"]
    return CryptoPerpetual(
        InstrumentId(Symbol(symbol), VENUE), Symbol(symbol),
        base_currency=Currency.from_str(symbol.removesuffix("USDT")), quote_currency=USDT,
        settlement_currency=USDT, is_inverse=False,
        price_precision=inst["price_precision"], size_precision=inst["size_precision"],
        price_increment=Price.from_str(inst["tick_size"]),
        size_increment=Quantity.from_str(inst["lot_size"]), ts_event=0, ts_init=0,
        margin_init=Decimal("0.01"), margin_maint=Decimal("0.005"),
        maker_fee=Decimal(0), taker_fee=Decimal(0),
    )


def engine(meta, latency_ns):
    """An engine with the venue, the instruments and every row of the tape; returns it and the row count."""
    config = BacktestEngineConfig(
        trader_id=TraderId("RACE-001"),
        logging=LoggingConfig(log_level="ERROR"),
        data_engine=DataEngineConfig(buffer_deltas=True),
        # The risk engine stays in the loop, but its default throttle (100 orders
        # a second) would deny most requotes on this tape's clock.
        risk_engine=RiskEngineConfig(max_order_submit_rate=RATE, max_order_modify_rate=RATE),
        run_analysis=False,
    )
    bt = BacktestEngine(config=config)
    bt.add_venue(VENUE, oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
                 base_currency=USDT, starting_balances=[Money(1_000_000, USDT)],
                 book_type=BookType.L2_MBP, trade_execution=True,
                 latency_model=LatencyModel(base_latency_nanos=latency_ns))
    data = []
    for inst in meta["instruments"]:
        nautilus_instrument = instrument(inst)
        bt.add_instrument(nautilus_instrument)
        loader = TardisCSVDataLoader(inst["price_precision"], inst["size_precision"],
                                     nautilus_instrument.id)
        data += loader.load_deltas(inst["l2_path"])
        data += loader.load_trades(inst["trades_path"])
    bt.add_data(data)
    return bt, len(data)


def main():
    args = parse_args(__doc__.splitlines()[0])
    meta = load_tape(args.tape)
    with stdout_to_stderr():
        started = time.perf_counter()
        bt, events = engine(meta, args.latency_us * 1000)
        check_events(meta, events, "nautilus_trader")
        load_s = time.perf_counter() - started
        maker = Maker(MakerConfig(
            instrument_ids=tuple(f"{i['symbol']}.{VENUE}" for i in meta["instruments"]),
            lot_sizes=tuple(i["lot_size"] for i in meta["instruments"]),
            n=args.n, order_lots=args.order_lots, max_position_lots=args.max_position_lots))
        bt.add_strategy(maker)
        started, cpu_started = time.perf_counter(), time.process_time()
        bt.run()
        wall_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
        bt.dispose()
    emit(args, "nautilus_trader", nautilus_trader.__version__, events, maker.fills,
         maker.orders_sent, wall_s, cpu_s=cpu_s, book_updates=sum(q.updates for q in maker.quoting.values()),
         load_s=round(load_s, 3), queue_model="none: fills when the book reaches the order")


if __name__ == "__main__":
    main()
