//! Running the `genesis` binary in tests: spawning, signals, deadlines,
//! reading its journal and scraping its metrics endpoint.
//!
//! A `genesis` child never outlives its test: [`spawn`] returns a
//! [`ChildGuard`] that kills and reaps the child when dropped (a failed
//! assertion unwinds through it), and every command from [`genesis`] asks
//! the kernel to kill the child if the thread that spawned it ends
//! (`PR_SET_PDEATHSIG`), which also covers a test process that dies.
#![allow(unsafe_code)] // kill(2) to send signals to the child, prctl(2) in pre_exec
#![allow(clippy::disallowed_methods)] // deadlines are wall-clock

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A spawned child that is killed and reaped when dropped, unless it was
/// waited for through [`ChildGuard::wait_with_output`].
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Waits for the child to exit and collects its output (the guard is spent).
    pub fn wait_with_output(mut self) -> std::io::Result<Output> {
        self.child
            .take()
            .expect("the child is held until waited for")
            .wait_with_output()
    }
}

impl std::ops::Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.child.as_ref().expect("the child is held")
    }
}

impl std::ops::DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the child is held")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `command` under a [`ChildGuard`].
pub fn spawn(command: &mut Command) -> ChildGuard {
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {command:?}: {e}"));
    ChildGuard { child: Some(child) }
}

pub fn signal(child: &std::process::Child, signal: i32) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a pid we spawned and own; no memory is involved.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(result, 0, "kill({pid}, {signal})");
}

/// Polls `check` every 20 ms until it holds; fails with `what` after 30 s.
pub fn wait_until(what: &str, check: impl FnMut() -> bool) {
    wait_until_or(what, check, String::new);
}

/// [`wait_until`], failing with `what` and what `context` says then.
pub fn wait_until_or(what: &str, mut check: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 30 s {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `genesis` binary, killed by the kernel if the spawning thread ends first.
pub fn genesis() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesis"));
    // SAFETY: the closure runs in the forked child before exec and calls
    // only prctl(2), which is async-signal-safe; it touches no memory of
    // the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// Runs `genesis run` with `args` in `dir` until `done` holds of the events
/// in the journal at `journal` (polled as [`wait_until`] polls), then stops
/// it with Ctrl-C and returns its output: a run as long as the CPU it gets
/// makes it, where a `--duration` run on a loaded host may end before it
/// traded at all.
pub fn run_until(
    args: &[&str],
    dir: &Path,
    journal: &Path,
    what: &str,
    mut done: impl FnMut(&[genesis_engine::event::Event]) -> bool,
) -> Output {
    let mut child = spawn(
        genesis()
            .arg("run")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    );
    // Both pipes are read meanwhile: a full one would stall the engine.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    wait_until(what, || done(&journal_events(journal)));
    signal(&child, libc::SIGINT);
    let mut output = child.wait_with_output().unwrap();
    output.stdout = stdout.join().unwrap();
    output.stderr = stderr.join().unwrap();
    output
}

/// Every event in a journal folder, live or finished (empty if there is none yet).
pub fn journal_events(dir: &Path) -> Vec<genesis_engine::event::Event> {
    if !dir.exists() {
        return Vec::new();
    }
    genesis_engine::journal_stage::read_available(dir).unwrap()
}

/// Checks a journal: every record decodes, sequences run 1..=n; returns n.
pub fn journal_records(dir: &Path) -> u64 {
    let events = journal_events(dir);
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.seq, index as u64 + 1);
    }
    events.len() as u64
}

/// Writes `dir/<name>.toml` for a run in a test — unpinned with sleeping
/// waits, no metrics endpoint or latency log, the journal in
/// `dir/<name>/journal` — plus `sections` (TOML); returns the config and
/// journal paths.
pub fn write_run_config(
    dir: &Path,
    name: &str,
    sections: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let journal = dir.join(name).join("journal");
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n\
             [metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n\
             [journal]\ndir = \"{}\"\n\
             {sections}\n",
            journal.display()
        ),
    )
    .unwrap();
    (config, journal)
}

/// Starts `genesis run` in `dir` on `config_text` (written to
/// `dir/dev.toml`), with `--summary-json summary.json` and its output piped.
pub fn start_run(dir: &Path, config_text: &str) -> ChildGuard {
    let config = dir.join("dev.toml");
    std::fs::write(&config, config_text).unwrap();
    spawn(
        genesis()
            .args([
                "run",
                "--config",
                config.to_str().unwrap(),
                "--summary-json",
                "summary.json",
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    )
}

/// A run that stopped cleanly: exit 0, the report printed, and every event
/// its summary (`dir/summary.json`) counts is in the journal at `journal_dir`.
pub fn assert_clean_stop(output: &Output, dir: &Path, journal_dir: &Path) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("latency from receive to stage exit"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        journal_records(journal_dir),
        summary["events"].as_u64().unwrap()
    );
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A loopback UDP port nobody is bound to right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child's stdout, line by line, read on a thread.
pub fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits (up to `patience`) for a line containing `needle`; every line
/// read on the way is kept in `seen`.
pub fn wait_for_line(
    lines: &std::sync::mpsc::Receiver<String>,
    needle: &str,
    patience: Duration,
    seen: &mut Vec<String>,
) -> String {
    loop {
        match lines.recv_timeout(patience) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("no line with {needle:?} within {patience:?}; saw {seen:#?}")
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the output ended (the process exited?) before a line with {needle:?}; saw {seen:#?}")
            }
        }
    }
}

/// One GET /metrics; the body, or None if the endpoint is not up yet.
pub fn scrape(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Parses the Prometheus text format: `name{labels} value` per line, comments skipped.
pub fn parse_exposition(body: &str) -> std::collections::HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (name, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            (
                name.to_string(),
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            )
        })
        .collect()
}
