//! The allowed range of every number in the config whose type alone does
//! not keep the engine safe: capacities it preallocates, durations it
//! turns into nanoseconds, prices and quantities it multiplies. A value
//! outside is refused naming the key and the range, before anything is
//! allocated or started, so no value the validator accepts can overflow a
//! capacity, an allocation or an arithmetic operation later.
//!
//! The bounds are generous (far beyond any sane setting) and chosen so the
//! products the engine forms stay inside their integer types: prices up to
//! 10^15 ticks times quantities up to 10^12 lots fit the i128 notional, a
//! duration of a week in ms fits u64 nanoseconds many times over.

use super::{Config, ConfigError, Invalid};
use std::fmt::Display;
use std::ops::RangeInclusive;

/// Longest duration a key in milliseconds may name: one week.
pub const DURATION_MS_MAX: u64 = 7 * 24 * 60 * 60 * 1_000;
/// Largest capacity of a preallocated queue, ring or table: 2^20 slots.
pub const CAPACITY_MAX: usize = 1 << 20;
/// Largest price in ticks (start prices, breaker moves).
pub const PRICE_TICKS_MAX: i64 = 1_000_000_000_000_000;
/// Largest quantity in lots (order sizes, positions).
pub const QTY_LOTS_MAX: i64 = 1_000_000_000_000;

/// `value` within `range`, else an error naming `key` and the range.
pub(crate) fn in_range<T: PartialOrd + Display>(
    invalid: &Invalid<'_>,
    key: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(invalid(
        key,
        format!(
            "{value} is outside the allowed range {}..={}",
            range.start(),
            range.end()
        ),
    ))
}

/// A finite, non-negative float, else an error naming `key`.
fn finite_non_negative(invalid: &Invalid<'_>, key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        return Ok(());
    }
    Err(invalid(
        key,
        format!("{value} is not a finite number of at least 0"),
    ))
}

/// Every bounded key of `config`, section by section.
pub(super) fn validate(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    topology(config, invalid)?;
    for (index, instrument) in config.instruments.iter().enumerate() {
        instrument_ranges(instrument, &format!("instruments[{index}]"), invalid)?;
    }
    risk_and_strategy(config, invalid)?;
    venue(config, invalid)?;
    journal_and_metrics(config, invalid)?;
    alerts(config, invalid)?;
    market_data(config, invalid)?;
    itch(&config.market_data.itch, invalid)?;
    binance(&config.market_data.binance, invalid)?;
    backtest_and_touch_quoter(config, invalid)
}

/// Capacities the ITCH receiver preallocates, and its timeouts.
fn itch(itch: &super::ItchConfig, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let key = |field: &str| format!("market_data.itch.{field}");
    for (field, value, max) in [
        ("book_orders_max", itch.book_orders_max, CAPACITY_MAX),
        ("book_levels_max", itch.book_levels_max, 1 << 16),
        ("buffer_datagrams_max", itch.buffer_datagrams_max, 1 << 16),
        (
            "replay_datagrams_per_poll_max",
            itch.replay_datagrams_per_poll_max,
            1 << 16,
        ),
        (
            "datagrams_per_poll_max",
            itch.datagrams_per_poll_max,
            1 << 16,
        ),
        ("buffer_bytes_max", itch.buffer_bytes_max, 1 << 30),
    ] {
        in_range(invalid, &key(field), value, 0..=max)?;
    }
    for (field, value) in [
        ("retransmit_timeout_ms", itch.retransmit_timeout_ms),
        ("request_retry_ms", itch.request_retry_ms),
        (
            "snapshot_backoff_initial_ms",
            itch.snapshot_backoff_initial_ms,
        ),
        ("snapshot_backoff_max_ms", itch.snapshot_backoff_max_ms),
        (
            "snapshot_connect_timeout_ms",
            itch.snapshot_connect_timeout_ms,
        ),
        ("snapshot_idle_timeout_ms", itch.snapshot_idle_timeout_ms),
    ] {
        in_range(invalid, &key(field), value, 0..=DURATION_MS_MAX)?;
    }
    in_range(
        invalid,
        &key("request_interval_min_us"),
        itch.request_interval_min_us,
        0..=60_000_000,
    )?;
    in_range(
        invalid,
        &key("snapshot_gap_messages_min"),
        itch.snapshot_gap_messages_min,
        0..=1 << 40,
    )
}

