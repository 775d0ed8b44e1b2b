//! Arbitrary bytes into the SoupBinTCP and GLIMPSE decoders and a snapshot
//! session built on them: nothing panics. Inputs are random and mutations
//! (byte flips, truncations) of a valid snapshot stream, so the deeper
//! branches (login, sequenced ITCH messages, End of Snapshot) are reached.
//! The same driver is the `soup_glimpse` cargo-fuzz target.

#[path = "support/glimpse_stream.rs"]
mod glimpse_stream;

use genesis_io::itch::glimpse::write_snapshot;
use genesis_io::itch::{
    BuySell, ItchInstrument, Price4, Session, SnapshotOrder, SoupPacket, StockSymbol,
};
use glimpse_stream::drive_glimpse_stream;
use proptest::prelude::*;

/// Login Accepted and a snapshot of two orders, to mutate.
fn valid_stream() -> Vec<u8> {
    let mut out = Vec::new();
    SoupPacket::LoginAccepted {
        session: Session(*b"FUZZSESS01"),
        sequence_number: 1,
    }
    .encode(&mut out);
    let instruments = [ItchInstrument {
        stock_locate: 1,
        stock: StockSymbol::from_str_padded("X").unwrap(),
        price4_per_tick: 100,
    }];
    let orders = |_: usize, f: &mut dyn FnMut(SnapshotOrder)| {
        for (order_ref, side) in [(1, BuySell::Buy), (2, BuySell::Sell)] {
            f(SnapshotOrder {
                order_ref,
                side,
                shares: 10,
                price: Price4(10_000 + order_ref as u32 * 100),
            });
        }
    };
    write_snapshot(&mut out, &instruments, &orders, 42, 1);
    // The driver starts after the login, as the client does.
    out.split_off(33)
}

proptest! {
    // Random bytes, split anywhere.
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), split in 0usize..600) {
        let _ = drive_glimpse_stream(&bytes, split);
    }

    // A valid stream with bytes flipped and the tail cut off.
    #[test]
    fn mutated_stream(
        flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..8),
        cut in 0usize..400,
        split in 0usize..400,
    ) {
        let mut bytes = valid_stream();
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        let _ = drive_glimpse_stream(&bytes, split);
    }
}

// The unmutated stream reaches End of Snapshot (the driver's happy path).
#[test]
fn valid_stream_completes() {
    assert!(drive_glimpse_stream(&valid_stream(), 17));
}
