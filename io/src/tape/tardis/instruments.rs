//! The instruments a Tardis tape may name, each with its price and amount
//! grid, looked up by the "exchange,symbol" that starts every CSV row.
//!
//! Owning thread: built once at start-up, then shared read-only (`Arc`)
//! by every reader and writer of one replay, so instrument indices agree
//! across files. Invariants: keys are unique; an exchange or symbol holds no
//! byte that would break a CSV row; grids are valid; at most `u16::MAX`
//! instruments. A lookup does not allocate.

use crate::binance::{DecimalGrid, InstrumentGrid};
use std::collections::HashMap;
use thiserror::Error;

/// One instrument as Tardis files name it, with its grids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TardisInstrument {
    /// Tardis exchange id, e.g. "binance-futures" (the files' `exchange`).
    pub exchange: String,
    /// Symbol as in the files (Tardis: upper case), e.g. "BTCUSDT".
    pub symbol: String,
    /// Price step as a decimal string, e.g. "0.1": prices become ticks.
    pub tick_size: String,
    /// Amount step as a decimal string, e.g. "0.001": amounts become lots.
    pub lot_size: String,
}

impl TardisInstrument {
    /// An instrument from its four strings (checked by [`TardisInstruments::new`]).
    pub fn new(exchange: &str, symbol: &str, tick_size: &str, lot_size: &str) -> TardisInstrument {
        TardisInstrument {
            exchange: exchange.to_string(),
            symbol: symbol.to_string(),
            tick_size: tick_size.to_string(),
            lot_size: lot_size.to_string(),
        }
    }
}

/// An instrument list that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InstrumentError {
    /// An empty exchange or symbol, or one with a comma, quote or line break.
    #[error("instrument {exchange:?} {symbol:?}: exchange and symbol must be non-empty, without commas, quotes or line breaks")]
    BadName {
        /// The exchange given.
        exchange: String,
        /// The symbol given.
        symbol: String,
    },
    /// A tick or lot size that is not a positive decimal.
    #[error("instrument {symbol:?}: {field} {value:?} is not a positive decimal")]
    BadStep {
        /// The symbol.
        symbol: String,
        /// "tick_size" or "lot_size".
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// The same exchange and symbol twice.
    #[error("instrument {exchange:?} {symbol:?} is listed twice")]
    Duplicate {
        /// The exchange.
        exchange: String,
        /// The symbol.
        symbol: String,
    },
    /// More instruments than a `u16` index can name.
    #[error("{count} instruments, at most 65535")]
    TooMany {
        /// How many were given.
        count: usize,
    },
}

/// The instruments of one replay, indexed by position.
#[derive(Clone, Debug)]
pub struct TardisInstruments {
    instruments: Vec<TardisInstrument>,
    grids: Vec<InstrumentGrid>,
    keys: Vec<Box<[u8]>>,
    index_by_key: HashMap<Box<[u8]>, u16>,
}

impl TardisInstruments {
    /// Check and index `instruments`; index `i` names `instruments[i]`.
    pub fn new(instruments: Vec<TardisInstrument>) -> Result<TardisInstruments, InstrumentError> {
        if instruments.len() > usize::from(u16::MAX) {
            return Err(InstrumentError::TooMany {
                count: instruments.len(),
            });
        }
        let mut table = TardisInstruments {
            grids: Vec::with_capacity(instruments.len()),
            keys: Vec::with_capacity(instruments.len()),
            index_by_key: HashMap::with_capacity(instruments.len()),
            instruments: Vec::new(),
        };
        for (index, instrument) in instruments.iter().enumerate() {
            table.grids.push(grid_of(instrument)?);
            let key = key_of(instrument)?;
            // Cannot truncate: the length was checked above.
            if table
                .index_by_key
                .insert(key.clone(), index as u16)
                .is_some()
            {
                return Err(InstrumentError::Duplicate {
                    exchange: instrument.exchange.clone(),
                    symbol: instrument.symbol.clone(),
                });
            }
            table.keys.push(key);
        }
        table.instruments = instruments;
        Ok(table)
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }

    /// The instrument at `index`.
    pub fn get(&self, index: u16) -> Option<&TardisInstrument> {
        self.instruments.get(usize::from(index))
    }

    /// The grids of the instrument at `index`.
    pub fn grid(&self, index: u16) -> Option<&InstrumentGrid> {
        self.grids.get(usize::from(index))
    }

    /// All instruments, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &TardisInstrument> {
        self.instruments.iter()
    }

    /// The index of `exchange` / `symbol`.
    pub fn index_of(&self, exchange: &str, symbol: &str) -> Option<u16> {
        let key = format!("{exchange},{symbol}");
        self.lookup(key.as_bytes())
    }

    /// The index for a row's leading "exchange,symbol" bytes.
    #[inline]
    pub(crate) fn lookup(&self, key: &[u8]) -> Option<u16> {
        self.index_by_key.get(key).copied()
    }

    /// The "exchange,symbol" bytes of `index` (empty if out of range).
    #[inline]
    pub(crate) fn key(&self, index: u16) -> &[u8] {
        self.keys.get(usize::from(index)).map_or(&[], |key| key)
    }
}

fn grid_of(instrument: &TardisInstrument) -> Result<InstrumentGrid, InstrumentError> {
    let step = |field: &'static str, value: &str| {
        DecimalGrid::from_step(value).map_err(|_| InstrumentError::BadStep {
            symbol: instrument.symbol.clone(),
            field,
            value: value.to_string(),
        })
    };
    Ok(InstrumentGrid {
        price: step("tick_size", &instrument.tick_size)?,
        qty: step("lot_size", &instrument.lot_size)?,
    })
}

fn key_of(instrument: &TardisInstrument) -> Result<Box<[u8]>, InstrumentError> {
    let clean = |name: &str| {
        !name.is_empty()
            && !name
                .bytes()
                .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    };
    if !clean(&instrument.exchange) || !clean(&instrument.symbol) {
        return Err(InstrumentError::BadName {
            exchange: instrument.exchange.clone(),
            symbol: instrument.symbol.clone(),
        });
    }
    Ok(format!("{},{}", instrument.exchange, instrument.symbol)
        .into_bytes()
        .into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instrument(symbol: &str, tick: &str) -> TardisInstrument {
        TardisInstrument::new("binance-futures", symbol, tick, "0.001")
    }

    // Instruments are found by their row prefix; bad lists are refused.
    #[test]
    fn indexes_and_validates() {
        let table = TardisInstruments::new(vec![
            instrument("BTCUSDT", "0.1"),
            instrument("ETHUSDT", "0.01"),
        ])
        .unwrap();
        assert_eq!(table.lookup(b"binance-futures,ETHUSDT"), Some(1));
        assert_eq!(table.index_of("binance-futures", "BTCUSDT"), Some(0));
        assert_eq!(table.lookup(b"binance,ETHUSDT"), None);
        assert_eq!(table.key(1), b"binance-futures,ETHUSDT");
        assert!(matches!(
            TardisInstruments::new(vec![instrument("A", "0.1"), instrument("A", "0.1")]),
            Err(InstrumentError::Duplicate { .. })
        ));
        assert!(matches!(
            TardisInstruments::new(vec![instrument("A,B", "0.1")]),
            Err(InstrumentError::BadName { .. })
        ));
        assert!(matches!(
            TardisInstruments::new(vec![instrument("A", "0")]),
            Err(InstrumentError::BadStep { .. })
        ));
    }
}