/// The Binance feed's timeouts and sizes.
fn binance(binance: &super::BinanceConfig, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let key = |field: &str| format!("market_data.binance.{field}");
    for (field, value) in [
        ("rest_timeout_ms", binance.rest_timeout_ms),
        (
            "snapshot_backoff_initial_ms",
            binance.snapshot_backoff_initial_ms,
        ),
        ("snapshot_backoff_max_ms", binance.snapshot_backoff_max_ms),
        ("snapshot_diff_wait_ms", binance.snapshot_diff_wait_ms),
        ("snapshot_retry_ms", binance.snapshot_retry_ms),
        ("reconnect_initial_ms", binance.reconnect_initial_ms),
        ("reconnect_max_ms", binance.reconnect_max_ms),
    ] {
        in_range(invalid, &key(field), value, 0..=DURATION_MS_MAX)?;
    }
    for (field, value) in [
        ("ping_interval_s", binance.ping_interval_s),
        ("ping_timeout_s", binance.ping_timeout_s),
        ("close_timeout_s", binance.close_timeout_s),
        ("connect_timeout_s", binance.connect_timeout_s),
    ] {
        in_range(invalid, &key(field), value, 0..=86_400)?;
    }
    in_range(
        invalid,
        &key("message_bytes_max"),
        binance.message_bytes_max,
        0..=1 << 28,
    )?;
    in_range(
        invalid,
        &key("snapshot_limit"),
        binance.snapshot_limit,
        0..=5_000,
    )
}

/// The backtest's preallocated tables and latencies, and the touch quoter's sizes.
fn backtest_and_touch_quoter(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let backtest = &config.backtest;
    for (field, value, max) in [
        ("orders_max", backtest.orders_max, CAPACITY_MAX),
        ("book_levels_max", backtest.book_levels_max, 1 << 16),
        (
            "lookahead_rows_max",
            backtest.lookahead_rows_max,
            CAPACITY_MAX,
        ),
        ("itch_orders_max", backtest.itch_orders_max, 1 << 22),
    ] {
        in_range(invalid, &format!("backtest.{field}"), value, 0..=max)?;
    }
    for (field, value) in [
        ("entry_latency_ns", backtest.entry_latency_ns),
        ("response_latency_ns", backtest.response_latency_ns),
    ] {
        in_range(
            invalid,
            &format!("backtest.{field}"),
            value,
            0..=3_600_000_000_000,
        )?;
    }
    let quoter = &config.strategy.touch_quoter;
    in_range(
        invalid,
        "strategy.touch_quoter.requote_every_updates",
        quoter.requote_every_updates,
        0..=1 << 32,
    )?;
    for (field, value) in [
        ("order_lots", quoter.order_lots),
        ("max_position_lots", quoter.max_position_lots),
    ] {
        in_range(
            invalid,
            &format!("strategy.touch_quoter.{field}"),
            value,
            0..=QTY_LOTS_MAX,
        )?;
    }
    in_range(
        invalid,
        "alerts.book_stale_max_ms",
        config.alerts.book_stale_max_ms,
        0..=DURATION_MS_MAX,
    )
}

fn topology(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let topology = &config.topology;
    in_range(
        invalid,
        "topology.sleep_us",
        topology.sleep_us,
        0..=1_000_000,
    )?;
    in_range(
        invalid,
        "topology.spin_budget_us",
        topology.spin_budget_us,
        0..=1_000_000,
    )?;
    in_range(
        invalid,
        "topology.batch_max",
        topology.batch_max,
        1..=CAPACITY_MAX as u64,
    )
}

fn instrument_ranges(
    instrument: &super::InstrumentConfig,
    key: &str,
    invalid: &Invalid<'_>,
) -> Result<(), ConfigError> {
    let limits = &instrument.limits;
    let key_of = |field: &str| format!("{key}.{field}");
    in_range(
        invalid,
        &key_of("tick_value"),
        instrument.tick_value,
        1..=1_000_000_000,
    )?;
    in_range(
        invalid,
        &key_of("start_price_ticks"),
        instrument.start_price_ticks,
        1..=PRICE_TICKS_MAX,
    )?;
    for (field, value) in [
        ("max_order_qty", limits.max_order_qty),
        ("position_limit", limits.position_limit),
    ] {
        in_range(
            invalid,
            &key_of(&format!("limits.{field}")),
            value,
            1..=QTY_LOTS_MAX,
        )?;
    }
    in_range(
        invalid,
        &key_of("limits.price_band_bps"),
        limits.price_band_bps,
        1..=1_000_000,
    )?;
    in_range(
        invalid,
        &key_of("limits.breaker_move_ticks"),
        limits.breaker_move_ticks,
        0..=PRICE_TICKS_MAX,
    )?;
    for (field, value) in [
        ("breaker_window_ms", limits.breaker_window_ms),
        ("breaker_halt_ms", limits.breaker_halt_ms),
    ] {
        in_range(
            invalid,
            &key_of(&format!("limits.{field}")),
            value,
            0..=DURATION_MS_MAX,
        )?;
    }
    Ok(())
}

