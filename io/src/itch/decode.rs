//! ITCH 5.0 decoder: one message body (without its MoldUDP64 length prefix)
//! into an [`ItchMessage`].
//!
//! Owning thread: any; pure function. Invariants: the length is checked
//! against the spec before any field is read, and field reads go through
//! `get`, so no input can make the decoder panic or read out of bounds.
//! Lengths must match the spec exactly (a longer or shorter message of a
//! known type is [`ItchError::WrongLength`]).

use super::error::ItchError;
use super::message::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderExecutedWithPrice, OrderReplace, Price4, StockDirectory, StockSymbol, SystemEvent, Trade,
};

/// The ITCH 5.0 length (type byte included) of every message type in the
/// spec, or `None` for a type the spec does not define.
pub const fn message_len(msg_type: u8) -> Option<usize> {
    Some(match msg_type {
        b'S' | b'W' => 12,
        b'R' => 39,
        b'H' => 25,
        b'Y' => 20,
        b'L' => 26,
        b'V' | b'J' | b'U' => 35,
        b'K' => 28,
        b'h' => 21,
        b'A' | b'C' => 36,
        b'F' | b'Q' => 40,
        b'E' => 31,
        b'X' => 23,
        b'D' | b'B' => 19,
        b'P' => 44,
        b'I' => 50,
        b'N' => 20,
        _ => return None,
    })
}

/// Bounds-safe big-endian field reads over a message whose length was checked.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    #[inline(always)]
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(bytes) = self.0.get(at..at + N) {
            out.copy_from_slice(bytes);
        }
        out
    }
    #[inline(always)]
    fn u8(&self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }
    #[inline(always)]
    fn u16(&self, at: usize) -> u16 {
        u16::from_be_bytes(self.array(at))
    }
    #[inline(always)]
    fn u32(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.array(at))
    }
    #[inline(always)]
    fn u48(&self, at: usize) -> u64 {
        let six: [u8; 6] = self.array(at);
        let mut eight = [0u8; 8];
        eight[2..].copy_from_slice(&six);
        u64::from_be_bytes(eight)
    }
    #[inline(always)]
    fn u64(&self, at: usize) -> u64 {
        u64::from_be_bytes(self.array(at))
    }
    #[inline(always)]
    fn header(&self) -> MessageHeader {
        MessageHeader {
            stock_locate: self.u16(1),
            tracking_number: self.u16(3),
            timestamp_ns: self.u48(5),
        }
    }
    #[inline(always)]
    fn side(&self, at: usize) -> Result<BuySell, ItchError> {
        match self.u8(at) {
            b'B' => Ok(BuySell::Buy),
            b'S' => Ok(BuySell::Sell),
            value => Err(ItchError::InvalidField {
                msg_type: self.u8(0),
                field: "buy/sell indicator",
                value,
            }),
        }
    }
}

/// Decode one ITCH 5.0 message body.
#[inline]
pub fn decode(msg: &[u8]) -> Result<ItchMessage, ItchError> {
    let msg_type = framed_type(msg)?;
    let f = Fields(msg);
    Ok(match msg_type {
        b'A' | b'F' => ItchMessage::AddOrder(decode_add(&f, msg_type == b'F')?),
        b'E' => ItchMessage::OrderExecuted(OrderExecuted {
            header: f.header(),
            order_ref: f.u64(11),
            executed_shares: f.u32(19),
            match_number: f.u64(23),
        }),
        b'C' => ItchMessage::OrderExecutedWithPrice(decode_executed_with_price(&f)),
        b'X' => ItchMessage::OrderCancel(OrderCancel {
            header: f.header(),
            order_ref: f.u64(11),
            cancelled_shares: f.u32(19),
        }),
        b'D' => ItchMessage::OrderDelete(OrderDelete {
            header: f.header(),
            order_ref: f.u64(11),
        }),
        b'U' => ItchMessage::OrderReplace(decode_replace(&f)),
        b'P' => ItchMessage::Trade(decode_trade(&f)?),
        b'S' => ItchMessage::SystemEvent(SystemEvent {
            header: f.header(),
            event_code: f.u8(11),
        }),
        b'R' => ItchMessage::StockDirectory(decode_directory(&f)),
        _ => {
            return Err(ItchError::UnknownType {
                msg_type,
                length: msg.len(),
            })
        }
    })
}

