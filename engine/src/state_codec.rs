//! The encoding of stage state: what a snapshot holds and what a restart
//! carries from one run into the next.
//!
//! A small explicit binary format, written by hand so that every byte is
//! accounted for: integers little endian, booleans one byte (0 or 1),
//! options a presence byte then the value, lists a `u32` count then the
//! items, and each stage's state in a section (`tag: u8`, `length: u32`,
//! body) so a reader knows where a stage's bytes end and can name the stage
//! whose bytes are wrong. The same state always encodes to the same bytes:
//! maps are written in a fixed order (by id, or oldest first), never in a
//! hash map's iteration order.
//!
//! Owning thread: whoever saves or restores (the snapshot thread, start-up,
//! replay); never the hot path. A reader never panics on bad bytes: every
//! read is bounds-checked and returns a [`StateError`] naming what it was
//! reading and where.

/// What is wrong with encoded state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state ends early: {what} at byte {offset} needs {needed} more byte(s)")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
    },
    #[error("state holds {value} for {what} at byte {offset}, which is not a valid value")]
    Invalid {
        what: &'static str,
        offset: usize,
        value: u64,
    },
    #[error("state was saved with {found} {what}, this configuration has {expected}")]
    Shape {
        what: &'static str,
        expected: u64,
        found: u64,
    },
    #[error(
        "state section {found} found where section {expected} ({name}) belongs, at byte {offset}"
    )]
    Section {
        name: &'static str,
        expected: u8,
        found: u8,
        offset: usize,
    },
    #[error("{bytes} byte(s) left over after {what}")]
    Trailing { what: &'static str, bytes: usize },
    #[error("state format version {found}; this build reads version {supported}")]
    Version { found: u16, supported: u16 },
    #[error("state of {what} is inconsistent after restore: {detail}")]
    Inconsistent {
        what: &'static str,
        detail: &'static str,
    },
}

/// Writes state. Allocates as it grows: never used on the hot path.
#[derive(Clone, Debug, Default)]
pub struct StateWriter {
    bytes: Vec<u8>,
}

