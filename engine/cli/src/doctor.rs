//! `genesis doctor`: checks that this host and this config can run the engine.
//!
//! The engine's own checks (core plan, journal folder, ports, the drain's
//! database, memory locking) run here; the host checks (isolation, governor, THP, sysctls, IRQs, SMT,
//! clocksource) come from `tuning/check-host.sh` when it can be found.

use genesis_engine::config::{Config, Mode};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Skip => "SKIP",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        })
    }
}

#[derive(Clone, Debug)]
pub struct Check {
    pub status: Status,
    pub name: &'static str,
    pub detail: String,
}

fn check(status: Status, name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        status,
        name,
        detail: detail.into(),
    }
}

/// Runs the engine's own checks against `config`.
pub fn engine_checks(config: &Config, origin: &str) -> Vec<Check> {
    let valid = match config.validate(origin) {
        Ok(()) => check(Status::Pass, "config", format!("{origin} is valid")),
        Err(err) => check(Status::Fail, "config", err.to_string()),
    };
    vec![
        valid,
        core_plan(config),
        journal_folder(&config.journal.dir),
        metrics_port(config),
        database(config),
        memory_lock(config),
    ]
}

fn core_plan(config: &Config) -> Check {
    let groups = match genesis_engine::config::plan_groups(&config.topology.cores) {
        Ok(groups) => groups,
        Err(message) => return check(Status::Fail, "core plan", message),
    };
    let available: Vec<usize> = genesis_engine::sys::cpus_online().unwrap_or_else(|_| {
        core_affinity::get_core_ids()
            .unwrap_or_default()
            .iter()
            .map(|c| c.id)
            .collect()
    });
    let missing: Vec<usize> = groups
        .iter()
        .map(|g| g.core)
        .filter(|c| !available.contains(c))
        .collect();
    let plan: Vec<String> = groups
        .iter()
        .map(|g| format!("{} on core {}", g.name(), g.core))
        .collect();
    if !missing.is_empty() {
        let status = if config.topology.pin_threads {
            Status::Fail
        } else {
            Status::Warn
        };
        return check(
            status,
            "core plan",
            format!(
                "cores {missing:?} do not exist here (cores: {available:?}); plan: {}",
                plan.join(", ")
            ),
        );
    }
    let spinning = groups
        .iter()
        .filter(|g| {
            matches!(
                config.wait_for_core(g.core),
                genesis_engine::config::WaitKind::BusySpin
                    | genesis_engine::config::WaitKind::SpinHint
            )
        })
        .count();
    if spinning >= available.len() && available.len() > 1 {
        return check(
            Status::Warn,
            "core plan",
            format!(
                "{spinning} spinning threads on {} cores leave none for the OS; plan: {}",
                available.len(),
                plan.join(", ")
            ),
        );
    }
    check(
        Status::Pass,
        "core plan",
        format!(
            "{} thread(s), distinct cores: {}",
            groups.len(),
            plan.join(", ")
        ),
    )
}

fn journal_folder(dir: &Path) -> Check {
    if let Err(err) = std::fs::create_dir_all(dir) {
        return check(
            Status::Fail,
            "journal folder",
            format!("cannot create {}: {err}", dir.display()),
        );
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    if let Err(err) = std::fs::write(&probe, b"genesis doctor") {
        return check(
            Status::Fail,
            "journal folder",
            format!("cannot write in {}: {err}", dir.display()),
        );
    }
    let _ = std::fs::remove_file(&probe);
    match genesis_engine::sys::disk_space(dir) {
        Ok((free, _)) if free < 1 << 30 => check(
            Status::Fail,
            "journal folder",
            format!("{}: only {} MiB free", dir.display(), free >> 20),
        ),
        Ok((free, _)) if free < 10 << 30 => check(
            Status::Warn,
            "journal folder",
            format!("{}: {} GiB free (under 10 GiB)", dir.display(), free >> 30),
        ),
        Ok((free, _)) => check(
            Status::Pass,
            "journal folder",
            format!("{} is writable, {} GiB free", dir.display(), free >> 30),
        ),
        Err(err) => check(
            Status::Warn,
            "journal folder",
            format!("{} is writable; free space unknown: {err}", dir.display()),
        ),
    }
}

fn metrics_port(config: &Config) -> Check {
    if config.metrics.listen.is_empty() {
        return check(
            Status::Skip,
            "metrics port",
            "endpoint turned off (metrics.listen = \"\")",
        );
    }
    match std::net::TcpListener::bind(&config.metrics.listen) {
        Ok(_) => check(
            Status::Pass,
            "metrics port",
            format!("{} is free", config.metrics.listen),
        ),
        Err(err) => check(
            Status::Fail,
            "metrics port",
            format!("{} cannot be bound: {err}", config.metrics.listen),
        ),
    }
}

/// The drain's database, when one is configured: PASS when it accepts a
/// connection (with the password the drain would use), FAIL naming the
/// URL without its password otherwise.
fn database(config: &Config) -> Check {
    let Some(url) = config.postgres.effective_url() else {
        return check(
            Status::Skip,
            "database",
            "no database configured ([postgres] url or DATABASE_URL): the engine runs without a drain",
        );
    };
    let key = config.postgres.url_key();
    let url = match genesis_drain::DbUrl::parse(&url)
        .and_then(|url| url.with_password_from(Some(&config.postgres.password_file)))
    {
        Ok(url) => url,
        Err(err) => return check(Status::Fail, "database", format!("`{key}`: {err}")),
    };
    match url.connect(DATABASE_CONNECT_TIMEOUT) {
        Ok(_) => check(
            Status::Pass,
            "database",
            format!("{} accepts a connection", url.redacted()),
        ),
        Err(err) => check(Status::Fail, "database", format!("`{key}`: {err}")),
    }
}

/// How long the database check waits for a connection.
const DATABASE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn memory_lock(config: &Config) -> Check {
    let wanted = config.host.mlockall.unwrap_or(config.mode == Mode::Prod);
    if !wanted {
        return check(
            Status::Skip,
            "memory lock",
            "mlockall is off (dev mode or host.mlockall = false)",
        );
    }
    match std::fs::read_to_string("/proc/self/limits") {
        Ok(limits) => {
            let line = limits
                .lines()
                .find(|l| l.starts_with("Max locked memory"))
                .unwrap_or("")
                .to_string();
            if line.contains("unlimited") {
                check(Status::Pass, "memory lock", "RLIMIT_MEMLOCK is unlimited")
            } else {
                check(
                    Status::Warn,
                    "memory lock",
                    format!(
                        "mlockall may fail: {} (set LimitMEMLOCK=infinity)",
                        line.split_whitespace().collect::<Vec<_>>().join(" ")
                    ),
                )
            }
        }
        Err(err) => check(
            Status::Skip,
            "memory lock",
            format!("cannot read /proc/self/limits: {err}"),
        ),
    }
}

/// Where `tuning/check-host.sh` is: $GENESIS_TUNING_DIR, ./tuning, or beside the binary's source tree.
pub fn find_check_host() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("GENESIS_TUNING_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(PathBuf::from("tuning"));
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tuning"));
    candidates.push(PathBuf::from("/usr/share/genesis/tuning"));
    candidates
        .into_iter()
        .map(|d| d.join("check-host.sh"))
        .find(|p| p.is_file())
}
