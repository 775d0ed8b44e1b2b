//! The machine a report was measured on, and the process's memory, both read
//! from `/proc` (Linux only). Called from the harness's main thread.

use serde_json::{json, Value};

/// What the report states about the host.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpu_model: String,
    /// CPUs online on the host.
    pub cores_online: usize,
    /// CPUs this process may run on.
    pub cores_usable: usize,
    pub kernel: String,
    /// 1-minute load average when the run started: others share this machine.
    pub load_average_1m: f64,
    /// Share of the last minute some runnable task waited for a CPU (PSI), at start.
    pub cpu_pressure_pct_start: Option<f64>,
}

/// `/proc/pressure/cpu`'s "some avg60": percent of the last minute in which
/// some runnable task waited for a CPU. High means neighbours competed with us.
pub fn cpu_pressure_pct() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some"))?;
    some.split_whitespace()
        .find_map(|field| field.strip_prefix("avg60="))
        .and_then(|v| v.parse().ok())
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores_online = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cores_usable = std::thread::available_parallelism().map_or(1, |n| n.get());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let load_average_1m = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0.0);
        Machine {
            cpu_model,
            cores_online,
            cores_usable,
            kernel,
            load_average_1m,
            cpu_pressure_pct_start: cpu_pressure_pct(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "cpu_model": self.cpu_model,
            "cores_online": self.cores_online,
            "cores_usable": self.cores_usable,
            "kernel": self.kernel,
            "load_average_1m": self.load_average_1m,
            "cpu_pressure_pct_start": self.cpu_pressure_pct_start,
        })
    }
}

/// Resident memory of this process, split as the kernel reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rss {
    pub total_bytes: u64,
    /// Heap, stacks and other private memory: where a leak shows.
    pub anon_bytes: u64,
    /// File pages mapped in (the binary, and the journal's memory-mapped segment).
    pub file_bytes: u64,
}

impl Rss {
    /// Reads `/proc/self/status`; zeros where a field is missing.
    pub fn now() -> Rss {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Rss {
            total_bytes: field("VmRSS:"),
            anon_bytes: field("RssAnon:"),
            file_bytes: field("RssFile:"),
        }
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
