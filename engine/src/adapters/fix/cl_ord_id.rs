//! ClOrdID(11) text for engine order ids, without allocating.
//!
//! An order is `<id>`; its k-th replace `<id>.r<k>`; a cancel `<id>.c<n>`.
//! Every id the venue echoes back in one of those forms names the engine's
//! order `<id>`. Any other ClOrdID (an order another system entered for the
//! same participant) names an adoption id: [`ADOPTED_ORDER_ID_FLAG`] with a
//! stable hash of the text, the same in every run, so reconciliation enters
//! the order under one id however often it sees it.

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

/// A ClOrdID written into a fixed buffer.
#[derive(Clone, Copy)]
pub struct ClOrdId {
    bytes: [u8; CL_ORD_ID_LEN_MAX],
    len: usize,
}

impl ClOrdId {
    pub fn new(order: OrderId, suffix: Option<(u8, u64)>) -> ClOrdId {
        let mut id = ClOrdId {
            bytes: [0; CL_ORD_ID_LEN_MAX],
            len: 0,
        };
        id.push_number(order.0);
        if let Some((letter, n)) = suffix {
            id.bytes[id.len] = b'.';
            id.bytes[id.len + 1] = letter;
            id.len += 2;
            id.push_number(n);
        }
        id
    }

    fn push_number(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (value % 10) as u8;
            count += 1;
            value /= 10;
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

/// The engine's order and version a ClOrdID of the engine's own names:
/// `<id>` is version 0, `<id>.r<k>` version k, `<id>.c<n>` (a cancel) no
/// version. `None` for a ClOrdID the engine did not make.
pub fn own_order_of(cl_ord_id: &[u8]) -> Option<(OrderId, Option<u64>)> {
    let order = order_id_of(cl_ord_id)?;
    if let Some(version) = replace_version_of(cl_ord_id) {
        return Some((order, Some(version)));
    }
    let digits = cl_ord_id.iter().take_while(|b| b.is_ascii_digit()).count();
    match &cl_ord_id[digits..] {
        [b'.', b'c', count @ ..]
            if !count.is_empty() && count.len() <= 19 && count.iter().all(u8::is_ascii_digit) =>
        {
            Some((order, None))
        }
        _ => None,
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

/// The engine order a ClOrdID names: its own, or the adoption id.
pub fn engine_order_id(cl_ord_id: &[u8]) -> OrderId {
    own_order_of(cl_ord_id).map_or_else(|| adopted_order_id(cl_ord_id), |(order, _)| order)
}

/// The engine order id a ClOrdID names, if it starts with one.
pub fn order_id_of(cl_ord_id: &[u8]) -> Option<OrderId> {
    let digits = cl_ord_id.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    std::str::from_utf8(&cl_ord_id[..digits])
        .ok()?
        .parse()
        .ok()
        .map(OrderId)
}

/// Which version of its order a ClOrdID names: 0 for the order's own id,
/// `k` for its k-th replace (`<id>.r<k>`); `None` for anything else (a
/// cancel's id, a foreign id).
pub fn replace_version_of(cl_ord_id: &[u8]) -> Option<u64> {
    let digits = cl_ord_id.iter().take_while(|b| b.is_ascii_digit()).count();
    match &cl_ord_id[digits..] {
        [] if digits > 0 => Some(0),
        [b'.', b'r', version @ ..] if !version.is_empty() && version.len() <= 19 => {
            std::str::from_utf8(version).ok()?.parse().ok()
        }
        _ => None,
    }
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

    // Ids round-trip through their text, with and without suffixes.
    #[test]
    fn ids_round_trip() {
        assert_eq!(ClOrdId::new(OrderId(1234), None).as_bytes(), b"1234");
        assert_eq!(
            ClOrdId::new(OrderId(7), Some((b'r', 2))).as_bytes(),
            b"7.r2"
        );
        assert_eq!(order_id_of(b"7.r2"), Some(OrderId(7)));
        assert_eq!(order_id_of(b"x7"), None);
        assert_eq!(replace_version_of(b"7"), Some(0));
        assert_eq!(replace_version_of(b"7.r12"), Some(12));
        assert_eq!(replace_version_of(b"7.c3"), None);
        assert_eq!(replace_version_of(b"7.r"), None);
        assert_eq!(replace_version_of(b"x"), None);
        assert_eq!(id_of_text(b"42"), 42);
        assert_ne!(id_of_text(b"EX-1"), id_of_text(b"EX-2"));
    }

    // Our forms name our order; anything else an adoption id, stable and apart from ours.
    #[test]
    fn foreign_ids_are_adopted_apart() {
        assert_eq!(own_order_of(b"7"), Some((OrderId(7), Some(0))));
        assert_eq!(own_order_of(b"7.r3"), Some((OrderId(7), Some(3))));
        assert_eq!(own_order_of(b"7.c2"), Some((OrderId(7), None)));
        for foreign in [&b"EXT-1"[..], b"7-x", b"7.r", b"7.q1", b""] {
            assert_eq!(own_order_of(foreign), None, "{foreign:?}");
            let id = engine_order_id(foreign);
            assert!(id.0 & ADOPTED_ORDER_ID_FLAG != 0 && id.0 < 1 << 63);
            assert_eq!(id, adopted_order_id(foreign), "stable");
        }
        assert_ne!(adopted_order_id(b"EXT-1"), adopted_order_id(b"EXT-2"));
        assert_eq!(engine_order_id(b"12.r1"), OrderId(12));
        let long = [b'x'; 65];
        assert!(ClOrdId::from_text(&long).is_none());
        assert_eq!(ClOrdId::from_text(b"EXT-1").unwrap().as_bytes(), b"EXT-1");
    }
}
