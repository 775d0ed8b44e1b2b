//! Order-entry requests: NewOrderSingle (D), OrderCancelRequest (F) and
//! OrderCancelReplaceRequest (G), encoded by the initiator and parsed by the
//! acceptor.
//!
//! Owning thread: none (borrowed views and pure functions).
//! Invariants: prices and quantities cross the wire as exact decimals of
//! the instrument's tick and lot (see [`crate::fix::decimal`]); parsing
//! borrows every text field from the received buffer and never allocates.

use crate::fix::decimal::{InstrumentScale, Lots, Ticks};
use crate::fix::decode::Message;
use crate::fix::encode::Encoder;
use crate::fix::error::ValueError;
use crate::fix::tags::{self, MsgType};
use crate::fix::time::parse_utc_timestamp;

/// Side(54).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// 1.
    Buy,
    /// 2.
    Sell,
    /// 5.
    SellShort,
}

impl Side {
    /// The wire character.
    pub const fn as_char(self) -> u8 {
        match self {
            Side::Buy => b'1',
            Side::Sell => b'2',
            Side::SellShort => b'5',
        }
    }

    /// Parses the wire character.
    pub fn from_char(tag: u32, value: u8) -> Result<Side, ValueError> {
        match value {
            b'1' => Ok(Side::Buy),
            b'2' => Ok(Side::Sell),
            b'5' => Ok(Side::SellShort),
            _ => Err(ValueError::UnknownValue { tag }),
        }
    }
}

/// OrdType(40).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrdType {
    /// 1.
    Market,
    /// 2.
    Limit,
}

impl OrdType {
    /// The wire character.
    pub const fn as_char(self) -> u8 {
        match self {
            OrdType::Market => b'1',
            OrdType::Limit => b'2',
        }
    }

    /// Parses the wire character.
    pub fn from_char(tag: u32, value: u8) -> Result<OrdType, ValueError> {
        match value {
            b'1' => Ok(OrdType::Market),
            b'2' => Ok(OrdType::Limit),
            _ => Err(ValueError::UnknownValue { tag }),
        }
    }
}

/// TimeInForce(59).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// 0 (also the meaning of an absent tag).
    Day,
    /// 1.
    GoodTillCancel,
    /// 3.
    ImmediateOrCancel,
    /// 4.
    FillOrKill,
}

impl TimeInForce {
    /// The wire character.
    pub const fn as_char(self) -> u8 {
        match self {
            TimeInForce::Day => b'0',
            TimeInForce::GoodTillCancel => b'1',
            TimeInForce::ImmediateOrCancel => b'3',
            TimeInForce::FillOrKill => b'4',
        }
    }

    /// Parses the wire character.
    pub fn from_char(tag: u32, value: u8) -> Result<TimeInForce, ValueError> {
        match value {
            b'0' => Ok(TimeInForce::Day),
            b'1' => Ok(TimeInForce::GoodTillCancel),
            b'3' => Ok(TimeInForce::ImmediateOrCancel),
            b'4' => Ok(TimeInForce::FillOrKill),
            _ => Err(ValueError::UnknownValue { tag }),
        }
    }
}

/// A NewOrderSingle (D).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrderSingle<'a> {
    /// ClOrdID(11), unique per order for the session's lifetime.
    pub cl_ord_id: &'a [u8],
    /// Account(1), optional.
    pub account: Option<&'a [u8]>,
    /// Symbol(55).
    pub symbol: &'a [u8],
    /// Side(54).
    pub side: Side,
    /// OrderQty(38) in lots.
    pub qty_lots: Lots,
    /// OrdType(40).
    pub ord_type: OrdType,
    /// Price(44) in ticks; required for limit orders.
    pub price_ticks: Option<Ticks>,
    /// TimeInForce(59).
    pub time_in_force: TimeInForce,
    /// TransactTime(60), nanoseconds since the Unix epoch.
    pub transact_time_ns: u64,
    /// GenesisTriggerNs(5051), user-defined: the venue time, in ns, of the
    /// market data that triggered the order (TransactTime has only
    /// millisecond precision). A venue subtracts it from its receive time to
    /// measure tick-to-trade; others ignore it.
    pub trigger_ns: Option<u64>,
}

