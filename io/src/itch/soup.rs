//! SoupBinTCP 4.x packets: the framing Nasdaq uses for its TCP services
//! (GLIMPSE snapshots, OUCH), layout as in the SoupBinTCP 3.0/4.x specs.
//!
//! A logical packet is a two-byte big-endian length (of what follows), one
//! packet-type byte and a payload. From the server: '+' debug, 'A' login
//! accepted (session, sequence number), 'J' login rejected (reason), 'S'
//! sequenced data, 'H' server heartbeat, 'Z' end of session. From the
//! client: 'L' login request (username, password, requested session,
//! requested sequence number), 'U' unsequenced data, 'R' client heartbeat,
//! 'O' logout request; '+' debug from either side. Alphanumeric fields are
//! ASCII padded with spaces on the right (username, password) or left
//! (session); numeric fields are ASCII decimal, right-justified and padded
//! with spaces on the left.
//!
//! Owning thread: any; pure functions over borrowed bytes (the stream
//! framing is in [`super::soup_framer`]). Invariant: [`SoupPacket::parse`]
//! checks the exact length of every fixed-size packet before reading a
//! field, so no input makes it panic or read out of bounds.

use super::error::SoupError;
use super::mold::Session;

/// Bytes of the length prefix.
pub const SOUP_LENGTH_PREFIX_LEN: usize = 2;
/// Width of the username field.
pub const USERNAME_LEN: usize = 6;
/// Width of the password field.
pub const PASSWORD_LEN: usize = 10;
/// Width of a session field.
pub const SESSION_LEN: usize = 10;
/// Width of a sequence number field.
pub const SEQUENCE_NUMBER_LEN: usize = 20;

const LOGIN_REQUEST_LEN: usize =
    1 + USERNAME_LEN + PASSWORD_LEN + SESSION_LEN + SEQUENCE_NUMBER_LEN;
const LOGIN_ACCEPTED_LEN: usize = 1 + SESSION_LEN + SEQUENCE_NUMBER_LEN;
const LOGIN_REJECTED_LEN: usize = 2;

/// Why a login was refused ('J').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRejectReason {
    /// 'A': the username and password are not valid.
    NotAuthorized,
    /// 'S': the requested session is not available.
    SessionNotAvailable,
    /// A code the spec does not define, kept raw.
    Other(u8),
}

impl LoginRejectReason {
    fn from_byte(byte: u8) -> LoginRejectReason {
        match byte {
            b'A' => LoginRejectReason::NotAuthorized,
            b'S' => LoginRejectReason::SessionNotAvailable,
            other => LoginRejectReason::Other(other),
        }
    }

    fn byte(self) -> u8 {
        match self {
            LoginRejectReason::NotAuthorized => b'A',
            LoginRejectReason::SessionNotAvailable => b'S',
            LoginRejectReason::Other(byte) => byte,
        }
    }
}

/// Username and password as sent in a login request, space padded. The
/// password never appears in `Debug` output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Username, padded with spaces on the right.
    pub username: [u8; USERNAME_LEN],
    /// Password, padded with spaces on the right.
    pub password: [u8; PASSWORD_LEN],
}

impl Credentials {
    /// Pad `username` (at most 6 bytes) and `password` (at most 10) with
    /// spaces; `None` if either is too long or not printable ASCII.
    pub fn new(username: &str, password: &str) -> Option<Credentials> {
        Some(Credentials {
            username: pad_right(username)?,
            password: pad_right(password)?,
        })
    }
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<redacted>")
            .finish()
    }
}

fn pad_right<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() > N || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut out = [b' '; N];
    out[..bytes.len()].copy_from_slice(bytes);
    Some(out)
}

/// A login request ('L').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// Username and password.
    pub credentials: Credentials,
    /// Session wanted; all spaces asks for the current session.
    pub requested_session: Session,
    /// Next sequenced message wanted (1 from the start; 0, since 4.0, the
    /// next message generated).
    pub requested_sequence_number: u64,
}

