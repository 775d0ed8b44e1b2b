//! The REST depth snapshot, fetched on a helper thread:
//! `GET {base}/api/v3/depth?symbol=BTCUSDT&limit=1000` over HTTP or HTTPS
//! with `ureq` (blocking, rustls), as Binance's local-book guide says.
//!
//! Owning threads: the fetcher thread (spawned once by
//! [`SnapshotFetcher::spawn`]) owns the HTTP agent and makes one request at
//! a time; the ingest thread owns the [`SnapshotFetcher`] handle and only
//! pushes requests ([`SnapshotFetcher::try_request`]) and pops answers
//! ([`SnapshotFetcher::try_answer`]), neither of which blocks or allocates.
//! Both queues are bounded (`queue_capacity`): a full request queue refuses
//! the request (it is handed back; the caller retries later); the fetcher
//! blocks only itself when the answer queue is full.
//!
//! Buffers: each request carries the body buffer the answer comes back in,
//! so the ingest thread recycles a few `Vec`s instead of receiving fresh
//! ones; only the fetcher thread (URL, error text) allocates.
//!
//! Failures are answers, never panics: a timeout (`timeout_ns` for the
//! whole call: connect, TLS, request, body), a refused connection, a TLS
//! failure, an HTTP status other than 200 (with Binance's error JSON
//! `{"code":-1121,"msg":"Invalid symbol."}` decoded when present, and
//! `Retry-After` for 429 and 418), or a body over `body_bytes_max`. The
//! caller counts them and retries with backoff. The thread ends when the
//! handle is dropped (after the call in flight, bounded by `timeout_ns`).

use super::error::NetError;
use super::stream_url::split_url;
use super::tls::TlsSetup;
use crate::binance::{parse_rest_error, Symbol};
use std::fmt::Write as _;
use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// How to build a [`SnapshotFetcher`].
#[derive(Clone, Debug)]
pub struct SnapshotFetcherConfig {
    /// `http://host:port` or `https://host[:port]` (a path prefix is kept).
    pub base_url: String,
    /// Limit on the whole call: connect, TLS, request and body.
    pub timeout_ns: u64,
    /// Largest body accepted (a 5000-level snapshot is about 300 KB).
    pub body_bytes_max: usize,
    /// Requests and answers each queue holds.
    pub queue_capacity: usize,
}

/// A snapshot request.
#[derive(Debug)]
pub struct SnapshotRequest {
    /// Caller's instrument index, echoed.
    pub instrument: usize,
    /// Caller's ticket (to drop answers to requests it gave up on), echoed.
    pub ticket: u64,
    /// Exchange symbol, upper case.
    pub symbol: Symbol,
    /// Levels per side (Binance: 1 to 5000).
    pub limit: u32,
    /// Buffer the body is read into (cleared first; capacity reused).
    pub body: Vec<u8>,
}

/// Why a fetch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchFailure {
    /// The call took longer than `timeout_ns`.
    Timeout,
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// TLS failed (e.g. the certificate was refused).
    Tls,
    /// An HTTP status other than 200; `code` is Binance's error code from
    /// the body, if it had one.
    Status {
        /// HTTP status.
        status: u16,
        /// `"code"` of `{"code":…,"msg":…}`.
        code: Option<i64>,
    },
    /// The body was larger than `body_bytes_max`.
    BodyTooLarge,
    /// Another transport or protocol error.
    Transport,
}

/// A fetch's result.
#[derive(Debug)]
pub struct SnapshotAnswer {
    /// The request's instrument.
    pub instrument: usize,
    /// The request's ticket.
    pub ticket: u64,
    /// The body (the snapshot JSON when `result` is `Ok`); give it back in
    /// the next request.
    pub body: Vec<u8>,
    /// `Ok` for HTTP 200 with a body within the limit.
    pub result: Result<(), FetchFailure>,
    /// What went wrong, for the log (empty on success).
    pub detail: String,
    /// The server's `Retry-After` (429, 418), in nanoseconds.
    pub retry_after_ns: Option<u64>,
    /// How long the call took.
    pub elapsed_ns: u64,
}

/// The ingest thread's handle on the fetcher thread.
#[derive(Debug)]
pub struct SnapshotFetcher {
    requests: SyncSender<SnapshotRequest>,
    answers: Receiver<SnapshotAnswer>,
    base_url: String,
}

impl SnapshotFetcher {
    /// Check the base URL, build the HTTP agent (trusting the roots of
    /// `tls`), and start the thread.
    pub fn spawn(
        config: SnapshotFetcherConfig,
        tls: &TlsSetup,
    ) -> Result<SnapshotFetcher, NetError> {
        split_url(&config.base_url, ("http", "https")).map_err(|reason| NetError::Url {
            url: config.base_url.clone(),
            reason,
        })?;
        if config.queue_capacity == 0 || config.timeout_ns == 0 {
            return Err(NetError::Config {
                field: "snapshot fetcher",
                reason: "queue_capacity and timeout_ns must be positive",
            });
        }
        let agent = build_agent(&config, tls);
        let (requests, requests_in) = sync_channel(config.queue_capacity);
        let (answers_out, answers) = sync_channel(config.queue_capacity);
        let worker = Worker {
            agent,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            body_bytes_max: config.body_bytes_max,
            url: String::with_capacity(256),
        };
        std::thread::Builder::new()
            .name("snapshot-fetch".into())
            .spawn(move || worker.run(&requests_in, &answers_out))
            .map_err(|source| NetError::Spawn { source })?;
        Ok(SnapshotFetcher {
            requests,
            answers,
            base_url: config.base_url,
        })
    }

