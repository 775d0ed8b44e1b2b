//! `trades` rows: the `id` and `side` columns. `side` is the taker's (`buy`,
//! `sell` or `unknown`); `id` may be empty and is copied inline (at most
//! [`TRADE_ID_BYTES_MAX`] bytes, a longer one is refused).
//!
//! Owning thread: the reader's; pure functions, no allocation.

use super::fields::{FLAG_OR_ID, SIDE};
use super::records::{Aggressor, TardisTrade, TradeId, TRADE_ID_BYTES_MAX};
use super::rows::{RowCommon, RowFault};

/// The columns only trade rows have.
pub(crate) struct TradeColumns {
    id: TradeId,
    aggressor: Aggressor,
}

/// Parse `id` and `side`.
#[inline]
pub(crate) fn parse_trade_columns(fields: &[&[u8]; 8]) -> Result<TradeColumns, RowFault> {
    let Some(id) = TradeId::new(fields[FLAG_OR_ID]) else {
        const EXPECTED: &str = "a trade id of at most 47 bytes";
        const _: () = assert!(TRADE_ID_BYTES_MAX == 47, "EXPECTED states the limit");
        return Err(RowFault::bad_value(
            FLAG_OR_ID,
            EXPECTED,
            fields[FLAG_OR_ID],
        ));
    };
    let aggressor = match fields[SIDE] {
        b"buy" => Aggressor::Buy,
        b"sell" => Aggressor::Sell,
        b"unknown" => Aggressor::Unknown,
        other => return Err(RowFault::bad_value(SIDE, "buy, sell or unknown", other)),
    };
    Ok(TradeColumns { id, aggressor })
}

/// The trade of a row.
#[inline]
pub(crate) fn trade_of(common: &RowCommon, columns: &TradeColumns) -> TardisTrade {
    TardisTrade {
        instrument_index: common.instrument_index,
        ts_exchange_ns: common.ts_exchange_ns,
        ts_local_ns: common.ts_local_ns,
        id: columns.id,
        aggressor: columns.aggressor,
        price: common.price,
        qty: common.qty,
        line: common.line,
    }
}
