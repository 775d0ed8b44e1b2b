//! Interoperability with QuickFIX/C++, a FIX engine nobody here wrote, run
//! as a strict venue: every message we send is validated against QuickFIX
//! 1.15.1's FIX 4.4 data dictionary with `ValidateUserDefinedFields=Y`.
//!
//! - Its example acceptor "executor" (fills every limit order) is built
//!   from the Debian package `libquickfix-doc` against `libquickfix-dev`:
//!   orders are accepted and filled (5051 is not sent by default);
//!   with 5051 on, each order is rejected at session level (35=3, 371=5051)
//!   and the rejection reaches the application as a typed reject of that
//!   order; OrderMassStatusRequest and OrderStatusRequest are refused by it
//!   with a BusinessMessageReject (it implements neither); our stored
//!   MsgSeqNum set below what it expects makes it log us out, the session
//!   stops with an error naming the remedy, and after the remedy (a reset of
//!   the store) the next Logon resets both sides with 141=Y.
//! - Our QuickFIX-based acceptor (`support/quickfix_status_acceptor.cpp`)
//!   answers AF and H as FIX 4.4 says; our reconciler completes on its answers.
//!
//! The packages are installed when missing (needs root). Without them the
//! test is skipped locally but FAILS when `CI=true`. The acceptors are built
//! once per test process and killed on every exit path (a guard's `Drop`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::exec_dedup::{ExecIdSet, ExecKey};
use genesis_io::fix::exec_report::{ExecKind, OrdStatus, OrderUpdate};
use genesis_io::fix::order::{NewOrderSingle, Side};
use genesis_io::fix::reconcile::{ReconcileState, Reconciler};
use genesis_io::fix::reject::RejectLevel;
use genesis_io::fix::seq_store::{reset_seq_store, SeqNumbers, SeqReset, SeqStore};
use genesis_io::fix::session::{
    RequestReject, Sender, Session, SessionConfig, SessionEvent, SessionHandler, SessionState,
};
use genesis_io::fix::status::StatusReport;
use genesis_io::fix::tcp::{unix_now_ns, TcpInitiator};
use genesis_io::fix::{FixError, InstrumentScale, Message, MsgType, Ticks};

#[path = "support/quickfix.rs"]
mod quickfix;
use quickfix::*;

#[path = "support/fix_pair.rs"]
mod fix_pair;
use fix_pair::{order, scale, RejectSeen};

const TIMEOUT_NS: u64 = 10_000_000_000;

/// What one status report told us.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StatusSeen {
    cl_ord_id: String,
    ord_status: OrdStatus,
    cum: i64,
    leaves: i64,
    unknown: bool,
    empty: bool,
}

/// Tracks positions from fills (dropping duplicates by OrderID+ExecID),
/// typed rejects, and status reports fed to a reconciler.
struct Book {
    scale: InstrumentScale,
    exec_ids: ExecIdSet,
    position_lots: i64,
    fills: u64,
    acks: u64,
    duplicate_fills: u64,
    poss_dup_reports: u64,
    logons: u64,
    resends_requested: u64,
    rejects_received: u64,
    rejects: Vec<RejectSeen>,
    events: Vec<SessionEvent>,
    reconciler: Reconciler,
    statuses: Vec<StatusSeen>,
}

impl Book {
    fn new() -> Book {
        Book {
            scale: InstrumentScale::new("0.01", "1").unwrap(),
            exec_ids: ExecIdSet::with_capacity(1024),
            position_lots: 0,
            fills: 0,
            acks: 0,
            duplicate_fills: 0,
            poss_dup_reports: 0,
            logons: 0,
            resends_requested: 0,
            rejects_received: 0,
            rejects: Vec::new(),
            events: Vec::new(),
            reconciler: Reconciler::new(64, "GEN-"),
            statuses: Vec::new(),
        }
    }

