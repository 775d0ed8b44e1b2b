//! ITCH 5.0 message types the books need, as plain `Copy` values.
//!
//! Prices stay in the wire's fixed point ([`Price4`]: `u32` with 4 implied
//! decimals) and timestamps stay exact (`timestamp_ns`: nanoseconds since
//! midnight from the 48-bit field). No heap pointers.

/// A price with 4 implied decimal places, exactly as on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price4(pub u32);

/// An 8-byte, space-padded stock symbol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StockSymbol(pub [u8; 8]);

impl StockSymbol {
    /// Pad a symbol of at most 8 bytes with spaces; `None` if longer.
    pub fn from_str_padded(symbol: &str) -> Option<StockSymbol> {
        let bytes = symbol.as_bytes();
        if bytes.len() > 8 {
            return None;
        }
        let mut out = [b' '; 8];
        out[..bytes.len()].copy_from_slice(bytes);
        Some(StockSymbol(out))
    }
}

/// Buy/sell indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuySell {
    /// 'B'
    Buy,
    /// 'S'
    Sell,
}

/// Fields every ITCH 5.0 message starts with after its type byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageHeader {
    /// Locate code identifying the security for the day.
    pub stock_locate: u16,
    /// NASDAQ internal tracking number.
    pub tracking_number: u16,
    /// Nanoseconds since midnight (48-bit on the wire).
    pub timestamp_ns: u64,
}

/// 'S' System Event (12 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemEvent {
    /// Common header.
    pub header: MessageHeader,
    /// Event code ('O', 'S', 'Q', 'M', 'E', 'C').
    pub event_code: u8,
}

/// 'R' Stock Directory (39 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockDirectory {
    /// Common header; `stock_locate` is the locate assigned to `stock`.
    pub header: MessageHeader,
    /// Symbol.
    pub stock: StockSymbol,
    /// Market category.
    pub market_category: u8,
    /// Financial status indicator.
    pub financial_status: u8,
    /// Round lot size in shares.
    pub round_lot_size: u32,
    /// 'Y' if only round lots are accepted.
    pub round_lots_only: u8,
    /// Issue classification.
    pub issue_classification: u8,
    /// Issue sub-type (2 bytes).
    pub issue_sub_type: [u8; 2],
    /// Authenticity ('P' live, 'T' test).
    pub authenticity: u8,
    /// Short sale threshold indicator.
    pub short_sale_threshold: u8,
    /// IPO flag.
    pub ipo_flag: u8,
    /// LULD reference price tier.
    pub luld_reference_price_tier: u8,
    /// ETP flag.
    pub etp_flag: u8,
    /// ETP leverage factor.
    pub etp_leverage_factor: u32,
    /// Inverse indicator.
    pub inverse_indicator: u8,
}

/// 'A' Add Order (36 bytes) or, with `attribution`, 'F' Add Order with MPID (40 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddOrder {
    /// Common header.
    pub header: MessageHeader,
    /// Order reference number, unique for the day.
    pub order_ref: u64,
    /// Side.
    pub side: BuySell,
    /// Displayed shares.
    pub shares: u32,
    /// Symbol.
    pub stock: StockSymbol,
    /// Limit price.
    pub price: Price4,
    /// MPID attribution ('F' only).
    pub attribution: Option<[u8; 4]>,
}

/// 'E' Order Executed (31 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderExecuted {
    /// Common header.
    pub header: MessageHeader,
    /// Order executed.
    pub order_ref: u64,
    /// Shares executed.
    pub executed_shares: u32,
    /// Match number.
    pub match_number: u64,
}

/// 'C' Order Executed With Price (36 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderExecutedWithPrice {
    /// Common header.
    pub header: MessageHeader,
    /// Order executed.
    pub order_ref: u64,
    /// Shares executed.
    pub executed_shares: u32,
    /// Match number.
    pub match_number: u64,
    /// 'Y' printable / 'N' not, raw.
    pub printable: u8,
    /// Execution price.
    pub execution_price: Price4,
}

/// 'X' Order Cancel (23 bytes): partial cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCancel {
    /// Common header.
    pub header: MessageHeader,
    /// Order reduced.
    pub order_ref: u64,
    /// Shares removed.
    pub cancelled_shares: u32,
}

/// 'D' Order Delete (19 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderDelete {
    /// Common header.
    pub header: MessageHeader,
    /// Order removed.
    pub order_ref: u64,
}

/// 'U' Order Replace (35 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderReplace {
    /// Common header.
    pub header: MessageHeader,
    /// Order replaced (removed).
    pub original_order_ref: u64,
    /// New order reference number (same side, new priority).
    pub new_order_ref: u64,
    /// New displayed shares.
    pub shares: u32,
    /// New price.
    pub price: Price4,
}

/// 'P' Trade, non-cross (44 bytes): a match against a non-displayed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Common header.
    pub header: MessageHeader,
    /// Order reference (0 on the live feed).
    pub order_ref: u64,
    /// Side of the non-displayed order.
    pub side: BuySell,
    /// Shares.
    pub shares: u32,
    /// Symbol.
    pub stock: StockSymbol,
    /// Price.
    pub price: Price4,
    /// Match number.
    pub match_number: u64,
}

/// A decoded ITCH 5.0 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItchMessage {
    /// 'S'
    SystemEvent(SystemEvent),
    /// 'R'
    StockDirectory(StockDirectory),
    /// 'A' or 'F'
    AddOrder(AddOrder),
    /// 'E'
    OrderExecuted(OrderExecuted),
    /// 'C'
    OrderExecutedWithPrice(OrderExecutedWithPrice),
    /// 'X'
    OrderCancel(OrderCancel),
    /// 'D'
    OrderDelete(OrderDelete),
    /// 'U'
    OrderReplace(OrderReplace),
    /// 'P'
    Trade(Trade),
}

impl ItchMessage {
    /// The common header.
    pub fn header(&self) -> &MessageHeader {
        match self {
            ItchMessage::SystemEvent(m) => &m.header,
            ItchMessage::StockDirectory(m) => &m.header,
            ItchMessage::AddOrder(m) => &m.header,
            ItchMessage::OrderExecuted(m) => &m.header,
            ItchMessage::OrderExecutedWithPrice(m) => &m.header,
            ItchMessage::OrderCancel(m) => &m.header,
            ItchMessage::OrderDelete(m) => &m.header,
            ItchMessage::OrderReplace(m) => &m.header,
            ItchMessage::Trade(m) => &m.header,
        }
    }
}