/// A decoded SoupBinTCP packet borrowing its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoupPacket<'a> {
    /// '+': free-form text, either direction.
    Debug {
        /// The text.
        text: &'a [u8],
    },
    /// 'A': the login was accepted.
    LoginAccepted {
        /// The session the client is now in.
        session: Session,
        /// Sequence number of the next sequenced message the server sends.
        sequence_number: u64,
    },
    /// 'J': the login was refused; the server closes the connection.
    LoginRejected {
        /// Why.
        reason: LoginRejectReason,
    },
    /// 'S': one higher-level message, numbered implicitly.
    SequencedData {
        /// The message.
        message: &'a [u8],
    },
    /// 'H': the server is alive.
    ServerHeartbeat,
    /// 'Z': the session is over; no more sequenced messages.
    EndOfSession,
    /// 'L': a client logs in.
    LoginRequest(LoginRequest),
    /// 'U': one client message, not sequenced.
    UnsequencedData {
        /// The message.
        message: &'a [u8],
    },
    /// 'R': the client is alive.
    ClientHeartbeat,
    /// 'O': the client logs out.
    LogoutRequest,
}

impl<'a> SoupPacket<'a> {
    /// Decode one frame: the packet-type byte and its payload (the bytes
    /// after the length prefix).
    pub fn parse(frame: &'a [u8]) -> Result<SoupPacket<'a>, SoupError> {
        let Some((&packet_type, payload)) = frame.split_first() else {
            return Err(SoupError::EmptyPacket);
        };
        let exact = |expected: usize| {
            if frame.len() == expected {
                Ok(())
            } else {
                Err(SoupError::WrongLength {
                    packet_type,
                    expected,
                    got: frame.len(),
                })
            }
        };
        Ok(match packet_type {
            b'+' => SoupPacket::Debug { text: payload },
            b'S' => SoupPacket::SequencedData { message: payload },
            b'U' => SoupPacket::UnsequencedData { message: payload },
            b'A' => {
                exact(LOGIN_ACCEPTED_LEN)?;
                SoupPacket::LoginAccepted {
                    session: Session(field(payload, 0)),
                    sequence_number: parse_number(
                        &field::<SEQUENCE_NUMBER_LEN>(payload, SESSION_LEN),
                        "login accepted sequence number",
                    )?,
                }
            }
            b'J' => {
                exact(LOGIN_REJECTED_LEN)?;
                SoupPacket::LoginRejected {
                    reason: LoginRejectReason::from_byte(payload.first().copied().unwrap_or(0)),
                }
            }
            b'L' => {
                exact(LOGIN_REQUEST_LEN)?;
                SoupPacket::LoginRequest(parse_login_request(payload)?)
            }
            b'H' | b'Z' | b'R' | b'O' => {
                exact(1)?;
                match packet_type {
                    b'H' => SoupPacket::ServerHeartbeat,
                    b'Z' => SoupPacket::EndOfSession,
                    b'R' => SoupPacket::ClientHeartbeat,
                    _ => SoupPacket::LogoutRequest,
                }
            }
            _ => {
                return Err(SoupError::UnknownType {
                    packet_type,
                    length: frame.len(),
                })
            }
        })
    }

    /// Append the wire form (length prefix included) to `out`; `false`,
    /// with nothing appended, if the payload is longer than 65534 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) -> bool {
        let at = begin_packet(out, self.packet_type());
        match self {
            SoupPacket::Debug { text: bytes }
            | SoupPacket::SequencedData { message: bytes }
            | SoupPacket::UnsequencedData { message: bytes } => out.extend_from_slice(bytes),
            SoupPacket::LoginAccepted {
                session,
                sequence_number,
            } => {
                out.extend_from_slice(&session.0);
                out.extend_from_slice(&format_number(*sequence_number));
            }
            SoupPacket::LoginRejected { reason } => out.push(reason.byte()),
            SoupPacket::LoginRequest(request) => {
                out.extend_from_slice(&request.credentials.username);
                out.extend_from_slice(&request.credentials.password);
                out.extend_from_slice(&request.requested_session.0);
                out.extend_from_slice(&format_number(request.requested_sequence_number));
            }
            SoupPacket::ServerHeartbeat
            | SoupPacket::EndOfSession
            | SoupPacket::ClientHeartbeat
            | SoupPacket::LogoutRequest => {}
        }
        if finish_packet(out, at) {
            true
        } else {
            out.truncate(at);
            false
        }
    }

