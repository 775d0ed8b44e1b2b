//! A standalone `genesis venue-sim` driven through its operator commands,
//! an engine process beside it, and a TCP proxy between them that can cut
//! the session off for a while, recording what the engine sent.
#![allow(clippy::disallowed_methods)] // deadlines are wall-clock

use super::process::{free_port, genesis, signal, wait_until};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// The standalone venue: its process, its command line, its output.
pub struct Venue {
    pub child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    summaries: u32,
    dir: PathBuf,
    /// Its Binance-compatible WebSocket stream URL.
    pub ws_url: String,
}

impl Venue {
    /// `genesis venue-sim` on `fix_port` with `config`'s instruments, its
    /// resting orders kept across disconnects, a WebSocket feed, the summary
    /// written to `dir/venue-end.json` on exit.
    pub fn start(dir: &Path, config: &Path, fix_port: u16) -> Venue {
        let ws_port = free_port();
        let mut child = genesis()
            .args(["venue-sim", "--config", config.to_str().unwrap()])
            .args(["--rate", "500", "--itch-to", "none"])
            .args(["--fix-port", &fix_port.to_string()])
            .args(["--ws-port", &ws_port.to_string()])
            .args(["--cancel-on-disconnect", "false"])
            .arg("--summary-json")
            .arg(dir.join("venue-end.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut venue = Venue {
            stdin: child.stdin.take().unwrap(),
            child,
            lines,
            seen: Vec::new(),
            summaries: 0,
            dir: dir.to_owned(),
            ws_url: String::new(),
        };
        let ws_line = venue.wait_for("WebSocket ws://");
        venue.ws_url = ws_line.split_whitespace().last().unwrap().to_owned();
        let ready = venue.wait_for("Ctrl-C stops");
        assert!(ready.contains("resting orders stay"), "{ready}");
        venue
    }

    /// Waits (60 s) for an output line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("venue: no line with {needle:?}; saw {:#?}", self.seen),
            }
        }
    }

    pub fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Tells the venue to do something and waits until it says it did.
    pub fn order(&mut self, line: &str, note: &str) -> String {
        self.command(line);
        self.wait_for(note)
    }

    /// The venue's view of its only participant, now.
    pub fn summary(&mut self) -> serde_json::Value {
        self.summaries += 1;
        let path = self.dir.join(format!("venue-{}.json", self.summaries));
        self.command(&format!("summary {}", path.display()));
        self.wait_for("summary written");
        let all: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let participants = all["participants"].as_array().unwrap();
        assert_eq!(participants.len(), 1, "one participant: {all}");
        participants[0].clone()
    }

    /// Stops it (SIGTERM); the summary it wrote on exit.
    pub fn stop(mut self) -> serde_json::Value {
        signal(&self.child, libc::SIGTERM);
        self.wait_for("summary written");
        assert!(self.child.wait().unwrap().success(), "{:#?}", self.seen);
        let path = self.dir.join("venue-end.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `genesis run` process, its log (stderr) and report in files.
pub struct Engine {
    pub child: Child,
    log: PathBuf,
    summary: PathBuf,
}

impl Engine {
    pub fn start(dir: &Path, config: &Path, run: u32) -> Engine {
        let log = dir.join(format!("engine-{run}.log"));
        let summary = dir.join(format!("engine-{run}.json"));
        let child = genesis()
            .args(["run", "--config", config.to_str().unwrap()])
            .arg("--summary-json")
            .arg(&summary)
            .env("RUST_LOG", "info")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Engine {
            child,
            log,
            summary,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `needle` is in the log.
    pub fn wait_log(&self, what: &str, needle: &str) {
        wait_until(what, || self.log().contains(needle));
    }

    /// Waits until a reconciliation at logon completed (the gate opened).
    pub fn wait_reconciled(&self) {
        self.wait_log(
            "reconciliation with the venue completes",
            "reconciliation with the venue complete",
        );
    }

    pub fn kill(mut self) {
        signal(&self.child, libc::SIGKILL);
        self.child.wait().unwrap();
    }

    /// Stops cleanly; its report.
    pub fn stop(mut self) -> serde_json::Value {
        signal(&self.child, libc::SIGTERM);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "engine: {}", self.log());
        serde_json::from_str(&std::fs::read_to_string(&self.summary).unwrap()).unwrap()
    }
}

impl Drop for Engine {
    /// A test that failed half-way leaves no engine running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy on loopback to one address: every byte the client sent is
/// kept; an outage drops the connections and refuses new ones until the
/// test ends it (a condition the test waits on, not a length of time).
pub struct Proxy {
    pub port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
    /// How much had been sent when the outage cut the connections, and
    /// when the first connection after it was let through.
    cut_at: Arc<Mutex<(Option<usize>, Option<usize>)>>,
    down: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(to: SocketAddr) -> Proxy {
        Proxy::dropping(to, None)
    }

    /// A proxy that drops every FIX message from the client containing
    /// `needle` (it never reaches the venue; the rest passes).
    pub fn dropping(to: SocketAddr, needle: Option<&'static str>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            sent: Arc::default(),
            cut_at: Arc::default(),
            down: Arc::default(),
            cut: Arc::default(),
            stop: Arc::default(),
        };
        let cut_at = Arc::clone(&proxy.cut_at);
        let (sent, down, cut, stop) = (
            Arc::clone(&proxy.sent),
            Arc::clone(&proxy.down),
            Arc::clone(&proxy.cut),
            Arc::clone(&proxy.stop),
        );
        std::thread::spawn(move || {
            let mut live: Vec<(TcpStream, TcpStream, Arc<AtomicBool>)> = Vec::new();
            while !stop.load(Ordering::Acquire) {
                if cut.swap(false, Ordering::AcqRel) {
                    // Under the lock the pumps record under: nothing of a cut
                    // connection is recorded after `cut_at`.
                    let sent = sent.lock().unwrap();
                    for (client, venue, gone) in live.drain(..) {
                        gone.store(true, Ordering::Release);
                        let _ = client.shutdown(Shutdown::Both);
                        let _ = venue.shutdown(Shutdown::Both);
                    }
                    *cut_at.lock().unwrap() = (Some(sent.len()), None);
                }
                let down = down.load(Ordering::Acquire);
                if let Ok((client, _)) = listener.accept() {
                    if down {
                        drop(client);
                    } else if let Ok(venue) = TcpStream::connect(to) {
                        let mut marks = cut_at.lock().unwrap();
                        if marks.0.is_some() && marks.1.is_none() {
                            marks.1 = Some(sent.lock().unwrap().len());
                        }
                        drop(marks);
                        client.set_nonblocking(false).unwrap();
                        let gone = Arc::new(AtomicBool::new(false));
                        let keep = (Arc::clone(&sent), needle, Arc::clone(&gone));
                        pump(&client, &venue, Some(keep));
                        pump(&venue, &client, None);
                        live.push((client, venue, gone));
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        proxy
    }

    /// Drops every connection now and refuses new ones until [`Proxy::outage_end`].
    pub fn outage_begin(&self) {
        self.down.store(true, Ordering::Release);
        self.cut.store(true, Ordering::Release);
    }

    /// Lets new connections through again.
    pub fn outage_end(&self) {
        self.down.store(false, Ordering::Release);
    }

    /// Everything the client sent so far, SOH as `|`.
    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).replace('\x01', "|")
    }

    /// What the client sent during the outage: from the cut to the first
    /// connection let through after it (`None` before the cut).
    pub fn sent_during_outage(&self) -> Option<String> {
        let (cut_at, ended_at) = *self.cut_at.lock().unwrap();
        let sent = self.sent.lock().unwrap();
        let during = &sent[cut_at?..ended_at.unwrap_or(sent.len())];
        Some(String::from_utf8_lossy(during).replace('\x01', "|"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// What the client sent, the messages not to pass on, and whether the
/// connection was cut (then nothing more is recorded).
type Keep = Option<(Arc<Mutex<Vec<u8>>>, Option<&'static str>, Arc<AtomicBool>)>;

/// Copies `from` to `to` on a thread until either closes, whole FIX
/// messages at a time when it keeps a copy (and may drop some).
fn pump(from: &TcpStream, to: &TcpStream, keep: Keep) {
    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 << 10];
        let mut pending = Vec::new();
        loop {
            let count = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(count) => count,
            };
            let Some((sent, needle, gone)) = &keep else {
                if to.write_all(&buffer[..count]).is_err() {
                    break;
                }
                continue;
            };
            pending.extend_from_slice(&buffer[..count]);
            while let Some(end) = message_end(&pending) {
                let message: Vec<u8> = pending.drain(..end).collect();
                let text = String::from_utf8_lossy(&message).replace('\x01', "|");
                if needle.is_some_and(|needle| text.contains(needle)) {
                    continue;
                }
                {
                    let mut sent = sent.lock().unwrap();
                    if gone.load(Ordering::Acquire) {
                        return;
                    }
                    sent.extend_from_slice(&message);
                }
                if to.write_all(&message).is_err() {
                    return;
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// The length of the first whole FIX message in `bytes` (it ends with
/// `<SOH>10=nnn<SOH>`), if it is all there.
fn message_end(bytes: &[u8]) -> Option<usize> {
    let at = bytes.windows(4).position(|w| w == b"\x0110=")?;
    let end = at + 8;
    (bytes.len() >= end).then_some(end)
}
