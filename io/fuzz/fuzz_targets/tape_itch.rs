//! Bytes as an ITCH 5.0 tape file (plain, or gzip when they start with its
//! magic) through the streaming reader, to the end or the first error.
#![no_main]

use genesis_io::tape::ItchFileReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(reader) = ItchFileReader::new("fuzz.itch", bytes) else {
        return;
    };
    for record in reader {
        if record.is_err() {
            break;
        }
    }
});
