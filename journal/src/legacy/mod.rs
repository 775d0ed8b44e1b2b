//! The version-1 single-file journal: one file per run, a 32-byte header,
//! then frames exactly as in version 2. Behind the `drain-folder-feed`
//! feature, because its one reader is the drain's folder feed (journals
//! written before the engine moved to the segmented [`crate::Writer`]);
//! [`FileWriter`] remains for that feed's tests.
//!
//! [`FileWriter`] is owned by the thread that appends; [`FileReader`] reads
//! one file front to back.

pub mod header;
pub mod reader;
pub mod writer;