    /// The REST base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queue a request without blocking; a full queue (or a dead thread)
    /// hands it back.
    pub fn try_request(&self, request: SnapshotRequest) -> Result<(), SnapshotRequest> {
        self.requests
            .try_send(request)
            .map_err(|error| match error {
                TrySendError::Full(request) | TrySendError::Disconnected(request) => request,
            })
    }

    /// The next answer, if one is ready; never blocks.
    pub fn try_answer(&self) -> Option<SnapshotAnswer> {
        // Empty, or the thread is gone (the in-flight deadline notices).
        self.answers.try_recv().ok()
    }
}

fn build_agent(config: &SnapshotFetcherConfig, tls: &TlsSetup) -> ureq::Agent {
    let roots: Vec<ureq::tls::Certificate<'static>> = tls
        .root_certificates()
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    let tls_config = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_nanos(config.timeout_ns)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent("genesis-io")
        .tls_config(tls_config)
        .build()
        .into()
}

/// The fetcher thread's state.
struct Worker {
    agent: ureq::Agent,
    base_url: String,
    body_bytes_max: usize,
    url: String,
}

impl Worker {
    fn run(mut self, requests: &Receiver<SnapshotRequest>, answers: &SyncSender<SnapshotAnswer>) {
        // Ends when the handle (the only sender) is dropped.
        while let Ok(request) = requests.recv() {
            let answer = self.fetch(request);
            if answers.send(answer).is_err() {
                return;
            }
        }
    }

    fn fetch(&mut self, request: SnapshotRequest) -> SnapshotAnswer {
        let SnapshotRequest {
            instrument,
            ticket,
            symbol,
            limit,
            mut body,
        } = request;
        body.clear();
        self.url.clear();
        let symbol_text = String::from_utf8_lossy(symbol.as_bytes());
        let _ = write!(
            self.url,
            "{}/api/v3/depth?symbol={symbol_text}&limit={limit}",
            self.base_url
        );
        let started = Instant::now();
        let (result, detail, retry_after_ns) = self.call(&mut body);
        SnapshotAnswer {
            instrument,
            ticket,
            body,
            result,
            detail,
            retry_after_ns,
            elapsed_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// One GET into `body`: (result, detail, Retry-After).
    fn call(&self, body: &mut Vec<u8>) -> (Result<(), FetchFailure>, String, Option<u64>) {
        let mut response = match self.agent.get(&self.url).call() {
            Ok(response) => response,
            Err(error) => {
                return (
                    Err(classify(&error)),
                    format!("GET {}: {error}", self.url),
                    None,
                )
            }
        };
        let status = response.status().as_u16();
        let retry_after_ns = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(|seconds| seconds.saturating_mul(1_000_000_000));
        let limit = self.body_bytes_max as u64;
        let mut reader = response.body_mut().with_config().limit(limit).reader();
        if let Err(error) = reader.read_to_end(body) {
            let failure = classify_io(&error);
            return (
                Err(failure),
                format!("GET {}: reading the body: {error}", self.url),
                None,
            );
        }
        if status == 200 {
            return (Ok(()), String::new(), None);
        }
        let (code, msg) = match parse_rest_error(body) {
            Ok(error) => (
                Some(error.code),
                String::from_utf8_lossy(error.msg).into_owned(),
            ),
            Err(_) => (None, String::new()),
        };
        let detail = format!("GET {}: HTTP {status}, code {code:?}: {msg:?}", self.url);
        (
            Err(FetchFailure::Status { status, code }),
            detail,
            retry_after_ns,
        )
    }
}

fn classify(error: &ureq::Error) -> FetchFailure {
    match error {
        ureq::Error::Timeout(_) => FetchFailure::Timeout,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => FetchFailure::Connect,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => FetchFailure::Tls,
        ureq::Error::BodyExceedsLimit(_) => FetchFailure::BodyTooLarge,
        ureq::Error::Io(io) => classify_io(io),
        _ => FetchFailure::Transport,
    }
}

fn classify_io(error: &std::io::Error) -> FetchFailure {
    use std::io::ErrorKind;
    if let Some(inner) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>())
    {
        return classify(inner);
    }
    match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => FetchFailure::Timeout,
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset | ErrorKind::NotConnected => {
            FetchFailure::Connect
        }
        ErrorKind::InvalidData if error.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
            FetchFailure::Tls
        }
        _ => FetchFailure::Transport,
    }
}
