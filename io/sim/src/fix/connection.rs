//! One FIX connection to the simulated venue: first the bytes of its Logon,
//! read until the whole message is in, to learn who it is (its
//! SenderCompID names the participant); then the session, fed those bytes.
//!
//! Owning thread: the simulator's. Invariants: a connection never holds
//! more than [`LOGON_BYTES_MAX`] before its session exists; a connection
//! whose first message is not a Logon to this venue is closed unanswered.

use std::io::Read;
use std::net::TcpStream;

/// Bytes a Logon may take before the connection is refused.
pub const LOGON_BYTES_MAX: usize = 4_096;
/// Time a connection gets to send its Logon.
pub const LOGON_WAIT_NS: u64 = 2_000_000_000;

/// Who the first message says is connecting.
#[derive(Debug, PartialEq, Eq)]
pub enum Peek {
    /// Not all of it yet.
    Incomplete,
    /// A Logon from `sender_comp_id` to `target_comp_id`.
    Logon {
        sender_comp_id: String,
        target_comp_id: String,
    },
    /// Not a Logon, or not FIX.
    Refused,
}

/// The value of `tag` in one message's bytes (`tag=value<SOH>`).
fn field<'a>(message: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    let mut start = 0;
    for end in message
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == 0x01)
        .map(|(i, _)| i)
    {
        let item = &message[start..end];
        start = end + 1;
        if let Some(value) = item
            .strip_prefix(tag)
            .and_then(|rest| rest.strip_prefix(b"="))
        {
            return Some(value);
        }
    }
    None
}

/// Reads the first message in `bytes`, if it is all there.
pub fn peek_logon(bytes: &[u8]) -> Peek {
    if !bytes.starts_with(b"8=FIX") {
        return if bytes.len() < 5 && b"8=FIX".starts_with(bytes) {
            Peek::Incomplete
        } else {
            Peek::Refused
        };
    }
    // The message ends with the checksum: `<SOH>10=nnn<SOH>`.
    let Some(at) = bytes.windows(4).position(|w| w == b"\x0110=") else {
        return if bytes.len() >= LOGON_BYTES_MAX {
            Peek::Refused
        } else {
            Peek::Incomplete
        };
    };
    let end = at + 4 + 4;
    if bytes.len() < end {
        return Peek::Incomplete;
    }
    let message = &bytes[..end];
    let text = |tag: &[u8]| field(message, tag).map(|v| String::from_utf8_lossy(v).into_owned());
    match (field(message, b"35"), text(b"49"), text(b"56")) {
        (Some(b"A"), Some(sender_comp_id), Some(target_comp_id)) if !sender_comp_id.is_empty() => {
            Peek::Logon {
                sender_comp_id,
                target_comp_id,
            }
        }
        _ => Peek::Refused,
    }
}

/// A connection still waiting for its Logon.
pub struct Pending {
    pub stream: TcpStream,
    pub bytes: Vec<u8>,
    pub since_ns: u64,
    pub stamped: bool,
}

impl Pending {
    /// Reads what arrived; `Err(())` when the peer went away or sent too much.
    pub fn read(&mut self) -> Result<(), ()> {
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(()),
                Ok(count) if self.bytes.len() + count > LOGON_BYTES_MAX => return Err(()),
                Ok(count) => self.bytes.extend_from_slice(&chunk[..count]),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A Logon names who connects once its checksum is in; anything else is refused.
    #[test]
    fn logon_is_read_whole() {
        let logon = b"8=FIX.4.4\x019=60\x0135=A\x0149=GENESIS\x0156=VENUE\x0134=1\x0152=x\x0198=0\x01108=30\x0110=123\x01";
        for cut in [0, 3, 20, logon.len() - 1] {
            assert_eq!(peek_logon(&logon[..cut]), Peek::Incomplete, "{cut}");
        }
        assert_eq!(
            peek_logon(logon),
            Peek::Logon {
                sender_comp_id: "GENESIS".into(),
                target_comp_id: "VENUE".into()
            }
        );
        let heartbeat = b"8=FIX.4.4\x019=20\x0135=0\x0149=GENESIS\x0156=VENUE\x0110=001\x01";
        assert_eq!(peek_logon(heartbeat), Peek::Refused);
        assert_eq!(peek_logon(b"GET / HTTP/1.1\r\n"), Peek::Refused);
    }
}
