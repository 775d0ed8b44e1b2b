//! Exact conversion between FIX decimal text and integer ticks and lots.
//!
//! Owning thread: none (pure functions on `Copy` values).
//! Invariants: no floating point anywhere; a value that is not a whole
//! multiple of the step is an error ([`ValueError::OffGrid`]), never rounded;
//! conversion never allocates. Values have at most 18 significant digits and
//! steps at most 12 digits and 12 decimals, so the exact arithmetic below
//! fits in `i128`.

use crate::fix::digits::{digit_count, write_digits};
use crate::fix::error::{FixError, ValueError};

/// A price as a whole number of instrument ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticks(pub i64);

/// A quantity as a whole number of instrument lots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lots(pub i64);

/// Longest text [`Step::write`] produces: sign, 39 digits, point.
pub const DECIMAL_TEXT_LEN_MAX: usize = 48;

const VALUE_DIGITS_MAX: u32 = 18;
const STEP_DIGITS_MAX: u32 = 12;

/// Bytes moved at once to make room for the decimal point (more than a
/// step's 12 fraction digits).
const SLIDE: usize = 16;
const _: () =
    assert!(SLIDE > STEP_DIGITS_MAX as usize && 1 + 20 + 1 + SLIDE <= DECIMAL_TEXT_LEN_MAX);

/// A positive decimal step (a tick size or a lot size): `mantissa / 10^decimals`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    mantissa: u64,
    decimals: u32,
}

/// Parsed decimal text: `(-1)^negative × mantissa / 10^decimals`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    mantissa: u64,
    decimals: u32,
}

