//! Genesis engine: the event model, the five stages (ingest → risk →
//! strategy → execution → journal), the order table they share, the
//! topology that runs them fused or pipelined per the core plan,
//! configuration, telemetry, the adapters to real venues and feeds, and a
//! run with its report. What runs beside the engine (a simulated venue, a
//! database follower) is its caller's, reached through `run::RunHooks`,
//! `ingest::Tapped` and `telemetry::Gauges`; the engine names no simulator
//! or drain type. `docs/architecture.md` walks the modules.
//!
//! Stage logic (risk, strategy, execution, journal encoding) reads no clock
//! and no random source: every decision is a function of the event stream,
//! which is what lets fused and pipelined plans, and replay, agree byte for
//! byte. Thread wrappers and ingest's sources read the clock.

pub mod adapters;
pub mod clock;
pub mod config;
pub mod decision;
pub mod event;
pub mod execution;
pub mod ingest;
pub mod journal_stage;
pub mod orders;
pub mod recent;
pub mod replay;
pub mod risk;
pub mod run;
pub mod snapshot;
pub mod state_codec;
pub mod strategy;
pub mod sys;
pub mod telemetry;
#[doc(hidden)]
pub mod testing;
pub mod topology;
pub mod units;

pub use config::Config;
pub use decision::{Action, ExecResult, Gate, Intent, Outcome, RejectReason, MAX_INTENTS};
pub use event::{Event, EventKind, Input, EVENT_BYTES};
pub use units::{ExecId, InstrumentId, Nanos, OrderId, Price, Qty, Side};