    /// The packet-type byte.
    pub fn packet_type(&self) -> u8 {
        match self {
            SoupPacket::Debug { .. } => b'+',
            SoupPacket::LoginAccepted { .. } => b'A',
            SoupPacket::LoginRejected { .. } => b'J',
            SoupPacket::SequencedData { .. } => b'S',
            SoupPacket::ServerHeartbeat => b'H',
            SoupPacket::EndOfSession => b'Z',
            SoupPacket::LoginRequest(_) => b'L',
            SoupPacket::UnsequencedData { .. } => b'U',
            SoupPacket::ClientHeartbeat => b'R',
            SoupPacket::LogoutRequest => b'O',
        }
    }
}

/// Start a packet of `packet_type` in `out` (length left for
/// [`finish_packet`]); returns where the packet starts.
pub fn begin_packet(out: &mut Vec<u8>, packet_type: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0, 0, packet_type]);
    at
}

/// Write the length prefix of the packet begun at `at`; `false` if what
/// follows the prefix is longer than 65535 bytes (the caller truncates).
pub fn finish_packet(out: &mut [u8], at: usize) -> bool {
    let Ok(length) = u16::try_from(out.len() - at - SOUP_LENGTH_PREFIX_LEN) else {
        return false;
    };
    out[at..at + SOUP_LENGTH_PREFIX_LEN].copy_from_slice(&length.to_be_bytes());
    true
}

fn parse_login_request(payload: &[u8]) -> Result<LoginRequest, SoupError> {
    let session_at = USERNAME_LEN + PASSWORD_LEN;
    Ok(LoginRequest {
        credentials: Credentials {
            username: field(payload, 0),
            password: field(payload, USERNAME_LEN),
        },
        requested_session: Session(field(payload, session_at)),
        requested_sequence_number: parse_number(
            &field::<SEQUENCE_NUMBER_LEN>(payload, session_at + SESSION_LEN),
            "login request sequence number",
        )?,
    })
}

/// `N` bytes at `at`, zero-filled past the end (lengths are checked first).
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(source) = bytes.get(at..at + N) {
        out.copy_from_slice(source);
    }
    out
}

/// A right-justified, space-padded decimal field (spaces after the digits
/// are accepted too); at least one digit, no other byte, fits `u64`.
pub fn parse_number(bytes: &[u8], field: &'static str) -> Result<u64, SoupError> {
    let bad = SoupError::BadNumber { field };
    let start = bytes.iter().position(|b| *b != b' ').ok_or(bad)?;
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    let digits = &bytes[start..end];
    digits.iter().try_fold(0u64, |value, byte| {
        if !byte.is_ascii_digit() {
            return Err(bad);
        }
        value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(byte - b'0')))
            .ok_or(bad)
    })
}