/// Parses FIX decimal text (`-?digits(.digits)?`, at least one digit) into
/// an exact mantissa and decimal count. `None` when malformed or too long.
fn parse_decimal(text: &[u8], digits_max: u32) -> Option<Decimal> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut digits_count: u32 = 0;
    let mut decimals: u32 = 0;
    let mut seen_point = false;
    for &byte in body {
        match byte {
            b'0'..=b'9' => {
                if mantissa != 0 || byte != b'0' {
                    digits_count += 1;
                    if digits_count > digits_max {
                        return None;
                    }
                }
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                if seen_point {
                    decimals += 1;
                    if decimals > 24 {
                        return None;
                    }
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    let has_digit = body.iter().any(u8::is_ascii_digit);
    has_digit.then_some(Decimal {
        negative,
        mantissa,
        decimals,
    })
}

const fn pow10_i128(exponent: u32) -> i128 {
    let mut result: i128 = 1;
    let mut index = 0;
    while index < exponent {
        result *= 10;
        index += 1;
    }
    result
}

impl Step {
    /// Parses a positive step such as `"0.01"`, `"0.25"` or `"100"`.
    pub fn parse(what: &'static str, text: &str) -> Result<Step, FixError> {
        let bad = || FixError::Scale {
            what,
            value: text.to_owned(),
        };
        let decimal = parse_decimal(text.as_bytes(), STEP_DIGITS_MAX).ok_or_else(bad)?;
        if decimal.negative || decimal.mantissa == 0 || decimal.decimals > STEP_DIGITS_MAX {
            return Err(bad());
        }
        Ok(Step {
            mantissa: decimal.mantissa,
            decimals: decimal.decimals,
        })
    }

    /// The exact number of steps in the decimal `text` of field `tag`.
    pub fn count_of(self, tag: u32, text: &[u8]) -> Result<i64, ValueError> {
        let value = parse_decimal(text, VALUE_DIGITS_MAX).ok_or(ValueError::NotANumber { tag })?;
        let count = if self.mantissa == 1 {
            self.count_of_unit_step(tag, value)?
        } else {
            self.count_of_any_step(tag, value)?
        };
        Ok(if value.negative { -count } else { count })
    }

    /// Fast path for steps of the form `10^-decimals` (no division unless
    /// the value carries trailing zeros past the step's decimals).
    fn count_of_unit_step(self, tag: u32, value: Decimal) -> Result<i64, ValueError> {
        let count = if value.decimals <= self.decimals {
            let scale = 10u64.checked_pow(self.decimals - value.decimals);
            scale.and_then(|scale| value.mantissa.checked_mul(scale))
        } else {
            let divisor = 10u64.checked_pow(value.decimals - self.decimals);
            match divisor {
                Some(divisor) if value.mantissa.checked_rem(divisor) != Some(0) => {
                    return Err(ValueError::OffGrid { tag })
                }
                Some(divisor) => Some(value.mantissa / divisor),
                // More than 19 extra decimals: only zero is on the grid.
                None if value.mantissa == 0 => Some(0),
                None => return Err(ValueError::OffGrid { tag }),
            }
        };
        count
            .and_then(|count| i64::try_from(count).ok())
            .ok_or(ValueError::OutOfRange { tag })
    }

    fn count_of_any_step(self, tag: u32, value: Decimal) -> Result<i64, ValueError> {
        let common = value.decimals.max(self.decimals);
        let numerator = i128::from(value.mantissa) * pow10_i128(common - value.decimals);
        let denominator = i128::from(self.mantissa) * pow10_i128(common - self.decimals);
        if numerator % denominator != 0 {
            return Err(ValueError::OffGrid { tag });
        }
        i64::try_from(numerator / denominator).map_err(|_| ValueError::OutOfRange { tag })
    }

    /// Writes `count × step` as FIX decimal text into `out`; returns the length.
    /// Trailing fractional zeros are dropped (`"100.5"`, `"42"`).
    #[inline]
    pub fn write(self, count: i64, out: &mut [u8; DECIMAL_TEXT_LEN_MAX]) -> usize {
        match count.unsigned_abs().checked_mul(self.mantissa) {
            Some(magnitude) => write_scaled(count < 0, magnitude, self.decimals as usize, out),
            None => self.write_wide(count, out),
        }
    }

    /// [`Step::write`] for products beyond `u64` (only absurd prices or
    /// quantities reach here).
    fn write_wide(self, count: i64, out: &mut [u8; DECIMAL_TEXT_LEN_MAX]) -> usize {
        let scaled = i128::from(count) * i128::from(self.mantissa);
        let magnitude = scaled.unsigned_abs();
        let divisor = pow10_i128(self.decimals) as u128;
        let (integer, mut fraction) = (magnitude / divisor, magnitude % divisor);
        let mut length = 0;
        if scaled < 0 {
            out[0] = b'-';
            length = 1;
        }
        length += write_u128(integer, &mut out[length..]);
        if fraction != 0 {
            let mut decimals = self.decimals as usize;
            while fraction % 10 == 0 {
                fraction /= 10;
                decimals -= 1;
            }
            out[length] = b'.';
            for index in (0..decimals).rev() {
                out[length + 1 + index] = b'0' + (fraction % 10) as u8;
                fraction /= 10;
            }
            length += 1 + decimals;
        }
        length
    }
}

/// Writes `magnitude / 10^decimals` (negated when `negative`) without a
/// division: all digits first, zero-padded to at least `decimals + 1`, then
/// the point slid in before the last `decimals` and trailing zeros dropped.
#[inline]
fn write_scaled(
    negative: bool,
    magnitude: u64,
    decimals: usize,
    out: &mut [u8; DECIMAL_TEXT_LEN_MAX],
) -> usize {
    debug_assert!(
        decimals <= STEP_DIGITS_MAX as usize,
        "steps have at most 12 decimals"
    );
    let sign_len = usize::from(negative);
    if negative {
        out[0] = b'-';
    }
    if decimals == 0 {
        // A whole step (a lot of 1 or 100, a tick of 1): no point, no fraction.
        let width = digit_count(magnitude);
        write_digits(magnitude, &mut out[sign_len..sign_len + width]);
        return sign_len + width;
    }
    let width = digit_count(magnitude).max(decimals + 1);
    write_digits(magnitude, &mut out[sign_len..sign_len + width]);
    let point = sign_len + width - decimals;
    let mut fraction_len = decimals;
    while fraction_len > 0 && out[point + fraction_len - 1] == b'0' {
        fraction_len -= 1;
    }
    if fraction_len == 0 {
        return point;
    }
    // Slide the kept fraction (at most 12 bytes) right by one for the
    // point: one 16-byte move (the point lies at most 21 bytes in, so the
    // window fits the 48-byte buffer), not a loop or a memmove call.
    if let Some(window) = out
        .get(point..point + SLIDE)
        .and_then(|w| <[u8; SLIDE]>::try_from(w).ok())
    {
        if let Some(to) = out.get_mut(point + 1..point + 1 + SLIDE) {
            to.copy_from_slice(&window);
        }
    }
    out[point] = b'.';
    point + 1 + fraction_len
}

/// Writes the decimal digits of `value` at the start of `out`; returns the count.
fn write_u128(mut value: u128, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 40];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for index in 0..count {
        out[index] = digits[count - 1 - index];
    }
    count
}

/// The tick and lot size of one instrument, fixed at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstrumentScale {
    /// Price step: one tick.
    pub tick: Step,
    /// Quantity step: one lot.
    pub lot: Step,
}

impl InstrumentScale {
    /// Builds a scale from decimal text, e.g. `InstrumentScale::new("0.01", "1")`.
    pub fn new(tick_size: &str, lot_size: &str) -> Result<InstrumentScale, FixError> {
        Ok(InstrumentScale {
            tick: Step::parse("tick size", tick_size)?,
            lot: Step::parse("lot size", lot_size)?,
        })
    }

    /// The price in field `tag` as exact ticks.
    pub fn price_ticks(&self, tag: u32, text: &[u8]) -> Result<Ticks, ValueError> {
        self.tick.count_of(tag, text).map(Ticks)
    }

    /// The quantity in field `tag` as exact lots.
    pub fn qty_lots(&self, tag: u32, text: &[u8]) -> Result<Lots, ValueError> {
        self.lot.count_of(tag, text).map(Lots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(step: Step, count: i64) -> String {
        let mut out = [0u8; DECIMAL_TEXT_LEN_MAX];
        let length = step.write(count, &mut out);
        String::from_utf8(out[..length].to_vec()).unwrap()
    }

    #[test]
    fn cent_tick_parses_exactly() {
        // A two-decimal price with a one-cent tick.
        let step = Step::parse("tick size", "0.01").unwrap();
        assert_eq!(step.count_of(44, b"123.45"), Ok(12345));
        assert_eq!(step.count_of(44, b"123.4"), Ok(12340));
        assert_eq!(step.count_of(44, b"123.450000"), Ok(12345));
        assert_eq!(step.count_of(44, b"-0.07"), Ok(-7));
        assert_eq!(step.count_of(44, b"7"), Ok(700));
        assert_eq!(step.count_of(44, b"7."), Ok(700));
        assert_eq!(step.count_of(44, b".5"), Ok(50));
    }

    #[test]
    fn off_grid_is_an_error() {
        // A price finer than the tick is refused, never rounded.
        let step = Step::parse("tick size", "0.01").unwrap();
        assert_eq!(
            step.count_of(44, b"123.455"),
            Err(ValueError::OffGrid { tag: 44 })
        );
        let quarter = Step::parse("tick size", "0.25").unwrap();
        assert_eq!(quarter.count_of(44, b"10.75"), Ok(43));
        assert_eq!(
            quarter.count_of(44, b"10.70"),
            Err(ValueError::OffGrid { tag: 44 })
        );
    }

    #[test]
    fn malformed_values_are_errors() {
        // Garbage, empty text and overlong numbers are refused.
        let step = Step::parse("lot size", "1").unwrap();
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"1.2.3",
            b"1e5",
            b"+1",
            b" 1",
            b"12345678901234567890",
        ] {
            assert!(step.count_of(38, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn steps_must_be_positive_decimals() {
        // Zero, negative and malformed steps are configuration errors.
        for bad in ["0", "-0.01", "abc", "", "0.0000000000001"] {
            assert!(Step::parse("tick size", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn write_is_exact_and_trims_zeros() {
        // Ticks back to text, with and without fractions.
        let cent = Step::parse("tick size", "0.01").unwrap();
        assert_eq!(text(cent, 12345), "123.45");
        assert_eq!(text(cent, 12340), "123.4");
        assert_eq!(text(cent, 700), "7");
        assert_eq!(text(cent, -7), "-0.07");
        assert_eq!(text(cent, 0), "0");
        let quarter = Step::parse("tick size", "0.25").unwrap();
        assert_eq!(text(quarter, 43), "10.75");
        let hundred = Step::parse("lot size", "100").unwrap();
        assert_eq!(text(hundred, 3), "300");
        assert_eq!(text(cent, i64::MIN), "-92233720368547758.08");
    }

    proptest::proptest! {
        #[test]
        fn write_then_parse_round_trips(count in -1_000_000_000_000i64..1_000_000_000_000, step_index in 0usize..4) {
            // Any tick count survives text and back with several steps.
            let step = Step::parse("tick size", ["0.01", "0.25", "1", "0.0005"][step_index]).unwrap();
            let mut out = [0u8; DECIMAL_TEXT_LEN_MAX];
            let length = step.write(count, &mut out);
            proptest::prop_assert_eq!(step.count_of(44, &out[..length]), Ok(count));
        }
    }
}
