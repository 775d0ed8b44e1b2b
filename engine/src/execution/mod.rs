//! Execution: the authoritative order state machine, mass cancels on gate
//! changes, sending accepted intents to the venue through a [`Gateway`], and
//! reconciling the order table with the venue's answers after each logon.

pub mod gateway;
pub mod stage;

pub use gateway::{Gateway, NullGateway, OrderRequest, RecordingGateway, RequestKind, SendError};
pub use stage::{ExecutionCounters, ExecutionStage, ReconcileCounters};
