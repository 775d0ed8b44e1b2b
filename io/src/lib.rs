//! Genesis I/O: sockets and wire protocols, reusable outside the engine.
//!
//! This crate knows nothing about trading events; it will hold the mio
//! busy-poll reactor, the ITCH/MoldUDP64 and WebSocket market-data feeds,
//! the FIX 4.4 session and codec, and the socket side of the venue
//! simulator (the market-data and FIX issues). Until those land, the
//! engine's synthetic feed and simulated venue run in-process inside
//! `genesis_engine::ingest`, and this crate is empty on purpose.
