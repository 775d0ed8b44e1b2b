//! Zero-copy decoding of one complete FIX 4.4 message into a field table.
//!
//! Owning thread: whoever owns the [`FieldTable`] (the session's thread).
//! Invariants: decoding never allocates and never panics on any input; a
//! [`Message`] only exists for bytes whose BeginString, BodyLength and
//! CheckSum were verified and whose fields are all `tag=value<SOH>` with a
//! non-empty value; `Message::field(2)` is MsgType(35). Values are byte
//! ranges into the caller's buffer, so a `Message` borrows both.
//! Limitation: data fields whose value may contain SOH (RawData 95/96,
//! XmlData 212/213) are not supported; Genesis sends and expects none.

use crate::fix::error::{DecodeError, ValueError};
use crate::fix::tags::{self, MsgType};

/// The FIX field delimiter.
pub const SOH: u8 = 0x01;
/// The fixed prefix of every FIX 4.4 message, up to the BodyLength value.
pub const BEGIN_PREFIX: &[u8] = b"8=FIX.4.4\x019=";
/// Length of the trailer `10=NNN<SOH>`.
pub const TRAILER_LEN: usize = 7;
/// Capacity of a [`FieldTable`]; messages with more fields are refused.
pub const FIELDS_MAX: usize = 96;
const BODY_LENGTH_DIGITS_MAX: usize = 9;

#[derive(Clone, Copy, Debug, Default)]
struct FieldSlot {
    tag: u32,
    value_start: u32,
    value_end: u32,
}

/// A fixed-capacity table of (tag, value range) pairs, reused for every message.
#[derive(Clone, Debug)]
pub struct FieldTable {
    slots: [FieldSlot; FIELDS_MAX],
    len: usize,
}

impl Default for FieldTable {
    fn default() -> Self {
        FieldTable::new()
    }
}

/// Reads the BodyLength value that follows [`BEGIN_PREFIX`] at the start of
/// `bytes`: `Some(Ok((body_length, body_start)))`, `Some(Err(()))` when the
/// digits are malformed, `None` when more bytes are needed to tell.
pub(crate) fn read_body_length(bytes: &[u8]) -> Option<Result<(usize, usize), ()>> {
    let digits = bytes.get(BEGIN_PREFIX.len()..)?;
    let mut body_length = 0usize;
    for (index, &byte) in digits.iter().enumerate() {
        match byte {
            b'0'..=b'9' if index < BODY_LENGTH_DIGITS_MAX => {
                body_length = body_length * 10 + usize::from(byte - b'0');
            }
            SOH if index > 0 => return Some(Ok((body_length, BEGIN_PREFIX.len() + index + 1))),
            _ => return Some(Err(())),
        }
    }
    None
}

/// The FIX checksum: the byte sum modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u32, |sum, &byte| sum + u32::from(byte)) as u8
}

/// Parses a tag made of 1 to 9 digits, without leading zero.
fn parse_tag(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 || digits[0] == b'0' {
        return None;
    }
    let mut tag = 0u32;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        tag = tag * 10 + u32::from(byte - b'0');
    }
    Some(tag)
}

/// Parses an unsigned decimal integer (1 to 19 digits, no sign).
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value = 0u64;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
    }
    Some(value)
}

impl FieldTable {
    /// An empty table.
    pub const fn new() -> FieldTable {
        FieldTable {
            slots: [FieldSlot {
                tag: 0,
                value_start: 0,
                value_end: 0,
            }; FIELDS_MAX],
            len: 0,
        }
    }

