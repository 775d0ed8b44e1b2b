//! ITCH 5.0 and MoldUDP64 encoders, the mirror of the decoders: used by the
//! venue simulator, tests and benchmarks.
//!
//! Owning thread: the publisher's. Not on the engine's hot path: encoding
//! appends to a caller-owned `Vec<u8>`, which allocates only while it grows.

use super::message::{AddOrder, BuySell, ItchMessage, MessageHeader};
use super::mold::{Session, END_OF_SESSION_COUNT, MOLD_HEADER_LEN};

fn put_header(out: &mut Vec<u8>, msg_type: u8, h: &MessageHeader) {
    out.push(msg_type);
    out.extend_from_slice(&h.stock_locate.to_be_bytes());
    out.extend_from_slice(&h.tracking_number.to_be_bytes());
    out.extend_from_slice(&h.timestamp_ns.to_be_bytes()[2..]);
}

fn side_byte(side: BuySell) -> u8 {
    match side {
        BuySell::Buy => b'B',
        BuySell::Sell => b'S',
    }
}

fn put_add(out: &mut Vec<u8>, m: &AddOrder) {
    let msg_type = if m.attribution.is_some() { b'F' } else { b'A' };
    put_header(out, msg_type, &m.header);
    out.extend_from_slice(&m.order_ref.to_be_bytes());
    out.push(side_byte(m.side));
    out.extend_from_slice(&m.shares.to_be_bytes());
    out.extend_from_slice(&m.stock.0);
    out.extend_from_slice(&m.price.0.to_be_bytes());
    if let Some(mpid) = m.attribution {
        out.extend_from_slice(&mpid);
    }
}

/// Append the ITCH 5.0 wire form of `msg` (no length prefix) to `out`.
pub fn encode_message(msg: &ItchMessage, out: &mut Vec<u8>) {
    match msg {
        ItchMessage::SystemEvent(m) => {
            put_header(out, b'S', &m.header);
            out.push(m.event_code);
        }
        ItchMessage::StockDirectory(m) => {
            put_header(out, b'R', &m.header);
            out.extend_from_slice(&m.stock.0);
            out.extend_from_slice(&[m.market_category, m.financial_status]);
            out.extend_from_slice(&m.round_lot_size.to_be_bytes());
            out.extend_from_slice(&[m.round_lots_only, m.issue_classification]);
            out.extend_from_slice(&m.issue_sub_type);
            out.extend_from_slice(&[
                m.authenticity,
                m.short_sale_threshold,
                m.ipo_flag,
                m.luld_reference_price_tier,
                m.etp_flag,
            ]);
            out.extend_from_slice(&m.etp_leverage_factor.to_be_bytes());
            out.push(m.inverse_indicator);
        }
        ItchMessage::AddOrder(m) => put_add(out, m),
        ItchMessage::OrderExecuted(m) => {
            put_header(out, b'E', &m.header);
            out.extend_from_slice(&m.order_ref.to_be_bytes());
            out.extend_from_slice(&m.executed_shares.to_be_bytes());
            out.extend_from_slice(&m.match_number.to_be_bytes());
        }
        ItchMessage::OrderExecutedWithPrice(m) => {
            put_header(out, b'C', &m.header);
            out.extend_from_slice(&m.order_ref.to_be_bytes());
            out.extend_from_slice(&m.executed_shares.to_be_bytes());
            out.extend_from_slice(&m.match_number.to_be_bytes());
            out.push(m.printable);
            out.extend_from_slice(&m.execution_price.0.to_be_bytes());
        }
        ItchMessage::OrderCancel(m) => {
            put_header(out, b'X', &m.header);
            out.extend_from_slice(&m.order_ref.to_be_bytes());
            out.extend_from_slice(&m.cancelled_shares.to_be_bytes());
        }
        ItchMessage::OrderDelete(m) => {
            put_header(out, b'D', &m.header);
            out.extend_from_slice(&m.order_ref.to_be_bytes());
        }
        ItchMessage::OrderReplace(m) => {
            put_header(out, b'U', &m.header);
            out.extend_from_slice(&m.original_order_ref.to_be_bytes());
            out.extend_from_slice(&m.new_order_ref.to_be_bytes());
            out.extend_from_slice(&m.shares.to_be_bytes());
            out.extend_from_slice(&m.price.0.to_be_bytes());
        }
        ItchMessage::Trade(m) => {
            put_header(out, b'P', &m.header);
            out.extend_from_slice(&m.order_ref.to_be_bytes());
            out.push(side_byte(m.side));
            out.extend_from_slice(&m.shares.to_be_bytes());
            out.extend_from_slice(&m.stock.0);
            out.extend_from_slice(&m.price.0.to_be_bytes());
            out.extend_from_slice(&m.match_number.to_be_bytes());
        }
    }
}

