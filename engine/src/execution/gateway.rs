//! How orders leave the engine: the [`Gateway`] trait, one implementation per
//! venue protocol. `send` must not block; a gateway that cannot take a request
//! says so and execution records the failure in the journal.

use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    New,
    Cancel,
    Replace,
    /// Reconciliation: ask the venue about this order (FIX OrderStatusRequest).
    Status,
    /// Reconciliation: every order execution believes open was asked about.
    StatusListed,
    /// Reconciliation, back to the venue lane: execution adopted this order
    /// or took the venue's terms for it (price, total quantity); risk and
    /// strategy hear it as a flagged ack.
    ReconciledAck,
    /// Reconciliation: execution applied fill quantity the engine missed
    /// (`qty`); risk and strategy hear it as a flagged fill.
    ReconciledFill,
    /// Reconciliation: the venue holds the order no more; execution closed
    /// it; risk and strategy hear it as a flagged cancel ack.
    ReconciledClose,
    /// Reconciliation: everything the venue answered is applied; the gate may open.
    Reconciled,
}

impl RequestKind {
    /// A new order, cancel or replace: something the venue acts on.
    pub fn is_order_entry(self) -> bool {
        matches!(
            self,
            RequestKind::New | RequestKind::Cancel | RequestKind::Replace
        )
    }
}

/// One request to the venue, as execution hands it to a gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub kind: RequestKind,
    pub order_id: OrderId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    /// The venue time of the input that caused it (its receive time when the
    /// input has none): a venue subtracts it from its own receive time to
    /// measure tick-to-trade. FIX carries it as TransactTime(60).
    pub ts_trigger_ns: u64,
    /// When the request was made, on the engine's clock: execution sets the
    /// receive time (`ts_recv_ns`) of the event it decided on, and a gateway
    /// to another thread (`adapters::QueueGateway`) restamps it with the
    /// moment execution hands it over. A simulated venue adds its order
    /// latency to this; a venue session that cannot send it within
    /// `venue.fix.pending_age_max_ms` of this rejects it locally (0: not
    /// known, not aged).
    pub ts_decided_ns: u64,
    /// The sequence number of the event it was decided on (0: none): the
    /// venue session finds that event's receive and read stamps by it
    /// (`telemetry::tick_to_trade`).
    pub trigger_seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the venue connection cannot take more requests now")]
    Backpressure,
    #[error("the venue is disconnected")]
    Disconnected,
}

pub trait Gateway: Send {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError>;

    /// Called when the execution thread runs dry: push out anything buffered.
    fn flush(&mut self) {}
}

/// Keeps every request in a preallocated list: for tests and replay.
pub struct RecordingGateway {
    pub requests: Vec<OrderRequest>,
}

impl RecordingGateway {
    pub fn with_capacity(capacity: usize) -> RecordingGateway {
        RecordingGateway {
            requests: Vec::with_capacity(capacity),
        }
    }
}

impl Gateway for RecordingGateway {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        if self.requests.len() == self.requests.capacity() {
            return Err(SendError::Backpressure);
        }
        self.requests.push(*request);
        Ok(())
    }
}

/// Accepts and forgets every request: for benchmarks and replay.
pub struct NullGateway;

impl Gateway for NullGateway {
    fn send(&mut self, _request: &OrderRequest) -> Result<(), SendError> {
        Ok(())
    }
}
