//! Work in progress: socket transports for the feeds (see the crate header).
