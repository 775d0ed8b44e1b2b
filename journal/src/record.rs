//! A record as readers hand it out: its sequence number and a borrowed payload.
//!
//! The payload borrows the reader's buffer, so reading never allocates per
//! record; copy it out (`to_vec`) to keep it past the next read.

/// One record read back.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Record<'a> {
    pub seq: u64,
    pub payload: &'a [u8],
}
