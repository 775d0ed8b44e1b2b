//! Binance market-data messages and their parsers: depth diff
//! (`depthUpdate`), REST depth snapshot, and `bookTicker`.
//!
//! Owning thread: the ingest thread. Invariants: parsers fill caller-owned
//! structs whose level vectors are reused (cleared, not freed), so a warm
//! parse does not allocate; keys may come in any order, unknown keys are
//! skipped; a combined-stream wrapper `{"stream":…,"data":{…}}` is accepted.
//! On error the output struct's contents are unspecified and must not be used.

use super::decimal::DecimalGrid;
use super::error::BinanceError;
use super::json::Cursor;
use crate::book::{Price, Qty};

/// Longest symbol kept; longer ones are truncated (Binance symbols are short).
const SYMBOL_LEN_MAX: usize = 20;

/// An instrument symbol held inline (no heap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Symbol {
    bytes: [u8; SYMBOL_LEN_MAX],
    len: u8,
}

impl Symbol {
    /// From raw bytes (truncated to 20).
    pub fn new(raw: &[u8]) -> Symbol {
        let len = raw.len().min(SYMBOL_LEN_MAX);
        let mut bytes = [0u8; SYMBOL_LEN_MAX];
        bytes[..len].copy_from_slice(&raw[..len]);
        Symbol {
            bytes,
            len: len as u8,
        }
    }

    /// The symbol bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The price and quantity grids of one instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstrumentGrid {
    /// Tick size grid: prices become ticks.
    pub price: DecimalGrid,
    /// Lot step grid: quantities become lots.
    pub qty: DecimalGrid,
}

/// One level of a diff or snapshot; `qty == 0` removes the level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelUpdate {
    /// Price in ticks.
    pub price: Price,
    /// Absolute quantity in lots.
    pub qty: Qty,
}

/// A `depthUpdate` diff.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepthUpdate {
    /// Symbol ("s"), if present.
    pub symbol: Symbol,
    /// Event time in ms ("E").
    pub event_time_ms: u64,
    /// First update id in the event ("U").
    pub first_update_id: u64,
    /// Final update id in the event ("u").
    pub final_update_id: u64,
    /// Bid levels ("b").
    pub bids: Vec<LevelUpdate>,
    /// Ask levels ("a").
    pub asks: Vec<LevelUpdate>,
}

impl DepthUpdate {
    /// An empty diff whose level vectors hold `levels_max` levels each
    /// without allocating.
    pub fn with_capacity(levels_max: usize) -> DepthUpdate {
        DepthUpdate {
            bids: Vec::with_capacity(levels_max),
            asks: Vec::with_capacity(levels_max),
            ..DepthUpdate::default()
        }
    }

    /// Copy `other` into `self`, reusing `self`'s buffers.
    pub fn copy_from(&mut self, other: &DepthUpdate) {
        self.symbol = other.symbol;
        self.event_time_ms = other.event_time_ms;
        self.first_update_id = other.first_update_id;
        self.final_update_id = other.final_update_id;
        self.bids.clear();
        self.bids.extend_from_slice(&other.bids);
        self.asks.clear();
        self.asks.extend_from_slice(&other.asks);
    }
}

/// A REST depth snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepthSnapshot {
    /// "lastUpdateId".
    pub last_update_id: u64,
    /// Bid levels, best first.
    pub bids: Vec<LevelUpdate>,
    /// Ask levels, best first.
    pub asks: Vec<LevelUpdate>,
}

/// A `bookTicker` update: best bid and ask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookTicker {
    /// Symbol ("s").
    pub symbol: Symbol,
    /// Order book update id ("u").
    pub update_id: u64,
    /// Best bid price ("b").
    pub bid_price: Price,
    /// Best bid quantity ("B").
    pub bid_qty: Qty,
    /// Best ask price ("a").
    pub ask_price: Price,
    /// Best ask quantity ("A").
    pub ask_qty: Qty,
}

/// Parse `[["price","qty"], …]` into `out` (cleared first).
#[inline]
fn levels(
    c: &mut Cursor<'_>,
    grid: &InstrumentGrid,
    out: &mut Vec<LevelUpdate>,
) -> Result<(), BinanceError> {
    out.clear();
    c.array(|c| {
        c.expect(b'[', "'[' opening a level")?;
        let price = grid.price.parse_steps(c.string()?, "price")?;
        c.expect(b',', "',' inside a level")?;
        let qty = grid.qty.parse_steps(c.string()?, "quantity")?;
        c.expect(b']', "']' closing a level")?;
        out.push(LevelUpdate {
            price: Price(price),
            qty: Qty(qty),
        });
        Ok(())
    })
}

/// Walk the top-level object, descending into a combined stream's "data".
fn walk<'a, F>(bytes: &'a [u8], mut field: F) -> Result<(), BinanceError>
where
    F: FnMut(&mut Cursor<'a>, &'a [u8]) -> Result<bool, BinanceError>,
{
    let mut c = Cursor::new(bytes);
    c.object(|c, key| {
        if key == b"data" && c.peek() == Some(b'{') {
            return c.object(|c, key| {
                if !field(c, key)? {
                    c.skip_value()?;
                }
                Ok(())
            });
        }
        if !field(c, key)? {
            c.skip_value()?;
        }
        Ok(())
    })?;
    c.end()
}

