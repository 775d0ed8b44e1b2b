//! The simulated venue's market data over WebSocket, Binance-compatible:
//! `<symbol>@bookTicker` on every change of the top of book,
//! `<symbol>@depth@100ms` diffs of every changed level every 100 ms, and
//! depth snapshots as Binance serves them, over REST on the same port
//! (`GET /api/v3/depth?symbol=…&limit=…`, answered with the snapshot or
//! Binance's error body), and on the WebSocket connection for clients that
//! use the WebSocket API's `depth` method.
//!
//! Owning thread: the simulator's (`venue`). Every book change that
//! touches a level takes the instrument's next update id; a diff carries
//! the first (`U`) and last (`u`) id of its window and each changed level's
//! quantity after the window; a snapshot carries the id of the last change
//! it includes (`lastUpdateId`). So the client's documented procedure
//! (buffer, snapshot, first diff with `U <= lastUpdateId+1 <= u`, then
//! `U == previous u + 1`) holds by construction.
//!
//! Every connection receives every stream (the path is not inspected).
//! Every snapshot request is answered, however many arrive in one poll (they
//! are collected into a preallocated list first, which grows off the hot
//! path if a poll brings more): a valid one with the snapshot, one for an
//! unknown symbol with a Binance-style "Invalid symbol." error (code -1121,
//! HTTP 400 over REST; carrying its id over the WebSocket API), and one that
//! does not parse with a "Malformed request." error (code -1102; id 0 over
//! the WebSocket API: no id could be trusted). Each error answer is counted
//! in `bad_requests`.

use crate::config::{SimConfig, SimInstrument};
use crate::exchange::{Exchange, MarketDataOut};
use crate::wait::Readiness;
use genesis_io::binance::{
    parse_depth_query, parse_depth_request, write_book_ticker, write_depth_snapshot,
    write_error_answer, write_rest_error, write_snapshot_answer, DecimalGrid, DepthDiffBuilder,
    DepthQuery, DepthRequest, InstrumentGrid,
};
use genesis_io::net::{ConnectionId, WsServer};
use genesis_io::venue::{BookEvent, MatchingEngine, Side as BookSide};
use std::net::SocketAddr;

/// How often depth diffs go out.
pub const DIFF_INTERVAL_NS: u64 = 100_000_000;

/// Most levels a snapshot answer carries.
const SNAPSHOT_LEVELS_MAX: usize = 5_000;

/// Snapshot requests one poll holds without growing its list.
const REQUESTS_PER_POLL_CAPACITY: usize = 64;

struct Stream {
    symbol_lower: String,
    symbol_upper: String,
    grid: InstrumentGrid,
    diff: DepthDiffBuilder,
    update_id: u64,
    /// Last top of book sent: (bid price, bid qty, ask price, ask qty).
    top_sent: (i64, i64, i64, i64),
}

/// Counters of the WebSocket side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsOutCounters {
    pub diffs_sent: u64,
    pub tickers_sent: u64,
    /// Snapshots answered, over REST and the WebSocket API together.
    pub snapshots_sent: u64,
    /// Of those, over REST.
    pub rest_snapshots_sent: u64,
    pub bad_requests: u64,
}

pub struct WsOut {
    server: WsServer,
    streams: Vec<Stream>,
    text: String,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
    /// This poll's requests in arrival order (`Err` when one did not
    /// parse); cleared every poll, capacity kept.
    requests: Vec<(ConnectionId, Result<DepthRequest, ()>)>,
    /// This poll's REST requests, likewise.
    gets: Vec<(ConnectionId, Result<DepthQuery, ()>)>,
    diff_due_ns: u64,
    pub counters: WsOutCounters,
}