    fn on_status(&mut self, report: &StatusReport<'_>) {
        assert!(
            self.reconciler.on_report(report),
            "a status report we did not ask for: {report:?}"
        );
        self.statuses.push(StatusSeen {
            cl_ord_id: String::from_utf8_lossy(report.cl_ord_id.unwrap_or_default()).into_owned(),
            ord_status: report.ord_status,
            cum: report.cum_qty_lots.0,
            leaves: report.leaves_qty_lots.0,
            unknown: report.is_unknown_order(),
            empty: report.is_empty_answer(),
        });
    }
}

impl SessionHandler for Book {
    fn on_app_message(&mut self, message: &Message<'_>, _sender: &mut Sender, _now_ns: u64) {
        if let Ok(Some(report)) = StatusReport::parse(message, &self.scale) {
            return self.on_status(&report);
        }
        let Ok(Some(OrderUpdate::Execution(report))) = OrderUpdate::parse(message, &self.scale)
        else {
            panic!(
                "unexpected app message {:?}",
                String::from_utf8_lossy(message.bytes())
            );
        };
        self.poss_dup_reports += u64::from(report.poss_dup);
        if !self.exec_ids.insert_exec(ExecKey::of_report(&report)) {
            self.duplicate_fills += 1;
            return;
        }
        match report.kind {
            ExecKind::Fill | ExecKind::PartialFill => {
                self.fills += 1;
                let sign = if report.side == Side::Buy { 1 } else { -1 };
                self.position_lots += sign * report.last_qty_lots.0;
                assert_eq!(
                    report.last_px_ticks,
                    Ticks(10_125),
                    "filled at the limit price"
                );
            }
            ExecKind::New => self.acks += 1,
            other => panic!("unexpected report kind {other:?}"),
        }
    }

    fn on_session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::LoggedOn { .. } => self.logons += 1,
            SessionEvent::ResendRequested { .. } => self.resends_requested += 1,
            SessionEvent::RejectReceived { .. } => self.rejects_received += 1,
            _ => {}
        }
        self.events.push(event);
    }

    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        self.reconciler.on_request_rejected(reject);
        self.rejects.push(RejectSeen::of(reject));
    }
}

/// The two acceptors, compiled once per test process.
struct Binaries {
    executor: PathBuf,
    status_acceptor: PathBuf,
}

/// Builds the acceptors (or says why not): `None` when the packages are
/// missing outside CI (the test is skipped), a panic in CI.
fn binaries() -> Option<&'static Binaries> {
    static BUILT: OnceLock<Result<Binaries, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        ensure_packages()?;
        let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickfix-acceptors");
        std::fs::create_dir_all(&directory).map_err(|error| error.to_string())?;
        let executor = build_executor(&directory)?;
        let status_acceptor = build_status_acceptor(&directory)?;
        Ok(Binaries {
            executor,
            status_acceptor,
        })
    });
    match built {
        Ok(binaries) => Some(binaries),
        Err(why) => {
            assert!(!in_ci(), "QuickFIX acceptors unavailable in CI: {why}");
            eprintln!("SKIPPED: QuickFIX acceptors unavailable: {why}");
            None
        }
    }
}

/// One strict acceptor running in its own folder, where our sequence file lives too.
struct Venue {
    acceptor: Executor,
    port: u16,
    seq_path: PathBuf,
    _directory: tempfile::TempDir,
}

/// Starts the acceptor `pick` chooses, validating strictly; `None`: skipped.
fn strict_venue(pick: impl FnOnce(&Binaries) -> &PathBuf) -> Option<Venue> {
    let binaries = binaries()?;
    let directory = tempfile::tempdir().unwrap();
    let port = free_port();
    let acceptor = start_strict_executor(pick(binaries), directory.path(), port);
    Some(Venue {
        acceptor,
        port,
        seq_path: directory.path().join("genesis.seq"),
        _directory: directory,
    })
}