/// Builds one MoldUDP64 downstream packet in a reusable buffer.
#[derive(Clone, Debug)]
pub struct MoldPacketBuilder {
    buf: Vec<u8>,
    message_count: u16,
}

impl MoldPacketBuilder {
    /// Start a packet whose first message has `sequence_number`.
    pub fn new(session: Session, sequence_number: u64) -> MoldPacketBuilder {
        let mut builder = MoldPacketBuilder {
            buf: Vec::with_capacity(1500),
            message_count: 0,
        };
        builder.reset(session, sequence_number);
        builder
    }

    /// Reuse the buffer for a new packet.
    pub fn reset(&mut self, session: Session, sequence_number: u64) {
        self.buf.clear();
        self.buf.extend_from_slice(&session.0);
        self.buf.extend_from_slice(&sequence_number.to_be_bytes());
        self.buf.extend_from_slice(&0u16.to_be_bytes());
        self.message_count = 0;
    }

    /// Append one raw message block; `false` if it is longer than 65535 bytes
    /// or the packet already holds 65534 messages.
    pub fn push_raw(&mut self, msg: &[u8]) -> bool {
        let Ok(length) = u16::try_from(msg.len()) else {
            return false;
        };
        if self.message_count >= END_OF_SESSION_COUNT - 1 {
            return false;
        }
        self.buf.extend_from_slice(&length.to_be_bytes());
        self.buf.extend_from_slice(msg);
        self.message_count += 1;
        self.buf[18..MOLD_HEADER_LEN].copy_from_slice(&self.message_count.to_be_bytes());
        true
    }

    /// Append one ITCH message; `false` if the packet is full.
    pub fn push(&mut self, msg: &ItchMessage) -> bool {
        if self.message_count >= END_OF_SESSION_COUNT - 1 {
            return false;
        }
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        encode_message(msg, &mut self.buf);
        // Every ITCH 5.0 message is shorter than 64 bytes.
        let length = (self.buf.len() - at - 2) as u16;
        self.buf[at..at + 2].copy_from_slice(&length.to_be_bytes());
        self.message_count += 1;
        self.buf[18..MOLD_HEADER_LEN].copy_from_slice(&self.message_count.to_be_bytes());
        true
    }

    /// Messages in the packet so far.
    pub fn message_count(&self) -> u16 {
        self.message_count
    }

    /// The packet bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// A heartbeat: no messages, `next_sequence_number` is the next expected.
    pub fn heartbeat(session: Session, next_sequence_number: u64) -> [u8; MOLD_HEADER_LEN] {
        header_only(session, next_sequence_number, 0)
    }

    /// An end-of-session packet (message count 0xFFFF).
    pub fn end_of_session(session: Session, next_sequence_number: u64) -> [u8; MOLD_HEADER_LEN] {
        header_only(session, next_sequence_number, END_OF_SESSION_COUNT)
    }
}

fn header_only(session: Session, sequence_number: u64, count: u16) -> [u8; MOLD_HEADER_LEN] {
    let mut out = [0u8; MOLD_HEADER_LEN];
    out[..10].copy_from_slice(&session.0);
    out[10..18].copy_from_slice(&sequence_number.to_be_bytes());
    out[18..].copy_from_slice(&count.to_be_bytes());
    out
}
