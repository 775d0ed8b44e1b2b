//! A throwaway PostgreSQL for the drain's integration tests.
//!
//! `TestDb::new()` gives each test its own database: on the server named by
//! `DATABASE_URL` when set (a fresh database, dropped at the end), else on a
//! private server started for the test (initdb in a temporary folder owned
//! by `postgres`, a free port on 127.0.0.1, a unix socket in that folder,
//! `fsync=off`), stopped and removed on drop. As root, a missing
//! PostgreSQL 15 is installed with apt-get first; `initdb` refuses root, so
//! the server runs as the `postgres` user through `runuser`.
//!
//! The private server trusts `postgres` on 127.0.0.1 and asks every other
//! role for a SCRAM password, so a test can try a wrong password.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static INSTALL: Mutex<()> = Mutex::new(());
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

pub struct TestDb {
    url: String,
    server: Option<Server>,
    /// On an external server: the admin URL and the database to drop.
    external: Option<(String, String)>,
}

struct Server {
    bin: PathBuf,
    root: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl TestDb {
    pub fn new() -> TestDb {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        match std::env::var("DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => TestDb::external(admin, id),
            _ => TestDb::private(id),
        }
    }

    /// A private server even when `DATABASE_URL` is set: for a test that
    /// stops and starts the server under the drain.
    pub fn private_server() -> TestDb {
        TestDb::private(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }

    fn external(admin: String, id: u32) -> TestDb {
        let name = format!("genesis_test_{}_{id}", std::process::id());
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("connect to DATABASE_URL");
        // Two statements, two round trips: one `batch_execute` would run
        // them as one implicit transaction, where DROP DATABASE and CREATE
        // DATABASE are refused.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let mut config: postgres::Config = admin.parse().expect("DATABASE_URL parses");
        config.dbname(&name);
        let url = url_of(&config, &name);
        TestDb {
            url,
            server: None,
            external: Some((admin, name)),
        }
    }

    fn private(id: u32) -> TestDb {
        let bin = postgres_bin();
        let as_postgres = is_root();
        let root = std::env::temp_dir().join(format!("genesis-pg-{}-{id}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the server folder");
        if as_postgres {
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown the server folder");
        }
        let data = root.join("data");
        let server = Server {
            bin,
            root,
            data,
            port: free_port(),
            as_postgres,
        };
        server.run(
            "initdb",
            &[
                "-D",
                server.data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let hba = "local all all trust\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host all all 127.0.0.1/32 scram-sha-256\n";
        std::fs::write(server.data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        server.start();
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
        TestDb {
            url,
            server: Some(server),
            external: None,
        }
    }

    /// A URL as the superuser, for the test's own database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }

    /// True when the test owns the server and may stop and start it.
    pub fn owns_server(&self) -> bool {
        self.server.is_some()
    }

    /// The private server's port.
    pub fn port(&self) -> Option<u16> {
        self.server.as_ref().map(|s| s.port)
    }

    pub fn stop_server(&self) {
        self.server.as_ref().expect("a private server").stop();
    }

    pub fn start_server(&self) {
        self.server.as_ref().expect("a private server").start();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.stop();
            let _ = std::fs::remove_dir_all(&server.root);
        }
        if let Some((admin, name)) = &self.external {
            if let Ok(mut client) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

impl Server {
    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let output = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.root.display()
        );
        let log = self.root.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    fn stop(&self) {
        if self.data.join("postmaster.pid").exists() {
            self.run(
                "pg_ctl",
                &[
                    "-D",
                    self.data.to_str().unwrap(),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "60",
                    "stop",
                ],
            );
        }
    }
}

fn url_of(config: &postgres::Config, dbname: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    match config.get_password() {
        Some(password) => format!(
            "host={host} port={port} user={user} password={} dbname={dbname}",
            String::from_utf8_lossy(password)
        ),
        None => format!("host={host} port={port} user={user} dbname={dbname}"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id postgres");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse::<u32>()
            .expect("the postgres user exists")
    };
    (id("-u"), id("-g"))
}

/// The folder of PostgreSQL's server programs, installing version 15 if none is there.
fn postgres_bin() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bin) = find_bin() {
        return bin;
    }
    assert!(
        is_root(),
        "PostgreSQL server programs not found under /usr/lib/postgresql and not root: \
         install postgresql-15 or set DATABASE_URL"
    );
    for args in [
        &["update", "-qq"][..],
        &[
            "install",
            "-y",
            "-qq",
            "-o",
            "DPkg::Lock::Timeout=300",
            "postgresql-15",
        ][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("run apt-get");
        assert!(status.success(), "apt-get {args:?} failed");
    }
    find_bin().expect("postgresql-15 installed its server programs")
}

fn find_bin() -> Option<PathBuf> {
    let preferred = Path::new("/usr/lib/postgresql/15/bin");
    if preferred.join("initdb").exists() {
        return Some(preferred.to_path_buf());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Waits until `condition` holds, checking every few milliseconds, or panics
/// with `what` after `deadline`.
#[allow(clippy::disallowed_methods)] // a test's deadline, not a stage decision
pub fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `condition` holds, for as long as `progress` keeps moving:
/// fails only when its value has not changed for `stall` (a loaded host
/// makes the work slower, never stops it; a stuck one stops it).
#[allow(clippy::disallowed_methods)] // a test's stall limit, not a stage decision
pub fn wait_progressing(
    what: &str,
    stall: Duration,
    mut progress: impl FnMut() -> u64,
    mut condition: impl FnMut() -> bool,
) {
    let mut last = progress();
    let mut moved = Instant::now();
    while !condition() {
        let now = progress();
        if now != last {
            last = now;
            moved = Instant::now();
        }
        assert!(
            moved.elapsed() < stall,
            "waiting for {what}: no progress for {stall:?} (stuck at {last})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Journals for the drain tests: written directly, event by event.
pub mod journal {
    use genesis_engine::decision::{Action, ExecResult, Intent, Outcome, RejectReason};
    use genesis_engine::event::{Event, Fill, Input, OrderAck, TopOfBook, EVENT_BYTES};
    use genesis_engine::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
    use std::path::{Path, PathBuf};

    /// Writes `events` (their `seq` must run from 1) as journal file `<name>.gjnl` in `dir`.
    pub fn write(dir: &Path, name: &str, events: &[Event]) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(format!("{name}.gjnl"));
        let mut writer =
            genesis_journal::FileWriter::create(&path, EVENT_BYTES, 1, 1 << 16).unwrap();
        let mut bytes = [0u8; EVENT_BYTES];
        for event in events {
            event.encode(&mut bytes);
            writer.append(&bytes).unwrap();
        }
        writer.flush().unwrap();
        path
    }

    /// Every event of a version-1 journal file.
    pub fn read_v1(path: &Path) -> Vec<Event> {
        let mut reader = genesis_journal::FileReader::open(path).unwrap();
        let mut events = Vec::new();
        while let genesis_journal::ReadOutcome::Record(record) = reader.next_record().unwrap() {
            events.push(Event::decode(record.payload.try_into().unwrap()).unwrap());
        }
        events
    }

    /// `count` events from `seq_first`, `step_ns` apart from `ts_first_ns`:
    /// quotes, with every 10th event an order sent, acked on the next, and
    /// filled in two halves; every 50th fill flagged duplicate.
    pub fn synthetic(seq_first: u64, count: u64, ts_first_ns: u64, step_ns: u64) -> Vec<Event> {
        (0..count)
            .map(|index| {
                let seq = seq_first + index;
                let instrument = (seq % 3) as u16;
                let order = seq / 10 + 1;
                let mut event = match seq % 10 {
                    1 => Event::new(
                        InstrumentId(instrument),
                        Side::Buy,
                        Input::OrderAck(OrderAck {
                            order_id: OrderId(order - 1),
                            venue_order_id: order * 100,
                            price: Price(10_000),
                            qty: Qty(10),
                        }),
                    ),
                    2 | 3 => {
                        let mut fill = Event::new(
                            InstrumentId(instrument),
                            Side::Buy,
                            Input::Fill(Fill {
                                order_id: OrderId(order - 1),
                                exec_id: ExecId(seq),
                                price: Price(10_000 + (seq % 7) as i64),
                                qty: Qty(5),
                            }),
                        );
                        fill.outcome = Outcome::Applied;
                        if seq % 50 == 3 {
                            fill.flags = genesis_engine::event::FLAG_DUPLICATE;
                            fill.outcome = Outcome::DuplicateFill;
                        }
                        fill
                    }
                    _ => Event::new(
                        InstrumentId(instrument),
                        Side::None,
                        Input::TopOfBook(TopOfBook {
                            bid_px: Price(9_990 + (seq % 13) as i64),
                            bid_qty: Qty(10),
                            ask_px: Price(10_010),
                            ask_qty: Qty(12),
                        }),
                    ),
                };
                if matches!(event.kind, genesis_engine::EventKind::OrderAck) {
                    event.outcome = Outcome::Applied;
                }
                if seq.is_multiple_of(10) {
                    event.intents[0] = Intent {
                        order_id: OrderId(order),
                        price: Price(10_000),
                        qty: Qty(10),
                        instrument: InstrumentId(instrument),
                        action: Action::New,
                        side: Side::Buy,
                        reject: RejectReason::None,
                        exec: ExecResult::Sent,
                        reserved: [0; 2],
                    };
                }
                event.seq = seq;
                event.ts_recv_ns = ts_first_ns + index * step_ns;
                event.ts_venue_ns = event.ts_recv_ns.saturating_sub(1_000);
                event
            })
            .collect()
    }
}

/// Database checks shared by the drain tests.
pub mod check {
    use genesis_drain::rows::{event_from_row, EVENT_SELECT_COLUMNS};
    use genesis_engine::event::Event;

    /// The stream's events as stored, rebuilt, in sequence order.
    pub fn stored_events(client: &mut postgres::Client, stream: &str) -> Vec<Event> {
        client
            .query(
                &format!(
                    "SELECT {EVENT_SELECT_COLUMNS} FROM events WHERE stream = $1 ORDER BY seq"
                ),
                &[&stream],
            )
            .unwrap()
            .iter()
            .map(|row| event_from_row(row).expect("stored codes decode"))
            .collect()
    }

    pub fn count(client: &mut postgres::Client, sql: &str) -> i64 {
        client.query_one(sql, &[]).unwrap().get(0)
    }

    /// No (stream, seq) twice, and per stream sequences 1..=n with no hole.
    pub fn exactly_once(client: &mut postgres::Client) {
        let duplicates = count(
            client,
            "SELECT count(*) FROM (SELECT stream, seq FROM events GROUP BY 1, 2 HAVING count(*) > 1) d",
        );
        assert_eq!(duplicates, 0, "events duplicated");
        let holes = count(
            client,
            "SELECT count(*) FROM (SELECT stream FROM events GROUP BY stream
                 HAVING count(*) <> max(seq) OR min(seq) <> 1) h",
        );
        assert_eq!(holes, 0, "events missing");
    }
}
