//! A minimal pull parser over JSON bytes, enough for Binance market data:
//! objects walked key by key, strings returned as raw byte slices, unsigned
//! integers, and any other value skipped.
//!
//! Owning thread: any; borrows the message. Invariants: every read is
//! bounds-checked through `get`, nesting while skipping is counted rather
//! than recursed (no stack overflow on hostile input), and no allocation.
//! Strings are not unescaped: Binance keys, symbols and decimals never
//! contain escapes, and an escaped quote is still skipped correctly.

use super::error::BinanceError;

/// Cursor over one JSON document.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
    }

    pub(crate) fn error(&self, expected: &'static str) -> BinanceError {
        BinanceError::Json {
            at: self.at,
            expected,
        }
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Next non-space byte, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    /// Consume `byte` (after spaces) or fail.
    #[inline]
    pub(crate) fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), BinanceError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// A string's raw contents (between the quotes).
    #[inline]
    pub(crate) fn string(&mut self) -> Result<&'a [u8], BinanceError> {
        self.expect(b'"', "a string")?;
        let start = self.at;
        loop {
            match self.bytes.get(self.at) {
                None => return Err(self.error("a closing quote")),
                Some(b'"') => break,
                Some(b'\\') => self.at += 2,
                Some(_) => self.at += 1,
            }
        }
        let contents = self
            .bytes
            .get(start..self.at)
            .ok_or(self.error("a closing quote"))?;
        self.at += 1;
        Ok(contents)
    }

    /// An unsigned integer that fits in `u64`.
    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, BinanceError> {
        self.skip_ws();
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(&b) = self.bytes.get(self.at) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit)))
                .ok_or(self.error("an integer that fits in 64 bits"))?;
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("an unsigned integer"));
        }
        Ok(value)
    }

    /// A signed integer that fits in `i64` (Binance error codes are negative).
    pub(crate) fn i64(&mut self) -> Result<i64, BinanceError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let magnitude = self.u64()?;
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        value.ok_or(self.error("an integer that fits in 64 signed bits"))
    }

    /// Walk an object: call `field(cursor, key)` with the cursor on each
    /// value; `field` must consume the value (or call [`Cursor::skip_value`]).
    #[inline]
    pub(crate) fn object<F>(&mut self, mut field: F) -> Result<(), BinanceError>
    where
        F: FnMut(&mut Cursor<'a>, &'a [u8]) -> Result<(), BinanceError>,
    {
        self.expect(b'{', "'{'")?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "':'")?;
            field(self, key)?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error("',' or '}'")),
            }
        }
    }

    /// Walk an array: call `element(cursor)` with the cursor on each element.
    #[inline]
    pub(crate) fn array<F>(&mut self, mut element: F) -> Result<(), BinanceError>
    where
        F: FnMut(&mut Cursor<'a>) -> Result<(), BinanceError>,
    {
        self.expect(b'[', "'['")?;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error("',' or ']'")),
            }
        }
    }

    /// Skip one value of any type, however deeply nested.
    pub(crate) fn skip_value(&mut self) -> Result<(), BinanceError> {
        let mut depth: usize = 0;
        loop {
            match self.peek() {
                None => return Err(self.error("a value")),
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.at += 1;
                    continue;
                }
                Some(b'}' | b']') if depth > 0 => {
                    depth -= 1;
                    self.at += 1;
                }
                Some(b',' | b':') if depth > 0 => {
                    self.at += 1;
                    continue;
                }
                Some(b'-' | b'+' | b'.' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z') => {
                    while let Some(b'-' | b'+' | b'.' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z') =
                        self.bytes.get(self.at)
                    {
                        self.at += 1;
                    }
                }
                Some(_) => return Err(self.error("a value")),
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// Fail unless only spaces remain.
    pub(crate) fn end(&mut self) -> Result<(), BinanceError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("end of message")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Nested unknown values are skipped and the walk resumes after them.
    #[test]
    fn skips_nested_values() {
        let json = br#"{"x":{"a":[1,{"b":"c\"d"}],"e":null},"n":42}"#;
        let mut c = Cursor::new(json);
        let mut n = 0;
        c.object(|c, key| {
            if key == b"n" {
                n = c.u64()?;
                Ok(())
            } else {
                c.skip_value()
            }
        })
        .unwrap();
        c.end().unwrap();
        assert_eq!(n, 42);
    }

    // Truncated input is an error with a position.
    #[test]
    fn truncated_is_error() {
        let mut c = Cursor::new(br#"{"a":"#);
        assert!(c.object(|c, _| c.skip_value()).is_err());
    }
}
