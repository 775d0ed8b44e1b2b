//! The metrics endpoint as a hostile host and Prometheus meet it: 1,000 idle
//! connections (more than the listen backlog and than the server holds) do
//! not keep a scrape out, and every scrape passes `promtool check metrics`.
//!
//! And beside the hot path, measured without a clock that load can skew:
//! with 1,000 idle connections held open against it (once the server has
//! closed them for idleness, the steady state), over a fixed stretch
//! of engine events (a fused pipeline on the test's thread: synthetic feed,
//! paper venue, market maker, journal) the endpoint's thread burns next to
//! no CPU: under 1 % of the stretch's wall time (it measures about 0.1 %,
//! beside `stress --cpu 2` too; the engine thread's CPU time is printed
//! beside it). CPU times are the threads' own CPU clocks
//! (`pthread_getcpuclockid`), so a loaded host lengthens the stretch but
//! does not move the ratio (a starved or busy-looping endpoint would burn a
//! whole core: 100 % of the wall time). Its thread is not pinned: it may
//! run on every CPU the process may, so the kernel can keep it off the
//! pipeline's cores.

#![allow(clippy::disallowed_methods)] // deadlines and the scrape's duration are wall-clock

mod common;
#[path = "../../io/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/fused.rs"]
mod fused;

use genesis_engine::config::{MarketDataSource, VenueKind};
use genesis_engine::run::Parts;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::telemetry::{metrics_http, Board, Counter, Gauges};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, Ordering};
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
            decide_return: p,
            send_stamp: genesis_engine::telemetry::tick_to_trade::SendStamp::TxSoftware,
            waits: Default::default(),
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
    scrape_counting_retransmissions(address).0
}

/// One `GET /metrics`; the body, and how many segments the client's end
/// of the connection sent again (its SYN, or the request after a dropped
/// handshake: loopback loses nothing else).
fn scrape_counting_retransmissions(address: SocketAddr) -> (String, u32) {
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
    (body.to_string(), retransmissions(&stream))
}

/// Segments `stream` has sent again so far (`TCP_INFO`'s `tcpi_total_retrans`).
#[allow(unsafe_code)] // getsockopt(2)
fn retransmissions(stream: &TcpStream) -> u32 {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain old data (all-zero is valid); getsockopt
    // writes at most `length` bytes into it and updates `length`.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut length = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut length,
        );
        assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
        info.tcpi_total_retrans
    }
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

/// Taken by the tests that time scrapes or count CPU: the engine stretch
/// of one would otherwise take the cores the other's scrapes are timed on.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The endpoint on a busy board, with `count` connections that send
/// nothing held open against it: its address, thread, stop flag and the
/// idle connections.
fn serve_beside_idle_connections(
    count: usize,
) -> (
    SocketAddr,
    metrics_http::EndpointThread,
    Arc<AtomicBool>,
    Vec<TcpStream>,
) {
    raise_descriptor_limit(4096);
    let stop = Arc::new(AtomicBool::new(false));
    let (address, handle) =
        metrics_http::serve("127.0.0.1:0", busy_board(), 1, Arc::clone(&stop)).unwrap();
    let idle = (0..count)
        .map(|i| {
            TcpStream::connect_timeout(&address, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}"))
        })
        .collect();
    (address, handle, stop, idle)
}

// 1,000 connections that send nothing are held open by the client; five
// scrapes on fresh connections are still answered, each without a segment
// sent twice. Counted, not timed: a starved endpoint shows as a scrape
// never answered (the scrape's 5 s timeouts fail it: a starved endpoint
// takes seconds to minutes), or as a handshake the full listen backlog
// dropped, which the client only gets through by sending its SYN or its
// request again (about a second later); on loopback nothing else is
// retransmitted, however loaded the host.
#[test]
fn idle_connections_do_not_starve_a_scrape() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (address, handle, stop, idle) = serve_beside_idle_connections(1_000);
    for attempt in 0..5 {
        let (body, retransmitted) = scrape_counting_retransmissions(address);
        assert!(body.contains("genesis_events_total 1234"), "{body}");
        assert_eq!(
            retransmitted, 0,
            "scrape {attempt} beside 1,000 idle connections had to resend: its handshake was dropped"
        );
    }
    drop(idle);
    stop.store(true, Ordering::Release);
    handle.join().unwrap();
}

