//! When and how each instrument's depth snapshot is fetched: over REST on
//! the [`SnapshotFetcher`] thread (the documented way, the default), or
//! with the WebSocket-API `depth` request on the stream socket (an option,
//! for servers that answer it).
//!
//! Owning thread: the ingest thread; one slot per instrument.
//!
//! Per instrument: a snapshot is *needed* when its [`DepthSync`] asks
//! (start, gap, too old, bad body). It is *requested* once the connection
//! is open, no request is in flight, the retry backoff has passed, and
//! either a diff is buffered (guide step 2, then 3) or `diff_wait_ns` has
//! passed without one (a quiet symbol). A request in flight is abandoned
//! after its deadline (a late answer is dropped by ticket). A failed fetch
//! (timeout, HTTP status, Binance error, TLS, …) or a snapshot that did not
//! sync waits out a jittered exponential backoff (at least the server's
//! `Retry-After`); a synced book resets it. Every outcome is counted.
//!
//! Allocation: requests carry body buffers from a small pool and answers
//! bring them back, so a warm cycle does not allocate on this thread; the
//! WebSocket-API request text is written into a reused `String`.

use super::backoff::JitteredBackoff;
use super::snapshot_fetcher::{FetchFailure, SnapshotAnswer, SnapshotFetcher, SnapshotRequest};
use super::ws_client::WsClient;
use crate::binance::{DepthSync, Symbol, SyncOutcome};
use std::fmt::Write as _;

/// Where snapshots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotSource {
    /// `GET {base_url}/api/v3/depth?symbol=…&limit=…` on a helper thread
    /// (e.g. `https://api.binance.com`; for the simulator
    /// [`super::StreamUrl::rest_base_url`]).
    Rest {
        /// `http://…` or `https://…`.
        base_url: String,
    },
    /// The WebSocket-API `depth` request on the stream socket.
    WebSocketApi,
}

/// Counters of snapshot fetching (in [`super::BinanceFeedStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Requests made (REST queued or WebSocket-API sent).
    pub requested: u64,
    /// Snapshots handed to the book.
    pub received: u64,
    /// Fetches that failed, all causes (the fields below break them down).
    pub failed: u64,
    /// Requests unanswered by their deadline, or REST timeouts.
    pub timeouts: u64,
    /// HTTP statuses other than 200 (REST) or error statuses (WebSocket API).
    pub http_errors: u64,
    /// Of those, answers carrying Binance's `{"code":…,"msg":…}`.
    pub binance_errors: u64,
    /// Of those, 429 (rate limit) and 418 (IP ban).
    pub rate_limited: u64,
    /// REST connections that could not be made.
    pub connect_failures: u64,
    /// REST TLS failures.
    pub tls_failures: u64,
    /// REST bodies over the size limit.
    pub bodies_too_large: u64,
    /// Other REST transport errors.
    pub transport_errors: u64,
    /// Answers to requests already given up on (dropped).
    pub answers_stale: u64,
    /// Requests the full REST queue refused (retried next poll).
    pub queue_full: u64,
}

/// One instrument's fetch state.
#[derive(Debug)]
struct Slot {
    symbol: Symbol,
    needed: bool,
    needed_since_ns: u64,
    /// (ticket, deadline) of the request in flight.
    in_flight: Option<(u64, u64)>,
    retry_at_ns: u64,
    backoff: JitteredBackoff,
}

#[derive(Debug)]
enum Transport {
    Rest {
        fetcher: SnapshotFetcher,
        bodies: Vec<Vec<u8>>,
    },
    WebSocketApi {
        text: String,
    },
}

/// Timing knobs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SnapshotTiming {
    /// Levels asked for.
    pub limit: u32,
    /// Give up on a request in flight after this long.
    pub in_flight_timeout_ns: u64,
    /// Ask even with no diff buffered after this long.
    pub diff_wait_ns: u64,
    /// Backoff after a failure: first and longest delay.
    pub backoff_initial_ns: u64,
    pub backoff_max_ns: u64,
    /// Jitter seed (each instrument gets its own sequence).
    pub seed: u64,
}

/// Snapshot fetching for every instrument of a feed.
#[derive(Debug)]
pub(crate) struct Snapshots {
    transport: Transport,
    slots: Vec<Slot>,
    timing: SnapshotTiming,
    ticket_next: u64,
    last_error: Option<String>,
    pub(crate) stats: SnapshotStats,
}

