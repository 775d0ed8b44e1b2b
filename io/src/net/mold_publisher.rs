//! The venue side of a MoldUDP64 stream: packs ITCH messages into packets,
//! sends them by UDP and keeps a bounded [`RetransmitStore`] for the
//! request server.
//!
//! Owning thread: the venue simulator's thread. Invariants: sequence
//! numbers are consecutive from the configured first one; every message is
//! stored before its packet leaves; a packet never exceeds
//! `payload_bytes_max` (one message is always let through, since ITCH
//! messages are short). Sending never blocks: a send the socket refuses
//! (`WouldBlock`, `ENOBUFS`) is counted and the packet counts as lost, which
//! the receivers recover through the request port like any other loss.
//! [`MoldPublisher::flush_dropped`] loses a packet on purpose (tests,
//! fault injection).

use super::error::NetError;
use super::options::SocketOptions;
use super::reactor::bind_udp;
use super::retransmit_store::RetransmitStore;
use crate::itch::{encode_message, ItchMessage, MoldPacketBuilder, Session};
use mio::net::UdpSocket;
use std::net::SocketAddr;

/// MoldUDP64 header length.
const HEADER_LEN: usize = 20;

/// How to build a [`MoldPublisher`].
#[derive(Clone, Copy, Debug)]
pub struct MoldPublisherConfig {
    /// MoldUDP64 session name.
    pub session: Session,
    /// Local address to send from.
    pub bind_addr: SocketAddr,
    /// Where packets go (a unicast receiver or a multicast group).
    pub destination: SocketAddr,
    /// Sequence number of the first message (1 at the start of a session).
    pub first_sequence: u64,
    /// Messages kept for retransmission.
    pub store_capacity: usize,
    /// Largest UDP payload sent (1400 keeps under a 1500-byte MTU).
    pub payload_bytes_max: usize,
}

/// Counters of the publisher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets dropped on purpose ([`MoldPublisher::flush_dropped`]).
    pub packets_dropped: u64,
    /// Packets the socket refused (counted as lost).
    pub send_errors: u64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
}

/// What happened to the packet being flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Send,
    Drop,
}

/// A MoldUDP64 publisher with its retransmission store.
#[derive(Debug)]
pub struct MoldPublisher {
    socket: UdpSocket,
    destination: SocketAddr,
    session: Session,
    builder: MoldPacketBuilder,
    scratch: Vec<u8>,
    store: RetransmitStore,
    payload_bytes_max: usize,
    stats: PublisherStats,
}

impl MoldPublisher {
    /// Bind the sending socket and allocate the store.
    pub fn bind(config: MoldPublisherConfig) -> Result<MoldPublisher, NetError> {
        if config.payload_bytes_max < HEADER_LEN + 2 + 64 {
            return Err(NetError::Config {
                field: "payload_bytes_max",
                reason: "must hold the header and one ITCH message (86 bytes)",
            });
        }
        let (socket, _) = bind_udp(
            "mold publisher",
            config.bind_addr,
            &SocketOptions::default(),
        )?;
        Ok(MoldPublisher {
            socket,
            destination: config.destination,
            session: config.session,
            builder: MoldPacketBuilder::new(config.session, config.first_sequence),
            scratch: Vec::with_capacity(64),
            store: RetransmitStore::new(config.first_sequence, config.store_capacity, 64),
            payload_bytes_max: config.payload_bytes_max,
            stats: PublisherStats::default(),
        })
    }

    /// The session name.
    pub fn session(&self) -> Session {
        self.session
    }

    /// Sequence number the next message will get.
    pub fn next_sequence(&self) -> u64 {
        self.store.end_sequence()
    }

    /// The retransmission store (for [`super::MoldRequestServer::poll`]).
    pub fn store(&self) -> &RetransmitStore {
        &self.store
    }

    /// Counters.
    pub fn stats(&self) -> &PublisherStats {
        &self.stats
    }

    /// Messages waiting in the current packet.
    pub fn pending_message_count(&self) -> u16 {
        self.builder.message_count()
    }

    /// Add a message to the current packet, sending the packet first if the
    /// message would not fit.
    pub fn push(&mut self, message: &ItchMessage) {
        self.scratch.clear();
        encode_message(message, &mut self.scratch);
        let full = self.builder.bytes().len() + 2 + self.scratch.len() > self.payload_bytes_max;
        if full && self.builder.message_count() > 0 {
            self.flush();
        }
        let pushed = self.builder.push_raw(&self.scratch);
        debug_assert!(pushed, "an ITCH message always fits an empty packet");
        self.store.push(&self.scratch);
    }

    /// Send the current packet, if it holds messages.
    pub fn flush(&mut self) {
        self.finish_packet(Fate::Send);
    }

    /// Lose the current packet on purpose: its messages stay in the store
    /// (so a request recovers them) but nothing is sent.
    pub fn flush_dropped(&mut self) {
        self.finish_packet(Fate::Drop);
    }

    /// Send a heartbeat carrying the next sequence number (lets receivers
    /// see a loss at the tail of the stream). Flushes pending messages first.
    pub fn send_heartbeat(&mut self) {
        self.flush();
        let packet = MoldPacketBuilder::heartbeat(self.session, self.next_sequence());
        send_counted(&self.socket, self.destination, &packet, &mut self.stats);
        self.stats.heartbeats_sent += 1;
    }

    fn finish_packet(&mut self, fate: Fate) {
        if self.builder.message_count() == 0 {
            return;
        }
        match fate {
            Fate::Send => {
                send_counted(
                    &self.socket,
                    self.destination,
                    self.builder.bytes(),
                    &mut self.stats,
                );
                self.stats.packets_sent += 1;
            }
            Fate::Drop => self.stats.packets_dropped += 1,
        }
        self.builder.reset(self.session, self.store.end_sequence());
    }
}

/// Send one datagram; a refusal is counted, never returned (see module docs).
fn send_counted(socket: &UdpSocket, to: SocketAddr, packet: &[u8], stats: &mut PublisherStats) {
    if socket.send_to(packet, to).is_err() {
        stats.send_errors += 1;
    }
}
