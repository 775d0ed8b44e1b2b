//! Decimal digits of unsigned integers, written two at a time from a
//! table of the 100 pairs: the integer formatting under every encoded tag, number,
//! price, quantity and timestamp.
//!
//! Owning thread: none (pure functions).
//! Invariants: no division by a runtime value (only by the constants 10 and
//! 100, which compile to multiplications); a caller sizes the output with
//! [`digit_count`], or asks for zero padding by passing a wider slice.

/// "00", "01", … "99", as two-byte pairs (one 16-bit copy per pair).
const PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut index = 0;
    while index < 100 {
        pairs[index] = [b'0' + (index / 10) as u8, b'0' + (index % 10) as u8];
        index += 1;
    }
    pairs
};

/// "000", "001", … "999": fields that always have three digits
/// (milliseconds, CheckSum) and most BodyLengths, in one 3-byte copy
/// instead of a pair, a division and a single digit.
const TRIPLES: [[u8; 3]; 1000] = {
    let mut triples = [[0u8; 3]; 1000];
    let mut index = 0;
    while index < 1000 {
        triples[index] = [
            b'0' + (index / 100) as u8,
            b'0' + (index / 10 % 10) as u8,
            b'0' + (index % 10) as u8,
        ];
        index += 1;
    }
    triples
};

/// 10^0 … 10^19.
const POWERS_OF_TEN: [u64; 20] = {
    let mut powers = [1u64; 20];
    let mut index = 1;
    while index < 20 {
        powers[index] = powers[index - 1] * 10;
        index += 1;
    }
    powers
};

/// The number of decimal digits of `value` (1 for zero, at most 20), in
/// constant time: log10 estimated from the bit length (1233/4096 ≈
/// log10 2), then corrected by one comparison.
#[inline]
pub(crate) const fn digit_count(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    let estimate = (bits * 1233) >> 12;
    if estimate < 20 && value >= POWERS_OF_TEN[estimate] {
        estimate + 1
    } else if estimate == 0 {
        1
    } else {
        estimate
    }
}

/// Writes the low `out.len()` decimal digits of `value` into `out`,
/// zero-padded on the left: pass `digit_count(value)` bytes for the plain
/// number, more for leading zeros.
#[inline]
pub(crate) fn write_digits(mut value: u64, out: &mut [u8]) {
    let mut end = out.len();
    while end >= 2 {
        let pair = PAIRS[(value % 100) as usize];
        value /= 100;
        out[end - 2..end].copy_from_slice(&pair);
        end -= 2;
    }
    if end == 1 {
        out[0] = b'0' + (value % 10) as u8;
    }
}

/// Writes `value` (below 1000) as exactly three digits, zero-padded.
#[inline]
pub(crate) fn write_3_digits(value: u64, out: &mut [u8; 3]) {
    debug_assert!(value < 1000, "three digits");
    *out = TRIPLES[(value % 1000) as usize];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: u64, width: usize) -> String {
        let mut out = vec![0u8; width];
        write_digits(value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn digits_match_the_standard_formatter() {
        // Every power of ten, its neighbours and the extremes.
        let mut values = vec![0u64, 1, 9, 10, 11, 99, 100, 101, u64::MAX];
        let mut power = 1u64;
        while let Some(next) = power.checked_mul(10) {
            values.extend([next - 1, next, next + 1]);
            power = next;
        }
        for value in values {
            assert_eq!(digit_count(value), value.to_string().len(), "{value}");
            assert_eq!(text(value, digit_count(value)), value.to_string());
        }
    }

    #[test]
    fn wider_output_is_zero_padded() {
        // Padding for timestamps and fractions.
        assert_eq!(text(7, 3), "007");
        assert_eq!(text(1234, 6), "001234");
        assert_eq!(text(0, 2), "00");
    }

    #[test]
    fn three_digits_match_the_padded_writer() {
        // Every value below 1000, as the general writer pads it.
        for value in 0..1000u64 {
            let mut out = [0u8; 3];
            write_3_digits(value, &mut out);
            assert_eq!(String::from_utf8(out.to_vec()).unwrap(), text(value, 3));
        }
    }
}
