//! Binance REST pieces around `GET /api/v3/depth`: the error body
//! `{"code":-1121,"msg":"Invalid symbol."}` (client side), and the request
//! target `/api/v3/depth?symbol=BTCUSDT&limit=1000` (server side, for the
//! simulated venue). The snapshot body itself is parsed by
//! [`super::parse_depth_snapshot`] and written by
//! [`super::write_depth_snapshot`].
//!
//! Owning thread: any; pure functions over borrowed bytes, no allocation.
//! Invariants: nothing panics on any input; unknown keys and query
//! parameters are skipped.

use super::encode::DEPTH_LIMIT_DEFAULT;
use super::error::BinanceError;
use super::json::Cursor;
use super::messages::Symbol;

/// Path of the depth snapshot endpoint.
pub const DEPTH_PATH: &str = "/api/v3/depth";

/// A Binance error body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestError<'a> {
    /// `"code"` (negative for request errors, e.g. -1121 invalid symbol).
    pub code: i64,
    /// `"msg"`, raw (not unescaped).
    pub msg: &'a [u8],
}

/// Parse `{"code":…,"msg":…}` (keys in any order, others skipped).
pub fn parse_rest_error(bytes: &[u8]) -> Result<RestError<'_>, BinanceError> {
    let mut c = Cursor::new(bytes);
    let mut code = None;
    let mut msg: &[u8] = &[];
    c.object(|c, key| match key {
        b"code" => {
            code = Some(c.i64()?);
            Ok(())
        }
        b"msg" => {
            msg = c.string()?;
            Ok(())
        }
        _ => c.skip_value(),
    })?;
    c.end()?;
    Ok(RestError {
        code: code.ok_or(BinanceError::MissingField { field: "code" })?,
        msg,
    })
}

/// What a depth request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthQuery {
    /// Symbol as sent.
    pub symbol: Symbol,
    /// Levels per side ([`DEPTH_LIMIT_DEFAULT`] if absent).
    pub limit: u32,
}

/// Parse a request target `/api/v3/depth?symbol=…[&limit=…]`. Another path,
/// a missing or over-long symbol, or a limit that is not a number below
/// 2^32 is an error naming the byte where it went wrong.
pub fn parse_depth_query(target: &[u8]) -> Result<DepthQuery, BinanceError> {
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(at) => (&target[..at], &target[at + 1..]),
        None => (target, &[][..]),
    };
    if path != DEPTH_PATH.as_bytes() {
        return Err(BinanceError::Json {
            at: 0,
            expected: "the path /api/v3/depth",
        });
    }
    let mut symbol = None;
    let mut limit = DEPTH_LIMIT_DEFAULT;
    let mut at = path.len() + 1;
    for pair in query.split(|&b| b == b'&') {
        if let Some(raw) = pair.strip_prefix(b"symbol=") {
            let parsed = Symbol::new(raw);
            if raw.is_empty() || parsed.as_bytes().len() != raw.len() {
                return Err(BinanceError::Json {
                    at,
                    expected: "a symbol of 1 to 20 bytes",
                });
            }
            symbol = Some(parsed);
        } else if let Some(raw) = pair.strip_prefix(b"limit=") {
            limit = parse_u32(raw).ok_or(BinanceError::Json {
                at,
                expected: "a limit below 2^32",
            })?;
        }
        at += pair.len() + 1;
    }
    Ok(DepthQuery {
        symbol: symbol.ok_or(BinanceError::MissingField { field: "symbol" })?,
        limit,
    })
}

fn parse_u32(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || raw.len() > 10 {
        return None;
    }
    let value = raw.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })?;
    u32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Binance's error body parses, negative code included; junk does not.
    #[test]
    fn error_body() {
        let error = parse_rest_error(br#"{"code":-1121,"msg":"Invalid symbol."}"#).unwrap();
        assert_eq!((error.code, error.msg), (-1121, &b"Invalid symbol."[..]));
        assert!(parse_rest_error(br#"{"msg":"x"}"#).is_err());
        assert!(parse_rest_error(b"<html>").is_err());
        assert!(parse_rest_error(br#"{"code":-99999999999999999999}"#).is_err());
    }

    // The request target parses; a wrong path, symbol or limit is refused.
    #[test]
    fn depth_query() {
        let query = parse_depth_query(b"/api/v3/depth?symbol=BTCUSDT&limit=1000").unwrap();
        assert_eq!(
            (query.symbol.as_bytes(), query.limit),
            (&b"BTCUSDT"[..], 1000)
        );
        let query = parse_depth_query(b"/api/v3/depth?x=1&symbol=ETHBTC").unwrap();
        assert_eq!(query.limit, DEPTH_LIMIT_DEFAULT);
        for bad in [
            &b"/api/v3/trades?symbol=X"[..],
            b"/api/v3/depth",
            b"/api/v3/depth?symbol=",
            b"/api/v3/depth?symbol=X&limit=-1",
            b"/api/v3/depth?symbol=X&limit=99999999999",
            b"/api/v3/depth?symbol=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(parse_depth_query(bad).is_err(), "{:?}", bad);
        }
    }
}
