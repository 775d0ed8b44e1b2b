//! GLIMPSE 5.0 snapshots: the current book as ITCH 5.0 messages carried in
//! SoupBinTCP sequenced data packets, ended by an End of Snapshot message.
//!
//! A snapshot, as the server writes it: a system event ('S'), a stock
//! directory ('R') per instrument, an add order ('A') for every resting
//! order in price-time order (bids best first, then asks best first,
//! oldest first at a price), then End of Snapshot: type 'G' and a 20-byte
//! ASCII numeric field, the MoldUDP64 sequence number of the next live
//! message, from which the subscriber applies the real-time feed. The
//! server then sends End of Session ('Z').
//!
//! Owning thread: any; pure functions. Invariant: the end-of-snapshot
//! decoder checks the exact length (21 bytes) before reading the number.

use super::encode::encode_message;
use super::error::SoupError;
use super::message::ItchMessage;
use super::soup::{begin_packet, finish_packet, format_number, parse_number, SoupPacket};
use super::venue_messages::{system_event, ItchInstrument, RestingOrders};

/// Message type of End of Snapshot.
pub const END_OF_SNAPSHOT_TYPE: u8 = b'G';
/// Length of End of Snapshot: the type byte and a 20-byte sequence number.
pub const END_OF_SNAPSHOT_LEN: usize = 21;

/// One sequenced message of a GLIMPSE session, decoded as far as its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlimpseMessage<'a> {
    /// End of Snapshot: apply the live feed from this sequence number.
    EndOfSnapshot {
        /// MoldUDP64 sequence number of the next live message.
        next_sequence: u64,
    },
    /// An ITCH 5.0 message body, to decode and apply like a live one.
    Itch(&'a [u8]),
}

/// Classify one sequenced message; only End of Snapshot is decoded here.
pub fn parse_glimpse_message(message: &[u8]) -> Result<GlimpseMessage<'_>, SoupError> {
    if message.first() != Some(&END_OF_SNAPSHOT_TYPE) {
        return Ok(GlimpseMessage::Itch(message));
    }
    if message.len() != END_OF_SNAPSHOT_LEN {
        return Err(SoupError::WrongLength {
            packet_type: END_OF_SNAPSHOT_TYPE,
            expected: END_OF_SNAPSHOT_LEN,
            got: message.len(),
        });
    }
    let next_sequence = parse_number(&message[1..], "end of snapshot sequence number")?;
    Ok(GlimpseMessage::EndOfSnapshot { next_sequence })
}

/// The End of Snapshot message body.
pub fn end_of_snapshot(next_sequence: u64) -> [u8; END_OF_SNAPSHOT_LEN] {
    let mut out = [0u8; END_OF_SNAPSHOT_LEN];
    out[0] = END_OF_SNAPSHOT_TYPE;
    out[1..].copy_from_slice(&format_number(next_sequence));
    out
}

/// Append one ITCH message as a SoupBinTCP sequenced data packet.
pub fn push_sequenced(out: &mut Vec<u8>, message: &ItchMessage) {
    let at = begin_packet(out, b'S');
    encode_message(message, out);
    // Every ITCH 5.0 message is shorter than 64 bytes.
    let fits = finish_packet(out, at);
    debug_assert!(fits, "an ITCH message fits a SoupBinTCP packet");
}

/// Append a whole snapshot (see the module docs) as SoupBinTCP packets:
/// `next_sequence` is the publisher's next
/// sequence number at this instant. Ends with End of Session. Returns the
/// number of sequenced messages written.
///
/// `orders` gives instrument `index`'s resting orders in price-time order.
pub fn write_snapshot(
    out: &mut Vec<u8>,
    instruments: &[ItchInstrument],
    orders: &dyn RestingOrders,
    next_sequence: u64,
    timestamp_ns: u64,
) -> u64 {
    let mut message_count = 1u64;
    push_sequenced(out, &system_event(b'O', timestamp_ns));
    for instrument in instruments {
        push_sequenced(out, &instrument.directory(timestamp_ns));
        message_count += 1;
    }
    for (index, instrument) in instruments.iter().enumerate() {
        orders.for_each_order(index, &mut |order| {
            push_sequenced(out, &instrument.add_order(&order, timestamp_ns));
            message_count += 1;
        });
    }
    let end = end_of_snapshot(next_sequence);
    SoupPacket::SequencedData { message: &end }.encode(out);
    SoupPacket::EndOfSession.encode(out);
    message_count + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::message::{BuySell, Price4, StockSymbol};
    use crate::itch::venue_messages::SnapshotOrder;
    use crate::itch::SoupFramer;
    use crate::itch::{decode, ItchMessage};

    // End of Snapshot round-trips; a wrong length or a non-number is an error.
    #[test]
    fn end_of_snapshot_round_trip_and_errors() {
        let body = end_of_snapshot(1_234_567);
        assert_eq!(&body[..2], b"G ");
        assert_eq!(
            parse_glimpse_message(&body),
            Ok(GlimpseMessage::EndOfSnapshot {
                next_sequence: 1_234_567
            })
        );
        assert!(matches!(
            parse_glimpse_message(&body[..20]),
            Err(SoupError::WrongLength { .. })
        ));
        let mut bad = body;
        bad[20] = b'x';
        assert!(matches!(
            parse_glimpse_message(&bad),
            Err(SoupError::BadNumber { .. })
        ));
        assert_eq!(
            parse_glimpse_message(b"A..."),
            Ok(GlimpseMessage::Itch(b"A..."))
        );
    }

    // A snapshot reads back as system event, directories, adds in the
    // order given, End of Snapshot with the sequence, End of Session.
    #[test]
    fn snapshot_layout() {
        let instruments = [ItchInstrument {
            stock_locate: 1,
            stock: StockSymbol::from_str_padded("X").unwrap(),
            price4_per_tick: 100,
        }];
        let orders = |_: usize, f: &mut dyn FnMut(SnapshotOrder)| {
            for order_ref in [7, 3] {
                f(SnapshotOrder {
                    order_ref,
                    side: BuySell::Sell,
                    shares: 10,
                    price: Price4(10_100),
                });
            }
        };
        let mut out = Vec::new();
        assert_eq!(write_snapshot(&mut out, &instruments, &orders, 99, 5), 5);
        let mut framer = SoupFramer::with_capacity(out.len() + 2);
        framer.spare_mut()[..out.len()].copy_from_slice(&out);
        framer.commit(out.len());
        let mut types = Vec::new();
        let mut refs = Vec::new();
        let mut end = None;
        while let Some(frame) = framer.next_frame() {
            match SoupPacket::parse(frame.unwrap()).unwrap() {
                SoupPacket::SequencedData { message } => {
                    match parse_glimpse_message(message).unwrap() {
                        GlimpseMessage::EndOfSnapshot { next_sequence } => {
                            end = Some(next_sequence)
                        }
                        GlimpseMessage::Itch(body) => {
                            types.push(body[0]);
                            if let Ok(ItchMessage::AddOrder(a)) = decode(body) {
                                refs.push(a.order_ref);
                            }
                        }
                    }
                }
                SoupPacket::EndOfSession => types.push(b'Z'),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(types, b"SRAAZ".to_vec());
        assert_eq!(refs, vec![7, 3]);
        assert_eq!(end, Some(99));
    }
}
