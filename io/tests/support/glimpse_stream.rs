//! Arbitrary bytes through the GLIMPSE client side, as a SoupBinTCP stream
//! would bring them (included with `#[path]` by the proptest in
//! `io/tests/md_soup_fuzz.rs` and by the `soup_glimpse` fuzz target): the
//! packet and End of Snapshot decoders, the framer fed in two pieces, and
//! every sequenced message into a recovery that is loading a snapshot.
//! The property is that nothing panics.
#![allow(dead_code)]

use genesis_io::itch::glimpse::parse_glimpse_message;
use genesis_io::itch::{
    ItchFeed, ItchFeedConfig, Recovery, RecoveryConfig, SoupFramer, SoupPacket, StockSymbol,
};

/// Feed `bytes`, split at `split`, into a snapshot session; `true` when
/// End of Snapshot was reached.
pub fn drive_glimpse_stream(bytes: &[u8], split: usize) -> bool {
    let _ = SoupPacket::parse(bytes);
    let _ = parse_glimpse_message(bytes);
    let mut feed = ItchFeed::new(ItchFeedConfig {
        symbols: vec![StockSymbol::from_str_padded("X").unwrap()],
        orders_max: 64,
        levels_max: 16,
        next_sequence: None,
        request_retry_ns: 1,
        request_count_max: 10,
    });
    let mut recovery = Recovery::new(
        RecoveryConfig {
            buffer_bytes_max: 4_096,
            buffer_datagrams_max: 8,
            ..RecoveryConfig::default()
        },
        true,
    );
    let _ = recovery.poll(&mut feed, 0);
    assert!(
        recovery.snapshot_due(0),
        "joining with no sequence wants a snapshot"
    );
    recovery.snapshot_started();
    recovery.snapshot_login_accepted(&mut feed);
    let mut framer = SoupFramer::with_capacity(256);
    let split = split.min(bytes.len());
    for piece in [&bytes[..split], &bytes[split..]] {
        for chunk in piece.chunks(64) {
            let spare = framer.spare_mut();
            let count = chunk.len().min(spare.len());
            spare[..count].copy_from_slice(&chunk[..count]);
            framer.commit(count);
            while let Some(frame) = framer.next_frame() {
                let Ok(packet) = frame.and_then(SoupPacket::parse) else {
                    return false;
                };
                let SoupPacket::SequencedData { message } = packet else {
                    continue;
                };
                match recovery.snapshot_message(&mut feed, message, 0, &mut |_, _, _| {}) {
                    Ok(false) => {}
                    Ok(done) => return done,
                    Err(_) => return false,
                }
            }
        }
    }
    false
}
