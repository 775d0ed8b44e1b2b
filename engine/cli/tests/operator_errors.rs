//! What an operator sees when the setup around the engine is wrong: a config
//! path that does not exist, and a drain database that does not answer
//! (`genesis doctor`). Each is one clear line naming what and where, exit
//! status 2 or 1, no panic, no password.

mod common;

use common::process::*;
use std::net::TcpListener;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
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
    let config = dir.path().join("db.toml");
    let port = closed_port();
    std::fs::write(
        &config,
        format!(
            "[metrics]\nlisten = \"\"\n[journal]\ndir = \"{}\"\n[postgres]\nurl = \"postgres://genesis:pw-not-for-logs@127.0.0.1:{port}/genesis\"\n",
            dir.path().join("journal").display()
        ),
    )
    .unwrap();
    let output = genesis()
        .args(["doctor", "--config", config.to_str().unwrap()])
        .env("GENESIS_TUNING_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
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
    let config = dir.path().join("plain.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nlisten = \"\"\n[journal]\ndir = \"{}\"\n",
            dir.path().join("journal").display()
        ),
    )
    .unwrap();
    let output = genesis()
        .args(["doctor", "--config", config.to_str().unwrap()])
        .env("GENESIS_TUNING_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("SKIP  database") && line.contains("DATABASE_URL")),
        "{stdout}"
    );
}

/// A config on the defaults whose metrics endpoint is `listen`, with its
/// journal under `dir`.
fn config_listening_on(dir: &std::path::Path, listen: &str) -> std::path::PathBuf {
    let config = dir.join("metrics.toml");
    std::fs::write(
        &config,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n[metrics]\nlisten = \"{listen}\"\n[journal]\ndir = \"{}\"\n",
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
    let config = config_listening_on(dir.path(), &listen);
    let doctor = genesis()
        .args(["doctor", "--config", config.to_str().unwrap()])
        .env("GENESIS_TUNING_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{stdout}");
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
    let config = dir.path().join("plain.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nlisten = \"\"\n[journal]\ndir = \"{}\"\n",
            dir.path().join("journal").display()
        ),
    )
    .unwrap();
    let doctor = |strict: bool| {
        let mut command = genesis();
        command
            .args(["doctor", "--config", config.to_str().unwrap()])
            .env("GENESIS_TUNING_DIR", &tuning)
            .env_remove("DATABASE_URL");
        if strict {
            command.arg("--strict");
        }
        command.output().unwrap()
    };
    let relaxed = doctor(false);
    let stdout = String::from_utf8_lossy(&relaxed.stdout);
    assert_eq!(relaxed.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("WARN  stand-in knob"), "{stdout}");
    let strict = doctor(true);
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert_eq!(strict.status.code(), Some(1), "{stdout}");
}
