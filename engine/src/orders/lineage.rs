//! The journal's order lineage: six characters (`0-9a-z`) chosen at random
//! when a journal is created, recorded in every run's start record and
//! carried by every later start (after a crash, from a snapshot, after
//! `journal truncate`), so the ClOrdIDs a journal's orders go out under are
//! its own. Another journal trading the same account (a new, empty one
//! against a venue that still remembers the old one's orders) has another
//! lineage: its order ids may repeat the old ones, its ClOrdIDs never do,
//! and the venue's answers about the old orders are told apart from ours
//! (`adapters::fix::cl_ord_id`).
//!
//! Owning thread: start-up (`run::rebuild`) chooses or reads it; the venue
//! client holds a copy. Invariant: exactly [`LINEAGE_LEN`] bytes, each an
//! ASCII digit or lowercase letter.

use std::fmt;

/// Characters of a lineage.
pub const LINEAGE_LEN: usize = 6;

/// The digits lineages and ClOrdID numbers are written in (base 36).
pub const BASE36_DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lineage([u8; LINEAGE_LEN]);

impl Lineage {
    /// A new lineage from 64 random bits (36^6 ≈ 2.2 billion values).
    pub fn from_random(mut bits: u64) -> Lineage {
        let mut text = [0u8; LINEAGE_LEN];
        for byte in &mut text {
            *byte = BASE36_DIGITS[(bits % 36) as usize];
            bits /= 36;
        }
        Lineage(text)
    }

    /// A new lineage for a journal being created: from the kernel's random
    /// source, or (where it cannot be read) from the time and process id.
    #[allow(clippy::disallowed_methods)] // start-up, never a stage
    pub fn generate() -> Lineage {
        use std::io::Read;
        let mut bytes = [0u8; 8];
        let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
        let bits = match random {
            Ok(()) => u64::from_le_bytes(bytes),
            Err(_) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                let mixed = now ^ (u64::from(std::process::id()) << 40);
                mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            }
        };
        Lineage::from_random(bits)
    }

    /// Reads a recorded lineage; `None` unless it is six of `0-9a-z`.
    pub fn parse(text: &str) -> Option<Lineage> {
        let bytes: [u8; LINEAGE_LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
            .then_some(Lineage(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; LINEAGE_LEN] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a lineage is ASCII")
    }
}

impl fmt::Display for Lineage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Lineage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lineage({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A lineage round-trips through its text; anything else is refused.
    #[test]
    fn lineages_round_trip_and_refuse_other_text() {
        let lineage = Lineage::from_random(0x0123_4567_89ab_cdef);
        assert_eq!(Lineage::parse(lineage.as_str()), Some(lineage));
        assert_eq!(lineage.as_str().len(), LINEAGE_LEN);
        for bad in ["", "abc", "abcdefg", "ABCDEF", "abc-ef", "abcdé"] {
            assert_eq!(Lineage::parse(bad), None, "{bad:?}");
        }
        assert_ne!(Lineage::from_random(1), Lineage::from_random(2));
    }

    // Two journals created one after the other get different lineages.
    #[test]
    fn generated_lineages_differ() {
        let first = Lineage::generate();
        assert!(Lineage::parse(first.as_str()).is_some());
        assert_ne!(first, Lineage::generate());
    }
}
