//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use genesis_engine::config::{Config, InstrumentConfig, InstrumentLimits, WaitKind};
use genesis_engine::event::{Event, Fill, Input, OrderAck, TopOfBook};
use genesis_engine::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};

/// Two instruments with small, round limits; one fused thread, sleeping waits, unpinned.
pub fn test_config(journal_dir: &std::path::Path) -> Config {
    let instrument = |symbol: &str| InstrumentConfig {
        symbol: symbol.into(),
        tick_size: "0.01".into(),
        lot_size: "1".into(),
        tick_value: 1,
        start_price_ticks: 10_000,
        limits: InstrumentLimits {
            max_order_qty: 100,
            max_order_notional: 1_000_000,
            price_band_bps: 200,
            position_limit: 500,
            stop_loss: 20_000,
            breaker_move_ticks: 1_000,
            breaker_window_ms: 1_000,
            breaker_halt_ms: 5_000,
        },
    };
    let mut config = Config::builtin();
    config.instruments = vec![instrument("AAA"), instrument("BBB")];
    config.topology.pin_threads = false;
    config.topology.wait = WaitKind::Sleep;
    config.topology.sleep_us = 100;
    config.market_data.timer_interval_ms = 0;
    config.risk.max_open_orders = 8;
    config.risk.orders_per_window = 1_000;
    config.risk.gross_position_limit = 800;
    config.risk.daily_loss_limit = 50_000;
    config.journal.dir = journal_dir.to_path_buf();
    config.journal.sync_on_exit = false;
    config.journal.durability = genesis_engine::config::JournalDurability::None;
    config.journal.segment_size_mib = 4;
    config.metrics.listen = String::new();
    config.metrics.latency_log_dir = std::path::PathBuf::new();
    config
}

pub fn top(instrument: u16, bid: i64, ask: i64, ts_ns: u64) -> Event {
    let mut event = Event::new(
        InstrumentId(instrument),
        Side::None,
        Input::TopOfBook(TopOfBook {
            bid_px: Price(bid),
            bid_qty: Qty(10),
            ask_px: Price(ask),
            ask_qty: Qty(10),
        }),
    );
    event.ts_recv_ns = ts_ns;
    event
}

pub fn fill(
    instrument: u16,
    side: Side,
    order: u64,
    exec: u64,
    price: i64,
    qty: i64,
    ts_ns: u64,
) -> Event {
    let mut event = Event::new(
        InstrumentId(instrument),
        side,
        Input::Fill(Fill {
            order_id: OrderId(order),
            exec_id: ExecId(exec),
            price: Price(price),
            qty: Qty(qty),
        }),
    );
    event.ts_recv_ns = ts_ns;
    event
}

pub fn ack(instrument: u16, side: Side, order: u64, price: i64, qty: i64, ts_ns: u64) -> Event {
    let mut event = Event::new(
        InstrumentId(instrument),
        side,
        Input::OrderAck(OrderAck {
            order_id: OrderId(order),
            venue_order_id: order,
            price: Price(price),
            qty: Qty(qty),
        }),
    );
    event.ts_recv_ns = ts_ns;
    event
}