/// A processed snapshot, for the feed's `MarketUpdate::Snapshot`.
pub(crate) struct Applied {
    pub index: usize,
    pub outcome: SyncOutcome,
}

impl Snapshots {
    /// REST through `fetcher` (with `bodies` buffers of `body_capacity`
    /// bytes pooled), or the WebSocket API when `fetcher` is `None`.
    pub(crate) fn new(
        fetcher: Option<SnapshotFetcher>,
        symbols: &[Symbol],
        timing: SnapshotTiming,
        body_capacity: usize,
    ) -> Snapshots {
        let transport = match fetcher {
            Some(fetcher) => Transport::Rest {
                fetcher,
                bodies: (0..symbols.len() + 1)
                    .map(|_| Vec::with_capacity(body_capacity))
                    .collect(),
            },
            None => Transport::WebSocketApi {
                text: String::with_capacity(128),
            },
        };
        let slots = symbols
            .iter()
            .enumerate()
            .map(|(index, &symbol)| Slot {
                symbol,
                needed: false,
                needed_since_ns: 0,
                in_flight: None,
                retry_at_ns: 0,
                backoff: JitteredBackoff::new(
                    timing.backoff_initial_ns,
                    timing.backoff_max_ns,
                    timing.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
            })
            .collect();
        Snapshots {
            transport,
            slots,
            timing,
            ticket_next: 1,
            last_error: None,
            stats: SnapshotStats::default(),
        }
    }

    /// Whether snapshots come over REST.
    pub(crate) fn is_rest(&self) -> bool {
        matches!(self.transport, Transport::Rest { .. })
    }

    /// The last failure's description (REST), for the log.
    pub(crate) fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// A new connection: forget requests in flight (their answers will be
    /// stale) and start each instrument's backoff afresh.
    pub(crate) fn restart(&mut self) {
        for slot in &mut self.slots {
            slot.needed = false;
            slot.in_flight = None;
            slot.retry_at_ns = 0;
            slot.backoff.reset();
        }
    }

    /// Request every snapshot that is due (see the module docs).
    pub(crate) fn schedule(
        &mut self,
        now_ns: u64,
        syncs: &mut [impl AsMut<DepthSync>],
        client: &mut WsClient,
    ) {
        for (index, sync) in syncs.iter_mut().enumerate() {
            let sync = sync.as_mut();
            let slot = &mut self.slots[index];
            if sync.take_snapshot_request() && !slot.needed {
                slot.needed = true;
                slot.needed_since_ns = now_ns;
            }
            if let Some((_, deadline_ns)) = slot.in_flight {
                if now_ns < deadline_ns {
                    continue;
                }
                self.stats.timeouts += 1;
                self.stats.failed += 1;
                slot.in_flight = None;
                slot.retry_at_ns = now_ns.saturating_add(slot.backoff.next_delay_ns());
            }
            let diff_seen = sync.diffs_buffered_now() > 0
                || now_ns.saturating_sub(slot.needed_since_ns) >= self.timing.diff_wait_ns;
            if slot.needed && diff_seen && now_ns >= slot.retry_at_ns && client.is_open() {
                self.request(index, now_ns, client);
            }
        }
    }

    fn request(&mut self, index: usize, now_ns: u64, client: &mut WsClient) {
        let ticket = self.ticket_next;
        let slot = &mut self.slots[index];
        let sent = match &mut self.transport {
            Transport::Rest { fetcher, bodies } => {
                let request = SnapshotRequest {
                    instrument: index,
                    ticket,
                    symbol: slot.symbol,
                    limit: self.timing.limit,
                    body: bodies.pop().unwrap_or_default(),
                };
                match fetcher.try_request(request) {
                    Ok(()) => true,
                    Err(request) => {
                        bodies.push(request.body);
                        self.stats.queue_full += 1;
                        false
                    }
                }
            }
            Transport::WebSocketApi { text } => {
                text.clear();
                let symbol = std::str::from_utf8(slot.symbol.as_bytes()).unwrap_or("");
                let _ = write!(
                    text,
                    r#"{{"id":{ticket},"method":"depth","params":{{"symbol":"{symbol}","limit":{}}}}}"#,
                    self.timing.limit
                );
                client.send_text(text)
            }
        };
        if sent {
            self.ticket_next += 1;
            slot.needed = false;
            slot.in_flight = Some((
                ticket,
                now_ns.saturating_add(self.timing.in_flight_timeout_ns),
            ));
            self.stats.requested += 1;
        }
    }

    /// Process every REST answer that is ready.
    pub(crate) fn poll_answers(
        &mut self,
        now_ns: u64,
        syncs: &mut [impl AsMut<DepthSync>],
        mut on_applied: impl FnMut(Applied),
    ) {
        loop {
            let Transport::Rest { fetcher, .. } = &self.transport else {
                return;
            };
            let Some(answer) = fetcher.try_answer() else {
                return;
            };
            if let Some(applied) = self.on_rest_answer(answer, now_ns, syncs) {
                on_applied(applied);
            }
        }
    }

    fn on_rest_answer(
        &mut self,
        mut answer: SnapshotAnswer,
        now_ns: u64,
        syncs: &mut [impl AsMut<DepthSync>],
    ) -> Option<Applied> {
        let index = answer.instrument;
        let current = self.slots.get(index).is_some_and(|slot| {
            slot.in_flight
                .is_some_and(|(ticket, _)| ticket == answer.ticket)
        });
        let applied = if !current {
            self.stats.answers_stale += 1;
            None
        } else if let Err(failure) = answer.result {
            self.count_failure(failure);
            self.last_error = Some(std::mem::take(&mut answer.detail));
            self.fail(index, now_ns, answer.retry_after_ns.unwrap_or(0));
            None
        } else {
            self.slots[index].in_flight = None;
            Some(self.apply(index, &answer.body, now_ns, syncs))
        };
        if let Transport::Rest { bodies, .. } = &mut self.transport {
            bodies.push(std::mem::take(&mut answer.body));
        }
        applied
    }

    /// A WebSocket-API answer `{"id":N,"status":…,"result":…}`: `Some` if
    /// `id` is a request in flight (then it is handled), `None` otherwise.
    pub(crate) fn on_ws_answer(
        &mut self,
        id: u64,
        status_ok: bool,
        result: Option<&[u8]>,
        now_ns: u64,
        syncs: &mut [impl AsMut<DepthSync>],
    ) -> Option<Option<Applied>> {
        let index = self
            .slots
            .iter()
            .position(|slot| slot.in_flight.is_some_and(|(ticket, _)| ticket == id))?;
        self.slots[index].in_flight = None;
        match result.filter(|_| status_ok) {
            Some(body) => Some(Some(self.apply(index, body, now_ns, syncs))),
            None => {
                self.stats.failed += 1;
                self.stats.http_errors += 1;
                self.fail(index, now_ns, 0);
                Some(None)
            }
        }
    }

    fn apply(
        &mut self,
        index: usize,
        body: &[u8],
        now_ns: u64,
        syncs: &mut [impl AsMut<DepthSync>],
    ) -> Applied {
        self.stats.received += 1;
        let outcome = syncs[index].as_mut().on_snapshot_bytes(body);
        let slot = &mut self.slots[index];
        if outcome == SyncOutcome::Synced {
            slot.backoff.reset();
            slot.retry_at_ns = 0;
        } else {
            // Too old, unparseable or crossed: the book asks again; wait first.
            slot.retry_at_ns = now_ns.saturating_add(slot.backoff.next_delay_ns());
        }
        Applied { index, outcome }
    }

    fn fail(&mut self, index: usize, now_ns: u64, retry_after_ns: u64) {
        let slot = &mut self.slots[index];
        slot.in_flight = None;
        slot.needed = true;
        let delay_ns = slot.backoff.next_delay_ns().max(retry_after_ns);
        slot.retry_at_ns = now_ns.saturating_add(delay_ns);
    }

    fn count_failure(&mut self, failure: FetchFailure) {
        let stats = &mut self.stats;
        stats.failed += 1;
        match failure {
            FetchFailure::Timeout => stats.timeouts += 1,
            FetchFailure::Connect => stats.connect_failures += 1,
            FetchFailure::Tls => stats.tls_failures += 1,
            FetchFailure::BodyTooLarge => stats.bodies_too_large += 1,
            FetchFailure::Transport => stats.transport_errors += 1,
            FetchFailure::Status { status, code } => {
                stats.http_errors += 1;
                stats.binance_errors += u64::from(code.is_some());
                stats.rate_limited += u64::from(status == 429 || status == 418);
            }
        }
    }
}
