//! The venue side of the MoldUDP64 request port: answers retransmission
//! requests with the stored messages, sent back to the requester's address
//! in ordinary downstream packets.
//!
//! Owning thread: the venue simulator's thread, which calls
//! [`MoldRequestServer::poll`] with its publisher's store on every loop,
//! and may block between loops on its socket ([`MoldRequestServer::list_fds`]).
//!
//! Bad-input policy (counted in [`RequestServerStats`], never an error): a
//! datagram that is not exactly a 20-byte request is dropped; a request for
//! another session is dropped; the part of a request past the newest
//! message is ignored; a request starting before the oldest stored message
//! is answered from the oldest one it still holds, or not at all. Answers
//! are split into packets of at most `payload_bytes_max`; one request asks
//! for at most 65535 messages (its count is a `u16`), which bounds the work.

use super::error::NetError;
use super::options::SocketOptions;
use super::reactor::bind_udp;
use super::retransmit_store::RetransmitStore;
use super::wait_for::WaitFor;
use crate::itch::{MoldPacketBuilder, MoldRequest, Session};
use mio::net::UdpSocket;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

/// Counters of the request server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestServerStats {
    /// Requests answered (fully or partly).
    pub requests_answered: u64,
    /// Datagrams that were not a well-formed request.
    pub requests_malformed: u64,
    /// Requests for another session.
    pub requests_wrong_session: u64,
    /// Requests for messages no longer (or not yet) stored.
    pub requests_unavailable: u64,
    /// Messages resent.
    pub messages_resent: u64,
    /// Answer packets the socket refused.
    pub send_errors: u64,
}

/// Answers MoldUDP64 retransmission requests from a [`RetransmitStore`].
#[derive(Debug)]
pub struct MoldRequestServer {
    socket: UdpSocket,
    session: Session,
    recv_buf: [u8; 64],
    builder: MoldPacketBuilder,
    payload_bytes_max: usize,
    stats: RequestServerStats,
}

impl MoldRequestServer {
    /// Bind the request port.
    pub fn bind(
        addr: SocketAddr,
        session: Session,
        payload_bytes_max: usize,
    ) -> Result<MoldRequestServer, NetError> {
        let (socket, _) = bind_udp("mold request server", addr, &SocketOptions::default())?;
        Ok(MoldRequestServer {
            socket,
            session,
            recv_buf: [0; 64],
            builder: MoldPacketBuilder::new(session, 0),
            payload_bytes_max,
            stats: RequestServerStats::default(),
        })
    }

    /// The bound address (for receivers to send requests to).
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.socket
            .local_addr()
            .map_err(|source| NetError::LocalAddr {
                role: "mold request server",
                source,
            })
    }

    /// Counters.
    pub fn stats(&self) -> &RequestServerStats {
        &self.stats
    }

    /// Lists the request port for its owner's wait: a request is a
    /// datagram to read.
    pub fn list_fds(&self, list: &mut dyn FnMut(RawFd, WaitFor)) {
        list(self.socket.as_raw_fd(), WaitFor::Readable);
    }

    /// Answer every request waiting on the socket; returns how many
    /// datagrams were read.
    pub fn poll(&mut self, store: &RetransmitStore) -> usize {
        let mut datagram_count = 0;
        loop {
            let (length, from) = match self.socket.recv_from(&mut self.recv_buf) {
                Ok(received) => received,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                // WouldBlock ends the drain; other errors (ICMP echoes of
                // an earlier send) carry no request and are skipped.
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            datagram_count += 1;
            match MoldRequest::parse(&self.recv_buf[..length]) {
                Ok(request) if request.session != self.session => {
                    self.stats.requests_wrong_session += 1;
                }
                Ok(request) => self.answer(&request, from, store),
                Err(_) => self.stats.requests_malformed += 1,
            }
        }
        datagram_count
    }

    fn answer(&mut self, request: &MoldRequest, to: SocketAddr, store: &RetransmitStore) {
        let first = request.sequence_number.max(store.first_sequence());
        let end = request
            .sequence_number
            .saturating_add(u64::from(request.message_count))
            .min(store.end_sequence());
        if first >= end {
            self.stats.requests_unavailable += 1;
            return;
        }
        self.builder.reset(self.session, first);
        for sequence in first..end {
            let Some(message) = store.get(sequence) else {
                break;
            };
            if self.builder.bytes().len() + 2 + message.len() > self.payload_bytes_max
                && self.builder.message_count() > 0
            {
                self.send_packet(to);
                self.builder.reset(self.session, sequence);
            }
            self.builder.push_raw(message);
            self.stats.messages_resent += 1;
        }
        self.send_packet(to);
        self.stats.requests_answered += 1;
    }

    fn send_packet(&mut self, to: SocketAddr) {
        if self.socket.send_to(self.builder.bytes(), to).is_err() {
            self.stats.send_errors += 1;
        }
    }
}
