//! Bytes into the FIX framer, decoder and typed parsers.
#![no_main]

use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::OrderRequest;
use genesis_io::fix::{FieldTable, Frame, Framer, InstrumentScale};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let mut table = FieldTable::new();
    if let Ok(message) = table.decode(bytes) {
        let _ = OrderRequest::parse(&message, &scale);
        let _ = OrderUpdate::parse(&message, &scale);
    }
    // Framed in two pieces, split in the middle.
    let mut framer = Framer::new(256);
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    for piece in [head, tail] {
        framer.push(piece);
        while let Some(frame) = framer.next_frame() {
            if let Frame::Message(range) = frame {
                let mut table = FieldTable::new();
                if let Ok(message) = table.decode(framer.bytes(range)) {
                    let _ = OrderRequest::parse(&message, &scale);
                    let _ = OrderUpdate::parse(&message, &scale);
                }
            }
        }
    }
});