/// An OrderCancelRequest (F).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCancelRequest<'a> {
    /// OrigClOrdID(41): the order to cancel.
    pub orig_cl_ord_id: &'a [u8],
    /// ClOrdID(11) of this request.
    pub cl_ord_id: &'a [u8],
    /// Symbol(55).
    pub symbol: &'a [u8],
    /// Side(54).
    pub side: Side,
    /// OrderQty(38) of the order, in lots.
    pub qty_lots: Lots,
    /// TransactTime(60), nanoseconds since the Unix epoch.
    pub transact_time_ns: u64,
}

/// An OrderCancelReplaceRequest (G).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCancelReplaceRequest<'a> {
    /// OrigClOrdID(41): the order to replace.
    pub orig_cl_ord_id: &'a [u8],
    /// The replacement order; its `cl_ord_id` names the new version.
    pub order: NewOrderSingle<'a>,
}

/// An order-entry request as the acceptor receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRequest<'a> {
    /// D.
    New(NewOrderSingle<'a>),
    /// F.
    Cancel(OrderCancelRequest<'a>),
    /// G.
    Replace(OrderCancelReplaceRequest<'a>),
}

/// The order's body fields; tag 5051 only if `with_trigger` (and the order has one).
#[inline(always)]
fn encode_order_fields(
    order: &NewOrderSingle<'_>,
    encoder: &mut Encoder,
    scale: &InstrumentScale,
    with_trigger: bool,
) {
    encoder.field(tags::CL_ORD_ID, order.cl_ord_id);
    if let Some(account) = order.account {
        encoder.field(tags::ACCOUNT, account);
    }
    encoder.field_char(tags::HANDL_INST, b'1');
    encoder.field(tags::SYMBOL, order.symbol);
    encoder.field_char(tags::SIDE, order.side.as_char());
    encoder.field_timestamp(tags::TRANSACT_TIME, order.transact_time_ns);
    encoder.field_decimal(tags::ORDER_QTY, scale.lot, order.qty_lots.0);
    encoder.field_char(tags::ORD_TYPE, order.ord_type.as_char());
    if let Some(price) = order.price_ticks {
        encoder.field_decimal(tags::PRICE, scale.tick, price.0);
    }
    encoder.field_char(tags::TIME_IN_FORCE, order.time_in_force.as_char());
    if let Some(trigger_ns) = order.trigger_ns.filter(|_| with_trigger) {
        encoder.field_u64(tags::GENESIS_TRIGGER_NS, trigger_ns);
    }
}

impl NewOrderSingle<'_> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::NewOrderSingle;

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder, scale: &InstrumentScale) {
        encode_order_fields(self, encoder, scale, true);
    }

    /// [`NewOrderSingle::encode_body`], with tag 5051 only if
    /// `with_trigger` (the session's `send_trigger_time`): the session
    /// encodes the caller's order as it is, without a filtered copy.
    pub(crate) fn encode_body_with(
        &self,
        encoder: &mut Encoder,
        scale: &InstrumentScale,
        with_trigger: bool,
    ) {
        encode_order_fields(self, encoder, scale, with_trigger);
    }
}

impl OrderCancelRequest<'_> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::OrderCancelRequest;

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder, scale: &InstrumentScale) {
        encoder.field(tags::ORIG_CL_ORD_ID, self.orig_cl_ord_id);
        encoder.field(tags::CL_ORD_ID, self.cl_ord_id);
        encoder.field(tags::SYMBOL, self.symbol);
        encoder.field_char(tags::SIDE, self.side.as_char());
        encoder.field_timestamp(tags::TRANSACT_TIME, self.transact_time_ns);
        encoder.field_decimal(tags::ORDER_QTY, scale.lot, self.qty_lots.0);
    }
}