fn risk_and_strategy(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    in_range(
        invalid,
        "risk.throttle_window_ms",
        config.risk.throttle_window_ms,
        1..=DURATION_MS_MAX,
    )?;
    let mm = &config.strategy.market_maker;
    for (field, value, range) in [
        (
            "half_spread_ticks",
            mm.half_spread_ticks,
            0..=PRICE_TICKS_MAX,
        ),
        ("quote_qty", mm.quote_qty, 1..=QTY_LOTS_MAX),
        (
            "skew_centiticks_per_lot",
            mm.skew_centiticks_per_lot,
            -1_000_000..=1_000_000,
        ),
        (
            "max_inventory_lots",
            mm.max_inventory_lots,
            0..=QTY_LOTS_MAX,
        ),
        (
            "requote_threshold_ticks",
            mm.requote_threshold_ticks,
            0..=PRICE_TICKS_MAX,
        ),
    ] {
        in_range(
            invalid,
            &format!("strategy.market_maker.{field}"),
            value,
            range,
        )?;
    }
    Ok(())
}

fn venue(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let venue = &config.venue;
    in_range(
        invalid,
        "venue.queue_capacity",
        venue.queue_capacity,
        1..=CAPACITY_MAX,
    )?;
    in_range(
        invalid,
        "venue.resting_orders_max",
        venue.resting_orders_max,
        1..=CAPACITY_MAX,
    )?;
    let fix = &venue.fix;
    in_range(
        invalid,
        "venue.fix.heartbeat_s",
        fix.heartbeat_s,
        1..=86_400,
    )?;
    for (field, value) in [
        ("reconnect_min_ms", fix.reconnect_min_ms),
        ("reconnect_max_ms", fix.reconnect_max_ms),
        ("connect_timeout_ms", fix.connect_timeout_ms),
        ("pending_age_max_ms", fix.pending_age_max_ms),
    ] {
        in_range(
            invalid,
            &format!("venue.fix.{field}"),
            value,
            1..=DURATION_MS_MAX,
        )?;
    }
    Ok(())
}

fn journal_and_metrics(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let journal = &config.journal;
    in_range(
        invalid,
        "journal.group_records",
        journal.group_records,
        0..=1 << 24,
    )?;
    in_range(
        invalid,
        "journal.group_interval_us",
        journal.group_interval_us,
        0..=10_000_000,
    )?;
    in_range(
        invalid,
        "journal.idle_flush_us",
        journal.idle_flush_us,
        0..=1_000_000,
    )?;
    in_range(
        invalid,
        "journal.buffer_bytes",
        journal.buffer_bytes,
        4096..=1 << 30,
    )?;
    in_range(
        invalid,
        "metrics.interval_ms",
        config.metrics.interval_ms,
        1..=3_600_000,
    )?;
    in_range(
        invalid,
        "postgres.chunk_events",
        config.postgres.chunk_events,
        1..=1_000_000,
    )?;
    if let Some(target_us) = config.host.cpu_dma_latency_us {
        in_range(
            invalid,
            "host.cpu_dma_latency_us",
            target_us,
            0..=2_000_000_000,
        )?;
    }
    Ok(())
}

fn alerts(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let alerts = &config.alerts;
    for (field, value) in [
        ("event_rate_warn_below", alerts.event_rate_warn_below),
        (
            "event_rate_critical_below",
            alerts.event_rate_critical_below,
        ),
        ("error_rate_warn", alerts.error_rate_warn),
        ("error_rate_critical", alerts.error_rate_critical),
    ] {
        finite_non_negative(invalid, &format!("alerts.{field}"), value)?;
    }
    Ok(())
}

fn market_data(config: &Config, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    in_range(
        invalid,
        "market_data.timer_interval_ms",
        config.market_data.timer_interval_ms,
        0..=DURATION_MS_MAX,
    )
}