/// The message's type byte, once its length is the type's.
#[inline(always)]
fn framed_type(msg: &[u8]) -> Result<u8, ItchError> {
    let Some(&msg_type) = msg.first() else {
        return Err(ItchError::Empty);
    };
    let Some(expected) = message_len(msg_type) else {
        return Err(ItchError::UnknownType {
            msg_type,
            length: msg.len(),
        });
    };
    if msg.len() != expected {
        return Err(ItchError::WrongLength {
            msg_type,
            expected,
            got: msg.len(),
        });
    }
    Ok(msg_type)
}

#[inline(always)]
fn decode_executed_with_price(f: &Fields<'_>) -> OrderExecutedWithPrice {
    OrderExecutedWithPrice {
        header: f.header(),
        order_ref: f.u64(11),
        executed_shares: f.u32(19),
        match_number: f.u64(23),
        printable: f.u8(31),
        execution_price: Price4(f.u32(32)),
    }
}

#[inline(always)]
fn decode_replace(f: &Fields<'_>) -> OrderReplace {
    OrderReplace {
        header: f.header(),
        original_order_ref: f.u64(11),
        new_order_ref: f.u64(19),
        shares: f.u32(27),
        price: Price4(f.u32(31)),
    }
}

#[inline(always)]
fn decode_trade(f: &Fields<'_>) -> Result<Trade, ItchError> {
    Ok(Trade {
        header: f.header(),
        order_ref: f.u64(11),
        side: f.side(19)?,
        shares: f.u32(20),
        stock: StockSymbol(f.array(24)),
        price: Price4(f.u32(32)),
        match_number: f.u64(36),
    })
}

#[inline(always)]
fn decode_add(f: &Fields<'_>, with_mpid: bool) -> Result<AddOrder, ItchError> {
    Ok(AddOrder {
        header: f.header(),
        order_ref: f.u64(11),
        side: f.side(19)?,
        shares: f.u32(20),
        stock: StockSymbol(f.array(24)),
        price: Price4(f.u32(32)),
        attribution: if with_mpid { Some(f.array(36)) } else { None },
    })
}

fn decode_directory(f: &Fields<'_>) -> StockDirectory {
    StockDirectory {
        header: f.header(),
        stock: StockSymbol(f.array(11)),
        market_category: f.u8(19),
        financial_status: f.u8(20),
        round_lot_size: f.u32(21),
        round_lots_only: f.u8(25),
        issue_classification: f.u8(26),
        issue_sub_type: f.array(27),
        authenticity: f.u8(29),
        short_sale_threshold: f.u8(30),
        ipo_flag: f.u8(31),
        luld_reference_price_tier: f.u8(32),
        etp_flag: f.u8(33),
        etp_leverage_factor: f.u32(34),
        inverse_indicator: f.u8(38),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A hand-laid 'A' message decodes to the exact fields, 48-bit timestamp included.
    #[test]
    fn decodes_hand_laid_add_order() {
        let mut m = vec![b'A', 0x00, 0x07, 0x00, 0x02];
        m.extend_from_slice(&[0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA]); // timestamp
        m.extend_from_slice(&42u64.to_be_bytes());
        m.push(b'S');
        m.extend_from_slice(&300u32.to_be_bytes());
        m.extend_from_slice(b"AAPL    ");
        m.extend_from_slice(&1_234_567u32.to_be_bytes()); // $123.4567
        let ItchMessage::AddOrder(a) = decode(&m).unwrap() else {
            panic!("expected an add order");
        };
        assert_eq!(a.header.stock_locate, 7);
        assert_eq!(a.header.tracking_number, 2);
        assert_eq!(a.header.timestamp_ns, 0xFFEE_DDCC_BBAA);
        assert_eq!((a.order_ref, a.side, a.shares), (42, BuySell::Sell, 300));
        assert_eq!(a.stock, StockSymbol(*b"AAPL    "));
        assert_eq!(a.price, Price4(1_234_567));
        assert_eq!(a.attribution, None);
    }

    // Wrong lengths and unknown types are errors, not panics.
    #[test]
    fn wrong_length_and_unknown_type() {
        assert_eq!(decode(&[]), Err(ItchError::Empty));
        assert_eq!(
            decode(&[b'D', 0, 0]),
            Err(ItchError::WrongLength {
                msg_type: b'D',
                expected: 19,
                got: 3
            })
        );
        assert_eq!(
            decode(&[b'z'; 5]),
            Err(ItchError::UnknownType {
                msg_type: b'z',
                length: 5
            })
        );
        // A spec type this decoder does not model ('H') is also unknown here.
        assert!(matches!(
            decode(&[b'H'; 25]),
            Err(ItchError::UnknownType { .. })
        ));
    }
}