/// The CPUs a thread of this process may run on.
#[allow(unsafe_code)] // pthread_getaffinity_np(3)
fn thread_cpus(thread: libc::pthread_t) -> Vec<usize> {
    // SAFETY: cpu_set_t is plain old data (all-zero: the empty set);
    // `thread` is live (joined only after this call); the call writes only
    // to the set passed by pointer, of the size given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::pthread_getaffinity_np(thread, size, &mut set), 0);
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

// With the pipeline pinned, the endpoint's thread keeps off its cores when
// others remain, and keeps every CPU when the plan pins them all.
#[test]
fn the_endpoint_keeps_off_the_pipelines_pinned_cores() {
    let ours = thread_cpus(this_thread());
    for keep_off in [ours[..1].to_vec(), ours.clone()] {
        let stop = Arc::new(AtomicBool::new(false));
        let (address, handle) = metrics_http::serve_off(
            "127.0.0.1:0",
            busy_board(),
            1,
            Arc::clone(&stop),
            keep_off.clone(),
        )
        .unwrap();
        // Answering a scrape means the thread has started, and it moves
        // itself before it serves.
        assert!(scrape(address).contains("genesis_events_total 1234"));
        let endpoint = thread_cpus(handle.as_pthread_t());
        let expected: Vec<usize> = if keep_off.len() < ours.len() {
            ours.iter()
                .copied()
                .filter(|c| !keep_off.contains(c))
                .collect()
        } else {
            ours.clone()
        };
        assert_eq!(endpoint, expected, "keeping off {keep_off:?} of {ours:?}");
        stop.store(true, Ordering::Release);
        handle.join().unwrap();
    }
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
    stop.store(true, Ordering::Release);
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
    stop.store(true, Ordering::Release);
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

/// CPU time a thread has used, by its own CPU clock.
#[allow(unsafe_code)] // pthread_getcpuclockid(3), clock_gettime(2)
fn cpu_ns(thread: libc::pthread_t) -> u64 {
    let mut clock: libc::clockid_t = 0;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `thread` is a live thread (joined only after the last
    // reading); both calls write only to the locals passed by pointer.
    unsafe {
        assert_eq!(libc::pthread_getcpuclockid(thread, &mut clock), 0);
        assert_eq!(libc::clock_gettime(clock, &mut now), 0);
    }
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[allow(unsafe_code)] // pthread_self(3)
fn this_thread() -> libc::pthread_t {
    // SAFETY: always safe to call.
    unsafe { libc::pthread_self() }
}

/// `Cpus_allowed_list` of a task of this process (`self` for the process).
fn cpus_allowed(task: &str) -> String {
    let path = if task == "self" {
        "/proc/self/status".to_string()
    } else {
        format!("/proc/self/task/{task}/status")
    };
    let status = std::fs::read_to_string(&path).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {path}"))
        .trim()
        .to_string()
}

/// The id of this process's thread named `name`.
fn task_named(name: &str) -> String {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .find(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .unwrap_or_else(|| panic!("no thread named {name}"))
        .file_name()
        .into_string()
        .unwrap()
}

/// Waits until the server has closed every idle connection (each client
/// end reads end-of-file or a reset): after its idle timeout, the steady
/// state the stretch measures. Fails after a minute.
fn wait_until_server_closed(idle: &[TcpStream]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for stream in idle {
        stream.set_nonblocking(true).unwrap();
    }
    loop {
        let open = idle
            .iter()
            .filter(|stream| match (&**stream).read(&mut [0u8; 1]) {
                Ok(0) => false,
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                Ok(_) => panic!("the endpoint sent bytes to a connection that asked nothing"),
            })
            .count();
        if open == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{open} idle connections still open a minute on (the idle timeout is 1 s)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// With 1,000 idle connections held open, a scrape answers and the
// endpoint's thread uses next to no CPU over a fixed stretch of engine
// events (see the header); its thread is not pinned.
#[test]
fn idle_connections_cost_the_hot_path_next_to_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (address, endpoint, stop, idle) = serve_beside_idle_connections(1_000);
    // Behind 1,000 idle connections, a scrape is answered.
    assert!(scrape(address).contains("genesis_events_total 1234"));
    let endpoint_task = task_named("metrics-http");
    assert_eq!(
        cpus_allowed(&endpoint_task),
        cpus_allowed("self"),
        "the endpoint's thread may run on every CPU the process may (it is not pinned)"
    );

    wait_until_server_closed(&idle);

    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.market_data.rate_per_sec = 0;
    config.market_data.timer_interval_ms = 1;
    config.risk.orders_per_window = 1_000_000;
    config.venue.kind = VenueKind::Paper;
    config.market_data.source = MarketDataSource::Synthetic;
    let (parts, _control) = Parts::from_config(&config).unwrap();

    let endpoint_thread = endpoint.as_pthread_t();
    let (endpoint_before, engine_before) = (cpu_ns(endpoint_thread), cpu_ns(this_thread()));
    let started = Instant::now();
    let measured = fused::run_fused(&config, parts, 10_000, 150_000);
    let wall_ns = started.elapsed().as_nanos() as u64;
    let endpoint_cpu_ns = cpu_ns(endpoint_thread) - endpoint_before;
    let engine_cpu_ns = cpu_ns(this_thread()) - engine_before;
    assert!(measured.market_data > 10_000, "the engine ran");

    // Still answering after the stretch, with the idle connections held.
    assert!(scrape(address).contains("genesis_events_total 1234"));
    drop(idle);
    stop.store(true, Ordering::Release);
    endpoint.join().unwrap();
    let figures = format!(
        "endpoint thread {endpoint_cpu_ns} ns of CPU; engine thread {engine_cpu_ns} ns; wall {wall_ns} ns"
    );
    eprintln!("{figures}");
    // The bound's base is the stretch's wall time: an idle endpoint's cost
    // is a few system calls per wake, 20 wakes a second, whatever the load
    // (a bound on the engine's CPU time would tighten as load stretches the
    // wall time: not a bound that cannot flake).
    assert!(
        endpoint_cpu_ns * 100 < wall_ns,
        "the endpoint's thread used 1 % or more of the stretch's wall time: {figures}"
    );
}
