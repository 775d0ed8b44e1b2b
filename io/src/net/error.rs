//! Operating errors of the socket transports.
//!
//! Each variant says what failed and where (address, URL or socket role).
//! Bad input from a peer is never an error here: it is counted by the
//! transport that saw it (see each module's bad-input policy). These errors
//! are for set-up and for the OS refusing an operation.

use std::io;
use std::net::SocketAddr;

/// Errors of `genesis_io::net`.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Creating the mio poller failed.
    #[error("creating the mio poller failed: {source}")]
    PollCreate {
        /// The OS error.
        source: io::Error,
    },
    /// `poll` failed for a reason other than an interrupted system call.
    #[error("mio poll failed: {source}")]
    Poll {
        /// The OS error.
        source: io::Error,
    },
    /// Registering a socket with the poller failed.
    #[error("registering the {role} socket with the poller failed: {source}")]
    Register {
        /// Which socket (e.g. "mold feed").
        role: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Binding a socket failed.
    #[error("binding the {role} socket to {addr} failed: {source}")]
    Bind {
        /// Which socket.
        role: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Starting a TCP connection failed at once.
    #[error("connecting to {addr} failed: {source}")]
    Connect {
        /// The peer address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Reading a socket's local address failed.
    #[error("reading the local address of the {role} socket failed: {source}")]
    LocalAddr {
        /// Which socket.
        role: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A configuration value is unusable.
    #[error("invalid net configuration: {field}: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The WebSocket URL cannot be used to build a handshake request.
    #[error("invalid WebSocket URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// TLS could not be set up (roots, CA file, rustls configuration).
    #[error("TLS set-up failed: {context}: {reason}")]
    Tls {
        /// What was being set up (e.g. "CA file /etc/genesis/ca.pem").
        context: String,
        /// Why.
        reason: String,
    },
    /// The snapshot fetcher thread could not be started.
    #[error("starting the snapshot fetcher thread failed: {source}")]
    Spawn {
        /// The OS error.
        source: io::Error,
    },
}
