//! An engine run in its own process for the market-data tests: `genesis
//! run` with a metrics endpoint on a free loopback port, its stderr kept in
//! a file (printed when a wait fails), stopped with SIGINT once the test's
//! conditions hold. Waits poll `/metrics` or the live journal until a
//! condition holds, with a deadline, and fail saying what was awaited and
//! what was last seen. Included with `#[path]`.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // deadlines are wall-clock

use crate::common::process::{
    free_port, free_udp_port, genesis, journal_events, lines_of, parse_exposition, scrape, signal,
    wait_for_line,
};
use genesis_engine::event::{Event, EventKind, FLAG_STALE};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one condition may take: generous, for a loaded 2-core host.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub struct EngineRun {
    pub name: String,
    child: Option<Child>,
    pub journal: PathBuf,
    pub summary: PathBuf,
    stderr: PathBuf,
    pub metrics_port: u16,
    /// When the process was spawned (wall clock, Unix ns).
    pub started_unix_ns: u64,
}

/// Wall-clock now, Unix ns (the clock the journal's receive stamps approximate).
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Starts `genesis run` with `sections` (TOML, without `[metrics]`,
/// `[topology]` or `[journal]`), unpinned with sleeping waits, a metrics
/// endpoint and a long duration: the test stops it.
pub fn start_engine(dir: &Path, name: &str, sections: &str) -> EngineRun {
    start_engine_with_topology(dir, name, "", sections)
}

/// [`start_engine`] with more `[topology]` keys (`topology`, TOML lines).
pub fn start_engine_with_topology(
    dir: &Path,
    name: &str,
    topology: &str,
    sections: &str,
) -> EngineRun {
    let journal = dir.join(name).join("journal");
    let config = dir.join(format!("{name}.toml"));
    let metrics_port = free_port();
    std::fs::write(
        &config,
        format!(
            "[topology]\npin_threads = false\nwait = \"sleep\"\n{topology}\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\nlatency_log_dir = \"\"\ninterval_ms = 200\n\
             [journal]\ndir = \"{}\"\n\
             {sections}\n",
            journal.display()
        ),
    )
    .unwrap();
    let summary = dir.join(format!("{name}.json"));
    let stderr = dir.join(format!("{name}.stderr"));
    let started_unix_ns = unix_ns();
    let child = genesis()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "600",
        ])
        .arg("--summary-json")
        .arg(&summary)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    EngineRun {
        name: name.to_string(),
        child: Some(child),
        journal,
        summary,
        stderr,
        metrics_port,
        started_unix_ns,
    }
}

impl EngineRun {
    /// The engine's log so far (its last 60 lines).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// One scrape, parsed; `None` while the endpoint is not up.
    pub fn metrics(&self) -> Option<HashMap<String, f64>> {
        scrape(self.metrics_port).map(|body| parse_exposition(&body))
    }

    /// Scrapes until `done` holds for a scrape; returns that scrape.
    pub fn wait_metrics(
        &mut self,
        what: &str,
        done: impl Fn(&HashMap<String, f64>) -> bool,
    ) -> HashMap<String, f64> {
        let mut last = HashMap::new();
        let port = self.metrics_port;
        let waited = self.try_wait(|| {
            let Some(metrics) = scrape(port).map(|body| parse_exposition(&body)) else {
                return false;
            };
            let held = done(&metrics);
            last = metrics;
            held
        });
        if let Err(reason) = waited {
            panic!(
                "{}: {what}: {reason}\nlast scrape:\n{}\n{}",
                self.name,
                feed_lines(&last),
                self.log_tail()
            );
        }
        last
    }

    /// Polls `check` every 20 ms until it holds, failing with the engine's
    /// log at the deadline or if the engine exited.
    pub fn wait(&mut self, what: &str, check: impl FnMut() -> bool) {
        if let Err(reason) = self.try_wait(check) {
            panic!("{}: {what}: {reason}\n{}", self.name, self.log_tail());
        }
    }

