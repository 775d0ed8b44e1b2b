//! What an operator sees when the setup around the engine is wrong: a config
//! path that does not exist, and a drain database that does not answer
//! (`genesis doctor`). Each is one clear line naming what and where, exit
//! status 2 or 1, no panic, no password.

mod common;

use common::process::*;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `genesis doctor` on `config` with `args`, its host checks looked for in
/// `tuning_dir`, and no `DATABASE_URL` from the environment.
fn doctor(config: &Path, tuning_dir: &Path, args: &[&str]) -> Output {
    genesis()
        .args(["doctor", "--config", config.to_str().unwrap()])
        .args(args)
        .env("GENESIS_TUNING_DIR", tuning_dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

/// `genesis doctor` on a config of `sections` under `dir`, with no
/// metrics endpoint (see [`config_in`]).
fn doctor_with(dir: &Path, sections: &str) -> Output {
    doctor(&config_in(dir, "", sections), dir, &[])
}

// A config file that does not exist: exit 2, the path named, the OS's reason once.
#[test]
fn a_missing_config_file_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.toml");
    for command in ["run", "config", "doctor"] {
        let output = genesis()
            .args([command, "--config", missing.to_str().unwrap()])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(missing.to_str().unwrap()),
            "{command}: {stderr}"
        );
        assert_eq!(
            stderr.matches("No such file or directory").count(),
            1,
            "{command}: the reason once: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
    }
}

// `genesis doctor` with a configured database that refuses connections: a
// FAIL line naming the key and the URL without its password; exit 1.
#[test]
fn doctor_fails_a_database_that_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let output = doctor_with(
        dir.path(),
        &format!(
            "[postgres]\nurl = \"postgres://genesis:pw-not-for-logs@127.0.0.1:{port}/genesis\"\n"
        ),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|line| line.starts_with("FAIL  database"))
        .unwrap_or_else(|| panic!("no FAIL database line:\n{stdout}"));
    assert!(
        line.contains("postgres.url")
            && line.contains(&format!("postgres://genesis@127.0.0.1:{port}/genesis")),
        "{line}"
    );
    assert!(
        !stdout.contains("pw-not-for-logs") && !stderr.contains("pw-not-for-logs"),
        "the password leaked:\n{stdout}\n{stderr}"
    );
}

// Without a database the check is a SKIP that says how to configure one.
#[test]
fn doctor_skips_the_database_when_none_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let output = doctor_with(dir.path(), "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("SKIP  database") && line.contains("DATABASE_URL")),
        "{stdout}"
    );
}

/// `dir/config.toml`: the defaults with the metrics endpoint on `listen`
/// ("" for none) and the journal under `dir`, then `sections`.
fn config_in(dir: &Path, listen: &str, sections: &str) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nlisten = \"{listen}\"\n[journal]\ndir = \"{}\"\n{sections}",
            dir.join("journal").display()
        ),
    )
    .unwrap();
    config
}

// A metrics port another process holds: `genesis doctor` FAILs the check
// naming the address, and `genesis run` goes on without the endpoint,
// logging why.
#[test]
fn a_taken_metrics_port_is_named_by_doctor_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = holder.local_addr().unwrap().to_string();
    let config = config_in(
        dir.path(),
        &listen,
        "[topology]\npin_threads = false\nwait = \"sleep\"\n",
    );
    let checked = doctor(&config, dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("FAIL  metrics port") && line.contains(&listen)),
        "{stdout}"
    );
    let run = genesis()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "0.5",
        ])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "no colour codes in a log that is not a terminal"
    );
    assert!(
        stderr
            .lines()
            .any(|line| line.contains("metrics endpoint not started") && line.contains(&listen)),
        "{stderr}"
    );
    drop(holder);
}

// `genesis doctor --strict` hands --strict to the host checks and fails on
// what they warn about; without it a warning alone passes. The host checks
// are a stand-in script found through GENESIS_TUNING_DIR, as doctor finds
// tuning/check-host.sh.
#[test]
fn doctor_strict_fails_on_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let tuning = dir.path().join("tuning");
    std::fs::create_dir_all(&tuning).unwrap();
    std::fs::write(
        tuning.join("check-host.sh"),
        "echo 'WARN  stand-in knob            off'\nfor a in \"$@\"; do [ \"$a\" = --strict ] && exit 1; done\nexit 0\n",
    )
    .unwrap();
    let config = config_in(dir.path(), "", "");
    let relaxed = doctor(&config, &tuning, &[]);
    let stdout = String::from_utf8_lossy(&relaxed.stdout);
    assert_eq!(relaxed.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("WARN  stand-in knob"), "{stdout}");
    let strict = doctor(&config, &tuning, &["--strict"]);
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert_eq!(strict.status.code(), Some(1), "{stdout}");
}
