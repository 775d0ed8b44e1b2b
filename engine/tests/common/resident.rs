//! The process's anonymous resident size, for tests that check memory is
//! resident from construction (each such test is its own binary, one test,
//! so nothing else allocates or frees while the size is read).

/// Anonymous resident bytes of this process (`RssAnon` of /proc/self/status).
pub fn anon_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("RssAnon in /proc/self/status");
    kib * 1024
}
