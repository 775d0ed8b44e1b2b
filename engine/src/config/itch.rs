//! `[market_data.itch]`: an ITCH 5.0 feed in MoldUDP64 over UDP and how
//! its gaps are healed: the request port (retransmission), the GLIMPSE
//! snapshot server (SoupBinTCP) for large gaps and late joins, and the
//! thresholds between them. Units are in the key names.
//!
//! Read once at start-up. The snapshot password is never held here: the
//! config names a file or an environment variable, read when the source
//! is built ([`ItchConfig::snapshot_credentials`]); neither the password
//! nor its length reaches a log, an error or the run's recorded config.

use super::{ConfigError, Invalid};
use genesis_io::itch::{Credentials, RecoveryConfig, Session};
use genesis_io::net::{SocketOptions, SoupClientConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

const MS_NS: u64 = 1_000_000;
const US_NS: u64 = 1_000;

/// `[market_data.itch]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItchConfig {
    /// Where our feed socket binds, such as "0.0.0.0:26400": the address the
    /// venue publishes to (a multicast feed is not joined by this build).
    /// `source = "itch"` only; "itch-sim" binds any loopback port.
    pub feed_bind: String,
    /// The venue's MoldUDP64 request (retransmission) port, such as
    /// "10.0.0.5:26401". `source = "itch"` only.
    pub request_server: String,
    /// The venue's GLIMPSE snapshot server (SoupBinTCP over TCP), such as
    /// "10.0.0.5:26402"; "" heals every gap by retransmission alone.
    /// `source = "itch"` only; "itch-sim" uses the simulator's.
    pub snapshot_server: String,
    /// SoupBinTCP login username (at most 6 printable ASCII bytes).
    pub snapshot_username: String,
    /// A file whose first line is the login password (at most 10 printable
    /// ASCII bytes); "" for none.
    pub snapshot_password_file: String,
    /// An environment variable holding the login password; "" for none.
    /// At most one of the file and the variable may be set.
    pub snapshot_password_env: String,
    /// A gap of more missing messages than this, or a first datagram this
    /// far past sequence 1 (a late join), is healed from a snapshot; a
    /// smaller one through the request port.
    pub snapshot_gap_messages_min: u64,
    /// A retransmission that makes no progress for this long hands its gap
    /// to a snapshot.
    pub retransmit_timeout_ms: u64,
    /// Smallest interval between two passes of retransmission requests
    /// (a pass asks for every hole at once, one request per range).
    pub request_interval_min_us: u64,
    /// An unanswered retransmission request is sent again after this long.
    pub request_retry_ms: u64,
    /// Most messages one retransmission request asks for (1..=65535).
    pub request_messages_max: u16,
    /// Live datagrams buffered while a gap is healed: bytes and count. A
    /// full buffer is cleared and the gap goes to a snapshot.
    pub buffer_bytes_max: usize,
    pub buffer_datagrams_max: usize,
    /// Buffered datagrams applied per poll while catching up.
    pub replay_datagrams_per_poll_max: usize,
    /// Datagrams read per socket per poll.
    pub datagrams_per_poll_max: usize,
    /// A failed snapshot is retried after this long, doubling (with
    /// jitter) up to `snapshot_backoff_max_ms`.
    pub snapshot_backoff_initial_ms: u64,
    pub snapshot_backoff_max_ms: u64,
    /// A snapshot connection not made within this long fails.
    pub snapshot_connect_timeout_ms: u64,
    /// A snapshot session that receives nothing for this long fails.
    pub snapshot_idle_timeout_ms: u64,
    /// Resting orders each book holds.
    pub book_orders_max: usize,
    /// Price levels per side each book holds.
    pub book_levels_max: usize,
}

impl Default for ItchConfig {
    fn default() -> ItchConfig {
        ItchConfig {
            feed_bind: "127.0.0.1:26400".into(),
            request_server: "127.0.0.1:26401".into(),
            snapshot_server: "127.0.0.1:26402".into(),
            snapshot_username: String::new(),
            snapshot_password_file: String::new(),
            snapshot_password_env: String::new(),
            snapshot_gap_messages_min: 4_096,
            retransmit_timeout_ms: 50,
            request_interval_min_us: 1_000,
            request_retry_ms: 20,
            request_messages_max: 512,
            buffer_bytes_max: 4 << 20,
            buffer_datagrams_max: 4_096,
            replay_datagrams_per_poll_max: 64,
            datagrams_per_poll_max: 64,
            snapshot_backoff_initial_ms: 10,
            snapshot_backoff_max_ms: 2_000,
            snapshot_connect_timeout_ms: 1_000,
            snapshot_idle_timeout_ms: 2_000,
            book_orders_max: 16_384,
            book_levels_max: 512,
        }
    }
}

