//! MoldUDP64 framing: the downstream packet (header plus length-prefixed
//! message blocks) and the retransmission request packet.
//!
//! Downstream header, big-endian: session (10 bytes, alphanumeric), sequence
//! number of the first message (u64), message count (u16). A count of 0 is a
//! heartbeat and 0xFFFF is end of session; both carry the next expected
//! sequence number. Each message block is a u16 length then that many bytes.
//! A request packet is session, first sequence number wanted, message count.
//!
//! Owning thread: any; pure functions over borrowed bytes. Invariant: a
//! [`MoldPacket`] exists only for a datagram whose blocks exactly fill it, so
//! iterating its messages can never run past the end.

use super::error::MoldError;

/// Length of the downstream header and of a request packet.
pub const MOLD_HEADER_LEN: usize = 20;

/// Message count that marks an end-of-session packet.
pub const END_OF_SESSION_COUNT: u16 = 0xFFFF;

/// A 10-byte MoldUDP64 session name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Session(pub [u8; 10]);

/// The downstream packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoldHeader {
    /// Session of the stream.
    pub session: Session,
    /// Sequence number of the first message (next expected, for heartbeats
    /// and end of session).
    pub sequence_number: u64,
    /// Raw message count (0 heartbeat, 0xFFFF end of session).
    pub message_count: u16,
}

impl MoldHeader {
    /// A heartbeat (no messages).
    pub fn is_heartbeat(&self) -> bool {
        self.message_count == 0
    }

    /// An end-of-session marker.
    pub fn is_end_of_session(&self) -> bool {
        self.message_count == END_OF_SESSION_COUNT
    }

    /// Number of messages carried (0 for heartbeat and end of session).
    pub fn messages_carried(&self) -> u16 {
        if self.is_end_of_session() {
            0
        } else {
            self.message_count
        }
    }

    /// Sequence number one past the last message carried.
    pub fn sequence_end(&self) -> u64 {
        self.sequence_number
            .saturating_add(u64::from(self.messages_carried()))
    }

    /// The header of a datagram (the first 20 bytes), without validating
    /// the message blocks after it.
    pub fn parse(datagram: &[u8]) -> Result<MoldHeader, MoldError> {
        let Some(bytes) = datagram.get(..MOLD_HEADER_LEN) else {
            return Err(MoldError::TooShort {
                length: datagram.len(),
            });
        };
        let mut session = [0u8; 10];
        session.copy_from_slice(&bytes[..10]);
        let mut sequence = [0u8; 8];
        sequence.copy_from_slice(&bytes[10..18]);
        Ok(MoldHeader {
            session: Session(session),
            sequence_number: u64::from_be_bytes(sequence),
            message_count: u16::from_be_bytes([bytes[18], bytes[19]]),
        })
    }
}

/// A validated downstream packet borrowing its datagram.
#[derive(Clone, Copy, Debug)]
pub struct MoldPacket<'a> {
    header: MoldHeader,
    blocks: &'a [u8],
}

impl<'a> MoldPacket<'a> {
    /// Validate the framing of a whole datagram (see the module docs).
    pub fn parse(datagram: &'a [u8]) -> Result<MoldPacket<'a>, MoldError> {
        let header = MoldHeader::parse(datagram)?;
        let blocks = datagram.get(MOLD_HEADER_LEN..).unwrap_or(&[]);
        if header
            .sequence_number
            .checked_add(u64::from(header.messages_carried()))
            .is_none()
        {
            return Err(MoldError::SequenceOverflow {
                sequence_number: header.sequence_number,
                message_count: header.message_count,
            });
        }
        let mut offset = 0usize;
        for block_index in 0..header.messages_carried() {
            let truncated = MoldError::TruncatedBlock {
                block_index,
                offset: MOLD_HEADER_LEN + offset,
            };
            let Some(prefix) = blocks.get(offset..offset + 2) else {
                return Err(truncated);
            };
            let length = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
            offset += 2 + length;
            if offset > blocks.len() {
                return Err(truncated);
            }
        }
        if offset != blocks.len() {
            return Err(MoldError::TrailingBytes {
                count: blocks.len() - offset,
            });
        }
        Ok(MoldPacket { header, blocks })
    }

    /// The header.
    pub fn header(&self) -> &MoldHeader {
        &self.header
    }

    /// The message bodies, in sequence order.
    pub fn messages(&self) -> MoldMessages<'a> {
        MoldMessages {
            blocks: self.blocks,
            remaining: self.header.messages_carried(),
        }
    }
}