/// A new initiator on the venue's port, polled until logged on.
fn logged_on(
    venue: &Venue,
    book: &mut Book,
    configure: impl FnOnce(&mut SessionConfig),
) -> TcpInitiator {
    let mut driver = connect(venue.port, &venue.seq_path, configure);
    wait_for("logon", &mut driver, book, &venue.acceptor, active);
    driver
}

fn connect(port: u16, seq_path: &Path, configure: impl FnOnce(&mut SessionConfig)) -> TcpInitiator {
    let mut config = SessionConfig::initiator("GENESIS", "EXECUTOR");
    config.heartbeat_interval_s = 1;
    configure(&mut config);
    let session = Session::new(config, Some(SeqStore::new(seq_path))).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpInitiator::new(addr, session, Backoff::new(50_000_000, 1_000_000_000))
}

/// Sends a limit order; it always carries a trigger time, which the session
/// writes as tag 5051 only when configured to.
fn send_order(driver: &mut TcpInitiator, cl_ord_id: &str, side: Side, qty: i64) {
    let now_ns = unix_now_ns();
    let order = NewOrderSingle {
        transact_time_ns: now_ns,
        trigger_ns: Some(now_ns - 1_000),
        ..order(cl_ord_id.as_bytes(), side, qty)
    };
    driver
        .session()
        .sender()
        .send_new_order(&order, &scale(), now_ns)
        .unwrap();
}

