//! The server side of the Binance-compatible feed, for the simulated venue:
//! encoders for `<symbol>@depth@100ms` diffs, `<symbol>@bookTicker`, the
//! WebSocket `depth` snapshot answer and error answers, and the parser of
//! the `depth` request that [`crate::net::BinanceWsFeed`] sends.
//!
//! Owning thread: the venue's market-data thread; one [`DepthDiffBuilder`]
//! per instrument.
//!
//! Invariants: every encoder writes into a caller-owned `String` that is
//! cleared first, so a warm buffer is reused and nothing allocates; prices
//! and quantities are written as exact decimals from integer steps through
//! the instrument's [`DecimalGrid`], never through a float, so the client's
//! parsers read back the same integers. A diff window never drops a change:
//! when it has no room for a new price, [`DepthDiffBuilder::on_level`]
//! refuses it ([`DiffWindowFull`]) and the caller flushes first.

use super::decimal::DecimalGrid;
use super::error::BinanceError;
use super::json::Cursor;
use super::messages::{InstrumentGrid, Symbol};
use crate::book::Side;

/// Binance's default `limit` for a depth request that gives none.
pub const DEPTH_LIMIT_DEFAULT: u32 = 100;

/// The diff window has no room for another price on that side: write the
/// diff ([`DepthDiffBuilder::write_diff`]), then record the change again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiffWindowFull;

/// Collects level changes of one instrument over a diff window (100 ms on
/// Binance) and writes them as one combined-stream `depthUpdate`.
///
/// Repeated changes to one price collapse to the last. `U` is the first
/// update id recorded in the window and `u` the last, so the caller must
/// hand consecutive windows consecutive ids: the client's continuity check
/// is `U == previous u + 1`. Because of that, flush on a whole update id:
/// if a change is refused ([`DiffWindowFull`]) mid-way through the changes
/// of one id, the two diffs share that id and the client resyncs (correct,
/// but costly). Check [`DepthDiffBuilder::levels_free`] before an update
/// touching several levels, and size `levels_max` above what one id touches.
#[derive(Clone, Debug)]
pub struct DepthDiffBuilder {
    stream: String,
    symbol_upper: String,
    grid: InstrumentGrid,
    levels_max: usize,
    /// (price steps, qty steps), best first (price descending).
    bids: Vec<(i64, i64)>,
    /// (price steps, qty steps), best first (price ascending).
    asks: Vec<(i64, i64)>,
    first_update_id: u64,
    last_update_id: u64,
}

impl DepthDiffBuilder {
    /// A builder for `symbol` (any case) holding up to `levels_max` changed
    /// prices per side in a window.
    pub fn new(symbol: &str, grid: InstrumentGrid, levels_max: usize) -> DepthDiffBuilder {
        assert!(levels_max > 0, "a diff window needs room for one level");
        DepthDiffBuilder {
            stream: format!("{}@depth@100ms", symbol.to_ascii_lowercase()),
            symbol_upper: symbol.to_ascii_uppercase(),
            grid,
            levels_max,
            bids: Vec::with_capacity(levels_max),
            asks: Vec::with_capacity(levels_max),
            first_update_id: 0,
            last_update_id: 0,
        }
    }

    /// Record that the level at `price_steps` now holds `qty_steps` (0: the
    /// level is gone) as of `update_id`. Refused, changing nothing, only
    /// when the price is new to the window and the side's buffer is full.
    #[must_use = "a refused change must be recorded again after write_diff"]
    pub fn on_level(
        &mut self,
        side: Side,
        price_steps: i64,
        qty_steps: i64,
        update_id: u64,
    ) -> Result<(), DiffWindowFull> {
        debug_assert!(price_steps > 0 && qty_steps >= 0, "levels are positive");
        debug_assert!(
            self.is_empty() || update_id >= self.last_update_id,
            "update ids never go back"
        );
        let was_empty = self.is_empty();
        let levels = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        // Best first: bids by descending price, asks by ascending.
        let found = levels.binary_search_by(|&(price, _)| match side {
            Side::Bid => price_steps.cmp(&price),
            Side::Ask => price.cmp(&price_steps),
        });
        match found {
            Ok(index) => levels[index].1 = qty_steps,
            Err(_) if levels.len() == self.levels_max => return Err(DiffWindowFull),
            Err(index) => levels.insert(index, (price_steps, qty_steps)),
        }
        if was_empty {
            self.first_update_id = update_id;
        }
        self.last_update_id = update_id;
        Ok(())
    }

