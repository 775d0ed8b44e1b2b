//! The engine's FIX 4.4 initiator, polled by ingest as its venue lane.
//!
//! On each poll it (re)connects with backoff, reads the socket into the
//! session (acks, fills and rejects become engine events in a preallocated
//! outbox), runs the session's timers (heartbeats, test requests), sends the
//! requests execution queued, and writes what the session has to send
//! without blocking: a partial write stays in the session's buffer.
//!
//! Requests queued while the session is not logged on wait in a bounded
//! list; if it fills, the oldest request is answered with a local reject
//! (venue reason `VENUE_REJECT_NOT_CONNECTED`) so neither strategy nor
//! execution waits forever on an order that never left. A new order or
//! replace that waited longer than `venue.fix.pending_age_max_ms` is
//! rejected the same way when the session comes up, rather than sent on
//! market data that old; cancels always go.
//!
//! Owning thread: ingest's. Invariants, asserted: one connection at a
//! time; logged on only while connected; the pending list and the outbox
//! never outgrow their bounds.

pub mod cl_ord_id;
mod inbox;
mod requests;

use crate::clock::EpochClock;
use crate::config::{Config, FixVenueConfig};
use crate::event::Event;
use crate::execution::gateway::OrderRequest;
use crate::ingest::source::Source;
use crate::recent::RecentMap;
use crossbeam_queue::ArrayQueue;
use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::seq_store::SeqStore;
use genesis_io::fix::session::{Session, SessionConfig, SessionState};
use genesis_io::fix::InstrumentScale;
use inbox::{Inbox, Versions, VERSIONS_CAPACITY};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Reason code of a reject the client makes itself for a request it could not send.
pub const VENUE_REJECT_NOT_CONNECTED: i64 = -1;
/// Requests that wait for the session; the oldest is rejected locally past it.
const PENDING_MAX: usize = 4_096;
/// Venue events that wait for ingest to take them.
const OUTBOX_MAX: usize = 8_192;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixClientCounters {
    pub connects: u64,
    pub disconnects: u64,
    pub logons: u64,
    pub requests_sent: u64,
    pub rejected_not_connected: u64,
    /// New orders and replaces that waited too long for the session (also in `rejected_not_connected`).
    pub requests_expired: u64,
    pub reports_unparsed: u64,
    pub reports_ignored: u64,
}

pub struct FixClient {
    address: SocketAddr,
    session: Session,
    stream: Option<TcpStream>,
    backoff: Backoff,
    reconnect_at_ns: u64,
    requests: Arc<ArrayQueue<OrderRequest>>,
    /// Requests waiting for the session, with when they were queued.
    pending: VecDeque<(OrderRequest, u64)>,
    pending_age_max_ns: u64,
    outbox: VecDeque<Event>,
    scales: Vec<InstrumentScale>,
    symbols: Vec<String>,
    /// Replace count per order, for the ClOrdID of its next version.
    /// ClOrdID versions of orders that were replaced, until they close.
    versions: FxHashMap<u64, Versions>,
    /// Instrument of each recent order, for reports that carry no symbol.
    instruments: RecentMap<u16>,
    cancels_sent: u64,
    logged_on: bool,
    pub counters: FixClientCounters,
}