    /// Verifies and indexes one complete message (exactly the bytes from
    /// `8=` through the checksum's SOH).
    pub fn decode<'a>(&'a mut self, bytes: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        self.len = 0;
        if !bytes.starts_with(BEGIN_PREFIX) || bytes.len() > u32::MAX as usize {
            return Err(DecodeError::BadBeginString);
        }
        let body_end = verify_frame(bytes)?;
        self.push(tags::BEGIN_STRING, 2, BEGIN_PREFIX.len() - 3)?;
        self.index_fields(bytes, BEGIN_PREFIX.len() - 2, body_end + TRAILER_LEN)?;
        if self.slots[2].tag != tags::MSG_TYPE {
            return Err(DecodeError::MsgTypeNotThird);
        }
        Ok(Message {
            bytes,
            slots: &self.slots[..self.len],
        })
    }

    fn push(&mut self, tag: u32, value_start: usize, value_end: usize) -> Result<(), DecodeError> {
        let slot = self
            .slots
            .get_mut(self.len)
            .ok_or(DecodeError::TooManyFields {
                capacity: FIELDS_MAX,
            })?;
        // Both offsets are below bytes.len() <= u32::MAX, checked by decode.
        *slot = FieldSlot {
            tag,
            value_start: value_start as u32,
            value_end: value_end as u32,
        };
        self.len += 1;
        Ok(())
    }

    /// Indexes every `tag=value<SOH>` field in `bytes[start..end]`.
    fn index_fields(&mut self, bytes: &[u8], start: usize, end: usize) -> Result<(), DecodeError> {
        let mut offset = start;
        while offset < end {
            let field = &bytes[offset..end];
            let equals = field
                .iter()
                .position(|&byte| byte == b'=')
                .ok_or(DecodeError::MalformedField { offset })?;
            let tag = parse_tag(&field[..equals]).ok_or(DecodeError::MalformedField { offset })?;
            let value = &field[equals + 1..];
            let value_len = value
                .iter()
                .position(|&byte| byte == SOH)
                .ok_or(DecodeError::MalformedField { offset })?;
            if value_len == 0 {
                return Err(DecodeError::EmptyValue { tag });
            }
            let value_start = offset + equals + 1;
            self.push(tag, value_start, value_start + value_len)?;
            offset = value_start + value_len + 1;
        }
        Ok(())
    }
}

/// Checks BodyLength and CheckSum; returns the offset where the trailer starts.
fn verify_frame(bytes: &[u8]) -> Result<usize, DecodeError> {
    let found_body = |declared| {
        let actual = bytes
            .windows(4)
            .rposition(|window| window == b"\x0110=")
            .map_or(0, |position| position + 1);
        DecodeError::BodyLengthMismatch { declared, actual }
    };
    let (declared, body_start) = match read_body_length(bytes) {
        Some(Ok(found)) => found,
        _ => return Err(found_body(0)),
    };
    let body_end = body_start + declared;
    if body_end + TRAILER_LEN != bytes.len() || !bytes[body_end..].starts_with(b"10=") {
        let error = found_body(declared);
        return Err(match error {
            DecodeError::BodyLengthMismatch { actual, .. } => DecodeError::BodyLengthMismatch {
                declared,
                actual: actual.saturating_sub(body_start),
            },
            other => other,
        });
    }
    let computed = checksum(&bytes[..body_end]);
    let digits = &bytes[body_end + 3..body_end + 6];
    let declared_sum = match (parse_u64(digits), bytes[body_end + 6]) {
        (Some(sum), SOH) if sum < 256 => sum as u16,
        _ => 1000,
    };
    if declared_sum != u16::from(computed) {
        return Err(DecodeError::ChecksumMismatch {
            declared: declared_sum,
            computed,
        });
    }
    Ok(body_end)
}

/// A verified message: field values borrowed from the input buffer.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    slots: &'a [FieldSlot],
}

