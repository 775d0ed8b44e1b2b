//! Tape reader throughput (filled in below).
fn main() {}
