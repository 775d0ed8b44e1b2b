//! The version-1 single-file journal of the engine-core issue, kept so the
//! engine builds while it moves to the segmented [`crate::Writer`].
//!
//! One file per run, a 32-byte header, then frames exactly as in version 2.
//! [`FileWriter`] is owned by the journal stage's thread; [`FileReader`]
//! reads one file front to back. New code should use the segmented journal;
//! this module goes once nothing uses it.

pub mod header;
pub mod reader;
pub mod writer;
