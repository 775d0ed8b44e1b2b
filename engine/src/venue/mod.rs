//! Venues over sockets: the FIX 4.4 client the engine trades through, and the
//! simulated venue of the built-in default (`sim`): an exchange with
//! price-time matching (`exchange`) that takes orders over FIX (`fix_sim`)
//! and publishes its books as ITCH over UDP (`itch_sim`) and as
//! Binance-compatible WebSocket streams (`ws_sim`).
//!
//! The FIX session belongs to ingest's thread (it polls the socket: acks and
//! fills arrive in the venue lane). Execution hands requests over through a
//! bounded lock-free queue ([`QueueGateway`]) that the session drains on
//! every poll, so one thread owns every sequence number. In a fused plan the
//! hop costs nothing; in a pipelined one it is one cache-line transfer.

pub mod cl_ord_id;
pub mod exchange;
pub mod fix_client;
pub mod fix_sim;
pub mod floor;
pub mod itch_sim;
pub mod market_view;
pub mod sim;
pub mod ws_sim;

use crate::execution::gateway::{Gateway, OrderRequest, SendError};
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// Execution's end of a venue connection owned by another thread.
pub struct QueueGateway {
    queue: Arc<ArrayQueue<OrderRequest>>,
}

impl QueueGateway {
    /// The gateway and the queue its reader drains.
    pub fn new(capacity: usize) -> (QueueGateway, Arc<ArrayQueue<OrderRequest>>) {
        let queue = Arc::new(ArrayQueue::new(capacity));
        (
            QueueGateway {
                queue: Arc::clone(&queue),
            },
            queue,
        )
    }
}

impl Gateway for QueueGateway {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        self.queue
            .push(*request)
            .map_err(|_| SendError::Backpressure)
    }
}
