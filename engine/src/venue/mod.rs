//! The simulated venue of the built-in default (`sim`): an exchange with
//! price-time matching (`exchange`) that takes orders over FIX (`fix_sim`)
//! and publishes its books as ITCH over UDP (`itch_sim`) and as
//! Binance-compatible WebSocket streams (`ws_sim`).

pub mod exchange;
pub mod fix_sim;
pub mod floor;
pub mod itch_sim;
pub mod market_view;
pub mod sim;
pub mod ws_sim;