impl ItchConfig {
    /// The recovery's thresholds, with the backoff's jitter seeded by `seed`.
    pub fn recovery(&self, seed: u64) -> RecoveryConfig {
        RecoveryConfig {
            snapshot_gap_messages_min: self.snapshot_gap_messages_min,
            retransmit_timeout_ns: self.retransmit_timeout_ms.saturating_mul(MS_NS),
            request_interval_min_ns: self.request_interval_min_us.saturating_mul(US_NS),
            buffer_bytes_max: self.buffer_bytes_max,
            buffer_datagrams_max: self.buffer_datagrams_max,
            replay_datagrams_per_poll_max: self.replay_datagrams_per_poll_max,
            snapshot_backoff_initial_ns: self.snapshot_backoff_initial_ms.saturating_mul(MS_NS),
            snapshot_backoff_max_ns: self.snapshot_backoff_max_ms.saturating_mul(MS_NS),
            snapshot_backoff_seed: seed,
            ..RecoveryConfig::default()
        }
    }

    /// The snapshot session to `server_addr`, logging in with the
    /// configured credentials (read now from their file or variable).
    pub fn snapshot_client(
        &self,
        server_addr: SocketAddr,
        options: SocketOptions,
    ) -> Result<SoupClientConfig, String> {
        Ok(SoupClientConfig {
            server_addr,
            credentials: self.snapshot_credentials()?,
            requested_session: Session([b' '; 10]),
            requested_sequence_number: 1,
            connect_timeout_ns: self.snapshot_connect_timeout_ms.saturating_mul(MS_NS),
            idle_timeout_ns: self.snapshot_idle_timeout_ms.saturating_mul(MS_NS),
            heartbeat_interval_ns: (self.snapshot_idle_timeout_ms / 2).max(1) * MS_NS,
            read_bytes_per_poll_max: 256 << 10,
            options,
        })
    }

    /// The login: the username, and the password from its file or
    /// variable (empty when neither is set). Errors name the file or the
    /// variable, never the password.
    pub fn snapshot_credentials(&self) -> Result<Credentials, String> {
        let password = match (
            self.snapshot_password_file.as_str(),
            self.snapshot_password_env.as_str(),
        ) {
            ("", "") => String::new(),
            (file, "") => std::fs::read_to_string(file)
                .map_err(|e| {
                    format!("market_data.itch.snapshot_password_file {file:?}: cannot read: {e}")
                })?
                .lines()
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string(),
            ("", variable) => std::env::var(variable).map_err(|_| {
                format!(
                    "market_data.itch.snapshot_password_env: ${variable} is not set (or not UTF-8)"
                )
            })?,
            _ => return Err(
                "market_data.itch: set snapshot_password_file or snapshot_password_env, not both"
                    .into(),
            ),
        };
        Credentials::new(&self.snapshot_username, &password).ok_or_else(|| {
            "market_data.itch: the snapshot username must be at most 6 and the password at most 10 printable ASCII bytes".into()
        })
    }

    /// The addresses of an external feed (`source = "itch"`), and the
    /// thresholds of every ITCH source.
    pub(super) fn validate(
        &self,
        external: bool,
        invalid: &Invalid<'_>,
    ) -> Result<(), ConfigError> {
        if external {
            let addresses = [
                ("market_data.itch.feed_bind", &self.feed_bind),
                ("market_data.itch.request_server", &self.request_server),
                ("market_data.itch.snapshot_server", &self.snapshot_server),
            ];
            for (key, text) in addresses {
                if (text.is_empty() && key.ends_with("snapshot_server"))
                    || text.parse::<SocketAddr>().is_ok()
                {
                    continue;
                }
                return Err(invalid(
                    key,
                    format!("{text:?} is not a socket address such as \"127.0.0.1:26400\""),
                ));
            }
        }
        self.validate_sizes(invalid)
    }

