//! Tardis numbers to exact integers: timestamps in microseconds
//! to `u64` nanoseconds, prices and amounts to whole ticks and lots of the
//! instrument's [`DecimalGrid`] (never through a float).
//!
//! Tardis writes numbers as JavaScript prints them, so a very small amount
//! may come as `5e-7` or `1.5e-7`; those are rewritten on the stack into
//! plain decimals first. A value off the grid is an error, never rounded.
//! Owning thread: any; pure functions that do not allocate.

use crate::binance::{BinanceError, DecimalGrid};

/// Longest plain decimal an exponent form may expand to.
const EXPANDED_BYTES_MAX: usize = 96;

/// Largest exponent magnitude accepted (`1e-40` .. `1e40`).
const EXPONENT_MAX: i32 = 40;

/// Why a number field was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberFault {
    /// Not a number of the expected shape.
    Malformed,
    /// A number, but not a whole number of steps.
    OffGrid,
    /// Microseconds that overflow `u64` nanoseconds.
    Overflow(u64),
}

/// Most digits that cannot overflow a `u64` (10^19 - 1 < 2^64).
const SAFE_DIGITS_MAX: usize = 19;

/// A non-negative whole number (1 to 20 digits, no sign).
#[inline]
pub(crate) fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > SAFE_DIGITS_MAX + 1 {
        return None;
    }
    let (head, last) = text.split_at(text.len().min(SAFE_DIGITS_MAX));
    let mut value: u64 = 0;
    for &byte in head {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    match *last {
        [] => Some(value),
        [byte] if byte.is_ascii_digit() => {
            value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
        }
        _ => None,
    }
}

/// Eight ASCII digits, first digit in the lowest byte, to their value;
/// `None` unless all eight are digits. (The SWAR method of simdjson's
/// `parse_eight_digits_unrolled`: pairs, then quads, in three multiplies.)
#[inline(always)]
fn eight_digits(word: u64) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let high_nibbles_are_3 = word & HIGH_NIBBLES == ZEROS;
    // With every high nibble 3, adding 6 carries out of a byte only above '9'.
    let low_nibbles_are_digits = word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES == ZEROS;
    if !(high_nibbles_are_3 && low_nibbles_are_digits) {
        return None;
    }
    // Bytes above each lane's useful one overflow by design: wrapping math.
    let digits = word - ZEROS;
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    const LANES: u64 = 0x0000_00FF_0000_00FF;
    let high = (pairs & LANES).wrapping_mul(100 + (1_000_000 << 32));
    let low = ((pairs >> 16) & LANES).wrapping_mul(1 + (10_000 << 32));
    Some(high.wrapping_add(low) >> 32)
}

/// Microsecond timestamps of this century have 16 digits: two words.
const TIMESTAMP_DIGITS: usize = 16;

/// Microseconds since the epoch to nanoseconds.
#[inline]
pub(crate) fn parse_timestamp_ns(text: &[u8]) -> Result<u64, NumberFault> {
    let micros = match text.split_first_chunk::<8>() {
        Some((high, low)) if text.len() == TIMESTAMP_DIGITS => {
            let low: [u8; 8] = low.try_into().map_err(|_| NumberFault::Malformed)?;
            let high = eight_digits(u64::from_le_bytes(*high));
            let low = eight_digits(u64::from_le_bytes(low));
            high.zip(low).map(|(high, low)| high * 100_000_000 + low)
        }
        _ => parse_u64(text),
    }
    .ok_or(NumberFault::Malformed)?;
    micros
        .checked_mul(1_000)
        .ok_or(NumberFault::Overflow(micros))
}

/// A non-negative decimal, plain or with an exponent, in whole steps of `grid`.
#[inline]
pub(crate) fn parse_steps(grid: &DecimalGrid, text: &[u8]) -> Result<i64, NumberFault> {
    match grid.parse_steps(text, "value") {
        Ok(steps) => Ok(steps),
        Err(BinanceError::OffGrid { .. }) => Err(NumberFault::OffGrid),
        Err(_) => parse_exponent_steps(grid, text),
    }
}

/// The rare exponent form (`5e-7`), rewritten as a plain decimal first.
#[cold]
fn parse_exponent_steps(grid: &DecimalGrid, text: &[u8]) -> Result<i64, NumberFault> {
    let mut expanded = [0u8; EXPANDED_BYTES_MAX];
    let plain = expand_exponent(text, &mut expanded).ok_or(NumberFault::Malformed)?;
    grid.parse_steps(plain, "value")
        .map_err(|error| match error {
            BinanceError::OffGrid { .. } => NumberFault::OffGrid,
            _ => NumberFault::Malformed,
        })
}

