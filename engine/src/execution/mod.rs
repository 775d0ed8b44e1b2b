//! Execution: the authoritative order state machine, mass cancels on gate
//! changes, and sending accepted intents to the venue through a [`Gateway`].

pub mod gateway;
pub mod stage;

pub use gateway::{Gateway, NullGateway, OrderRequest, RecordingGateway, RequestKind, SendError};
pub use stage::{ExecutionCounters, ExecutionStage};