impl OrderCancelReplaceRequest<'_> {
    /// The MsgType of this message.
    pub const MSG_TYPE: MsgType = MsgType::OrderCancelReplaceRequest;

    /// Writes the body fields (after the session's header).
    pub fn encode_body(&self, encoder: &mut Encoder, scale: &InstrumentScale) {
        encoder.field(tags::ORIG_CL_ORD_ID, self.orig_cl_ord_id);
        encode_order_fields(&self.order, encoder, scale, true);
    }
}

fn transact_time_ns(message: &Message<'_>) -> Result<u64, ValueError> {
    let tag = tags::TRANSACT_TIME;
    parse_utc_timestamp(message.require(tag)?).ok_or(ValueError::NotANumber { tag })
}

fn parse_order<'a>(
    message: &Message<'a>,
    scale: &InstrumentScale,
) -> Result<NewOrderSingle<'a>, ValueError> {
    let ord_type = OrdType::from_char(tags::ORD_TYPE, message.get_char(tags::ORD_TYPE)?)?;
    let price_ticks = match message.get(tags::PRICE) {
        Some(text) => Some(scale.price_ticks(tags::PRICE, text)?),
        None if ord_type == OrdType::Limit => return Err(ValueError::Missing { tag: tags::PRICE }),
        None => None,
    };
    let time_in_force = match message.get(tags::TIME_IN_FORCE) {
        Some(_) => {
            TimeInForce::from_char(tags::TIME_IN_FORCE, message.get_char(tags::TIME_IN_FORCE)?)?
        }
        None => TimeInForce::Day,
    };
    Ok(NewOrderSingle {
        cl_ord_id: message.require(tags::CL_ORD_ID)?,
        account: message.get(tags::ACCOUNT),
        symbol: message.require(tags::SYMBOL)?,
        side: Side::from_char(tags::SIDE, message.get_char(tags::SIDE)?)?,
        qty_lots: scale.qty_lots(tags::ORDER_QTY, message.require(tags::ORDER_QTY)?)?,
        ord_type,
        price_ticks,
        time_in_force,
        transact_time_ns: transact_time_ns(message)?,
        trigger_ns: message.get_u64(tags::GENESIS_TRIGGER_NS).ok(),
    })
}

impl<'a> OrderRequest<'a> {
    /// Parses a D, F or G message; `Ok(None)` for any other MsgType. Look
    /// the instrument up from Symbol(55) first to pick `scale`.
    pub fn parse(
        message: &Message<'a>,
        scale: &InstrumentScale,
    ) -> Result<Option<OrderRequest<'a>>, ValueError> {
        Ok(Some(match message.msg_type() {
            Some(MsgType::NewOrderSingle) => OrderRequest::New(parse_order(message, scale)?),
            Some(MsgType::OrderCancelReplaceRequest) => {
                OrderRequest::Replace(OrderCancelReplaceRequest {
                    orig_cl_ord_id: message.require(tags::ORIG_CL_ORD_ID)?,
                    order: parse_order(message, scale)?,
                })
            }
            Some(MsgType::OrderCancelRequest) => OrderRequest::Cancel(OrderCancelRequest {
                orig_cl_ord_id: message.require(tags::ORIG_CL_ORD_ID)?,
                cl_ord_id: message.require(tags::CL_ORD_ID)?,
                symbol: message.require(tags::SYMBOL)?,
                side: Side::from_char(tags::SIDE, message.get_char(tags::SIDE)?)?,
                qty_lots: match message.get(tags::ORDER_QTY) {
                    Some(text) => scale.qty_lots(tags::ORDER_QTY, text)?,
                    None => Lots(0),
                },
                transact_time_ns: transact_time_ns(message)?,
            }),
            _ => return Ok(None),
        }))
    }
}
