//! The simulated venue's market data over WebSocket, Binance-compatible:
//! `<symbol>@bookTicker` on every change of the top of book,
//! `<symbol>@depth@100ms` diffs of every changed level every 100 ms, and
//! depth snapshots answered on the same connection (Binance's WebSocket API
//! `depth` method; see `genesis_io::net::binance_ws` for why).
//!
//! Owning thread: the simulator's (`venue::sim`). Every book change that
//! touches a level takes the instrument's next update id; a diff carries
//! the first (`U`) and last (`u`) id of its window and each changed level's
//! quantity after the window; a snapshot carries the id of the last change
//! it includes (`lastUpdateId`). So the client's documented procedure
//! (buffer, snapshot, first diff with `U <= lastUpdateId+1 <= u`, then
//! `U == previous u + 1`) holds by construction.
//!
//! Every connection receives every stream (the path is not inspected).
//! A snapshot request for an unknown symbol, or one that does not parse,
//! gets a Binance-style error answer and is counted.

use crate::config::{instrument_grid, Config};
use crate::venue::exchange::{Exchange, MarketDataOut};
use genesis_io::binance::{
    parse_depth_request, write_book_ticker, write_error_answer, write_snapshot_answer,
    DepthDiffBuilder, InstrumentGrid,
};
use genesis_io::net::WsServer;
use genesis_io::venue::{BookEvent, MatchingEngine, Side as BookSide};
use std::net::SocketAddr;

/// How often depth diffs go out.
pub const DIFF_INTERVAL_NS: u64 = 100_000_000;

/// Most levels a snapshot answer carries.
const SNAPSHOT_LEVELS_MAX: usize = 5_000;

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
    pub snapshots_sent: u64,
    pub bad_requests: u64,
}

pub struct WsOut {
    server: WsServer,
    streams: Vec<Stream>,
    text: String,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
    diff_due_ns: u64,
    pub counters: WsOutCounters,
}

impl WsOut {
    /// Listens at `addr` (port 0 picks a free one).
    pub fn bind(config: &Config, addr: SocketAddr) -> Result<WsOut, String> {
        let server = WsServer::bind(addr, 1 << 20).map_err(|e| e.to_string())?;
        let streams = config
            .instruments
            .iter()
            .map(|i| {
                // One price step per tick and one quantity step per lot:
                // engine units are grid steps.
                let grid = instrument_grid(i).map_err(|(field, e)| format!("{field}: {e}"))?;
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

    /// Accepts connections, answers snapshot requests, and sends the diffs
    /// when their 100 ms window closes.
    pub fn poll(&mut self, exchange: &Exchange, now_ns: u64) {
        let mut requests: [Option<(u64, Option<usize>, u32)>; 8] = [None; 8];
        let mut request_count = 0;
        let mut bad: Option<genesis_io::net::ConnectionId> = None;
        let streams = &self.streams;
        let mut from: [Option<genesis_io::net::ConnectionId>; 8] = [None; 8];
        self.server
            .poll(|connection, bytes| match parse_depth_request(bytes) {
                Ok(request) if request_count < requests.len() => {
                    let instrument = streams
                        .iter()
                        .position(|s| s.symbol_upper.as_bytes() == request.symbol.as_bytes());
                    requests[request_count] = Some((request.id, instrument, request.limit));
                    from[request_count] = Some(connection);
                    request_count += 1;
                }
                _ => bad = Some(connection),
            });
        if let Some(connection) = bad {
            self.counters.bad_requests += 1;
            self.text.clear();
            write_error_answer(&mut self.text, 0, 400, -1102, "Malformed request.");
            self.server.send_text(connection, &self.text);
        }
        for index in 0..request_count {
            let (Some((id, instrument, limit)), Some(connection)) = (requests[index], from[index])
            else {
                continue;
            };
            self.answer_snapshot(exchange, connection, id, instrument, limit);
        }
        if now_ns >= self.diff_due_ns {
            self.diff_due_ns = now_ns + DIFF_INTERVAL_NS;
            self.send_diffs(now_ns);
        }
    }

    fn answer_snapshot(
        &mut self,
        exchange: &Exchange,
        connection: genesis_io::net::ConnectionId,
        id: u64,
        instrument: Option<usize>,
        limit: u32,
    ) {
        self.text.clear();
        let Some((index, book)) =
            instrument.and_then(|index| exchange.book(index).map(|book| (index, book)))
        else {
            self.counters.bad_requests += 1;
            write_error_answer(&mut self.text, id, 400, -1121, "Invalid symbol.");
            self.server.send_text(connection, &self.text);
            return;
        };
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