impl FixClient {
    /// A client for `settings` at `address`, draining `requests`.
    pub fn new(
        config: &Config,
        settings: &FixVenueConfig,
        address: SocketAddr,
        requests: Arc<ArrayQueue<OrderRequest>>,
    ) -> Result<FixClient, genesis_io::fix::FixError> {
        let mut session_config =
            SessionConfig::initiator(&settings.sender_comp_id, &settings.target_comp_id);
        session_config.heartbeat_interval_s = settings.heartbeat_s;
        let store = (!settings.seq_file.as_os_str().is_empty()).then(|| {
            if let Some(parent) = settings.seq_file.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            SeqStore::new(&settings.seq_file)
        });
        let scales = config
            .instruments
            .iter()
            .map(|i| InstrumentScale::new(&i.tick_size, &i.lot_size))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FixClient {
            address,
            session: Session::new(session_config, store)?,
            stream: None,
            backoff: Backoff::new(
                settings.reconnect_min_ms * 1_000_000,
                settings.reconnect_max_ms * 1_000_000,
            ),
            reconnect_at_ns: 0,
            requests,
            pending: VecDeque::with_capacity(PENDING_MAX),
            pending_age_max_ns: settings.pending_age_max_ms * 1_000_000,
            outbox: VecDeque::with_capacity(OUTBOX_MAX),
            scales,
            symbols: config
                .instruments
                .iter()
                .map(|i| i.symbol.clone())
                .collect(),
            versions: {
                // Only open orders that were replaced are here, and risk caps
                // open orders; this room is never outgrown in practice.
                let mut versions = FxHashMap::default();
                versions.reserve(VERSIONS_CAPACITY);
                versions
            },
            instruments: RecentMap::with_capacity(1 << 16),
            cancels_sent: 0,
            logged_on: false,
            counters: FixClientCounters::default(),
        })
    }

    fn inbox(&mut self) -> (&mut Session, Inbox<'_>) {
        (
            &mut self.session,
            Inbox {
                outbox: &mut self.outbox,
                versions: &mut self.versions,
                instruments: &self.instruments,
                scales: &self.scales,
                symbols: &self.symbols,
                counters: &mut self.counters,
                logged_on: &mut self.logged_on,
            },
        )
    }

    fn connect(&mut self, now_ns: u64) {
        assert!(self.stream.is_none(), "one connection at a time");
        if now_ns < self.reconnect_at_ns {
            return;
        }
        match TcpStream::connect_timeout(&self.address, Duration::from_millis(50)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                if stream.set_nonblocking(true).is_err() {
                    return;
                }
                self.counters.connects += 1;
                self.stream = Some(stream);
                self.logged_on = false;
                let (session, mut inbox) = self.inbox();
                session.on_connected(now_ns, &mut inbox);
            }
            Err(err) => {
                self.reconnect_at_ns = now_ns + self.backoff.next_delay_ns();
                tracing::debug!(%err, address = %self.address, "FIX connect failed; backing off");
            }
        }
    }

    fn disconnect(&mut self, now_ns: u64) {
        debug_assert!(self.stream.is_none(), "the stream was taken by pump");
        self.stream = None;
        self.logged_on = false;
        self.counters.disconnects += 1;
        if let Err(err) = self.session.on_disconnected() {
            tracing::error!(%err, "saving FIX sequence numbers failed");
        }
        self.reconnect_at_ns = now_ns + self.backoff.next_delay_ns();
    }

    /// Reads what the socket has, runs timers, sends queued requests, writes output.
    fn pump(&mut self, now_ns: u64) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let mut alive = true;
        loop {
            match stream.read(self.session.recv_buffer()) {
                Ok(0) => {
                    alive = false;
                    break;
                }
                Ok(count) => {
                    let (session, mut inbox) = self.inbox();
                    session.on_received(count, now_ns, &mut inbox);
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    alive = false;
                    break;
                }
            }
        }
        {
            let (session, mut inbox) = self.inbox();
            session.poll_timers(now_ns, &mut inbox);
        }
        if self.session.state() == SessionState::Active {
            self.backoff.reset();
        }
        self.send_requests(now_ns);
        while alive && !self.session.pending_output().is_empty() {
            match stream.write(self.session.pending_output()) {
                Ok(0) => alive = false,
                Ok(written) => self.session.consume_output(written),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => alive = false,
            }
        }
        if !alive || self.session.disconnect_reason().is_some() {
            self.disconnect(now_ns);
        } else {
            self.stream = Some(stream);
        }
    }

    /// Logs out (at shutdown) and saves sequence numbers.
    pub fn logout(&mut self, now_ns: u64) {
        let (session, mut inbox) = self.inbox();
        session.logout(b"genesis stopping", now_ns, &mut inbox);
        if let Some(stream) = &mut self.stream {
            let _ = stream.write_all(self.session.pending_output());
        }
        let _ = self.session.on_disconnected();
    }
}

impl Source for FixClient {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        let now_ns = clock.now_ns();
        if self.stream.is_none() {
            self.connect(now_ns);
        }
        self.pump(now_ns);
        debug_assert!(
            self.stream.is_some() || !self.logged_on,
            "logged on only while connected"
        );
        debug_assert!(self.outbox.len() <= OUTBOX_MAX, "the outbox is bounded");
        let mut emitted = 0;
        while emitted < budget {
            let Some(mut event) = self.outbox.pop_front() else {
                break;
            };
            event.ts_recv_ns = clock.now_ns();
            emit(event);
            emitted += 1;
        }
        emitted
    }
}

impl Drop for FixClient {
    fn drop(&mut self) {
        if self.stream.is_some() {
            self.logout(crate::clock::EpochClock::new().now_ns());
        }
    }
}