/// Parse a `depthUpdate` event into `out`.
pub fn parse_depth_update(
    bytes: &[u8],
    grid: &InstrumentGrid,
    out: &mut DepthUpdate,
) -> Result<(), BinanceError> {
    let mut seen = [false; 4];
    walk(bytes, |c, key| {
        match key {
            b"U" => {
                out.first_update_id = c.u64()?;
                seen[0] = true;
            }
            b"u" => {
                out.final_update_id = c.u64()?;
                seen[1] = true;
            }
            b"b" => {
                levels(c, grid, &mut out.bids)?;
                seen[2] = true;
            }
            b"a" => {
                levels(c, grid, &mut out.asks)?;
                seen[3] = true;
            }
            b"E" => out.event_time_ms = c.u64()?,
            b"s" => out.symbol = Symbol::new(c.string()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    const NAMES: [&str; 4] = ["U", "u", "b", "a"];
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(BinanceError::MissingField {
            field: NAMES[missing],
        });
    }
    Ok(())
}

/// Parse a REST depth snapshot into `out`.
pub fn parse_depth_snapshot(
    bytes: &[u8],
    grid: &InstrumentGrid,
    out: &mut DepthSnapshot,
) -> Result<(), BinanceError> {
    let mut seen = [false; 3];
    walk(bytes, |c, key| {
        match key {
            b"lastUpdateId" => {
                out.last_update_id = c.u64()?;
                seen[0] = true;
            }
            b"bids" => {
                levels(c, grid, &mut out.bids)?;
                seen[1] = true;
            }
            b"asks" => {
                levels(c, grid, &mut out.asks)?;
                seen[2] = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    const NAMES: [&str; 3] = ["lastUpdateId", "bids", "asks"];
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(BinanceError::MissingField {
            field: NAMES[missing],
        });
    }
    Ok(())
}

/// Parse a `bookTicker` event.
pub fn parse_book_ticker(bytes: &[u8], grid: &InstrumentGrid) -> Result<BookTicker, BinanceError> {
    let mut t = BookTicker::default();
    let mut seen = [false; 5];
    walk(bytes, |c, key| {
        match key {
            b"u" => {
                t.update_id = c.u64()?;
                seen[0] = true;
            }
            b"b" => {
                t.bid_price.0 = grid.price.parse_steps(c.string()?, "price")?;
                seen[1] = true;
            }
            b"B" => {
                t.bid_qty.0 = grid.qty.parse_steps(c.string()?, "quantity")?;
                seen[2] = true;
            }
            b"a" => {
                t.ask_price.0 = grid.price.parse_steps(c.string()?, "price")?;
                seen[3] = true;
            }
            b"A" => {
                t.ask_qty.0 = grid.qty.parse_steps(c.string()?, "quantity")?;
                seen[4] = true;
            }
            b"s" => t.symbol = Symbol::new(c.string()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    const NAMES: [&str; 5] = ["u", "b", "B", "a", "A"];
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(BinanceError::MissingField {
            field: NAMES[missing],
        });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> InstrumentGrid {
        InstrumentGrid {
            price: DecimalGrid::from_step("0.00000100").unwrap(),
            qty: DecimalGrid::from_step("0.01").unwrap(),
        }
    }

    // The documented depthUpdate example parses exactly.
    #[test]
    fn parses_depth_update() {
        let json = br#"{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,
            "b":[["0.0024","10"]],"a":[["0.0026","100"],["0.0027","0.00"]]}"#;
        let mut d = DepthUpdate::with_capacity(8);
        parse_depth_update(json, &grid(), &mut d).unwrap();
        assert_eq!(d.symbol.as_bytes(), b"BNBBTC");
        assert_eq!(
            (d.event_time_ms, d.first_update_id, d.final_update_id),
            (1672515782136, 157, 160)
        );
        assert_eq!(
            d.bids,
            vec![LevelUpdate {
                price: Price(2400),
                qty: Qty(1000)
            }]
        );
        assert_eq!(
            d.asks[1],
            LevelUpdate {
                price: Price(2700),
                qty: Qty(0)
            }
        );
    }

    // A combined-stream wrapper and a snapshot parse; missing fields are named.
    #[test]
    fn combined_stream_snapshot_and_missing_field() {
        let json = br#"{"stream":"bnbbtc@depth@100ms","data":{"U":1,"u":2,"b":[],"a":[]}}"#;
        let mut d = DepthUpdate::with_capacity(8);
        parse_depth_update(json, &grid(), &mut d).unwrap();
        assert_eq!(d.final_update_id, 2);
        let snap = br#"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[]}"#;
        let mut s = DepthSnapshot::default();
        parse_depth_snapshot(snap, &grid(), &mut s).unwrap();
        assert_eq!(s.last_update_id, 1027024);
        assert_eq!(s.bids[0].qty, Qty(43100));
        let err = parse_depth_update(br#"{"U":1,"b":[],"a":[]}"#, &grid(), &mut d).unwrap_err();
        assert_eq!(err, BinanceError::MissingField { field: "u" });
    }

    // bookTicker parses; an off-grid price is an error.
    #[test]
    fn book_ticker_and_off_grid() {
        let json = br#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
        let t = parse_book_ticker(json, &grid()).unwrap();
        assert_eq!(
            (t.update_id, t.bid_price, t.ask_qty),
            (400900217, Price(25351900), Qty(4066))
        );
        let bad = br#"{"u":1,"b":"1.0000001","B":"1","a":"2","A":"1"}"#;
        assert_eq!(
            parse_book_ticker(bad, &grid()),
            Err(BinanceError::OffGrid { field: "price" })
        );
    }
}