/// Polls `driver` until `done(driver, book)`; fails with the acceptor's log.
fn wait_for(
    what: &str,
    driver: &mut TcpInitiator,
    book: &mut Book,
    executor: &Executor,
    mut done: impl FnMut(&mut TcpInitiator, &Book) -> bool,
) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let progressed = match driver.poll(unix_now_ns(), book) {
            Ok(progressed) => progressed,
            Err(error) => panic!("{what}: {error}\nacceptor log:\n{}", executor.log_tail()),
        };
        if done(driver, book) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; counters {:?}\nacceptor log:\n{}",
            driver.session().counters(),
            executor.log_tail()
        );
        if !progressed {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Polls until `poll` fails; returns that error.
fn wait_for_error(driver: &mut TcpInitiator, book: &mut Book, executor: &Executor) -> FixError {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match driver.poll(unix_now_ns(), book) {
            Err(error) => return error,
            Ok(progressed) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no error; events {:?}\nacceptor log:\n{}",
                    book.events,
                    executor.log_tail()
                );
                if !progressed {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

fn log_out(driver: &mut TcpInitiator, book: &mut Book, executor: &Executor) {
    driver.set_reconnect(false);
    driver.session().logout(b"done", unix_now_ns(), book);
    wait_for("logout", driver, book, executor, |driver, _| {
        !driver.is_connected()
    });
}

fn active(driver: &mut TcpInitiator, _: &Book) -> bool {
    driver.session().state() == SessionState::Active
}

fn round_complete(_: &mut TcpInitiator, book: &Book) -> bool {
    book.reconciler.state() == ReconcileState::Complete
}

/// Starts a reconciliation round with one OrderMassStatusRequest.
fn ask_mass_status(driver: &mut TcpInitiator, book: &mut Book) {
    let sender = driver.session().sender();
    book.reconciler
        .start_mass_status(sender, unix_now_ns(), TIMEOUT_NS)
        .unwrap();
}

/// Starts a round of OrderStatusRequests, one per ClOrdID, and finishes it.
fn ask_order_status(driver: &mut TcpInitiator, book: &mut Book, cl_ord_ids: &[&str]) {
    book.reconciler
        .start_order_status(unix_now_ns(), TIMEOUT_NS);
    for cl_ord_id in cl_ord_ids {
        let order = (cl_ord_id.as_bytes(), None);
        let sender = driver.session().sender();
        book.reconciler
            .request_order_status(sender, order, (b"ACME", Side::Buy), unix_now_ns())
            .unwrap();
    }
    book.reconciler.finish_requests();
}

/// Crash after fills we "missed": rolls next_in back over the last two
/// fills; the restart recovers them through ResendRequest (PossDup) and the
/// OrderID+ExecID dedup keeps the position exact. Returns the new driver,
/// logged out.
fn recover_missed_fills(venue: &Venue, mut driver: TcpInitiator, book: &mut Book) -> TcpInitiator {
    let (executor, seq_path) = (&venue.acceptor, &venue.seq_path);
    let before = driver.session().seq_numbers();
    send_order(&mut driver, "C1", Side::Sell, 1);
    send_order(&mut driver, "C2", Side::Sell, 1);
    wait_for("2 more fills", &mut driver, book, executor, |_, book| {
        book.fills == 6
    });
    driver.drop_connection().unwrap();
    drop(driver);
    let after = SeqStore::new(seq_path).load().unwrap().unwrap();
    SeqStore::new(seq_path)
        .save(SeqNumbers {
            next_out: after.next_out,
            next_in: before.next_in,
        })
        .unwrap();
    let mut driver = connect(venue.port, seq_path, |_| {});
    wait_for(
        "resent fills",
        &mut driver,
        book,
        executor,
        |driver, book| {
            driver.session().state() == SessionState::Active
                && book.duplicate_fills == 2
                && driver.session().seq_numbers().next_in >= after.next_in
        },
    );
    assert_eq!(book.resends_requested, 1, "one ResendRequest for the gap");
    assert!(
        book.poss_dup_reports >= 2,
        "the fills came back with PossDupFlag=Y"
    );
    assert_eq!(book.position_lots, 8);
    assert_eq!(book.fills, 6);
    assert_eq!(book.rejects_received, 0);
    log_out(&mut driver, book, executor);
    driver
}

#[test]
fn genesis_trades_with_a_validating_quickfix_executor() {
    let Some(venue) = strict_venue(|binaries| &binaries.executor) else {
        return;
    };
    let (executor, seq_path) = (&venue.acceptor, &venue.seq_path);
    let mut book = Book::new();

    // Logon with HeartBtInt=1, then heartbeats both ways while idle.
    let mut driver = logged_on(&venue, &mut book, |_| {});
    let received_at_logon = driver.session().counters().messages_received;
    wait_for(
        "heartbeats",
        &mut driver,
        &mut book,
        executor,
        |driver, _| {
            let counters = driver.session().counters();
            counters.messages_received >= received_at_logon + 2 && counters.heartbeats_sent >= 2
        },
    );
    assert_eq!(
        driver.session().state(),
        SessionState::Active,
        "heartbeats kept the session up"
    );

    // Orders (with a trigger time, not sent by default) accepted and filled.
    send_order(&mut driver, "A1", Side::Buy, 7);
    send_order(&mut driver, "A2", Side::Buy, 5);
    send_order(&mut driver, "A3", Side::Sell, 4);
    wait_for("3 fills", &mut driver, &mut book, executor, |_, book| {
        book.fills == 3
    });
    assert_eq!(book.position_lots, 8);
    assert_eq!(
        (book.rejects_received, book.rejects.len()),
        (0, 0),
        "no 5051, no reject"
    );

    // Clean restart: Logout, new session from the sequence file, no reject.
    log_out(&mut driver, &mut book, executor);
    drop(driver);
    let stored = SeqStore::new(seq_path).load().unwrap().unwrap();
    assert!(stored.next_out > 1 && stored.next_in > 1, "{stored:?}");
    let mut driver = logged_on(&venue, &mut book, |_| {});
    send_order(&mut driver, "B1", Side::Buy, 2);
    wait_for(
        "fill after restart",
        &mut driver,
        &mut book,
        executor,
        |_, book| book.fills == 4,
    );
    let counters = driver.session().counters();
    assert_eq!((counters.seq_too_low, counters.rejects_received), (0, 0));
    assert_eq!(book.position_lots, 10);

    let driver = recover_missed_fills(&venue, driver, &mut book);
    drop(driver);
    assert_eq!(book.logons, 3);
}

#[test]
fn trigger_time_tag_is_rejected_by_a_validating_executor_and_names_the_order() {
    // With 5051 configured on, QuickFIX rejects the order (35=3, 371=5051):
    // the application gets a typed reject of order T1, which never filled.
    let Some(venue) = strict_venue(|binaries| &binaries.executor) else {
        return;
    };
    let executor = &venue.acceptor;
    let mut book = Book::new();
    let mut driver = logged_on(&venue, &mut book, |config| config.send_trigger_time = true);
    send_order(&mut driver, "T1", Side::Buy, 3);
    wait_for("the reject", &mut driver, &mut book, executor, |_, book| {
        !book.rejects.is_empty()
    });
    let reject = &book.rejects[0];
    assert_eq!(reject.level, RejectLevel::Session);
    assert_eq!(reject.msg_type, Some(MsgType::NewOrderSingle));
    assert_eq!(reject.request_id.as_deref(), Some(&b"T1"[..]));
    assert_eq!(reject.ref_tag, Some(5051), "{reject:?}");
    assert_eq!(book.fills, 0);
    assert_eq!(driver.session().state(), SessionState::Active);
    log_out(&mut driver, &mut book, executor);
}

#[test]
fn quickfix_executor_refuses_status_requests_with_a_business_reject() {
    // The example executor implements neither AF nor H: QuickFIX answers
    // each with 35=j (reason 3). AF refused moves the reconciler to its
    // fallback; H refused counts as answered, so that round completes.
    let Some(venue) = strict_venue(|binaries| &binaries.executor) else {
        return;
    };
    let executor = &venue.acceptor;
    let mut book = Book::new();
    let mut driver = logged_on(&venue, &mut book, |_| {});
    ask_mass_status(&mut driver, &mut book);
    wait_for("AF refused", &mut driver, &mut book, executor, |_, book| {
        book.reconciler.state() == ReconcileState::MassStatusRefused
    });
    assert_eq!(book.rejects[0].level, RejectLevel::Business);
    assert_eq!(
        book.rejects[0].msg_type,
        Some(MsgType::OrderMassStatusRequest)
    );
    assert_eq!(book.rejects[0].request_id.as_deref(), Some(&b"GEN-MS1"[..]));
    assert_eq!(book.rejects[0].reason, Some(3));
    ask_order_status(&mut driver, &mut book, &["A1"]);
    wait_for(
        "H refused",
        &mut driver,
        &mut book,
        executor,
        round_complete,
    );
    assert_eq!(book.rejects[1].msg_type, Some(MsgType::OrderStatusRequest));
    assert_eq!(book.rejects[1].request_id.as_deref(), Some(&b"A1"[..]));
    assert!(book.statuses.is_empty());
    log_out(&mut driver, &mut book, executor);
}

fn seen(cl_ord_id: &str, ord_status: OrdStatus, cum: i64, leaves: i64) -> StatusSeen {
    StatusSeen {
        cl_ord_id: cl_ord_id.into(),
        ord_status,
        cum,
        leaves,
        unknown: false,
        empty: false,
    }
}

#[test]
fn status_requests_are_answered_by_a_quickfix_acceptor_and_reconciled() {
    // Our QuickFIX-based acceptor, validating like the executor: AF with no
    // orders gets the empty answer; after one resting and one filled order,
    // AF reports both and H reports each, with the unknown one flagged.
    let Some(venue) = strict_venue(|binaries| &binaries.status_acceptor) else {
        return;
    };
    let acceptor = &venue.acceptor;
    let mut book = Book::new();
    let mut driver = logged_on(&venue, &mut book, |_| {});
    ask_mass_status(&mut driver, &mut book);
    wait_for(
        "empty AF answer",
        &mut driver,
        &mut book,
        acceptor,
        round_complete,
    );
    assert_eq!(book.statuses.len(), 1);
    assert!(book.statuses[0].empty, "{:?}", book.statuses[0]);

    send_order(&mut driver, "R1", Side::Buy, 6);
    send_order(&mut driver, "A1", Side::Sell, 2);
    wait_for(
        "ack and fill",
        &mut driver,
        &mut book,
        acceptor,
        |_, book| book.acks == 1 && book.fills == 1,
    );
    ask_mass_status(&mut driver, &mut book);
    wait_for(
        "AF answers",
        &mut driver,
        &mut book,
        acceptor,
        round_complete,
    );
    let expected = [
        seen("R1", OrdStatus::New, 0, 6),
        seen("A1", OrdStatus::Filled, 2, 0),
    ];
    assert_eq!(book.statuses[1..], expected);

    book.statuses.clear();
    ask_order_status(&mut driver, &mut book, &["R1", "A1", "X9"]);
    wait_for(
        "H answers",
        &mut driver,
        &mut book,
        acceptor,
        round_complete,
    );
    assert_eq!(book.statuses[..2], expected);
    let unknown = &book.statuses[2];
    assert!(unknown.unknown && unknown.cl_ord_id == "X9", "{unknown:?}");
    assert_eq!(book.reconciler.counters().unknown_orders, 1);
    assert!(book.rejects.is_empty(), "{:?}", book.rejects);
    log_out(&mut driver, &mut book, acceptor);
}

#[test]
fn seq_num_too_low_at_quickfix_stops_with_the_remedy_and_the_reset_recovers() {
    // Our stored next_out falls behind what QuickFIX expects: it logs us out
    // ("MsgSeqNum too low"); the driver stops with an error naming
    // `genesis fix reset-seq` instead of reconnecting; after the reset the
    // next Logon (141=Y) resets both sides and trading resumes.
    let Some(venue) = strict_venue(|binaries| &binaries.executor) else {
        return;
    };
    let (executor, seq_path) = (&venue.acceptor, &venue.seq_path);
    let mut book = Book::new();
    let mut driver = logged_on(&venue, &mut book, |_| {});
    send_order(&mut driver, "A1", Side::Buy, 1);
    wait_for("fill", &mut driver, &mut book, executor, |_, book| {
        book.fills == 1
    });
    log_out(&mut driver, &mut book, executor);
    drop(driver);
    let stored = SeqStore::new(seq_path).load().unwrap().unwrap();
    SeqStore::new(seq_path)
        .save(SeqNumbers {
            next_out: 2,
            ..stored
        })
        .unwrap();

    let mut driver = connect(venue.port, seq_path, |_| {});
    let error = wait_for_error(&mut driver, &mut book, executor);
    let text = error.to_string();
    let expecting = format!(
        "the venue expected MsgSeqNum {} but we sent 2",
        stored.next_out
    );
    for needle in [
        expecting.as_str(),
        "genesis fix reset-seq",
        seq_path.to_str().unwrap(),
    ] {
        assert!(text.contains(needle), "{needle:?} missing in: {text}");
    }
    for _ in 0..3 {
        assert!(
            driver.poll(unix_now_ns(), &mut book).is_err(),
            "still stopped"
        );
    }
    assert_eq!(driver.connects_count(), 1, "no reconnect loop");
    assert!(matches!(
        book.events.last(),
        Some(SessionEvent::Disconnect(_))
    ));

    let in_use = reset_seq_store(seq_path, SeqReset::LogonReset).unwrap_err();
    assert!(matches!(in_use, FixError::SeqStoreInUse { .. }), "{in_use}");
    drop(driver);
    reset_seq_store(seq_path, SeqReset::LogonReset).unwrap();
    let mut driver = logged_on(&venue, &mut book, |_| {});
    assert!(book.events.contains(&SessionEvent::SeqNumsReset));
    send_order(&mut driver, "B1", Side::Buy, 1);
    wait_for(
        "fill after reset",
        &mut driver,
        &mut book,
        executor,
        |_, book| book.fills == 2,
    );
    log_out(&mut driver, &mut book, executor);
    let stored = SeqStore::new(seq_path).load_state().unwrap().unwrap();
    assert!(!stored.reset_on_next_logon);
}
