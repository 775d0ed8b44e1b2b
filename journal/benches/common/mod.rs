//! What the journal's benches share: the calling thread's CPU time.
#![allow(unsafe_code)]

use std::time::Duration;

/// CPU time consumed so far by the calling thread.
pub fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through a pointer to a
    // live, properly aligned local; the clock id is a valid constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