    /// Polls `check` every 20 ms until it holds; why not, at the deadline
    /// or when the engine exits.
    fn try_wait(&mut self, mut check: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = Instant::now() + DEADLINE;
        while !check() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                return Err(format!("the engine exited ({status})"));
            }
            if Instant::now() >= deadline {
                return Err(format!("not within {DEADLINE:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Waits until the journal holds `count` more market-data events after
    /// index `from`, and, for every instrument in `instruments`, a fresh
    /// top among them; returns the journal then.
    pub fn wait_fresh_market_data(
        &mut self,
        what: &str,
        from: usize,
        count: usize,
        instruments: &[u16],
    ) -> Vec<Event> {
        let journal = self.journal.clone();
        let mut events = Vec::new();
        self.wait(what, || {
            events = journal_events(&journal);
            let after = events.get(from..).unwrap_or_default();
            let market_data = after.iter().filter(|e| is_market_data(e)).count();
            market_data >= count
                && instruments.iter().all(|i| {
                    after
                        .iter()
                        .any(|e| is_top(e) && e.instrument.0 == *i && e.flags & FLAG_STALE == 0)
                })
        });
        events
    }

    /// Stops the engine's process (SIGSTOP): none of its threads runs
    /// until [`EngineRun::resume`].
    pub fn pause(&self) {
        signal(self.child.as_ref().expect("running"), libc::SIGSTOP);
    }

    /// Lets a paused engine go on (SIGCONT).
    pub fn resume(&self) {
        signal(self.child.as_ref().expect("running"), libc::SIGCONT);
    }

    /// SIGINT, wait for a clean exit; the summary JSON and the journal.
    pub fn stop(mut self) -> (serde_json::Value, Vec<Event>) {
        let mut child = self.child.take().unwrap();
        signal(&child, libc::SIGINT);
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{}: {status}\n{}",
            self.name,
            self.log_tail()
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&self.summary).unwrap()).unwrap();
        (summary, journal_events(&self.journal))
    }
}

impl Drop for EngineRun {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A standalone `genesis venue-sim` at `rate`, moving from the start.
pub struct Venue {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub fix_port: u16,
    pub feed_port: u16,
    pub request_port: u16,
    pub snapshot_port: u16,
}

impl Venue {
    /// Starts the venue offered `rate` updates/s; its banner must say so.
    pub fn start(rate: u64) -> Venue {
        // The venue binds its own ports (0: the kernel picks free ones) and
        // prints them, so no port chosen here can be taken in between; only
        // the feed's destination, which the engine binds, is picked here.
        let feed_port = free_udp_port();
        let mut child = genesis()
            .args(["venue-sim", "--rate", &rate.to_string(), "--ws-port", "0"])
            .args(["--fix-port", "0", "--itch-request-port", "0"])
            .args(["--itch-snapshot-port", "0"])
            .args(["--itch-to", &format!("127.0.0.1:{feed_port}")])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(&mut child);
        let mut banner = Vec::new();
        let moving = wait_for_line(&lines, "Ctrl-C stops", DEADLINE, &mut banner);
        assert!(moving.contains("the market moves from now on"), "{moving}");
        assert!(
            moving.contains(&format!(" {rate} market events/s")),
            "offered {rate}/s: {moving}"
        );
        let port_after = |label: &str| -> u16 {
            banner
                .iter()
                .find_map(|line| {
                    let rest = &line[line.find(label)? + label.len()..];
                    let address = rest.split([' ', ',']).next()?;
                    address.parse::<std::net::SocketAddr>().ok()
                })
                .unwrap_or_else(|| panic!("an address after {label:?} in {banner:#?}"))
                .port()
        };
        Venue {
            fix_port: port_after("FIX 4.4 on "),
            request_port: port_after("retransmission requests on "),
            snapshot_port: port_after("GLIMPSE snapshots on "),
            child,
            lines,
            feed_port,
        }
    }

    /// `[market_data]` for an engine reading this venue's feed, taking
    /// snapshots from `snapshot_port`.
    pub fn market_data(&self, snapshot_port: u16) -> String {
        format!(
            "[market_data]\nsource = \"itch\"\n[market_data.itch]\n\
             feed_bind = \"127.0.0.1:{}\"\nrequest_server = \"127.0.0.1:{}\"\n\
             snapshot_server = \"127.0.0.1:{snapshot_port}\"\n",
            self.feed_port, self.request_port
        )
    }

    /// `[venue]` for an engine trading with this venue over FIX.
    pub fn fix_section(&self) -> String {
        format!(
            "[venue]\nkind = \"fix\"\n[venue.fix]\nhost = \"127.0.0.1\"\nport = {}\nseq_file = \"\"\n",
            self.fix_port
        )
    }

    /// SIGINT; its closing totals line.
    pub fn stop(mut self) -> String {
        signal(&self.child, libc::SIGINT);
        let totals = wait_for_line(&self.lines, "GLIMPSE snapshots", DEADLINE, &mut Vec::new());
        assert!(self.child.wait().unwrap().success());
        totals
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Datagrams the kernel dropped on the UDP socket bound to `port` on
/// 127.0.0.1 (a full receive buffer), from `/proc/net/udp`; `None` when no
/// such socket is bound.
pub fn udp_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()))
            .then(|| fields.last()?.parse().ok())
            .flatten()
    })
}