impl<'a> Message<'a> {
    /// The whole message on the wire.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The MsgType(35) value as sent.
    pub fn msg_type_bytes(&self) -> &'a [u8] {
        self.value_at(2)
    }

    /// The MsgType, or `None` for a type this crate does not know.
    pub fn msg_type(&self) -> Option<MsgType> {
        MsgType::from_bytes(self.msg_type_bytes())
    }

    /// Number of fields, header and trailer included.
    pub fn field_count(&self) -> usize {
        self.slots.len()
    }

    /// The `index`-th field as (tag, value).
    pub fn field(&self, index: usize) -> Option<(u32, &'a [u8])> {
        let slot = self.slots.get(index)?;
        Some((slot.tag, self.value_at(index)))
    }

    fn value_at(&self, index: usize) -> &'a [u8] {
        let slot = self.slots[index];
        &self.bytes[slot.value_start as usize..slot.value_end as usize]
    }

    /// The value of the first occurrence of `tag`.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        let index = self.slots.iter().position(|slot| slot.tag == tag)?;
        Some(self.value_at(index))
    }

    /// The value of `tag`, or [`ValueError::Missing`].
    pub fn require(&self, tag: u32) -> Result<&'a [u8], ValueError> {
        self.get(tag).ok_or(ValueError::Missing { tag })
    }

    /// The value of `tag` as an unsigned integer.
    pub fn get_u64(&self, tag: u32) -> Result<u64, ValueError> {
        parse_u64(self.require(tag)?).ok_or(ValueError::NotANumber { tag })
    }

    /// The single-character value of `tag`.
    pub fn get_char(&self, tag: u32) -> Result<u8, ValueError> {
        match self.require(tag)? {
            [byte] => Ok(*byte),
            _ => Err(ValueError::UnknownValue { tag }),
        }
    }

    /// A `Y`/`N` flag; absent means `N`.
    pub fn get_flag(&self, tag: u32) -> Result<bool, ValueError> {
        match self.get(tag) {
            None | Some(b"N") => Ok(false),
            Some(b"Y") => Ok(true),
            Some(_) => Err(ValueError::UnknownValue { tag }),
        }
    }

    /// MsgSeqNum(34).
    pub fn seq_num(&self) -> Result<u64, ValueError> {
        self.get_u64(tags::MSG_SEQ_NUM)
    }

    /// PossDupFlag(43) is `Y`.
    pub fn is_poss_dup(&self) -> bool {
        self.get(tags::POSS_DUP_FLAG) == Some(b"Y")
    }

    /// The first tag of `required` that the message lacks.
    pub fn first_missing(&self, required: &[u32]) -> Option<u32> {
        required
            .iter()
            .copied()
            .find(|&tag| self.get(tag).is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEARTBEAT: &[u8] =
        b"8=FIX.4.4\x019=50\x0135=0\x0134=2\x0149=EXEC\x0152=20240101-00:00:00.000\x0156=GEN\x0110=";

    fn with_checksum(head: &[u8]) -> Vec<u8> {
        let mut bytes = head.to_vec();
        let sum = checksum(&bytes[..bytes.len() - 3]);
        bytes.extend_from_slice(format!("{sum:03}\x01").as_bytes());
        bytes
    }

    #[test]
    fn heartbeat_decodes() {
        // A well-formed heartbeat yields its header fields.
        let bytes = with_checksum(HEARTBEAT);
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        assert_eq!(message.msg_type(), Some(MsgType::Heartbeat));
        assert_eq!(message.seq_num(), Ok(2));
        assert_eq!(message.get(tags::SENDER_COMP_ID), Some(&b"EXEC"[..]));
        assert_eq!(message.field_count(), 8);
    }

    #[test]
    fn bad_checksum_is_refused() {
        // One flipped byte in the body changes the checksum.
        let mut bytes = with_checksum(HEARTBEAT);
        bytes[25] = b'X';
        let mut table = FieldTable::new();
        assert!(matches!(
            table.decode(&bytes),
            Err(DecodeError::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn bad_body_length_is_refused() {
        // BodyLength one too long.
        let text = String::from_utf8(HEARTBEAT.to_vec())
            .unwrap()
            .replace("9=50", "9=51");
        let bytes = with_checksum(text.as_bytes());
        let mut table = FieldTable::new();
        assert_eq!(
            table.decode(&bytes).unwrap_err(),
            DecodeError::BodyLengthMismatch {
                declared: 51,
                actual: 50
            }
        );
    }

    #[test]
    fn empty_value_is_refused() {
        // `58=` with nothing after it.
        let text = String::from_utf8(HEARTBEAT.to_vec())
            .unwrap()
            .replace("9=50", "9=54");
        let text = text.replace("56=GEN\x01", "56=GEN\x0158=\x01");
        let bytes = with_checksum(text.as_bytes());
        let mut table = FieldTable::new();
        assert_eq!(
            table.decode(&bytes).unwrap_err(),
            DecodeError::EmptyValue { tag: 58 }
        );
    }
}
