//! Shared by the FIX interoperability tests of io and engine: installs
//! QuickFIX's Debian packages when missing (as root), builds its example
//! acceptor "executor" (fills every limit order) and our QuickFIX-based
//! acceptor that also answers status requests
//! (`quickfix_status_acceptor.cpp`), and runs either on a loopback port,
//! killed when dropped. A strict run validates every message against the
//! FIX 4.4 data dictionary (`FIX44.xml.gz`, QuickFIX 1.15.1's own; Debian
//! does not ship it) with `ValidateUserDefinedFields=Y`, as a venue would.
#![allow(dead_code)]

use genesis_io::fix::tcp::poll_until;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const EXAMPLE_DIR: &str = "/usr/share/doc/libquickfix-doc/examples/executor/C++";
pub const WAIT: Duration = Duration::from_secs(10);
/// This folder, from any crate of the workspace that includes this file
/// (io's tests, the engine binary's).
pub fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("io/tests/support"))
        .find(|dir| dir.is_dir())
        .expect("io/tests/support above the crate")
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Installs the QuickFIX packages if needed; `Err` says why they are missing.
pub fn ensure_packages() -> Result<(), String> {
    let present = || {
        Path::new(EXAMPLE_DIR).is_dir()
            && Path::new("/usr/include/quickfix/SocketAcceptor.h").exists()
    };
    if present() {
        return Ok(());
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|error| format!("id -u: {error}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(
            "libquickfix-dev/libquickfix-doc missing and not root: apt-get install them".into(),
        );
    }
    for args in [
        &["-o", "DPkg::Lock::Timeout=300", "update"][..],
        &[
            "-o",
            "DPkg::Lock::Timeout=300",
            "install",
            "-y",
            "libquickfix-dev",
            "libquickfix-doc",
            "g++",
        ][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .map_err(|error| format!("apt-get {args:?}: {error}"))?;
        if !status.success() {
            return Err(format!("apt-get {args:?} failed: {status}"));
        }
    }
    if present() {
        Ok(())
    } else {
        Err(format!("{EXAMPLE_DIR} still missing after apt-get install"))
    }
}

/// Copies a source file from the examples folder (Debian gzips large ones).
pub fn copy_source(name: &str, into: &Path) -> Result<(), String> {
    let plain = Path::new(EXAMPLE_DIR).join(name);
    if plain.exists() {
        fs::copy(&plain, into.join(name)).map_err(|error| format!("copy {plain:?}: {error}"))?;
        return Ok(());
    }
    let gzipped = Path::new(EXAMPLE_DIR).join(format!("{name}.gz"));
    fs::write(into.join(name), gunzip(&gzipped)?).map_err(|error| format!("write {name}: {error}"))
}

/// The contents of a gzipped file.
fn gunzip(gzipped: &Path) -> Result<Vec<u8>, String> {
    let output = Command::new("gzip")
        .arg("-dc")
        .arg(gzipped)
        .output()
        .map_err(|error| format!("gzip: {error}"))?;
    if !output.status.success() {
        return Err(format!("gzip -dc {gzipped:?} failed"));
    }
    Ok(output.stdout)
}

/// Builds the executor in `directory`; returns the binary's path.
pub fn build_executor(directory: &Path) -> Result<PathBuf, String> {
    for name in ["executor.cpp", "Application.cpp", "Application.h"] {
        copy_source(name, directory)?;
    }
    // The example includes "config.h" (autoconf output); an empty one does.
    fs::write(directory.join("config.h"), "").map_err(|error| error.to_string())?;
    compile(directory, &["executor.cpp", "Application.cpp"], "executor")
}

/// Builds our status-answering acceptor in `directory`; returns the binary.
pub fn build_status_acceptor(directory: &Path) -> Result<PathBuf, String> {
    let name = "quickfix_status_acceptor.cpp";
    let source = support_dir().join(name);
    fs::copy(&source, directory.join(name)).map_err(|error| format!("copy {source:?}: {error}"))?;
    compile(directory, &[name], "status_acceptor")
}

/// `g++` of `sources` in `directory` into `binary_name`, written under a
/// temporary name and renamed, so a concurrent build never runs half a file.
/// A binary built from the same sources before (a `.sources` stamp beside
/// it holds them) is reused.
fn compile(directory: &Path, sources: &[&str], binary_name: &str) -> Result<PathBuf, String> {
    let binary = directory.join(binary_name);
    let stamp = directory.join(format!("{binary_name}.sources"));
    let mut text = Vec::new();
    for source in sources {
        let path = directory.join(source);
        text.extend(fs::read(&path).map_err(|error| format!("read {path:?}: {error}"))?);
    }
    if binary.exists() && fs::read(&stamp).is_ok_and(|built| built == text) {
        return Ok(binary);
    }
    let partial = directory.join(format!("{binary_name}.{}.partial", std::process::id()));
    // QuickFIX 1.15 headers use dynamic exception specifications, which
    // C++17 (g++'s default) removed: compile as C++11.
    let output = Command::new("g++")
        .current_dir(directory)
        .args(["-std=gnu++11", "-w"])
        .args(sources)
        .args(["-lquickfix", "-lpthread", "-o"])
        .arg(&partial)
        .output()
        .map_err(|error| format!("g++: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "g++ failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    fs::rename(&partial, &binary).map_err(|error| format!("rename {partial:?}: {error}"))?;
    fs::write(&stamp, text).map_err(|error| format!("write {stamp:?}: {error}"))?;
    Ok(binary)
}

/// Writes QuickFIX 1.15.1's FIX 4.4 data dictionary into `directory`.
pub fn data_dictionary(directory: &Path) -> Result<PathBuf, String> {
    let dictionary = gunzip(&support_dir().join("FIX44.xml.gz"))?;
    let path = directory.join("FIX44.xml");
    fs::write(&path, dictionary).map_err(|error| format!("write {path:?}: {error}"))?;
    Ok(path)
}

/// The running executor; killed and reaped when dropped.
pub struct Executor {
    pub child: Child,
    pub log_path: PathBuf,
}

impl Executor {
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..]
            .join("\n")
            .replace('\x01', "|")
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `binary` (the executor or the status acceptor) without message
/// validation, as the first interoperability test did.
pub fn start_executor(binary: &Path, directory: &Path, port: u16) -> Executor {
    start_acceptor(binary, directory, port, "UseDataDictionary=N\n")
}

/// Starts `binary` validating every incoming message against the FIX 4.4
/// data dictionary, user-defined fields included (a strict venue).
pub fn start_strict_executor(binary: &Path, directory: &Path, port: u16) -> Executor {
    let dictionary = data_dictionary(directory).unwrap();
    let validation = format!(
        "UseDataDictionary=Y\nDataDictionary={}\nValidateUserDefinedFields=Y\n\
         ValidateFieldsOutOfOrder=Y\nValidateFieldsHaveValues=Y\n",
        dictionary.display()
    );
    start_acceptor(binary, directory, port, &validation)
}

fn start_acceptor(binary: &Path, directory: &Path, port: u16, validation: &str) -> Executor {
    let settings = format!(
        "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={port}\nSocketAcceptHost=127.0.0.1\n\
         SocketReuseAddress=Y\nStartTime=00:00:00\nEndTime=00:00:00\nFileStorePath={store}\n\
         {validation}ResetOnDisconnect=N\nResetOnLogout=N\n\n\
         [SESSION]\nBeginString=FIX.4.4\nSenderCompID=EXECUTOR\nTargetCompID=GENESIS\n",
        store = directory.join("store").display()
    );
    let settings_path = directory.join("executor.cfg");
    fs::write(&settings_path, settings).unwrap();
    let log_path = directory.join("executor.log");
    let log = fs::File::create(&log_path).unwrap();
    let child = Command::new(binary)
        .arg(&settings_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let executor = Executor { child, log_path };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listening = poll_until(WAIT, |_| Ok(false), || TcpStream::connect(addr).is_ok()).unwrap();
    assert!(
        listening,
        "executor did not listen on {addr}:\n{}",
        executor.log_tail()
    );
    executor
}
