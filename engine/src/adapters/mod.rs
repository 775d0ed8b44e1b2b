//! Adapters to real venues and feeds, each one of ingest's sources: the FIX
//! 4.4 client the engine trades through ([`fix`]), market data as ITCH 5.0
//! over MoldUDP64 ([`itch_source`]) and as Binance-compatible WebSocket
//! streams ([`binance_source`]), recorded tapes ([`tape_source`]), and the
//! paper venue that fills at the touch in-process ([`paper_venue`]).
//!
//! A venue session belongs to ingest's thread (it polls the socket: acks and
//! fills arrive in the venue lane). Execution hands requests over through a
//! bounded lock-free queue ([`QueueGateway`]) that the session drains on
//! every poll, so one thread owns every sequence number. In a fused plan the
//! hop costs nothing; in a pipelined one it is one cache-line transfer.

mod binance_health;
pub mod binance_source;
pub mod fix;
mod itch_health;
pub mod itch_source;
pub mod paper_venue;
pub mod tape_source;

use crate::clock::EpochClock;
use crate::execution::gateway::{Gateway, OrderRequest, SendError};
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// Execution's end of a venue connection owned by another thread. A live
/// venue session's gateway ([`QueueGateway::stamping`]) stamps each request
/// with the moment it was made (`ts_decided_ns`: now, when execution hands
/// it over), from which the session ages it; a backtest's keeps the time
/// of the event it was decided on.
pub struct QueueGateway {
    queue: Arc<ArrayQueue<OrderRequest>>,
    clock: Option<EpochClock>,
}

impl QueueGateway {
    /// The gateway and the queue its reader drains.
    pub fn new(capacity: usize) -> (QueueGateway, Arc<ArrayQueue<OrderRequest>>) {
        let queue = Arc::new(ArrayQueue::new(capacity));
        (
            QueueGateway {
                queue: Arc::clone(&queue),
                clock: None,
            },
            queue,
        )
    }

    /// The same, stamping each request with the wall-clock moment it is handed over.
    pub fn stamping(capacity: usize) -> (QueueGateway, Arc<ArrayQueue<OrderRequest>>) {
        let (mut gateway, queue) = QueueGateway::new(capacity);
        gateway.clock = Some(EpochClock::new());
        (gateway, queue)
    }
}

impl Gateway for QueueGateway {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        let made = OrderRequest {
            ts_decided_ns: self
                .clock
                .as_ref()
                .map_or(request.ts_decided_ns, EpochClock::now_ns),
            ..*request
        };
        self.queue.push(made).map_err(|_| SendError::Backpressure)
    }
}
