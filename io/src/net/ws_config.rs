//! Connection knobs of the WebSocket client, with the original guide's
//! values as defaults.
//!
//! Owning thread: configuration, read at start-up. Compression: none.
//! `tungstenite` (built without its `deflate` feature) never offers
//! `permessage-deflate`, so every frame is plain text; that is the guide's
//! "no compression" and saves a decompression per message.

use super::options::SocketOptions;
use std::net::SocketAddr;

const SECOND_NS: u64 = 1_000_000_000;

/// Where to connect: the TCP address (resolved by the caller, so the ingest
/// thread never does DNS) and the WebSocket URL sent in the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsEndpoint {
    /// TCP address of the server.
    pub addr: SocketAddr,
    /// `ws://host:port/path?query` (e.g. a combined-stream URL).
    pub url: String,
}

/// WebSocket client settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsConfig {
    /// Send a ping after this long without sending one (guide: 20 s).
    pub ping_interval_ns: u64,
    /// Drop the connection if a ping gets no pong in this long (guide: 10 s).
    pub ping_timeout_ns: u64,
    /// Give the close handshake this long before dropping the socket (guide: 5 s).
    pub close_timeout_ns: u64,
    /// Give TCP connect plus the WebSocket handshake this long.
    pub connect_timeout_ns: u64,
    /// Largest message accepted (guide: 1 MiB); larger ones drop the connection.
    pub message_bytes_max: usize,
    /// First reconnect delay (before jitter).
    pub reconnect_initial_ns: u64,
    /// Longest reconnect delay (before jitter).
    pub reconnect_max_ns: u64,
    /// Seed of the reconnect jitter (fixed in tests).
    pub reconnect_jitter_seed: u64,
    /// Most messages read per poll, so one busy stream cannot starve the loop.
    pub messages_per_poll_max: usize,
    /// Socket options (busy poll, receive buffer, `TCP_NODELAY`).
    pub socket: SocketOptions,
    /// Ask the kernel to stamp arrivals (`SO_TIMESTAMPNS`, else software
    /// `SO_TIMESTAMPING`) and give each message the stamp; `false` stamps
    /// every message from the caller's clock after the read.
    pub rx_stamps: bool,
}

impl Default for WsConfig {
    fn default() -> WsConfig {
        WsConfig {
            ping_interval_ns: 20 * SECOND_NS,
            ping_timeout_ns: 10 * SECOND_NS,
            close_timeout_ns: 5 * SECOND_NS,
            connect_timeout_ns: 10 * SECOND_NS,
            message_bytes_max: 1 << 20,
            reconnect_initial_ns: SECOND_NS / 10,
            reconnect_max_ns: 30 * SECOND_NS,
            reconnect_jitter_seed: 0x5EED,
            messages_per_poll_max: 64,
            socket: SocketOptions::default(),
            rx_stamps: true,
        }
    }
}

impl WsConfig {
    /// The matching `tungstenite` configuration: message and frame limits
    /// both at `message_bytes_max`.
    pub fn tungstenite(&self) -> tungstenite::protocol::WebSocketConfig {
        tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(self.message_bytes_max))
            .max_frame_size(Some(self.message_bytes_max))
    }
}
