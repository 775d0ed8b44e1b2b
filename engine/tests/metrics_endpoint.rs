//! The metrics endpoint as a hostile host and Prometheus meet it: 1,000 idle
//! connections (more than the listen backlog and than the server holds) do
//! not keep a scrape out, and every scrape passes `promtool check metrics`.

#![allow(clippy::disallowed_methods)] // deadlines and the scrape's duration are wall-clock

use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::telemetry::{metrics_http, Board, Counter, Gauges};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A board with every kind of series filled in: counters, stage latencies,
/// the engine's tick-to-trade, alerts and gauges beside the engine.
fn busy_board() -> Arc<Board> {
    let board = Arc::new(Board::new());
    board.set(Counter::Events, 1_234);
    {
        let mut snapshot = board.snapshot.lock().unwrap();
        let p = Percentiles {
            count: 10,
            p50: 150,
            p90: 900,
            p99: 4_000,
            p99_9: 9_000,
            p99_99: 12_000,
            max: 1_500_000,
        };
        snapshot.stages = vec![("ingest", p, p), ("journal", p, p)];
        snapshot.events_per_sec = 20_000.0;
        snapshot.rss_bytes = 50 << 20;
        snapshot.alerts = vec![("event_rate_low", "warn")];
        snapshot.tick_to_trade = Some(genesis_engine::telemetry::tick_to_trade::T2tSplit {
            total: p,
            recv_read: p,
            read_decide: p,
            decide_send: p,
        });
    }
    struct Beside;
    impl Gauges for Beside {
        fn visit(&self, gauge: &mut dyn FnMut(&'static str, &'static str, f64)) {
            gauge(
                "drain_lag_events",
                "Events journaled but not yet loaded.",
                3.0,
            );
            gauge(
                "drain_lag_seconds",
                "Age of the oldest event not loaded.",
                0.5,
            );
        }
    }
    let _ = board.gauges.set(Arc::new(Beside));
    board
}

/// One `GET /metrics`; the body.
fn scrape(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    body.to_string()
}

/// Raises this process's descriptor limit to what 1,000 connections on both ends need.
#[allow(unsafe_code)] // getrlimit(2) / setrlimit(2)
fn raise_descriptor_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

// 1,000 connections that send nothing are held open by the client; a scrape
// on a fresh connection still answers in under 100 ms.
#[test]
fn idle_connections_do_not_starve_a_scrape() {
    raise_descriptor_limit(4096);
    let stop = Arc::new(AtomicBool::new(false));
    let (address, handle) =
        metrics_http::serve("127.0.0.1:0", busy_board(), 1, Arc::clone(&stop)).unwrap();
    let idle: Vec<TcpStream> = (0..1_000)
        .map(|i| {
            TcpStream::connect_timeout(&address, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}"))
        })
        .collect();
    // Five scrapes: the median under 100 ms, every one under a second. (A
    // starved endpoint takes seconds to minutes; a single scrape on a loaded
    // two-core host can lose its core for a scheduler tick or two.)
    let mut took: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let body = scrape(address);
            assert!(body.contains("genesis_events_total 1234"), "{body}");
            started.elapsed()
        })
        .collect();
    took.sort();
    assert!(
        took[2] < Duration::from_millis(100) && took[4] < Duration::from_secs(1),
        "scrapes beside 1,000 idle connections took {took:?}"
    );
    drop(idle);
    stop.store(true, std::sync::atomic::Ordering::Release);
    handle.join().unwrap();
}

// A request that never ends is cut off at the size bound with 431, and a
// request for anything else is a 404, both without stopping the server.
#[test]
fn oversized_and_unknown_requests_are_answered() {
    let stop = Arc::new(AtomicBool::new(false));
    let (address, handle) =
        metrics_http::serve("127.0.0.1:0", busy_board(), 1, Arc::clone(&stop)).unwrap();
    let exchange = |request: &[u8]| {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(request);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    };
    let huge = vec![b'a'; 64 * 1024];
    assert!(exchange(&huge).starts_with("HTTP/1.1 431"));
    assert!(exchange(b"GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(scrape(address).contains("genesis_stage_latency_seconds"));
    stop.store(true, std::sync::atomic::Ordering::Release);
    handle.join().unwrap();
}

// Every series follows Prometheus' conventions: `promtool check metrics`
// (Debian's `prometheus` package; test.sh installs it) finds nothing.
#[test]
fn exposition_passes_promtool() {
    let stop = Arc::new(AtomicBool::new(false));
    let (address, handle) =
        metrics_http::serve("127.0.0.1:0", busy_board(), 2, Arc::clone(&stop)).unwrap();
    let body = scrape(address);
    stop.store(true, std::sync::atomic::Ordering::Release);
    handle.join().unwrap();
    assert!(
        body.contains("# TYPE genesis_stage_latency_seconds summary"),
        "{body}"
    );
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed; test.sh installs it");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
