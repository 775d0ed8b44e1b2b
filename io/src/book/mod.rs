//! Work in progress: see the crate header.
