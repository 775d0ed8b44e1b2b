//! Every call into the operating system through `libc` lives here, each
//! wrapped in a safe function that returns `std::io::Result`.
#![allow(unsafe_code)]

pub mod resident;

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

/// Large allocations (from `bytes` up) get pages of their own from the
/// kernel, returned when freed (glibc's `M_MMAP_THRESHOLD`, which also
/// stops glibc raising the threshold after each large free): a helper
/// thread's large temporary buffers then leave nothing resident behind.
/// Process-wide; elsewhere than glibc a no-op. Returns whether it was set.
pub fn map_large_allocations(bytes: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt takes two integers; it changes the allocator's
        // parameters under the allocator's own lock.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, bytes) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = bytes;
        false
    }
}

/// Lowers the calling thread's scheduling priority to `nice` (Linux: a
/// thread has its own nice value): for helper threads that must yield to
/// the pipeline's.
pub fn lower_thread_priority(nice: i32) -> io::Result<()> {
    // SAFETY: gettid takes no arguments and returns the calling thread's id.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    // SAFETY: setpriority with PRIO_PROCESS and a thread id of ours only
    // changes that thread's nice value; no memory is involved.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the calling thread `SCHED_FIFO` at `priority` (1..=99): it runs
/// before every normal (CFS) thread of its CPU and is preempted only by a
/// higher real-time priority or the kernel's RT throttling
/// (`/proc/sys/kernel/sched_rt_runtime_us`). Needs CAP_SYS_NICE (root) or
/// an `RLIMIT_RTPRIO` of at least `priority`; refused with EPERM otherwise.
pub fn set_thread_fifo(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pid 0 is the calling thread (Linux applies the policy per
    // thread); `param` is a valid sched_param read during the call only.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Scheduling policy of thread `tid` of this process (0: the calling
/// thread), as `sched_getscheduler` returns it (`libc::SCHED_OTHER`,
/// `libc::SCHED_FIFO`, ...), with its real-time priority (0 for normal threads).
pub fn thread_policy(tid: i32) -> io::Result<(i32, i32)> {
    // SAFETY: `tid` names a thread (0: the caller); no memory is involved.
    let policy = unsafe { libc::sched_getscheduler(tid) };
    if policy < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as above; `param` is a valid, writable sched_param.
    if unsafe { libc::sched_getparam(tid, &mut param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((policy, param.sched_priority))
}

/// Whether this process may make a thread `SCHED_FIFO` at `priority`:
/// tried on a short-lived thread of its own, so no thread of the run
/// changes. Err holds the system's refusal (EPERM without CAP_SYS_NICE).
pub fn check_fifo_allowed(priority: i32) -> io::Result<()> {
    std::thread::Builder::new()
        .name("rt-check".into())
        .spawn(move || set_thread_fifo(priority))?
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the real-time check thread panicked")))
}

/// Moves the calling thread off `cores` (the pipeline's pinned cores): it
/// may run on every CPU it may run on now except those. Returns the CPUs it
/// is left with, or `None` (affinity unchanged) when nothing would be left:
/// a plan that pins every core shares them with its helpers.
pub fn keep_thread_off(cores: &[usize]) -> io::Result<Option<Vec<usize>>> {
    let mut set = thread_affinity()?;
    let left: Vec<usize> = cpus_in(&set).filter(|cpu| !cores.contains(cpu)).collect();
    if left.is_empty() {
        return Ok(None);
    }
    for &cpu in cores
        .iter()
        .filter(|&&cpu| cpu < libc::CPU_SETSIZE as usize)
    {
        // SAFETY: `cpu` is below CPU_SETSIZE, inside the set.
        unsafe { libc::CPU_CLR(cpu, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is a valid, non-empty
    // cpu_set_t of the size given.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some(left))
}

/// Moves every other thread of this process that exists now off `cores`,
/// as [`keep_thread_off`] does for the caller: the helpers started before
/// the pipeline (journal sync and preallocation, snapshot follower,
/// reporter, metrics endpoint, an in-process simulated venue) inherit the
/// mask of whoever spawned them and would otherwise share the pinned cores.
/// The calling thread keeps its mask (the pipeline's threads it spawns next
/// pin themselves). Returns how many threads were moved; a thread left with
/// no CPU outside `cores`, or one that ended meanwhile, is not moved.
pub fn keep_process_threads_off(cores: &[usize]) -> io::Result<usize> {
    let mut moved = 0;
    let caller = current_tid();
    for entry in std::fs::read_dir("/proc/self/task")? {
        let Some(tid) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<libc::pid_t>().ok())
            .filter(|&tid| tid != caller)
        else {
            continue;
        };
        match keep_tid_off(tid, cores) {
            Ok(true) => moved += 1,
            Ok(false) => {}
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(moved)
}

/// [`keep_thread_off`] for thread `tid` of this process; false if nothing would be left.
fn keep_tid_off(tid: libc::pid_t, cores: &[usize]) -> io::Result<bool> {
    let mut set = affinity_of(tid)?;
    if cpus_in(&set).all(|cpu| cores.contains(&cpu)) {
        return Ok(false);
    }
    for &cpu in cores
        .iter()
        .filter(|&&cpu| cpu < libc::CPU_SETSIZE as usize)
    {
        // SAFETY: `cpu` is below CPU_SETSIZE, inside the set.
        unsafe { libc::CPU_CLR(cpu, &mut set) };
    }
    // SAFETY: `tid` is a thread of this process (or gone: ESRCH); `set` is a
    // valid, non-empty cpu_set_t of the size given.
    if unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// The CPUs thread `tid` of this process may run on.
pub fn cpus_of_thread(tid: i32) -> io::Result<Vec<usize>> {
    Ok(cpus_in(&affinity_of(tid)?).collect())
}

/// The calling thread's id (what /proc/self/task lists).
pub fn current_tid() -> i32 {
    // SAFETY: gettid takes no arguments and returns the calling thread's id.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// The CPU the calling thread runs on now (`sched_getcpu`, a vDSO read,
/// no system call); `None` where the kernel cannot say.
pub fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock `perf` stamps its
/// records with under `-k CLOCK_MONOTONIC`.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec the call writes; the clock id is a constant.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    debug_assert_eq!(result, 0, "CLOCK_MONOTONIC is always readable");
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

/// The CPUs the calling thread may run on.
pub fn thread_cpus() -> io::Result<Vec<usize>> {
    Ok(cpus_in(&thread_affinity()?).collect())
}

/// The calling thread's affinity mask.
fn thread_affinity() -> io::Result<libc::cpu_set_t> {
    affinity_of(0)
}

/// Thread `tid`'s affinity mask (0: the calling thread).
fn affinity_of(tid: libc::pid_t) -> io::Result<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain old data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `tid` names a thread (0: the caller); `set` is a valid,
    // writable cpu_set_t of the size given.
    if unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
        != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(set)
}

/// The CPUs in `set`, lowest first.
fn cpus_in(set: &libc::cpu_set_t) -> impl Iterator<Item = usize> + '_ {
    // SAFETY: `cpu` is below CPU_SETSIZE, inside the set.
    (0..libc::CPU_SETSIZE as usize).filter(move |&cpu| unsafe { libc::CPU_ISSET(cpu, set) })
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

/// CPUs the machine has online, from /sys/devices/system/cpu/online ("0-3,6").
///
/// Not `core_affinity::get_core_ids()`: that lists only the CPUs this process
/// may run on, which `isolcpus` and a systemd `CPUAffinity=` narrow to the
/// housekeeping cores — exactly the cores the engine must not be held to.
pub fn cpus_online() -> io::Result<Vec<usize>> {
    parse_cpu_list(std::fs::read_to_string("/sys/devices/system/cpu/online")?.trim()).ok_or_else(
        || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected /sys/devices/system/cpu/online",
            )
        },
    )
}

/// Parses a kernel CPU list such as "0-3,6".
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((low, high)) => {
                cpus.extend(low.parse::<usize>().ok()?..=high.parse::<usize>().ok()?)
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Kernel CPU lists with ranges and singles.
    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-3,6"), Some(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("1"), Some(vec![1]));
        assert_eq!(parse_cpu_list("x"), None);
    }

    // A helper thread leaves the pipeline's cores when others remain, and
    // keeps its CPUs when none would.
    #[test]
    fn helper_threads_keep_off_pinned_cores() {
        std::thread::spawn(|| {
            let before = thread_cpus().unwrap();
            assert_eq!(keep_thread_off(&before).unwrap(), None);
            assert_eq!(thread_cpus().unwrap(), before, "nothing left: unchanged");
            if before.len() >= 2 {
                let left = keep_thread_off(&before[..1]).unwrap().unwrap();
                assert_eq!(left, before[1..].to_vec());
                assert_eq!(thread_cpus().unwrap(), left);
            }
        })
        .join()
        .unwrap();
    }

    // A normal thread reports SCHED_OTHER; made FIFO (when this process may:
    // root or CAP_SYS_NICE, as in CI) it reports SCHED_FIFO at its priority.
    #[test]
    fn a_thread_made_fifo_reports_the_policy() {
        std::thread::spawn(|| {
            assert_eq!(thread_policy(0).unwrap(), (libc::SCHED_OTHER, 0));
            match set_thread_fifo(3) {
                Ok(()) => assert_eq!(thread_policy(0).unwrap(), (libc::SCHED_FIFO, 3)),
                Err(err) if err.raw_os_error() == Some(libc::EPERM) => {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "CI runs as root and must be able to set SCHED_FIFO: {err}"
                    );
                    eprintln!("skipped: SCHED_FIFO not permitted here ({err})");
                    assert!(check_fifo_allowed(3).is_err());
                }
                Err(err) => panic!("sched_setscheduler: {err}"),
            }
        })
        .join()
        .unwrap();
    }

    // The current folder's file system reports some space, and this process some memory.
    #[test]
    fn disk_space_and_rss_read() {
        let (free, total) = disk_space(Path::new(".")).unwrap();
        assert!(total > 0 && free <= total);
        assert!(rss_bytes().unwrap() > 1_000_000);
    }
}
