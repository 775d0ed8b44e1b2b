//! Every call into the operating system through `libc` lives here, each
//! wrapped in a safe function that returns `std::io::Result`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::path::Path;

/// Locks every current and future page of the process in memory.
pub fn lock_all_memory() -> io::Result<()> {
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    let result = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Free and total bytes of the file system holding `path`.
pub fn disk_space(path: &Path) -> io::Result<(u64, u64)> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value to overwrite.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid NUL-terminated string and `stats` a valid out-pointer for the call.
    let result = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    let block_bytes = stats.f_frsize as u64;
    Ok((
        stats.f_bavail as u64 * block_bytes,
        stats.f_blocks as u64 * block_bytes,
    ))
}

/// Resident set size of this process, in bytes (from /proc/self/statm).
pub fn rss_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/statm"))?;
    // SAFETY: sysconf with a valid name has no preconditions.
    let page_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * page_bytes.max(4096) as u64)
}

/// Holds /dev/cpu_dma_latency at a target while the returned file stays open:
/// the kernel keeps CPUs out of deep C-states for as long as it is held.
pub fn hold_cpu_dma_latency(target_us: i32) -> io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/cpu_dma_latency")?;
    file.write_all(&target_us.to_ne_bytes())?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The current folder's file system reports some space, and this process some memory.
    #[test]
    fn disk_space_and_rss_read() {
        let (free, total) = disk_space(Path::new(".")).unwrap();
        assert!(total > 0 && free <= total);
        assert!(rss_bytes().unwrap() > 1_000_000);
    }
}
