//! `[[instruments]]`: what is traded, on which price and quantity grid,
//! within which limits.

use super::{ConfigError, Invalid};
use genesis_io::binance::{DecimalGrid, InstrumentGrid};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    pub symbol: String,
    /// Price of one tick, as a decimal string (prices inside are integer ticks).
    pub tick_size: String,
    /// Size of one lot, as a decimal string (quantities inside are integer lots).
    pub lot_size: String,
    /// Value of one tick on one lot, in integer account units (the PnL unit).
    #[serde(default = "one")]
    pub tick_value: i64,
    /// Starting mid of the synthetic feed, in ticks.
    #[serde(default = "default_start_price")]
    pub start_price_ticks: i64,
    #[serde(default)]
    pub limits: InstrumentLimits,
}

fn one() -> i64 {
    1
}
fn default_start_price() -> i64 {
    100_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentLimits {
    /// Largest quantity of one order, in lots.
    pub max_order_qty: i64,
    /// Largest price × quantity × tick value of one order, in account units.
    pub max_order_notional: i64,
    /// Fat-finger band: an order's price may be this many basis points from the reference mid.
    pub price_band_bps: i64,
    /// Largest absolute position, counting open orders as if they filled, in lots.
    pub position_limit: i64,
    /// Unrealized loss on the position, in account units, that makes the instrument reduce-only (0: off).
    pub stop_loss: i64,
    /// A mid move of this many ticks within `breaker_window_ms` halts the instrument (0: off).
    pub breaker_move_ticks: i64,
    pub breaker_window_ms: u64,
    /// How long a tripped breaker halts the instrument, in event time.
    pub breaker_halt_ms: u64,
}

impl Default for InstrumentLimits {
    fn default() -> InstrumentLimits {
        InstrumentLimits {
            max_order_qty: 100,
            max_order_notional: 50_000_000,
            price_band_bps: 200,
            position_limit: 500,
            stop_loss: 2_000_000,
            breaker_move_ticks: 500,
            breaker_window_ms: 1_000,
            breaker_halt_ms: 5_000,
        }
    }
}

/// At least one instrument, at most 65,535 (ids are u16), each on a valid
/// grid with sane limits.
pub(super) fn validate(
    instruments: &[InstrumentConfig],
    invalid: &Invalid<'_>,
) -> Result<(), ConfigError> {
    if instruments.is_empty() {
        return Err(invalid(
            "instruments",
            "at least one instrument is needed".into(),
        ));
    }
    if instruments.len() > u16::MAX as usize {
        return Err(invalid(
            "instruments",
            format!("{} instruments; at most 65535", instruments.len()),
        ));
    }
    for (index, instrument) in instruments.iter().enumerate() {
        validate_instrument(instrument, &format!("instruments[{index}]"), invalid)?;
        if let Some(first) = instruments[..index]
            .iter()
            .position(|earlier| earlier.symbol == instrument.symbol)
        {
            return Err(invalid(
                &format!("instruments[{index}].symbol"),
                format!(
                    "{:?} is already the symbol of instruments[{first}]; symbols must be unique",
                    instrument.symbol
                ),
            ));
        }
    }
    Ok(())
}

fn validate_instrument(
    instrument: &InstrumentConfig,
    key: &str,
    invalid: &Invalid<'_>,
) -> Result<(), ConfigError> {
    for (field, text) in [
        ("tick_size", &instrument.tick_size),
        ("lot_size", &instrument.lot_size),
    ] {
        if !is_positive_decimal(text) {
            return Err(invalid(
                &format!("{key}.{field}"),
                format!("{text:?} is not a positive decimal such as \"0.01\""),
            ));
        }
    }
    if instrument.symbol.is_empty() {
        return Err(invalid(
            &format!("{key}.symbol"),
            "must not be empty".into(),
        ));
    }
    if instrument.tick_value <= 0 || instrument.start_price_ticks <= 0 {
        return Err(invalid(
            key,
            "tick_value and start_price_ticks must be positive".into(),
        ));
    }
    let limits = &instrument.limits;
    let positive = [
        ("max_order_qty", limits.max_order_qty),
        ("max_order_notional", limits.max_order_notional),
        ("price_band_bps", limits.price_band_bps),
        ("position_limit", limits.position_limit),
    ];
    for (field, value) in positive {
        if value <= 0 {
            return Err(invalid(
                &format!("{key}.limits.{field}"),
                format!("{value} must be positive"),
            ));
        }
    }
    if limits.stop_loss < 0 || limits.breaker_move_ticks < 0 {
        return Err(invalid(
            &format!("{key}.limits"),
            "stop_loss and breaker_move_ticks must not be negative (0 turns them off)".into(),
        ));
    }
    if limits.breaker_move_ticks > 0 && limits.breaker_window_ms == 0 {
        return Err(invalid(
            &format!("{key}.limits.breaker_window_ms"),
            "must be positive when breaker_move_ticks is set".into(),
        ));
    }
    Ok(())
}

fn is_positive_decimal(text: &str) -> bool {
    let mut parts = text.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    !text.is_empty()
        && digits(whole)
        && digits(fraction)
        && text.chars().any(|c| ('1'..='9').contains(&c))
}

/// The Binance price and quantity grids of an instrument: prices become
/// whole ticks of `tick_size`, quantities whole lots of `lot_size`. The
/// error names the field (`tick_size` or `lot_size`) and says why.
pub fn instrument_grid(
    instrument: &InstrumentConfig,
) -> Result<InstrumentGrid, (&'static str, String)> {
    let grid = |field: &'static str, text: &str| {
        DecimalGrid::from_step(text).map_err(|_| {
            (
                field,
                format!("{text:?} is not a grid step a Binance feed can use (a positive decimal of at most 18 decimals)"),
            )
        })
    };
    Ok(InstrumentGrid {
        price: grid("tick_size", &instrument.tick_size)?,
        qty: grid("lot_size", &instrument.lot_size)?,
    })
}