    fn validate_sizes(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        let positive = [
            ("retransmit_timeout_ms", self.retransmit_timeout_ms),
            ("request_retry_ms", self.request_retry_ms),
            ("request_messages_max", u64::from(self.request_messages_max)),
            ("buffer_bytes_max", self.buffer_bytes_max as u64),
            ("buffer_datagrams_max", self.buffer_datagrams_max as u64),
            (
                "replay_datagrams_per_poll_max",
                self.replay_datagrams_per_poll_max as u64,
            ),
            ("datagrams_per_poll_max", self.datagrams_per_poll_max as u64),
            (
                "snapshot_backoff_initial_ms",
                self.snapshot_backoff_initial_ms,
            ),
            (
                "snapshot_connect_timeout_ms",
                self.snapshot_connect_timeout_ms,
            ),
            ("snapshot_idle_timeout_ms", self.snapshot_idle_timeout_ms),
            ("book_orders_max", self.book_orders_max as u64),
            ("book_levels_max", self.book_levels_max as u64),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(
                    &format!("market_data.itch.{field}"),
                    "must be positive".into(),
                ));
            }
        }
        if self.snapshot_backoff_max_ms < self.snapshot_backoff_initial_ms {
            return Err(invalid(
                "market_data.itch.snapshot_backoff_max_ms",
                format!(
                    "{} is below snapshot_backoff_initial_ms = {}",
                    self.snapshot_backoff_max_ms, self.snapshot_backoff_initial_ms
                ),
            ));
        }
        if self.buffer_bytes_max < 2_048 {
            return Err(invalid(
                "market_data.itch.buffer_bytes_max",
                format!(
                    "{} cannot hold one datagram (at least 2048)",
                    self.buffer_bytes_max
                ),
            ));
        }
        if self.snapshot_username.len() > 6
            || !self.snapshot_username.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                "market_data.itch.snapshot_username",
                format!(
                    "{:?} is not at most 6 printable ASCII bytes",
                    self.snapshot_username
                ),
            ));
        }
        if !self.snapshot_password_file.is_empty() && !self.snapshot_password_env.is_empty() {
            return Err(invalid(
                "market_data.itch.snapshot_password_file",
                "set snapshot_password_file or snapshot_password_env, not both".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The password comes from its file (first line, newline dropped) or its
    // variable; errors name where it was looked for and never show it.
    #[test]
    fn credentials_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "s3cret\n").unwrap();
        let mut itch = ItchConfig {
            snapshot_username: "gen".into(),
            snapshot_password_file: file.display().to_string(),
            ..ItchConfig::default()
        };
        let credentials = itch.snapshot_credentials().unwrap();
        assert_eq!(&credentials.password, b"s3cret    ");
        assert!(!format!("{credentials:?}").contains("s3cret"));

        std::fs::write(&file, "far-too-long-a-password\n").unwrap();
        let error = itch.snapshot_credentials().unwrap_err();
        assert!(!error.contains("far-too-long"), "{error}");

        itch.snapshot_password_file = dir.path().join("missing").display().to_string();
        let error = itch.snapshot_credentials().unwrap_err();
        assert!(
            error.contains("missing") && error.contains("snapshot_password_file"),
            "{error}"
        );

        itch.snapshot_password_file.clear();
        itch.snapshot_password_env = "GENESIS_TEST_NO_SUCH_VARIABLE".into();
        let error = itch.snapshot_credentials().unwrap_err();
        assert!(error.contains("$GENESIS_TEST_NO_SUCH_VARIABLE"), "{error}");
        itch.snapshot_password_env = "PATH".into();
        assert!(
            itch.snapshot_credentials().is_err(),
            "PATH is too long a password"
        );
    }

    // Thresholds turn into the recovery's nanoseconds.
    #[test]
    fn recovery_thresholds_in_nanoseconds() {
        let recovery = ItchConfig::default().recovery(7);
        assert_eq!(recovery.retransmit_timeout_ns, 50_000_000);
        assert_eq!(recovery.request_interval_min_ns, 1_000_000);
        assert_eq!(recovery.snapshot_backoff_max_ns, 2_000_000_000);
        assert_eq!(recovery.snapshot_backoff_seed, 7);
    }
}
