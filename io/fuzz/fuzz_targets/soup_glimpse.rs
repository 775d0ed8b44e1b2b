//! A SoupBinTCP byte stream into the GLIMPSE client side: packet and End of
//! Snapshot decoders, the framer in two pieces, a recovery loading the
//! snapshot (the driver is shared with `io/tests/md_soup_fuzz.rs`).
#![no_main]

#[path = "../../tests/support/glimpse_stream.rs"]
mod glimpse_stream;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let split = bytes.first().map_or(0, |b| usize::from(*b));
    let _ = glimpse_stream::drive_glimpse_stream(bytes, split);
});
