//! ClOrdID(11) text for engine order ids, without allocating.
//!
//! Under the journal's lineage (`orders::lineage`, six of `0-9a-z`), an
//! order is `<lineage><id>`, its k-th replace `<lineage><id>.r<k>`, a cancel
//! `<lineage><id>.c<n>` (n: the journal sequence of the event that decided
//! it), every number in base 36 (`0-9a-z`, no leading zero). Own ids stay below 2^62 (12 base-36 digits), so the longest
//! ClOrdID the engine makes is 6 + 12 + 2 + 13 = 33 characters
//! ([`OWN_CL_ORD_ID_LEN_MAX`]), inside the 36 most capped venues take;
//! a new order of a journal below 2.8 * 10^12 order ids is at most 14
//! (`k3x9qz` + 8), a replace or cancel a few more. A journal recorded
//! before lineages existed keeps the plain decimal form (`<id>`,
//! `<id>.r<k>`, `<id>.c<n>`), so its open orders keep their names.
//!
//! Every id the venue echoes back in one of our forms names the engine's
//! order `<id>`. Any other ClOrdID (another lineage's, a new journal's
//! predecessor, or an order another system entered for the same
//! participant) names an adoption id: [`ADOPTED_ORDER_ID_FLAG`] with a
//! stable hash of the text, the same in every run, so reconciliation
//! enters the order under one id however often it sees it, and never
//! takes it for one of ours.

use crate::orders::lineage::{Lineage, BASE36_DIGITS, LINEAGE_LEN};
use crate::units::OrderId;

/// Room for any request id the session logs (and two u64s with a suffix).
pub const CL_ORD_ID_LEN_MAX: usize = genesis_io::fix::sent_log::REQUEST_ID_LEN_MAX;
pub use crate::units::ADOPTED_ORDER_ID_FLAG;
const _: () = assert!(
    CL_ORD_ID_LEN_MAX >= 2 * U64_DIGITS_MAX + 2,
    "two u64s and a suffix fit"
);
/// Decimal digits of the largest u64.
const U64_DIGITS_MAX: usize = 20;
/// The longest ClOrdID the engine makes under a lineage: the lineage, an
/// own id (below 2^62: 12 base-36 digits), `.r` or `.c`, and a u64 in base
/// 36 (13 digits).
pub const OWN_CL_ORD_ID_LEN_MAX: usize = LINEAGE_LEN + 12 + 2 + 13;
const _: () = assert!(OWN_CL_ORD_ID_LEN_MAX <= 36, "inside the common venue cap");

/// A ClOrdID written into a fixed buffer.
#[derive(Clone, Copy)]
pub struct ClOrdId {
    bytes: [u8; CL_ORD_ID_LEN_MAX],
    len: usize,
}

impl ClOrdId {
    fn empty() -> ClOrdId {
        ClOrdId {
            bytes: [0; CL_ORD_ID_LEN_MAX],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_number(&mut self, mut value: u64, radix: u64) {
        let mut digits = [0u8; U64_DIGITS_MAX];
        let mut count = 0;
        loop {
            digits[count] = BASE36_DIGITS[(value % radix) as usize];
            count += 1;
            value /= radix;
            if value == 0 {
                break;
            }
        }
        for digit in digits[..count].iter().rev() {
            self.bytes[self.len] = *digit;
            self.len += 1;
        }
    }

    /// A ClOrdID the venue gave (an adopted order's), if it fits.
    pub fn from_text(text: &[u8]) -> Option<ClOrdId> {
        let mut id = ClOrdId {
            bytes: [0; CL_ORD_ID_LEN_MAX],
            len: text.len(),
        };
        id.bytes.get_mut(..text.len())?.copy_from_slice(text);
        Some(id)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// How this client writes and reads its ClOrdIDs: under the journal's
/// lineage, or in the plain decimal form of a journal without one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClOrdIds {
    lineage: Option<Lineage>,
}

impl ClOrdIds {
    pub fn new(lineage: Option<Lineage>) -> ClOrdIds {
        ClOrdIds { lineage }
    }

    pub fn lineage(&self) -> Option<Lineage> {
        self.lineage
    }

    fn radix(&self) -> u64 {
        if self.lineage.is_some() {
            36
        } else {
            10
        }
    }

    /// The ClOrdID of `order`, or of its request `suffix` (`(b'r', k)` its
    /// k-th replace, `(b'c', n)` a cancel).
    pub fn id(&self, order: OrderId, suffix: Option<(u8, u64)>) -> ClOrdId {
        let mut id = ClOrdId::empty();
        if let Some(lineage) = &self.lineage {
            id.push(lineage.as_bytes());
        }
        id.push_number(order.0, self.radix());
        if let Some((letter, n)) = suffix {
            id.push(&[b'.', letter]);
            id.push_number(n, self.radix());
        }
        debug_assert!(
            self.lineage.is_none() || !order.is_own() || id.len <= OWN_CL_ORD_ID_LEN_MAX,
            "an own ClOrdID stays inside the stated length"
        );
        id
    }

    /// What follows our lineage in `cl_ord_id`, if it is ours.
    fn body<'a>(&self, cl_ord_id: &'a [u8]) -> Option<&'a [u8]> {
        match &self.lineage {
            Some(lineage) => cl_ord_id.strip_prefix(&lineage.as_bytes()[..]),
            None => Some(cl_ord_id),
        }
    }

    /// A number in this form's radix at the start of `text`, and the rest.
    fn number<'a>(&self, text: &'a [u8]) -> Option<(u64, &'a [u8])> {
        let radix = self.radix();
        let digits = text
            .iter()
            .take_while(|b| BASE36_DIGITS[..radix as usize].contains(b))
            .count();
        if digits == 0 || (radix == 36 && digits > 1 && text[0] == b'0') {
            return None;
        }
        let value = std::str::from_utf8(&text[..digits]).ok()?;
        let value = u64::from_str_radix(value, radix as u32).ok()?;
        Some((value, &text[digits..]))
    }