/// `value` as a 20-byte right-justified, space-padded decimal field.
pub fn format_number(mut value: u64) -> [u8; SEQUENCE_NUMBER_LEN] {
    let mut out = [b' '; SEQUENCE_NUMBER_LEN];
    let mut at = SEQUENCE_NUMBER_LEN;
    loop {
        at -= 1;
        out[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(packet: SoupPacket<'_>) {
        let mut out = Vec::new();
        assert!(packet.encode(&mut out));
        let length = usize::from(u16::from_be_bytes([out[0], out[1]]));
        assert_eq!(length, out.len() - 2);
        assert_eq!(SoupPacket::parse(&out[2..]), Ok(packet));
    }

    // Every packet type survives encode then parse.
    #[test]
    fn every_packet_round_trips() {
        let credentials = Credentials::new("user1", "secret").unwrap();
        round_trip(SoupPacket::Debug { text: b"hello" });
        round_trip(SoupPacket::LoginAccepted {
            session: Session(*b"   SESSION"),
            sequence_number: 12_345,
        });
        round_trip(SoupPacket::LoginRejected {
            reason: LoginRejectReason::NotAuthorized,
        });
        round_trip(SoupPacket::LoginRejected {
            reason: LoginRejectReason::SessionNotAvailable,
        });
        round_trip(SoupPacket::SequencedData { message: b"S123" });
        round_trip(SoupPacket::ServerHeartbeat);
        round_trip(SoupPacket::EndOfSession);
        round_trip(SoupPacket::LoginRequest(LoginRequest {
            credentials,
            requested_session: Session([b' '; 10]),
            requested_sequence_number: 1,
        }));
        round_trip(SoupPacket::UnsequencedData { message: b"" });
        round_trip(SoupPacket::ClientHeartbeat);
        round_trip(SoupPacket::LogoutRequest);
    }

    // The login request is laid out as the spec says: 6 + 10 + 10 + 20
    // bytes, text padded right, the sequence number padded left.
    #[test]
    fn login_request_layout() {
        let mut out = Vec::new();
        SoupPacket::LoginRequest(LoginRequest {
            credentials: Credentials::new("ab", "pw").unwrap(),
            requested_session: Session([b' '; 10]),
            requested_sequence_number: 42,
        })
        .encode(&mut out);
        assert_eq!(&out[..3], &[0, 47, b'L']);
        assert_eq!(&out[3..9], b"ab    ");
        assert_eq!(&out[9..19], b"pw        ");
        assert_eq!(&out[19..29], b"          ");
        assert_eq!(&out[29..49], b"                  42");
    }

    // Fixed-size packets of the wrong length, unknown types and bad
    // numbers are errors, not panics.
    #[test]
    fn bad_packets_are_errors() {
        assert_eq!(SoupPacket::parse(&[]), Err(SoupError::EmptyPacket));
        assert_eq!(
            SoupPacket::parse(b"Hx"),
            Err(SoupError::WrongLength {
                packet_type: b'H',
                expected: 1,
                got: 2
            })
        );
        assert!(matches!(
            SoupPacket::parse(b"A short"),
            Err(SoupError::WrongLength { .. })
        ));
        assert!(matches!(
            SoupPacket::parse(b"Q"),
            Err(SoupError::UnknownType {
                packet_type: b'Q',
                ..
            })
        ));
        let mut accepted = b"ASESSION001".to_vec();
        accepted.extend_from_slice(b"          12x4567890");
        assert!(matches!(
            SoupPacket::parse(&accepted),
            Err(SoupError::BadNumber { .. })
        ));
    }

    // Numbers: padded either side, all-space and overflow refused.
    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"   7", "n"), Ok(7));
        assert_eq!(parse_number(b"7   ", "n"), Ok(7));
        assert_eq!(parse_number(b"0000000000000000001", "n"), Ok(1));
        assert!(parse_number(b"    ", "n").is_err());
        assert!(parse_number(b" 1 2", "n").is_err());
        assert!(parse_number(b"99999999999999999999", "n").is_err());
        assert_eq!(format_number(u64::MAX), *b"18446744073709551615");
        assert_eq!(parse_number(&format_number(u64::MAX), "n"), Ok(u64::MAX));
    }

    // Credentials refuse what does not fit and never print the password.
    #[test]
    fn credentials_padding_and_redaction() {
        assert!(Credentials::new("toolong", "x").is_none());
        assert!(Credentials::new("a", "eleven char").is_none());
        assert!(Credentials::new("a b", "x").is_none());
        let c = Credentials::new("me", "hunter2").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