impl WsOut {
    /// Listens at `addr` (port 0 picks a free one).
    pub fn bind(config: &SimConfig, addr: SocketAddr) -> Result<WsOut, String> {
        let server = WsServer::bind(addr, 1 << 20).map_err(|e| e.to_string())?;
        let streams = config
            .instruments
            .iter()
            .map(|i| {
                // One price step per tick and one quantity step per lot:
                // engine units are grid steps.
                let grid = grid_of(i)?;
                Ok(Stream {
                    symbol_lower: i.symbol.to_ascii_lowercase(),
                    symbol_upper: i.symbol.to_ascii_uppercase(),
                    grid,
                    diff: DepthDiffBuilder::new(&i.symbol, grid, 4_096),
                    update_id: 0,
                    top_sent: (0, 0, 0, 0),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(WsOut {
            server,
            streams,
            text: String::with_capacity(64 << 10),
            bids: Vec::with_capacity(SNAPSHOT_LEVELS_MAX),
            asks: Vec::with_capacity(SNAPSHOT_LEVELS_MAX),
            requests: Vec::with_capacity(REQUESTS_PER_POLL_CAPACITY),
            gets: Vec::with_capacity(REQUESTS_PER_POLL_CAPACITY),
            diff_due_ns: 0,
            counters: WsOutCounters::default(),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.server.local_addr().map_err(|e| e.to_string())
    }

    /// Connections with a completed handshake.
    pub fn open_count(&self) -> usize {
        self.server.open_count()
    }

    /// Lists what the simulator's wait wakes for: the listener, each
    /// connection's input, and its output while bytes wait for room.
    pub fn list_fds(&self, readiness: &mut Readiness) {
        self.server
            .list_fds(&mut |fd, wait_for| readiness.wait_for(fd, wait_for));
    }

    /// How long the simulator may wait before a poll is due here: the close
    /// of the diff window while a diff has levels to send (`None`: nothing
    /// timed; the server sends no pings).
    pub fn timer_wait_ns(&self, now_ns: u64) -> Option<u64> {
        self.streams
            .iter()
            .any(|stream| !stream.diff.is_empty())
            .then(|| self.diff_due_ns.saturating_sub(now_ns))
    }

    /// Accepts connections, answers snapshot requests (REST and WebSocket
    /// API), and sends the diffs when their 100 ms window closes.
    pub fn poll(&mut self, exchange: &Exchange, now_ns: u64) {
        let mut requests = std::mem::take(&mut self.requests);
        let mut gets = std::mem::take(&mut self.gets);
        requests.clear();
        gets.clear();
        self.server.poll_with_http(
            |connection, bytes| {
                requests.push((connection, parse_depth_request(bytes).map_err(|_| ())));
            },
            |connection, target| gets.push((connection, parse_depth_query(target).map_err(|_| ()))),
        );
        for &(connection, request) in &requests {
            match request {
                Ok(request) => self.answer_snapshot(exchange, connection, &request),
                Err(()) => self.answer_malformed(connection),
            }
        }
        for &(connection, query) in &gets {
            self.answer_rest(exchange, connection, query);
        }
        self.requests = requests;
        self.gets = gets;
        if now_ns >= self.diff_due_ns {
            self.diff_due_ns = now_ns + DIFF_INTERVAL_NS;
            self.send_diffs(now_ns);
        }
    }

    fn answer_malformed(&mut self, connection: ConnectionId) {
        self.counters.bad_requests += 1;
        self.text.clear();
        write_error_answer(&mut self.text, 0, 400, -1102, "Malformed request.");
        self.server.send_text(connection, &self.text);
    }

    /// The instrument a request names and its book's levels (in
    /// `bids`/`asks`), or `None` for an unknown symbol.
    fn levels_of(&mut self, exchange: &Exchange, symbol: &[u8], limit: u32) -> Option<usize> {
        let index = self
            .streams
            .iter()
            .position(|s| s.symbol_upper.as_bytes() == symbol)?;
        let book = exchange.book(index)?;
        let levels_max = (limit as usize).clamp(1, SNAPSHOT_LEVELS_MAX);
        let (bids, asks) = (&mut self.bids, &mut self.asks);
        bids.clear();
        asks.clear();
        book.for_each_level(BookSide::Buy, levels_max, &mut |price, qty| {
            bids.push((price, qty))
        });
        book.for_each_level(BookSide::Sell, levels_max, &mut |price, qty| {
            asks.push((price, qty))
        });
        Some(index)
    }

    fn answer_snapshot(
        &mut self,
        exchange: &Exchange,
        connection: ConnectionId,
        request: &DepthRequest,
    ) {
        let id = request.id;
        let found = self.levels_of(exchange, request.symbol.as_bytes(), request.limit);
        self.text.clear();
        let Some(index) = found else {
            self.counters.bad_requests += 1;
            write_error_answer(&mut self.text, id, 400, -1121, "Invalid symbol.");
            self.server.send_text(connection, &self.text);
            return;
        };
        let stream = &self.streams[index];
        write_snapshot_answer(
            &mut self.text,
            id,
            &stream.grid,
            stream.update_id,
            self.bids.iter().copied(),
            self.asks.iter().copied(),
        );
        self.counters.snapshots_sent += 1;
        self.server.send_text(connection, &self.text);
    }

    /// `GET /api/v3/depth`: the snapshot, or Binance's error body with 400.
    fn answer_rest(
        &mut self,
        exchange: &Exchange,
        connection: ConnectionId,
        query: Result<DepthQuery, ()>,
    ) {
        let found = match query {
            Ok(query) => self.levels_of(exchange, query.symbol.as_bytes(), query.limit),
            Err(()) => None,
        };
        self.text.clear();
        let status = match (found, query) {
            (Some(index), _) => {
                let stream = &self.streams[index];
                write_depth_snapshot(
                    &mut self.text,
                    &stream.grid,
                    stream.update_id,
                    self.bids.iter().copied(),
                    self.asks.iter().copied(),
                );
                self.counters.snapshots_sent += 1;
                self.counters.rest_snapshots_sent += 1;
                200
            }
            (None, Ok(_)) => {
                write_rest_error(&mut self.text, -1121, "Invalid symbol.");
                400
            }
            (None, Err(())) => {
                write_rest_error(&mut self.text, -1102, "Malformed request.");
                400
            }
        };
        self.counters.bad_requests += u64::from(status != 200);
        self.server
            .send_http_response(connection, status, &self.text);
    }

    fn send_diffs(&mut self, now_ns: u64) {
        for index in 0..self.streams.len() {
            self.flush_diff(index, now_ns);
        }
    }

    fn flush_diff(&mut self, index: usize, now_ns: u64) {
        self.text.clear();
        if self.streams[index]
            .diff
            .write_diff(now_ns / 1_000_000, &mut self.text)
        {
            self.counters.diffs_sent += 1;
            self.server.broadcast_text(&self.text);
        }
    }

    fn level_changed(
        &mut self,
        index: usize,
        side: BookSide,
        price: i64,
        book: &MatchingEngine,
        now_ns: u64,
    ) {
        let stream = &mut self.streams[index];
        stream.update_id += 1;
        let qty = book.level_qty(side, price);
        let diff_side = match side {
            BookSide::Buy => genesis_io::book::Side::Bid,
            BookSide::Sell => genesis_io::book::Side::Ask,
        };
        if stream
            .diff
            .on_level(diff_side, price, qty, stream.update_id)
            .is_err()
        {
            // The window's level buffer is full: send it now, then record
            // (one level per update id here, so no id straddles two diffs).
            self.flush_diff(index, now_ns);
            let stream = &mut self.streams[index];
            let recorded = stream
                .diff
                .on_level(diff_side, price, qty, stream.update_id);
            debug_assert!(recorded.is_ok(), "an empty window takes a level");
        }
    }
}

/// The instrument's price and quantity grids: one step per tick and lot.
fn grid_of(instrument: &SimInstrument) -> Result<InstrumentGrid, String> {
    let step = |field: &str, text: &str| {
        DecimalGrid::from_step(text)
            .map_err(|_| format!("{field}: {text:?} is not a grid step a Binance feed can use"))
    };
    Ok(InstrumentGrid {
        price: step("tick_size", &instrument.tick_size)?,
        qty: step("lot_size", &instrument.lot_size)?,
    })
}

impl MarketDataOut for WsOut {
    fn on_book_event(
        &mut self,
        instrument: usize,
        event: &BookEvent,
        book: &MatchingEngine,
        now_ns: u64,
    ) {
        if instrument >= self.streams.len() {
            return;
        }
        match *event {
            BookEvent::Added { side, price, .. }
            | BookEvent::Executed { side, price, .. }
            | BookEvent::Cancelled { side, price, .. } => {
                self.level_changed(instrument, side, price, book, now_ns);
            }
            BookEvent::Replaced {
                side,
                old_price,
                price,
                ..
            } => {
                self.level_changed(instrument, side, old_price, book, now_ns);
                if price != old_price {
                    self.level_changed(instrument, side, price, book, now_ns);
                }
            }
        }
    }

    fn on_operation_done(&mut self, instrument: usize, book: &MatchingEngine, _now_ns: u64) {
        let Some(stream) = self.streams.get_mut(instrument) else {
            return;
        };
        let (Some((bid_px, bid_qty)), Some((ask_px, ask_qty))) = (book.best_bid(), book.best_ask())
        else {
            return;
        };
        let top = (bid_px, bid_qty, ask_px, ask_qty);
        if top == stream.top_sent {
            return;
        }
        stream.top_sent = top;
        self.text.clear();
        write_book_ticker(
            &mut self.text,
            &stream.symbol_lower,
            &stream.symbol_upper,
            &stream.grid,
            stream.update_id,
            (bid_px, bid_qty),
            (ask_px, ask_qty),
        );
        self.counters.tickers_sent += 1;
        self.server.broadcast_text(&self.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_io::net::{WsClient, WsConfig, WsEndpoint, WsEvent};

    /// Nanoseconds since the test began.
    struct TestClock(std::time::Instant);

    impl TestClock {
        fn now_ns(&self) -> u64 {
            self.0.elapsed().as_nanos() as u64
        }
    }

    const DEADLINE_NS: u64 = 10_000_000_000;

    /// Polls the venue side and the client in turn until `done` holds over
    /// the answers collected, failing with what is known at the deadline.
    fn drive(
        clock: &TestClock,
        out: &mut WsOut,
        exchange: &Exchange,
        client: &mut WsClient,
        answers: &mut Vec<serde_json::Value>,
        what: &str,
        done: impl Fn(&WsOut, &WsClient, &[serde_json::Value]) -> bool,
    ) {
        let deadline_ns = clock.now_ns() + DEADLINE_NS;
        while !done(out, client, answers) {
            assert!(
                clock.now_ns() < deadline_ns,
                "deadline passed waiting for {what}: {:?}, client {:?}, answers {answers:?}",
                out.counters,
                client.stats()
            );
            out.poll(exchange, 0);
            client.poll(&mut || clock.now_ns(), |event| {
                if let WsEvent::Text { bytes, .. } = event {
                    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                    // Diffs and tickers are streams; answers carry an id.
                    if value.get("id").is_some() {
                        answers.push(value);
                    }
                }
            });
            std::thread::yield_now();
        }
    }

    // Thirteen requests in one go, more than any fixed batch: ten valid, one
    // for an unknown symbol, two that do not parse; each gets its own
    // answer, and each error answer is counted.
    #[test]
    fn every_request_of_a_poll_is_answered() {
        let config = crate::tests::config();
        let exchange = Exchange::new(config.instruments.len(), 64);
        let mut out = WsOut::bind(&config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = out.local_addr().unwrap();
        let mut client = WsClient::new(
            WsEndpoint {
                addr,
                url: format!("ws://{addr}/stream?streams=alpha@bookTicker"),
            },
            WsConfig {
                message_bytes_max: 1 << 20,
                ..WsConfig::default()
            },
        );
        let clock = TestClock(std::time::Instant::now());
        let mut answers = Vec::new();
        drive(
            &clock,
            &mut out,
            &exchange,
            &mut client,
            &mut answers,
            "the connection",
            |out, client, _| client.is_open() && out.open_count() == 1,
        );

        for id in 1..=10 {
            let symbol = &config.instruments[id as usize % config.instruments.len()].symbol;
            let request = format!(
                r#"{{"id":{id},"method":"depth","params":{{"symbol":"{symbol}","limit":5}}}}"#
            );
            assert!(client.send_text(&request));
        }
        assert!(client
            .send_text(r#"{"id":11,"method":"depth","params":{"symbol":"NOSUCH","limit":5}}"#));
        assert!(client.send_text("{not json"));
        assert!(client.send_text(r#"{"id":13,"method":"trades"}"#));
        drive(
            &clock,
            &mut out,
            &exchange,
            &mut client,
            &mut answers,
            "thirteen answers",
            |_, _, answers| answers.len() >= 13,
        );

        let mut ids: Vec<u64> = answers.iter().map(|a| a["id"].as_u64().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            "{answers:?}"
        );
        for answer in &answers {
            let (id, status) = (answer["id"].as_u64().unwrap(), &answer["status"]);
            match id {
                1..=10 => assert_eq!(status, 200, "snapshot {answer}"),
                11 => assert_eq!(answer["error"]["code"], -1121, "{answer}"),
                _ => assert_eq!(answer["error"]["code"], -1102, "{answer}"),
            }
        }
        assert_eq!(out.counters.snapshots_sent, 10);
        assert_eq!(out.counters.bad_requests, 3, "one count per error answer");
    }

    // The diff window's close wakes the venue only while the window holds
    // a change: an idle market sets no 100 ms timer.
    #[test]
    fn the_diff_window_is_timed_only_while_it_holds_a_change() {
        let config = crate::tests::config();
        let mut exchange = Exchange::new(config.instruments.len(), 64);
        let mut out = WsOut::bind(&config, "127.0.0.1:0".parse().unwrap()).unwrap();
        out.poll(&exchange, 1);
        assert_eq!(out.timer_wait_ns(1), None, "an empty window is not timed");
        let top = quotes();
        exchange.on_top(1, &top, 2, &mut out);
        assert_eq!(
            out.timer_wait_ns(2),
            Some(DIFF_INTERVAL_NS - 1),
            "the window closes one interval after it opened"
        );
        assert_eq!(out.timer_wait_ns(DIFF_INTERVAL_NS + 5), Some(0), "overdue");
        out.poll(&exchange, DIFF_INTERVAL_NS + 5);
        assert_eq!(out.counters.diffs_sent, 1);
        assert_eq!(
            out.timer_wait_ns(DIFF_INTERVAL_NS + 5),
            None,
            "sent: nothing left to time"
        );
    }

    /// A top of 3 at 99.90 bid, 4 at 100.10 ask.
    fn quotes() -> crate::Top {
        crate::Top {
            bid_px: 9_990,
            bid_qty: 3,
            ask_px: 10_010,
            ask_qty: 4,
        }
    }

    /// One plain GET on a thread; its whole response once the venue closes.
    fn get(addr: SocketAddr, target: &str) -> std::thread::JoinHandle<String> {
        use std::io::{Read, Write};
        let request = format!("GET {target} HTTP/1.1\r\nHost: venue\r\n\r\n");
        std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        })
    }

    // REST snapshots on the stream port: a known symbol gets its book's
    // levels and the stream's last update id, as Binance's GET
    // /api/v3/depth answers; an unknown symbol and a malformed query get
    // Binance's error bodies with HTTP 400, counted.
    #[test]
    fn rest_snapshots_on_the_stream_port() {
        let config = crate::tests::config();
        let mut exchange = Exchange::new(config.instruments.len(), 64);
        let mut out = WsOut::bind(&config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let top = quotes();
        exchange.on_top(1, &top, 1, &mut out);
        let update_id = out.streams[1].update_id;
        assert!(update_id > 0, "the quotes took update ids");
        let addr = out.local_addr().unwrap();
        let clock = TestClock(std::time::Instant::now());
        let mut answer = |target: &str| {
            let handle = get(addr, target);
            let deadline_ns = clock.now_ns() + DEADLINE_NS;
            while !handle.is_finished() {
                assert!(clock.now_ns() < deadline_ns, "no answer to {target}");
                out.poll(&exchange, 0);
                std::thread::yield_now();
            }
            let response = handle.join().unwrap();
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
            (
                status,
                serde_json::from_str::<serde_json::Value>(body).unwrap(),
            )
        };
        let (status, snapshot) = answer("/api/v3/depth?symbol=BRAVO&limit=5");
        assert_eq!(status, 200, "{snapshot}");
        assert_eq!(snapshot["lastUpdateId"], update_id);
        assert_eq!(snapshot["bids"][0][0], "99.90");
        assert_eq!(snapshot["asks"][0][0], "100.10");
        let (status, error) = answer("/api/v3/depth?symbol=NOSUCH");
        assert_eq!((status, &error["code"]), (400, &serde_json::json!(-1121)));
        let (status, error) = answer("/api/v3/depth?limit=5");
        assert_eq!((status, &error["code"]), (400, &serde_json::json!(-1102)));
        assert_eq!(out.counters.rest_snapshots_sent, 1);
        assert_eq!(out.counters.bad_requests, 2);
    }
}