impl StateWriter {
    pub fn new() -> StateWriter {
        StateWriter::default()
    }

    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn i64(&mut self, value: i64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn i128(&mut self, value: i128) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    /// A count of items that follow (a list's length).
    pub fn count(&mut self, count: usize) {
        let count = u32::try_from(count).expect("a state list holds fewer than 2^32 items");
        self.u32(count);
    }

    pub fn option_i64(&mut self, value: Option<i64>) {
        self.bool(value.is_some());
        if let Some(value) = value {
            self.i64(value);
        }
    }

    pub fn option_u64(&mut self, value: Option<u64>) {
        self.bool(value.is_some());
        if let Some(value) = value {
            self.u64(value);
        }
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, value: &[u8]) {
        self.count(value.len());
        self.bytes.extend_from_slice(value);
    }

    pub fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    /// A section: its tag, its length, then what `body` writes.
    pub fn section(&mut self, tag: u8, body: impl FnOnce(&mut StateWriter)) {
        self.u8(tag);
        let length_at = self.bytes.len();
        self.u32(0);
        body(self);
        let length = self.bytes.len() - length_at - 4;
        let length = u32::try_from(length).expect("a state section is under 4 GiB");
        self.bytes[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads state, bounds-checked; every error names what was being read.
#[derive(Clone, Debug)]
pub struct StateReader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Where this reader's bytes start in the whole state (for messages).
    base: usize,
}

impl<'a> StateReader<'a> {
    pub fn new(bytes: &'a [u8]) -> StateReader<'a> {
        StateReader {
            bytes,
            at: 0,
            base: 0,
        }
    }

    fn take(&mut self, count: usize, what: &'static str) -> Result<&'a [u8], StateError> {
        let left = self.bytes.len() - self.at;
        if left < count {
            return Err(StateError::Truncated {
                what,
                offset: self.base + self.at,
                needed: count - left,
            });
        }
        let taken = &self.bytes[self.at..self.at + count];
        self.at += count;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], StateError> {
        let bytes = self.take(N, what)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    /// Where the next read starts, from the start of the whole state.
    pub fn offset(&self) -> usize {
        self.base + self.at
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, StateError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, StateError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, StateError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, StateError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, StateError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub fn i128(&mut self, what: &'static str) -> Result<i128, StateError> {
        Ok(i128::from_le_bytes(self.array(what)?))
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, StateError> {
        let offset = self.offset();
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(StateError::Invalid {
                what,
                offset,
                value: u64::from(value),
            }),
        }
    }

    /// A one-byte code decoded by `decode`; a byte it refuses is an error.
    pub fn code<T>(
        &mut self,
        what: &'static str,
        decode: impl FnOnce(u8) -> Option<T>,
    ) -> Result<T, StateError> {
        let offset = self.offset();
        let value = self.u8(what)?;
        decode(value).ok_or(StateError::Invalid {
            what,
            offset,
            value: u64::from(value),
        })
    }

    /// A list's count, refused beyond `max` (which bounds what a restore allocates).
    pub fn count(&mut self, what: &'static str, max: usize) -> Result<usize, StateError> {
        let offset = self.offset();
        let count = self.u32(what)? as usize;
        if count > max {
            return Err(StateError::Invalid {
                what,
                offset,
                value: count as u64,
            });
        }
        Ok(count)
    }

    /// A count that must equal `expected` (one entry per configured instrument).
    pub fn count_exact(&mut self, what: &'static str, expected: usize) -> Result<(), StateError> {
        let found = self.u32(what)? as usize;
        if found != expected {
            return Err(StateError::Shape {
                what,
                expected: expected as u64,
                found: found as u64,
            });
        }
        Ok(())
    }

    pub fn option_i64(&mut self, what: &'static str) -> Result<Option<i64>, StateError> {
        Ok(if self.bool(what)? {
            Some(self.i64(what)?)
        } else {
            None
        })
    }

    pub fn option_u64(&mut self, what: &'static str) -> Result<Option<u64>, StateError> {
        Ok(if self.bool(what)? {
            Some(self.u64(what)?)
        } else {
            None
        })
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], StateError> {
        let length = self.u32(what)? as usize;
        self.take(length, what)
    }

    pub fn str(&mut self, what: &'static str) -> Result<&'a str, StateError> {
        let offset = self.offset();
        let bytes = self.bytes(what)?;
        std::str::from_utf8(bytes).map_err(|_| StateError::Invalid {
            what,
            offset,
            value: bytes.len() as u64,
        })
    }

    /// The body of the next section, which must carry `tag`; the reader
    /// moves past it.
    pub fn section(&mut self, tag: u8, name: &'static str) -> Result<StateReader<'a>, StateError> {
        let offset = self.offset();
        let found = self.u8(name)?;
        if found != tag {
            return Err(StateError::Section {
                name,
                expected: tag,
                found,
                offset,
            });
        }
        let length = self.u32(name)? as usize;
        let base = self.offset();
        let body = self.take(length, name)?;
        Ok(StateReader {
            bytes: body,
            at: 0,
            base,
        })
    }

    /// Fails unless every byte was read.
    pub fn finish(&self, what: &'static str) -> Result<(), StateError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            bytes => Err(StateError::Trailing { what, bytes }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Sections nest, read back what was written, and a wrong tag names the section.
    #[test]
    fn sections_round_trip_and_name_a_wrong_tag() {
        let mut writer = StateWriter::new();
        writer.section(3, |w| {
            w.u64(7);
            w.option_i64(Some(-2));
            w.str("mm");
        });
        writer.section(4, |w| w.bool(true));
        let bytes = writer.into_bytes();
        let mut reader = StateReader::new(&bytes);
        let mut first = reader.section(3, "first").unwrap();
        assert_eq!(first.u64("a").unwrap(), 7);
        assert_eq!(first.option_i64("b").unwrap(), Some(-2));
        assert_eq!(first.str("c").unwrap(), "mm");
        first.finish("first").unwrap();
        let err = reader.section(5, "second").unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Section {
                    expected: 5,
                    found: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    // A bool other than 0 or 1 and a count beyond its bound are refused with their offset.
    #[test]
    fn bad_values_are_named() {
        let mut reader = StateReader::new(&[2]);
        assert_eq!(
            reader.bool("flag").unwrap_err(),
            StateError::Invalid {
                what: "flag",
                offset: 0,
                value: 2
            }
        );
        let bytes = 9u32.to_le_bytes();
        let mut reader = StateReader::new(&bytes);
        assert!(reader.count("orders", 8).is_err());
    }

    proptest! {
        // Any prefix of valid state reads as an error, never a panic.
        #[test]
        fn truncation_is_an_error(values in proptest::collection::vec(any::<i64>(), 0..20), cut in any::<usize>()) {
            let mut writer = StateWriter::new();
            writer.section(1, |w| {
                w.count(values.len());
                for value in &values {
                    w.i64(*value);
                }
            });
            let bytes = writer.into_bytes();
            let cut = cut % (bytes.len() + 1);
            let read = |bytes: &[u8]| -> Result<Vec<i64>, StateError> {
                let mut reader = StateReader::new(bytes);
                let mut body = reader.section(1, "list")?;
                let count = body.count("count", 1 << 20)?;
                (0..count).map(|_| body.i64("value")).collect()
            };
            if cut == bytes.len() {
                prop_assert_eq!(read(&bytes).unwrap(), values);
            } else {
                prop_assert!(read(&bytes[..cut]).is_err());
            }
        }
    }
}
