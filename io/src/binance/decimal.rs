//! Exact decimal-string → integer conversion on an instrument's grid (tick
//! size for prices, lot step for quantities). No floats anywhere.
//!
//! A grid is `step_units` units of `10^-decimals`: tick "0.01" is 1 unit at 2
//! decimals. A value is parsed digit by digit into units (digits beyond
//! `decimals` must be zeros), then divided by `step_units`, which must leave
//! no remainder. Owning thread: any; values are `Copy`.

use super::error::BinanceError;

/// Most fractional digits a grid may have (keeps `10^decimals` in `i64`).
const DECIMALS_MAX: u8 = 18;

/// A price or quantity grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecimalGrid {
    decimals: u8,
    step_units: i64,
}

/// Outcome of the digit scan, before the grid check.
enum Units {
    Value(i64),
    OffGrid,
}

impl DecimalGrid {
    /// The grid whose step is the decimal string `step` (e.g. "0.01",
    /// "0.00001000", "1"). Trailing zeros do not change the grid.
    pub fn from_step(step: &str) -> Result<DecimalGrid, BinanceError> {
        let bad = BinanceError::BadDecimal { field: "tick size" };
        let trimmed = if step.contains('.') {
            step.trim_end_matches('0').trim_end_matches('.')
        } else {
            step
        };
        let decimals = trimmed.split_once('.').map_or(0, |(_, frac)| frac.len());
        let decimals = u8::try_from(decimals).map_err(|_| bad)?;
        if decimals > DECIMALS_MAX {
            return Err(bad);
        }
        let grid = DecimalGrid {
            decimals,
            step_units: 1,
        };
        match grid.scan(trimmed.as_bytes()) {
            Some(Units::Value(units)) if units > 0 => Ok(DecimalGrid {
                decimals,
                step_units: units,
            }),
            _ => Err(bad),
        }
    }

    /// Fractional digits of the grid.
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// Step size in units of `10^-decimals`.
    pub fn step_units(&self) -> i64 {
        self.step_units
    }

    /// Parse a non-negative decimal string into a whole number of steps.
    #[inline]
    pub fn parse_steps(&self, text: &[u8], field: &'static str) -> Result<i64, BinanceError> {
        match self.scan(text) {
            None => Err(BinanceError::BadDecimal { field }),
            Some(Units::OffGrid) => Err(BinanceError::OffGrid { field }),
            Some(Units::Value(units)) => {
                if self.step_units == 1 {
                    return Ok(units);
                }
                if units % self.step_units != 0 {
                    return Err(BinanceError::OffGrid { field });
                }
                Ok(units / self.step_units)
            }
        }
    }

    /// Digits → units of `10^-decimals`; `None` if malformed or overflowing.
    #[inline]
    fn scan(&self, text: &[u8]) -> Option<Units> {
        let mut units: i64 = 0;
        let mut index = 0;
        let mut int_digits = 0;
        while let Some(&b) = text.get(index) {
            if b == b'.' {
                break;
            }
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            units = units.checked_mul(10)?.checked_add(i64::from(digit))?;
            int_digits += 1;
            index += 1;
        }
        let mut frac_digits: u8 = 0;
        let mut off_grid = false;
        if text.get(index) == Some(&b'.') {
            index += 1;
            let frac_start = index;
            while let Some(&b) = text.get(index) {
                let digit = b.wrapping_sub(b'0');
                if digit > 9 {
                    return None;
                }
                if frac_digits < self.decimals {
                    units = units.checked_mul(10)?.checked_add(i64::from(digit))?;
                    frac_digits += 1;
                } else if digit != 0 {
                    off_grid = true;
                }
                index += 1;
            }
            if index == frac_start {
                return None;
            }
        }
        if int_digits == 0 {
            return None;
        }
        for _ in frac_digits..self.decimals {
            units = units.checked_mul(10)?;
        }
        Some(if off_grid {
            Units::OffGrid
        } else {
            Units::Value(units)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values on a 0.01 grid parse exactly, with or without trailing zeros.
    #[test]
    fn parses_exact_ticks() {
        let g = DecimalGrid::from_step("0.01000000").unwrap();
        assert_eq!((g.decimals(), g.step_units()), (2, 1));
        assert_eq!(g.parse_steps(b"25.35000000", "price"), Ok(2535));
        assert_eq!(g.parse_steps(b"7", "price"), Ok(700));
        assert_eq!(g.parse_steps(b"0.1", "price"), Ok(10));
    }

    // A tick of 0.05 needs multiples of 5 units.
    #[test]
    fn non_unit_step() {
        let g = DecimalGrid::from_step("0.05").unwrap();
        assert_eq!(g.parse_steps(b"1.15", "price"), Ok(23));
        assert_eq!(
            g.parse_steps(b"1.17", "price"),
            Err(BinanceError::OffGrid { field: "price" })
        );
    }

    // Extra non-zero digits are off grid; junk is a bad decimal.
    #[test]
    fn off_grid_and_malformed() {
        let g = DecimalGrid::from_step("0.01").unwrap();
        assert_eq!(
            g.parse_steps(b"1.001", "price"),
            Err(BinanceError::OffGrid { field: "price" })
        );
        for bad in [
            &b""[..],
            b".5",
            b"1.",
            b"-1",
            b"1e5",
            b"99999999999999999999",
        ] {
            assert_eq!(
                g.parse_steps(bad, "price"),
                Err(BinanceError::BadDecimal { field: "price" })
            );
        }
        assert!(DecimalGrid::from_step("0").is_err());
    }
}