    /// New prices `side` can still take in this window.
    pub fn levels_free(&self, side: Side) -> usize {
        let used = match side {
            Side::Bid => self.bids.len(),
            Side::Ask => self.asks.len(),
        };
        self.levels_max - used
    }

    /// Whether the window holds no change.
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// `(U, u)` of the window, if it holds a change.
    pub fn update_ids(&self) -> Option<(u64, u64)> {
        (!self.is_empty()).then_some((self.first_update_id, self.last_update_id))
    }

    /// Write the window as
    /// `{"stream":"<lower>@depth@100ms","data":{"e":"depthUpdate","E":…,"s":"<UPPER>","U":…,"u":…,"b":[…],"a":[…]}}`
    /// into `out` (cleared first) and start a new window. Returns false,
    /// writing nothing, if the window is empty.
    pub fn write_diff(&mut self, event_time_ms: u64, out: &mut String) -> bool {
        out.clear();
        if self.is_empty() {
            return false;
        }
        out.push_str(r#"{"stream":""#);
        out.push_str(&self.stream);
        out.push_str(r#"","data":{"e":"depthUpdate","E":"#);
        push_u64(out, event_time_ms);
        out.push_str(r#","s":""#);
        out.push_str(&self.symbol_upper);
        out.push_str(r#"","U":"#);
        push_u64(out, self.first_update_id);
        out.push_str(r#","u":"#);
        push_u64(out, self.last_update_id);
        out.push_str(r#","b":"#);
        push_levels(out, &self.grid, self.bids.iter().copied());
        out.push_str(r#","a":"#);
        push_levels(out, &self.grid, self.asks.iter().copied());
        out.push_str("}}");
        self.bids.clear();
        self.asks.clear();
        self.first_update_id = 0;
        self.last_update_id = 0;
        true
    }
}

/// Write `{"stream":"<lower>@bookTicker","data":{"u":…,"s":"<UPPER>","b":…,"B":…,"a":…,"A":…}}`
/// into `out` (cleared first). `bid` and `ask` are (price steps, qty steps).
pub fn write_book_ticker(
    out: &mut String,
    symbol_lower: &str,
    symbol_upper: &str,
    grid: &InstrumentGrid,
    update_id: u64,
    bid: (i64, i64),
    ask: (i64, i64),
) {
    out.clear();
    out.push_str(r#"{"stream":""#);
    out.push_str(symbol_lower);
    out.push_str(r#"@bookTicker","data":{"u":"#);
    push_u64(out, update_id);
    out.push_str(r#","s":""#);
    out.push_str(symbol_upper);
    out.push_str(r#"","b":""#);
    push_decimal(out, &grid.price, bid.0);
    out.push_str(r#"","B":""#);
    push_decimal(out, &grid.qty, bid.1);
    out.push_str(r#"","a":""#);
    push_decimal(out, &grid.price, ask.0);
    out.push_str(r#"","A":""#);
    push_decimal(out, &grid.qty, ask.1);
    out.push_str(r#""}}"#);
}

/// Write the answer to a `depth` request,
/// `{"id":N,"status":200,"result":{"lastUpdateId":…,"bids":[…],"asks":[…]}}`,
/// into `out` (cleared first). Levels are (price steps, qty steps), best
/// first; the caller applies the request's `limit`.
pub fn write_snapshot_answer(
    out: &mut String,
    request_id: u64,
    grid: &InstrumentGrid,
    last_update_id: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    out.clear();
    out.push_str(r#"{"id":"#);
    push_u64(out, request_id);
    out.push_str(r#","status":200,"result":"#);
    push_depth_snapshot(out, grid, last_update_id, bids, asks);
    out.push('}');
}

/// Write the body of `GET /api/v3/depth`,
/// `{"lastUpdateId":…,"bids":[…],"asks":[…]}`, into `out` (cleared first).
/// Levels are (price steps, qty steps), best first.
pub fn write_depth_snapshot(
    out: &mut String,
    grid: &InstrumentGrid,
    last_update_id: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    out.clear();
    push_depth_snapshot(out, grid, last_update_id, bids, asks);
}

fn push_depth_snapshot(
    out: &mut String,
    grid: &InstrumentGrid,
    last_update_id: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    out.push_str(r#"{"lastUpdateId":"#);
    push_u64(out, last_update_id);
    out.push_str(r#","bids":"#);
    push_levels(out, grid, bids);
    out.push_str(r#","asks":"#);
    push_levels(out, grid, asks);
    out.push('}');
}

/// Write a REST error body, `{"code":-1121,"msg":"Invalid symbol."}`, into
/// `out` (cleared first). `msg` is escaped as a JSON string.
pub fn write_rest_error(out: &mut String, code: i32, msg: &str) {
    out.clear();
    push_error_object(out, code, msg);
}

fn push_error_object(out: &mut String, code: i32, msg: &str) {
    out.push_str(r#"{"code":"#);
    if code < 0 {
        out.push('-');
    }
    push_u64(out, u64::from(code.unsigned_abs()));
    out.push_str(r#","msg":""#);
    push_json_string_contents(out, msg);
    out.push_str(r#""}"#);
}

/// Write a Binance-style error answer,
/// `{"id":N,"status":400,"error":{"code":-1121,"msg":"Invalid symbol."}}`,
/// into `out` (cleared first). `msg` is escaped as a JSON string.
pub fn write_error_answer(out: &mut String, request_id: u64, status: u16, code: i32, msg: &str) {
    out.clear();
    out.push_str(r#"{"id":"#);
    push_u64(out, request_id);
    out.push_str(r#","status":"#);
    push_u64(out, u64::from(status));
    out.push_str(r#","error":"#);
    push_error_object(out, code, msg);
    out.push('}');
}

/// A `depth` snapshot request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthRequest {
    /// Request id, echoed in the answer.
    pub id: u64,
    /// Symbol as sent (Binance sends upper case).
    pub symbol: Symbol,
    /// Levels asked for per side ([`DEPTH_LIMIT_DEFAULT`] if absent).
    pub limit: u32,
}

/// Parse `{"id":N,"method":"depth","params":{"symbol":"BNBBTC","limit":L}}`
/// (keys in any order, unknown keys skipped). Any other method, a missing
/// `id` or `symbol`, an empty or over-long symbol, or a limit beyond `u32`
/// is an error; nothing panics and nothing allocates.
pub fn parse_depth_request(bytes: &[u8]) -> Result<DepthRequest, BinanceError> {
    let mut c = Cursor::new(bytes);
    let mut id = None;
    let mut method_seen = false;
    let mut symbol = None;
    let mut limit = DEPTH_LIMIT_DEFAULT;
    c.object(|c, key| match key {
        b"id" => {
            id = Some(c.u64()?);
            Ok(())
        }
        b"method" => {
            if c.string()? != b"depth" {
                return Err(c.error("method \"depth\""));
            }
            method_seen = true;
            Ok(())
        }
        b"params" => c.object(|c, key| match key {
            b"symbol" => {
                let raw = c.string()?;
                let parsed = Symbol::new(raw);
                if raw.is_empty() || parsed.as_bytes().len() != raw.len() {
                    return Err(c.error("a symbol of 1 to 20 bytes"));
                }
                symbol = Some(parsed);
                Ok(())
            }
            b"limit" => {
                limit = u32::try_from(c.u64()?).map_err(|_| c.error("a limit below 2^32"))?;
                Ok(())
            }
            _ => c.skip_value(),
        }),
        _ => c.skip_value(),
    })?;
    c.end()?;
    if !method_seen {
        return Err(BinanceError::MissingField { field: "method" });
    }
    Ok(DepthRequest {
        id: id.ok_or(BinanceError::MissingField { field: "id" })?,
        symbol: symbol.ok_or(BinanceError::MissingField { field: "symbol" })?,
        limit,
    })
}

/// `[["price","qty"],…]`.
fn push_levels(out: &mut String, grid: &InstrumentGrid, levels: impl Iterator<Item = (i64, i64)>) {
    out.push('[');
    for (index, (price_steps, qty_steps)) in levels.enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(r#"[""#);
        push_decimal(out, &grid.price, price_steps);
        out.push_str(r#"",""#);
        push_decimal(out, &grid.qty, qty_steps);
        out.push_str(r#""]"#);
    }
    out.push(']');
}

/// Decimal digits of `value`, most significant first, into `digits`;
/// returns the index of the first digit.
fn digits_of(mut value: u128, digits: &mut [u8; 40]) -> usize {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return start;
        }
    }
}

fn push_u64(out: &mut String, value: u64) {
    let mut digits = [0u8; 40];
    let start = digits_of(u128::from(value), &mut digits);
    digits[start..]
        .iter()
        .for_each(|&d| out.push(char::from(d)));
}

/// `steps` on `grid` as an exact decimal with all the grid's fractional
/// digits ("0.00240000" on a 0.00000001 grid). Integer arithmetic only.
fn push_decimal(out: &mut String, grid: &DecimalGrid, steps: i64) {
    debug_assert!(steps >= 0, "prices and quantities are not negative");
    if steps < 0 {
        out.push('-');
    }
    // i64 × i64 fits i128; 10^18 fits too.
    let units = u128::from(steps.unsigned_abs()) * u128::from(grid.step_units().unsigned_abs());
    let decimals = usize::from(grid.decimals());
    let mut digits = [0u8; 40];
    let start = digits_of(units, &mut digits);
    let digit_count = digits.len() - start;
    // Left-pad with zeros so there is at least one integer digit.
    let padded_count = digit_count.max(decimals + 1);
    for position in 0..padded_count {
        if position == padded_count - decimals && decimals > 0 {
            out.push('.');
        }
        let from_end = padded_count - position;
        let digit = if from_end <= digit_count {
            digits[digits.len() - from_end]
        } else {
            b'0'
        };
        out.push(char::from(digit));
    }
}

/// Escape `text` as the contents of a JSON string.
fn push_json_string_contents(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            ch if u32::from(ch) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = u32::from(ch) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0xF]));
            }
            ch => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(step: &str, steps: i64) -> String {
        let mut out = String::new();
        push_decimal(&mut out, &DecimalGrid::from_step(step).unwrap(), steps);
        out
    }

    // Decimals are exact, zero-padded on both sides, and whole grids have no point.
    #[test]
    fn decimals_from_steps() {
        assert_eq!(decimal("0.01", 2535), "25.35");
        assert_eq!(decimal("0.01", 5), "0.05");
        assert_eq!(decimal("0.00000100", 2400), "0.002400");
        assert_eq!(decimal("0.05", 23), "1.15");
        assert_eq!(decimal("1", 42), "42");
        assert_eq!(decimal("0.001", 0), "0.000");
        assert_eq!(
            decimal("0.000000000000000001", i64::MAX),
            "9.223372036854775807"
        );
    }

    // Control characters and quotes in an error message are escaped.
    #[test]
    fn error_message_escaped() {
        let mut out = String::new();
        write_error_answer(&mut out, 7, 400, -1121, "bad \"x\"\u{1}");
        assert_eq!(
            out,
            r#"{"id":7,"status":400,"error":{"code":-1121,"msg":"bad \"x\"\u0001"}}"#
        );
    }
}
