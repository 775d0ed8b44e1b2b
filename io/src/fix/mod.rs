//! FIX 4.4 for Genesis: codec, stream framer, and initiator/acceptor sessions.
//!
//! Owning thread: each [`session::Session`] (with its framer, field table
//! and encoder) belongs to exactly one thread, the one that polls its
//! socket; nothing here is shared between threads.
//!
//! Layers, bottom up:
//! - [`tags`], [`decimal`], [`time`]: tag numbers, exact ticks/lots text, UTC timestamps.
//! - [`decode`], [`encode`], [`framer`]: zero-copy decode into a fixed field
//!   table, encode into a reusable buffer, message boundaries in a byte stream.
//! - [`order`], [`exec_report`], [`exec_dedup`]: typed order-entry messages
//!   and fill dedup on OrderID + ExecID.
//! - [`status`], [`reconcile`]: OrderStatusRequest / OrderMassStatusRequest,
//!   their ExecType=I answers, and the initiator's reconciliation round.
//! - [`reject`], [`sent_log`]: Reject and BusinessMessageReject of our
//!   requests, mapped back to the ClOrdID they reject; [`reasons`]: the
//!   OrdRejReason/CxlRejReason codes engine and simulator share.
//! - [`seq_store`], [`out_buffer`], [`outbox`], [`session`]: the sans-IO session state
//!   machine (bytes in, bytes out, caller-supplied time), with the sequence
//!   store's locked reset (the remedy for "MsgSeqNum too low").
//! - [`tcp`], [`backoff`]: a thin non-blocking TCP driver for tests and tools.
//!
//! Invariants: decoding and encoding never allocate after construction and
//! never panic on any input; prices and quantities are exact integers.

pub mod backoff;
pub mod decimal;
pub mod decode;
mod digits;
pub mod encode;
pub mod error;
pub mod exec_dedup;
pub mod exec_report;
pub mod framer;
pub mod order;
pub mod out_buffer;
pub mod outbox;
pub mod reasons;
pub mod reconcile;
pub mod reject;
pub mod sent_log;
pub mod seq_store;
pub mod session;
pub mod status;
#[allow(unsafe_code)]
mod sys;
pub mod tags;
pub mod tcp;
pub mod time;

pub use decimal::{InstrumentScale, Lots, Step, Ticks};
pub use decode::{FieldTable, Message};
pub use encode::Encoder;
pub use error::{DecodeError, FixError, SendError, ValueError};
pub use framer::{Frame, Framer};
pub use tags::MsgType;
