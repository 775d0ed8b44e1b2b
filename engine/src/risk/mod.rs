//! Risk: the portfolio stage that runs before strategy, and the pre-trade
//! checks that every order intent passes.
//!
//! - [`RiskStage`] keeps positions and PnL from fills, marks from market data,
//!   and trips the stop-loss, daily-loss limit and circuit breaker; it obeys
//!   the kill switch. It writes the resulting gates into every event: the
//!   envelope strategy must trade inside.
//! - [`PreTrade`] checks each intent the moment a strategy makes it (max
//!   quantity and notional, price band, position limits counting open orders,
//!   max open orders, rate throttle, and the gates), so a strategy learns of a
//!   refusal synchronously and the verdict is journaled with the intent.

pub mod breaker;
pub mod portfolio;
pub mod pretrade;
pub mod stage;
pub mod throttle;

pub use breaker::CircuitBreaker;
pub use portfolio::Position;
pub use pretrade::{InstrumentRules, PreTrade};
pub use stage::{RiskCounters, RiskStage};
pub use throttle::Throttle;