    /// The engine's order and version a ClOrdID of ours names: `<id>` is
    /// version 0, `<id>.r<k>` version k, `<id>.c<n>` (a cancel) no version.
    /// `None` for a ClOrdID the engine did not make under this lineage.
    pub fn own_order_of(&self, cl_ord_id: &[u8]) -> Option<(OrderId, Option<u64>)> {
        let (order, rest) = self.number(self.body(cl_ord_id)?)?;
        let order = OrderId(order);
        if !order.is_own() {
            return None;
        }
        match rest {
            [] => Some((order, Some(0))),
            [b'.', letter @ (b'r' | b'c'), count @ ..] => match self.number(count)? {
                (version, []) if *letter == b'r' => Some((order, Some(version))),
                (_, []) => Some((order, None)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The engine order a ClOrdID names: its own, or the adoption id.
    pub fn order_of(&self, cl_ord_id: &[u8]) -> OrderId {
        self.own_order_of(cl_ord_id)
            .map_or_else(|| adopted_order_id(cl_ord_id), |(order, _)| order)
    }

    /// Which version of its order a ClOrdID names: 0 for the order's own
    /// id, `k` for its k-th replace; `None` for anything else (a cancel's
    /// id, a foreign id).
    pub fn replace_version_of(&self, cl_ord_id: &[u8]) -> Option<u64> {
        self.own_order_of(cl_ord_id)
            .and_then(|(_, version)| version)
    }
}

/// The id an order adopted under a foreign ClOrdID takes (FNV-1a of the
/// text, stable across runs and builds, under [`ADOPTED_ORDER_ID_FLAG`]).
pub fn adopted_order_id(cl_ord_id: &[u8]) -> OrderId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in cl_ord_id {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    OrderId(ADOPTED_ORDER_ID_FLAG | (hash & (ADOPTED_ORDER_ID_FLAG - 1)))
}

/// A stable 64-bit id for a venue's text id (ExecID, OrderID): the number
/// itself when it is one, else a hash.
pub fn id_of_text(text: &[u8]) -> u64 {
    if !text.is_empty() && text.len() <= 19 && text.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
    }
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(text);
    hasher.finish() | 1 << 63
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: ClOrdIds = ClOrdIds { lineage: None };

    fn ours() -> ClOrdIds {
        ClOrdIds::new(Lineage::parse("k3x9qz"))
    }

    // Without a lineage (a journal recorded before them): plain decimal ids round-trip.
    #[test]
    fn plain_ids_round_trip() {
        assert_eq!(PLAIN.id(OrderId(1234), None).as_bytes(), b"1234");
        assert_eq!(PLAIN.id(OrderId(7), Some((b'r', 2))).as_bytes(), b"7.r2");
        assert_eq!(PLAIN.order_of(b"7.r2"), OrderId(7));
        assert_eq!(PLAIN.replace_version_of(b"7"), Some(0));
        assert_eq!(PLAIN.replace_version_of(b"7.r12"), Some(12));
        assert_eq!(PLAIN.replace_version_of(b"7.c3"), None);
        assert_eq!(PLAIN.replace_version_of(b"7.r"), None);
        assert_eq!(PLAIN.replace_version_of(b"x"), None);
        assert_eq!(id_of_text(b"42"), 42);
        assert_ne!(id_of_text(b"EX-1"), id_of_text(b"EX-2"));
    }

    // Under a lineage: the lineage, then base-36 numbers; they round-trip.
    #[test]
    fn lineage_ids_round_trip() {
        let ours = ours();
        assert_eq!(ours.id(OrderId(4), None).as_bytes(), b"k3x9qz4");
        assert_eq!(ours.id(OrderId(36 * 36), None).as_bytes(), b"k3x9qz100");
        assert_eq!(
            ours.id(OrderId(35), Some((b'r', 37))).as_bytes(),
            b"k3x9qzz.r11"
        );
        for (order, suffix) in [
            (4, None),
            (1 << 40, Some((b'r', 3))),
            (99, Some((b'c', 500))),
        ] {
            let id = ours.id(OrderId(order), suffix);
            let version = match suffix {
                None => Some(0),
                Some((b'r', k)) => Some(k),
                _ => None,
            };
            assert_eq!(
                ours.own_order_of(id.as_bytes()),
                Some((OrderId(order), version))
            );
        }
        // Not canonical, or not ours: no own order.
        for text in [
            &b"k3x9qz04"[..],
            b"k3x9qzA",
            b"k3x9qz",
            b"k3x9qz4.r",
            b"k3x9qz4.q1",
            b"4",
        ] {
            assert_eq!(
                ours.own_order_of(text),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    // The longest ClOrdID the engine makes under a lineage is 33 characters.
    #[test]
    fn own_ids_stay_inside_the_stated_length() {
        let longest = ours().id(OrderId(ADOPTED_ORDER_ID_FLAG - 1), Some((b'c', u64::MAX)));
        assert_eq!(longest.as_bytes().len(), OWN_CL_ORD_ID_LEN_MAX);
        assert_eq!(OWN_CL_ORD_ID_LEN_MAX, 33);
        // A new order of a journal below 2.8 * 10^12 ids: 14 characters.
        let typical = ours().id(OrderId(36u64.pow(8) - 1), None);
        assert_eq!(typical.as_bytes().len(), 14);
    }

    // Another lineage's ids (the same order numbers) are foreign here:
    // adopted under a stable id outside ours, never taken for our order.
    #[test]
    fn another_lineages_ids_are_foreign() {
        let ours = ours();
        let theirs = ClOrdIds::new(Lineage::parse("ab12cd"));
        let their_four = theirs.id(OrderId(4), None);
        assert_ne!(their_four.as_bytes(), ours.id(OrderId(4), None).as_bytes());
        assert_eq!(ours.own_order_of(their_four.as_bytes()), None);
        let adopted = ours.order_of(their_four.as_bytes());
        assert!(!adopted.is_own());
        assert_eq!(adopted, adopted_order_id(their_four.as_bytes()), "stable");
        // A plain id of a journal without lineage is foreign to a lineage too, and back.
        assert!(!ours.order_of(b"4").is_own());
        assert!(!PLAIN.order_of(b"k3x9qz4").is_own());
    }

    // Our forms name our order; anything else an adoption id, stable and apart from ours.
    #[test]
    fn foreign_ids_are_adopted_apart() {
        assert_eq!(PLAIN.own_order_of(b"7"), Some((OrderId(7), Some(0))));
        assert_eq!(PLAIN.own_order_of(b"7.r3"), Some((OrderId(7), Some(3))));
        assert_eq!(PLAIN.own_order_of(b"7.c2"), Some((OrderId(7), None)));
        for foreign in [&b"EXT-1"[..], b"7-x", b"7.r", b"7.q1", b""] {
            assert_eq!(PLAIN.own_order_of(foreign), None, "{foreign:?}");
            let id = PLAIN.order_of(foreign);
            assert!(id.0 & ADOPTED_ORDER_ID_FLAG != 0 && id.0 < 1 << 63);
            assert_eq!(id, adopted_order_id(foreign), "stable");
        }
        assert_ne!(adopted_order_id(b"EXT-1"), adopted_order_id(b"EXT-2"));
        assert_eq!(PLAIN.order_of(b"12.r1"), OrderId(12));
        let long = [b'x'; 65];
        assert!(ClOrdId::from_text(&long).is_none());
        assert_eq!(ClOrdId::from_text(b"EXT-1").unwrap().as_bytes(), b"EXT-1");
    }
}
