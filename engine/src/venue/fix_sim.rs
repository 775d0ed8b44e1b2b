//! The simulated venue over FIX: a FIX 4.4 acceptor on a loopback port, on
//! its own thread, matching incoming orders with the same book logic as the
//! in-process simulator (`ingest::sim_venue::SimVenue`) against the market
//! the engine's feed publishes (`MarketView`), and answering with
//! ExecutionReports and OrderCancelRejects.
//!
//! It measures tick-to-trade: for every order it receives, its receive time
//! minus the order's TransactTime(60), which the engine sets to the venue
//! time of the market data that triggered the order.
//!
//! The thread sleeps 20 µs when idle: it is a simulator and must not take a
//! core from the engine on a small host.

use crate::config::Config;
use crate::event::{Event, Input, RejectedRequest};
use crate::execution::gateway::{OrderRequest as EngineRequest, RequestKind};
use crate::ingest::sim_venue::SimVenue;
use crate::metrics::new_histogram;
use crate::units::{InstrumentId, Price, Qty, Side};
use crate::venue::cl_ord_id::{order_id_of, ClOrdId};
use crate::venue::market_view::MarketView;
use genesis_io::fix::exec_report::{
    CancelRejectResponseTo, ExecKind, ExecType, ExecutionReport, OrdStatus, OrderCancelReject,
};
use genesis_io::fix::order::OrderRequest;
use genesis_io::fix::session::Sender;
use genesis_io::fix::session::{Session, SessionConfig, SessionHandler};
use genesis_io::fix::{InstrumentScale, Lots, Message, Ticks};
use hdrhistogram::Histogram;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running simulated FIX venue.
pub struct FixSim {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Receive time at the venue minus the trigger's venue time, per order (ns).
    pub tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
}

impl FixSim {
    /// Binds `127.0.0.1:port` (0 picks a free port) and starts the venue thread.
    pub fn start(
        config: &Config,
        port: u16,
        sender_comp_id: &str,
        target_comp_id: &str,
        market: Arc<MarketView>,
    ) -> std::io::Result<FixSim> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let tick_to_trade_ns = Arc::new(Mutex::new(new_histogram()));
        let scales = config
            .instruments
            .iter()
            .map(|i| InstrumentScale::new(&i.tick_size, &i.lot_size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        let mut venue = Venue {
            sim: SimVenue::new(config).0,
            market,
            versions: vec![0; config.instruments.len()],
            symbols: config
                .instruments
                .iter()
                .map(|i| i.symbol.clone())
                .collect(),
            scales,
            tick_to_trade_ns: Arc::clone(&tick_to_trade_ns),
            clock: crate::clock::EpochClock::new(),
            exec_seq: 0,
            arrival_ns: 0,
        };
        let session_config = SessionConfig::acceptor(sender_comp_id, target_comp_id);
        let thread_stop = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("venue-sim-fix".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Acquire) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let Ok(session) = Session::new(session_config.clone(), None) else {
                                return;
                            };
                            venue.serve(stream, session, &thread_stop);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })?;
        Ok(FixSim {
            address,
            stop,
            handle: Some(handle),
            tick_to_trade_ns,
        })
    }

    /// Stops the venue thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for FixSim {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Venue {
    sim: SimVenue,
    market: Arc<MarketView>,
    versions: Vec<u64>,
    symbols: Vec<String>,
    scales: Vec<InstrumentScale>,
    tick_to_trade_ns: Arc<Mutex<Histogram<u64>>>,
    clock: crate::clock::EpochClock,
    exec_seq: u64,
    /// When the kernel received the bytes being processed (SO_TIMESTAMPNS),
    /// else when they were read: the order's arrival time at the venue.
    arrival_ns: u64,
}

/// Orders arriving on the session go straight into the matcher.
struct Orders<'a> {
    venue: &'a mut Venue,
}

impl SessionHandler for Orders<'_> {
    fn on_app_message(&mut self, message: &Message<'_>, _sender: &mut Sender, now_ns: u64) {
        let symbol = message
            .get(genesis_io::fix::tags::SYMBOL)
            .unwrap_or_default();
        let Some(instrument) = self
            .venue
            .symbols
            .iter()
            .position(|s| s.as_bytes() == symbol)
        else {
            return;
        };
        let scale = self.venue.scales[instrument];
        let Ok(Some(request)) = OrderRequest::parse(message, &scale) else {
            return;
        };
        let (kind, cl_ord_id, side, price, qty, transact_ns) = match request {
            OrderRequest::New(o) => (
                RequestKind::New,
                o.cl_ord_id,
                o.side,
                o.price_ticks.map_or(0, |p| p.0),
                o.qty_lots.0,
                o.trigger_ns.unwrap_or(o.transact_time_ns),
            ),
            OrderRequest::Replace(r) => (
                RequestKind::Replace,
                r.orig_cl_ord_id,
                r.order.side,
                r.order.price_ticks.map_or(0, |p| p.0),
                r.order.qty_lots.0,
                r.order.trigger_ns.unwrap_or(r.order.transact_time_ns),
            ),
            OrderRequest::Cancel(c) => (
                RequestKind::Cancel,
                c.orig_cl_ord_id,
                c.side,
                0,
                c.qty_lots.0,
                c.transact_time_ns,
            ),
        };
        let Some(order_id) = order_id_of(cl_ord_id) else {
            return;
        };
        if kind != RequestKind::Cancel && transact_ns > 0 {
            let arrival_ns = if self.venue.arrival_ns > 0 {
                self.venue.arrival_ns
            } else {
                now_ns
            };
            let mut histogram = self
                .venue
                .tick_to_trade_ns
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            histogram.saturating_record(arrival_ns.saturating_sub(transact_ns).max(1));
        }
        let side = if side == genesis_io::fix::order::Side::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        let request = EngineRequest {
            kind,
            order_id,
            instrument: InstrumentId(instrument as u16),
            side,
            price: Price(price),
            qty: Qty(qty),
            ts_trigger_ns: transact_ns,
        };
        if self.venue.sim.has_room() {
            self.venue.sim.submit(request, now_ns);
        }
    }
}