/// Rewrite `d[.d]e[±]x` as a plain decimal in `out`; `None` if malformed
/// or too long.
fn expand_exponent<'a>(text: &[u8], out: &'a mut [u8; EXPANDED_BYTES_MAX]) -> Option<&'a [u8]> {
    let split = text.iter().position(|&b| b == b'e' || b == b'E')?;
    let (mantissa, exponent) = (&text[..split], text.get(split + 1..)?);
    let exponent = parse_exponent(exponent)?;
    let (int_digits, frac_digits) = match mantissa.iter().position(|&b| b == b'.') {
        Some(dot) => (&mantissa[..dot], mantissa.get(dot + 1..)?),
        None => (mantissa, &mantissa[mantissa.len()..]),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    let dot_without_digits = frac_digits.is_empty() && mantissa.contains(&b'.');
    if int_digits.is_empty() || dot_without_digits {
        return None;
    }
    if !all_digits(int_digits) || !all_digits(frac_digits) {
        return None;
    }
    let digit_count = int_digits.len() + frac_digits.len();
    let digit = |index: usize| {
        int_digits
            .get(index)
            .or_else(|| frac_digits.get(index - int_digits.len()))
            .copied()
    };
    // Position of the decimal point after shifting, counted in digits.
    let point = i32::try_from(int_digits.len()).ok()? + exponent;
    let mut writer = Writer { out, len: 0 };
    if point <= 0 {
        writer.push_all(b"0.")?;
        writer.push_repeat(b'0', point.unsigned_abs() as usize)?;
        (0..digit_count).try_for_each(|index| writer.push(digit(index)?))?;
    } else {
        let point = point as usize;
        for index in 0..digit_count.max(point) {
            if index == point {
                writer.push(b'.')?;
            }
            writer.push(digit(index).unwrap_or(b'0'))?;
        }
    }
    let len = writer.len;
    Some(&out[..len])
}

fn parse_exponent(text: &[u8]) -> Option<i32> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    let magnitude = i32::try_from(parse_u64(digits)?).ok()?;
    if magnitude > EXPONENT_MAX {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// Bounded appends into the expansion buffer.
struct Writer<'a> {
    out: &'a mut [u8; EXPANDED_BYTES_MAX],
    len: usize,
}

impl Writer<'_> {
    fn push(&mut self, byte: u8) -> Option<()> {
        *self.out.get_mut(self.len)? = byte;
        self.len += 1;
        Some(())
    }

    fn push_all(&mut self, bytes: &[u8]) -> Option<()> {
        bytes.iter().try_for_each(|&byte| self.push(byte))
    }

    fn push_repeat(&mut self, byte: u8, count: usize) -> Option<()> {
        (0..count).try_for_each(|_| self.push(byte))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(step: &str) -> DecimalGrid {
        DecimalGrid::from_step(step).unwrap()
    }

    // Plain and exponent forms give the same exact steps.
    #[test]
    fn parses_plain_and_exponent_forms() {
        let lots = grid("0.00000001");
        assert_eq!(parse_steps(&lots, b"0.0000005"), Ok(50));
        assert_eq!(parse_steps(&lots, b"5e-7"), Ok(50));
        assert_eq!(parse_steps(&lots, b"1.5E-07"), Ok(15));
        assert_eq!(parse_steps(&lots, b"2e1"), Ok(2_000_000_000));
        assert_eq!(parse_steps(&lots, b"1.25e+2"), Ok(12_500_000_000));
        assert_eq!(parse_steps(&lots, b"1e-9"), Err(NumberFault::OffGrid));
        for bad in [
            &b"e5"[..],
            b"1e",
            b"1.e5",
            b".5e1",
            b"1e-99",
            b"1e5e5",
            b"-1e2",
            b"1x",
        ] {
            assert_eq!(
                parse_steps(&lots, bad),
                Err(NumberFault::Malformed),
                "{bad:?}"
            );
        }
    }

    // A tick of 0.5 takes 1.5 and refuses 1.25.
    #[test]
    fn grid_steps_are_exact() {
        let ticks = grid("0.5");
        assert_eq!(parse_steps(&ticks, b"1.5"), Ok(3));
        assert_eq!(parse_steps(&ticks, b"1.25"), Err(NumberFault::OffGrid));
    }

    // The two-word path agrees with the digit loop, and refuses non-digits.
    #[test]
    fn sixteen_digit_fast_path() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let text = format!("{:016}", state % 10_000_000_000_000_000);
            assert_eq!(
                parse_timestamp_ns(text.as_bytes()),
                Ok(parse_u64(text.as_bytes()).unwrap() * 1_000)
            );
            for spot in [0, 7, 8, 15] {
                for bad in [b'/', b':', b'a', b' ', 0x80 | b'5'] {
                    let mut bytes = text.clone().into_bytes();
                    bytes[spot] = bad;
                    assert_eq!(parse_timestamp_ns(&bytes), Err(NumberFault::Malformed));
                }
            }
        }
    }

    // Timestamps: microseconds to nanoseconds, overflow refused.
    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp_ns(b"1585699200245000"),
            Ok(1_585_699_200_245_000_000)
        );
        assert_eq!(
            parse_timestamp_ns(b"18446744073709552"),
            Err(NumberFault::Overflow(18_446_744_073_709_552))
        );
        assert_eq!(parse_timestamp_ns(b""), Err(NumberFault::Malformed));
        assert_eq!(parse_timestamp_ns(b"-5"), Err(NumberFault::Malformed));
        assert_eq!(
            parse_timestamp_ns(b"99999999999999999999999"),
            Err(NumberFault::Malformed)
        );
    }
}
