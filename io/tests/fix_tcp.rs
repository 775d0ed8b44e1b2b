//! Our initiator against our acceptor over loopback TCP, both polled from
//! this one thread (no extra threads, no spinning: idle passes sleep 1 ms,
//! every wait has a deadline).

use std::net::SocketAddr;
use std::time::Duration;

#[path = "support/fix_pair.rs"]
mod fix_pair;
use fix_pair::full_fill;

use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::{NewOrderSingle, OrdType, OrderRequest, Side, TimeInForce};
use genesis_io::fix::session::{Sender, Session, SessionConfig, SessionHandler, SessionState};
use genesis_io::fix::tcp::{poll_until, unix_now_ns, TcpAcceptor, TcpInitiator};
use genesis_io::fix::{InstrumentScale, Lots, Message, Ticks};

const WAIT: Duration = Duration::from_secs(10);

fn scale() -> InstrumentScale {
    InstrumentScale::new("0.01", "1").unwrap()
}

/// The venue side: fills every limit order at its price.
struct Venue {
    exec_count: u64,
}

impl SessionHandler for Venue {
    fn on_app_message(&mut self, message: &Message<'_>, sender: &mut Sender, now_ns: u64) {
        let Ok(Some(OrderRequest::New(order))) = OrderRequest::parse(message, &scale()) else {
            return;
        };
        self.exec_count += 1;
        let exec_id = self.exec_count.to_string();
        let report = full_fill(&order, exec_id.as_bytes(), exec_id.as_bytes(), b"101.25");
        sender
            .send_execution_report(&report, &scale(), now_ns)
            .unwrap();
    }
}

#[derive(Default)]
struct Trader {
    position_lots: i64,
}

impl SessionHandler for Trader {
    fn on_app_message(&mut self, message: &Message<'_>, _sender: &mut Sender, _now_ns: u64) {
        if let Ok(Some(OrderUpdate::Execution(report))) = OrderUpdate::parse(message, &scale()) {
            self.position_lots += report.last_qty_lots.0;
        }
    }
}

/// Both ends and their handlers, polled together.
struct Pair {
    initiator: TcpInitiator,
    acceptor: TcpAcceptor,
    trader: Trader,
    venue: Venue,
}

impl Pair {
    /// Polls both ends until `done`, failing after a deadline.
    fn run_until(&mut self, what: &str, mut done: impl FnMut(&mut Pair) -> bool) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let now_ns = unix_now_ns();
            let progressed = self.initiator.poll(now_ns, &mut self.trader).unwrap()
                | self.acceptor.poll(now_ns, &mut self.venue).unwrap();
            if done(self) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            if !progressed {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

fn order() -> NewOrderSingle<'static> {
    NewOrderSingle {
        cl_ord_id: b"C1",
        account: None,
        symbol: b"ACME",
        side: Side::Buy,
        qty_lots: Lots(4),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(10_125)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: unix_now_ns(),
        trigger_ns: None,
    }
}

#[test]
fn initiator_and_acceptor_trade_and_reconnect_over_loopback() {
    // Logon, an order filled, the venue drops us, we reconnect with backoff and trade again.
    let acceptor_session = Session::new(SessionConfig::acceptor("VENUE", "GEN"), None).unwrap();
    let acceptor =
        TcpAcceptor::bind(SocketAddr::from(([127, 0, 0, 1], 0)), acceptor_session).unwrap();
    let addr = acceptor.local_addr().unwrap();
    let initiator_session = Session::new(SessionConfig::initiator("GEN", "VENUE"), None).unwrap();
    let initiator = TcpInitiator::new(
        addr,
        initiator_session,
        Backoff::new(10_000_000, 100_000_000),
    );
    let mut pair = Pair {
        initiator,
        acceptor,
        trader: Trader::default(),
        venue: Venue { exec_count: 0 },
    };

    pair.run_until("logon", |pair| {
        pair.initiator.session().state() == SessionState::Active
    });
    pair.initiator
        .session()
        .sender()
        .send_new_order(&order(), &scale(), unix_now_ns())
        .unwrap();
    pair.run_until("fill", |pair| pair.trader.position_lots == 4);

    // The venue logs us out; we reconnect (same sequence numbers, kept in memory).
    pair.acceptor
        .session()
        .logout(b"maintenance", unix_now_ns(), &mut pair.venue);
    pair.run_until("disconnect", |pair| {
        !pair.initiator.is_connected() || pair.initiator.connects_count() > 1
    });
    pair.run_until("second logon", |pair| {
        pair.initiator.connects_count() == 2
            && pair.initiator.session().state() == SessionState::Active
    });
    pair.initiator
        .session()
        .sender()
        .send_new_order(&order(), &scale(), unix_now_ns())
        .unwrap();
    pair.run_until("second fill", |pair| pair.trader.position_lots == 8);
    let counters = pair.initiator.session().counters();
    assert_eq!(
        (
            counters.rejects_received,
            counters.seq_too_low,
            counters.gaps
        ),
        (0, 0, 0)
    );
}

#[test]
fn poll_until_reports_a_missed_deadline() {
    // The helper returns false instead of hanging when the condition never holds.
    let reached = poll_until(Duration::from_millis(20), |_| Ok(false), || false).unwrap();
    assert!(!reached);
}