/// The `genesis_feed_*` lines of a scrape, for failure messages.
pub fn feed_lines(metrics: &HashMap<String, f64>) -> String {
    let mut lines: Vec<String> = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("genesis_feed_") || k.starts_with("genesis_alert"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The built-in config's instruments.
pub const SYMBOLS: [&str; 4] = ["ALPHA", "BRAVO", "CHARLIE", "DELTA"];

/// Every book of `source` has a stale gauge and reads `stale` (1 or 0).
pub fn all_books(metrics: &HashMap<String, f64>, source: &str, stale: f64) -> bool {
    SYMBOLS.iter().all(|symbol| {
        metrics.contains_key(&format!(
            "genesis_feed_book_stale{{source=\"{source}\",instrument=\"{symbol}\"}}"
        )) && feed_metric(metrics, "book_stale", source, symbol) == stale
    })
}

/// A feed-health series' value (0 when absent).
pub fn feed_metric(
    metrics: &HashMap<String, f64>,
    name: &str,
    source: &str,
    instrument: &str,
) -> f64 {
    let key = format!("genesis_feed_{name}{{source=\"{source}\",instrument=\"{instrument}\"}}");
    metrics.get(&key).copied().unwrap_or(0.0)
}

pub fn is_top(event: &Event) -> bool {
    event.kind == EventKind::TopOfBook
}

pub fn is_market_data(event: &Event) -> bool {
    matches!(event.kind, EventKind::TopOfBook | EventKind::Trade)
}

/// The longest stretch between two market-data events' receive stamps,
/// from the first one on (ns).
pub fn longest_silence_ns(events: &[Event]) -> u64 {
    let stamps: Vec<u64> = events
        .iter()
        .filter(|e| is_market_data(e))
        .map(|e| e.ts_recv_ns)
        .collect();
    stamps
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or(0)
}

/// The index of the first record by which every one of `instruments` has
/// journaled a fresh top (the books were all healed once); the end if never.
pub fn first_all_fresh(events: &[Event], instruments: &[u16]) -> usize {
    let mut fresh = vec![false; instruments.len()];
    events
        .iter()
        .position(|event| {
            if is_top(event) && event.flags & FLAG_STALE == 0 {
                if let Some(slot) = instruments.iter().position(|i| *i == event.instrument.0) {
                    fresh[slot] = true;
                }
            }
            fresh.iter().all(|f| *f)
        })
        .unwrap_or(events.len())
}

/// Per instrument: how many times its tops went from stale back to fresh.
pub fn recoveries_per_instrument(events: &[Event], instruments: usize) -> Vec<u64> {
    let mut stale = vec![false; instruments];
    let mut recoveries = vec![0u64; instruments];
    for event in events.iter().filter(|e| is_top(e)) {
        let index = event.instrument.index();
        let now_stale = event.flags & FLAG_STALE != 0;
        if stale[index] && !now_stale {
            recoveries[index] += 1;
        }
        stale[index] = now_stale;
    }
    recoveries
}

/// No order accepted while its instrument's last top was stale.
pub fn assert_no_order_on_a_stale_book(events: &[Event]) {
    use genesis_engine::decision::Action;
    let mut stale_now = [false; 64];
    for event in events {
        if is_top(event) {
            stale_now[event.instrument.index()] = event.flags & FLAG_STALE != 0;
        }
        for intent in event
            .intents
            .iter()
            .filter(|i| i.is_accepted() && i.action != Action::Cancel)
        {
            assert!(
                !stale_now[intent.instrument.index()],
                "order {intent:?} accepted on a stale book (seq {})",
                event.seq
            );
        }
    }
}

/// Checks the `genesis_feed_*` families of a scrape with `promtool check
/// metrics` (format and lint). Fails in CI when promtool is missing
/// (test.sh installs the `prometheus` package); elsewhere it says it skipped.
pub fn promtool_check_feed_series(body: &str) {
    use std::io::Write;
    let feed: String = body
        .lines()
        .filter(|line| line.contains("genesis_feed_"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        feed.contains("genesis_feed_book_stale{"),
        "feed series in the scrape:\n{body}"
    );
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "CI: promtool is required (test.sh installs the prometheus package)"
        );
        eprintln!("SKIPPED: promtool is not installed; the feed series were not linted");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}\n{feed}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