/// Iterator over the message bodies of a validated packet.
#[derive(Clone, Debug)]
pub struct MoldMessages<'a> {
    blocks: &'a [u8],
    remaining: u16,
}

impl<'a> Iterator for MoldMessages<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (prefix, rest) = self.blocks.split_at_checked(2)?;
        let length = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        let (body, rest) = rest.split_at_checked(length)?;
        self.blocks = rest;
        self.remaining -= 1;
        Some(body)
    }
}

/// A retransmission request: resend `message_count` messages from `sequence_number`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoldRequest {
    /// Session the messages belong to.
    pub session: Session,
    /// First sequence number wanted.
    pub sequence_number: u64,
    /// Number of messages wanted.
    pub message_count: u16,
}

impl MoldRequest {
    /// The 20-byte wire form.
    pub fn encode(&self) -> [u8; MOLD_HEADER_LEN] {
        let mut out = [0u8; MOLD_HEADER_LEN];
        out[..10].copy_from_slice(&self.session.0);
        out[10..18].copy_from_slice(&self.sequence_number.to_be_bytes());
        out[18..].copy_from_slice(&self.message_count.to_be_bytes());
        out
    }

    /// Parse a request packet (the request server's side).
    pub fn parse(bytes: &[u8]) -> Result<MoldRequest, MoldError> {
        if bytes.len() != MOLD_HEADER_LEN {
            return Err(MoldError::BadRequestLength {
                length: bytes.len(),
            });
        }
        let header = MoldHeader::parse(bytes)?;
        Ok(MoldRequest {
            session: header.session,
            sequence_number: header.sequence_number,
            message_count: header.message_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(count: u16, blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = b"SESSION001".to_vec();
        out.extend_from_slice(&7u64.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        for b in blocks {
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        }
        out
    }

    // Two blocks frame and iterate in order.
    #[test]
    fn iterates_blocks() {
        let bytes = packet(2, &[b"abc", b""]);
        let p = MoldPacket::parse(&bytes).unwrap();
        assert_eq!(p.header().sequence_number, 7);
        assert_eq!(p.header().sequence_end(), 9);
        let got: Vec<&[u8]> = p.messages().collect();
        assert_eq!(got, vec![&b"abc"[..], &b""[..]]);
    }

    // A block running past the end, and extra bytes, drop the datagram.
    #[test]
    fn truncated_and_trailing() {
        let mut bytes = packet(1, &[b"abcd"]);
        bytes.pop();
        assert!(matches!(
            MoldPacket::parse(&bytes),
            Err(MoldError::TruncatedBlock { .. })
        ));
        let bytes = packet(1, &[b"ab", b"c"]);
        assert_eq!(
            MoldPacket::parse(&bytes).unwrap_err(),
            MoldError::TrailingBytes { count: 3 }
        );
        assert_eq!(
            MoldPacket::parse(&[0; 5]).unwrap_err(),
            MoldError::TooShort { length: 5 }
        );
    }

    // Heartbeat and end of session carry no messages.
    #[test]
    fn heartbeat_and_end_of_session() {
        let hb_bytes = packet(0, &[]);
        let hb = MoldPacket::parse(&hb_bytes).unwrap();
        assert!(hb.header().is_heartbeat());
        let eos_bytes = packet(0xFFFF, &[]);
        let eos = MoldPacket::parse(&eos_bytes).unwrap();
        assert!(eos.header().is_end_of_session());
        assert_eq!(eos.header().sequence_end(), 7);
    }

    // The request packet round-trips.
    #[test]
    fn request_round_trip() {
        let r = MoldRequest {
            session: Session(*b"SESSION001"),
            sequence_number: 1_000_000_007,
            message_count: 12,
        };
        assert_eq!(MoldRequest::parse(&r.encode()), Ok(r));
    }
}