impl Venue {
    fn serve(&mut self, mut stream: TcpStream, mut session: Session, stop: &AtomicBool) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        // Kernel receive stamps, so that the sleeping venue thread does not
        // add its sleep to tick-to-trade; without them the read time is used.
        let stamped = crate::sys::enable_receive_timestamps(&stream).is_ok();
        let now_ns = self.clock.now_ns();
        session.on_connected(now_ns, &mut Orders { venue: self });
        while !stop.load(Ordering::Acquire) {
            let now_ns = self.clock.now_ns();
            let mut busy = false;
            let received = if stamped {
                crate::sys::recv_with_timestamp(&stream, session.recv_buffer())
            } else {
                stream
                    .read(session.recv_buffer())
                    .map(|count| (count, None))
            };
            match received {
                Ok((0, _)) => break,
                Ok((count, stamp)) => {
                    busy = true;
                    self.arrival_ns = stamp.unwrap_or(now_ns);
                    session.on_received(count, now_ns, &mut Orders { venue: self });
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            session.poll_timers(now_ns, &mut Orders { venue: self });
            self.follow_market(now_ns);
            while let Some(reply) = self.sim.pop_reply() {
                busy = true;
                self.answer(&mut session, &reply, now_ns);
            }
            while !session.pending_output().is_empty() {
                match stream.write(session.pending_output()) {
                    Ok(written) if written > 0 => session.consume_output(written),
                    _ => break,
                }
            }
            if session.disconnect_reason().is_some() {
                break;
            }
            if !busy {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        let _ = session.on_disconnected();
    }

    fn follow_market(&mut self, now_ns: u64) {
        for instrument in 0..self.versions.len() {
            if let Some((version, top)) = self
                .market
                .read_if_newer(instrument, self.versions[instrument])
            {
                self.versions[instrument] = version;
                self.sim
                    .on_market(InstrumentId(instrument as u16), top, now_ns);
            }
        }
    }

    /// Turns one of the matcher's replies into a FIX message.
    fn answer(&mut self, session: &mut Session, reply: &Event, now_ns: u64) {
        let instrument = reply.instrument.index().min(self.scales.len() - 1);
        let scale = self.scales[instrument];
        let symbol = self.symbols[instrument].as_bytes();
        let side = if reply.side == Side::Sell {
            genesis_io::fix::order::Side::Sell
        } else {
            genesis_io::fix::order::Side::Buy
        };
        self.exec_seq += 1;
        let exec_id = ClOrdId::new(crate::units::OrderId(self.exec_seq), None);
        let report =
            |kind,
             exec_type,
             ord_status,
             order: crate::units::OrderId,
             last_qty: i64,
             last_px: i64,
             qty: i64| { (kind, exec_type, ord_status, order, last_qty, last_px, qty) };
        let fields = match reply.input() {
            Input::OrderAck(ack) => report(
                ExecKind::New,
                ExecType::New,
                OrdStatus::New,
                ack.order_id,
                0,
                0,
                ack.qty.0,
            ),
            Input::Fill(fill) => report(
                ExecKind::Fill,
                ExecType::Trade,
                OrdStatus::PartiallyFilled,
                fill.order_id,
                fill.qty.0,
                fill.price.0,
                0,
            ),
            Input::CancelAck(order) => report(
                ExecKind::Cancelled,
                ExecType::Canceled,
                OrdStatus::Canceled,
                order,
                0,
                0,
                0,
            ),
            Input::OrderReject(reject) if reject.request == RejectedRequest::New => report(
                ExecKind::Rejected,
                ExecType::Rejected,
                OrdStatus::Rejected,
                reject.order_id,
                0,
                0,
                0,
            ),
            Input::OrderReject(reject) => {
                let id = ClOrdId::new(reject.order_id, None);
                let response_to = if reject.request == RejectedRequest::Cancel {
                    CancelRejectResponseTo::Cancel
                } else {
                    CancelRejectResponseTo::Replace
                };
                let cancel_reject = OrderCancelReject {
                    order_id: id.as_bytes(),
                    cl_ord_id: id.as_bytes(),
                    orig_cl_ord_id: id.as_bytes(),
                    ord_status: OrdStatus::New,
                    response_to,
                    reason: Some(reject.venue_reason.max(0) as u64),
                    text: None,
                    poss_dup: false,
                };
                let _ = session.sender().send_cancel_reject(&cancel_reject, now_ns);
                return;
            }
            _ => return,
        };
        let (kind, exec_type, ord_status, order, last_qty, last_px, qty) = fields;
        let id = ClOrdId::new(order, None);
        let report = ExecutionReport {
            kind,
            exec_type,
            ord_status,
            order_id: id.as_bytes(),
            exec_id: exec_id.as_bytes(),
            cl_ord_id: Some(id.as_bytes()),
            orig_cl_ord_id: None,
            symbol: Some(symbol),
            side,
            order_qty_lots: (qty > 0).then_some(Lots(qty)),
            last_qty_lots: Lots(last_qty),
            last_px_ticks: Ticks(last_px),
            cum_qty_lots: Lots(0),
            leaves_qty_lots: Lots(0),
            avg_px_text: b"0",
            ord_rej_reason: None,
            text: None,
            poss_dup: false,
        };
        let _ = session
            .sender()
            .send_execution_report(&report, &scale, now_ns);
    }
}
