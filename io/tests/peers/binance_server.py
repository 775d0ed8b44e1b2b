#!/usr/bin/env python3
"""A Binance-shaped market-data server for the io integration tests.

It serves, on loopback, what Binance serves for spot market data:

- the streams over WebSocket (the `websockets` package): combined
  (`/stream?streams=a/b`, messages wrapped as {"stream":…,"data":…}) and raw
  (`/ws/a/b` or `/ws` plus SUBSCRIBE, bare payloads); `<sym>@depth@100ms`
  diffs ("e":"depthUpdate", U, u, b, a) and `<sym>@bookTicker`;
- the depth snapshot over HTTP, `GET /api/v3/depth?symbol=…&limit=…`,
  answering {"lastUpdateId":…,"bids":…,"asks":…} or Binance's error body
  {"code":…,"msg":…} with the HTTP status Binance uses;
- both again over TLS when given --cert and --key (a test CA's server cert).

The test drives it through stdin, one command per line, and reads one reply
line per command on stdout ("ok …" or "error …"):

  diff [N]            N book changes, one update id each, each sent as a diff
  gap                 the next change is applied but its diff never sent
  ticker              send a bookTicker of the current top
  stale_snapshots N   the next N snapshots predate the connection's first diff
  rest_error S C [N]  the next N (default 1) snapshot requests get HTTP S with code C
  rest_errors_clear   drop the injected REST errors still queued
  drop                abort every WebSocket connection (no close frame)
  book                reply with the book: {"id":…,"bids":…,"asks":…}
  stats               reply with the counters as JSON
  quit                exit

The first line on stdout is "ready ws=PORT http=PORT". Prices and
quantities are integers in the test's units (price step 0.01, quantity
step 0.001), written as exact decimals.

It also checks the client against Binance's guide: a snapshot requested on a
connection that has not been sent a diff yet is counted in
`snapshots_before_first_diff` (guide: buffer the stream first, then fetch).
"""

import argparse
import asyncio
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import websockets
from websockets.asyncio.server import serve

SYMBOL = "BTCUSDT"


def price_text(units):
    return f"{units // 100}.{units % 100:02d}"


def qty_text(units):
    return f"{units // 1000}.{units % 1000:03d}"


def levels_json(levels):
    return [[price_text(p), qty_text(q)] for p, q in levels]


class Book:
    """The true book, its update id, and every past version (for stale snapshots)."""

    def __init__(self):
        self.bids = {10_000 - 5 * i: 1_000 + i for i in range(5)}
        self.asks = {10_010 + 5 * i: 2_000 + i for i in range(5)}
        self.update_id = 100
        self.history = {100: self.copy()}
        self.step = 0

    def copy(self):
        return (dict(self.bids), dict(self.asks))

    def change(self):
        """One update id: move one bid and one ask level."""
        self.step += 1
        self.update_id += 1
        bid = (9_990 + self.step % 7, (self.step * 37) % 500)
        ask = (10_011 + self.step % 7, (self.step * 53) % 500)
        for side, (price, qty) in ((self.bids, bid), (self.asks, ask)):
            if qty == 0:
                side.pop(price, None)
            else:
                side[price] = qty
        self.history[self.update_id] = self.copy()
        return [bid], [ask]

    def snapshot(self, update_id, limit):
        bids, asks = self.history[update_id]
        top_bids = sorted(bids.items(), key=lambda kv: -kv[0])[:limit]
        top_asks = sorted(asks.items())[:limit]
        return {"lastUpdateId": update_id, "bids": levels_json(top_bids), "asks": levels_json(top_asks)}


class Connection:
    def __init__(self, ws, combined, streams):
        self.ws = ws
        self.combined = combined
        self.streams = set(streams)
        self.first_diff_u = None  # U of the first diff sent on this connection


class Server:
    def __init__(self):
        self.lock = threading.Lock()
        self.book = Book()
        self.connections = []
        self.gap_next = False
        self.stale_snapshots = 0
        self.rest_errors = []
        self.stats = {
            "connections": 0,
            "subscribes": 0,
            "snapshots_served": 0,
            "stale_snapshots_served": 0,
            "rest_errors_served": 0,
            "snapshots_before_first_diff": 0,
            "diffs_sent": 0,
            "tickers_sent": 0,
        }
        # Changes before anyone connects, so older versions exist.
        for _ in range(5):
            self.book.change()

    # --- WebSocket side -------------------------------------------------
    async def handler(self, ws):
        url = urlparse(ws.request.path)
        if url.path == "/stream":
            streams = parse_qs(url.query).get("streams", [""])[0].split("/")
            conn = Connection(ws, True, [s for s in streams if s])
        elif url.path == "/ws" or url.path.startswith("/ws/"):
            conn = Connection(ws, False, [s for s in url.path[4:].split("/") if s])
        else:
            await ws.close(1008, "unknown path")
            return
        with self.lock:
            self.connections.append(conn)
            self.stats["connections"] += 1
        try:
            async for message in ws:
                await self.on_request(conn, message)
        except websockets.ConnectionClosed:
            pass
        finally:
            with self.lock:
                if conn in self.connections:
                    self.connections.remove(conn)

    async def on_request(self, conn, message):
        try:
            request = json.loads(message)
        except ValueError:
            await conn.ws.send(json.dumps({"code": 3, "msg": "Invalid JSON"}))
            return
        if request.get("method") == "SUBSCRIBE":
            conn.streams.update(request.get("params", []))
            self.stats["subscribes"] += 1
            await conn.ws.send(json.dumps({"result": None, "id": request.get("id")}))
        else:
            await conn.ws.send(json.dumps({"code": 2, "msg": "Invalid request", "id": request.get("id")}))

    async def send(self, stream, payload):
        text_raw = json.dumps(payload, separators=(",", ":"))
        text_combined = json.dumps({"stream": stream, "data": payload}, separators=(",", ":"))
        sent = 0
        for conn in list(self.connections):
            if stream not in conn.streams:
                continue
            if payload.get("e") == "depthUpdate" and conn.first_diff_u is None:
                conn.first_diff_u = payload["U"]
            try:
                await conn.ws.send(text_combined if conn.combined else text_raw)
                sent += 1
            except websockets.ConnectionClosed:
                pass
        return sent

    async def diff(self, count):
        for _ in range(count):
            with self.lock:
                first = self.book.update_id + 1
                if self.gap_next:
                    self.gap_next = False
                    self.book.change()
                    first = self.book.update_id + 1
                bids, asks = self.book.change()
                last = self.book.update_id
            payload = {
                "e": "depthUpdate", "E": 1, "s": SYMBOL, "U": first, "u": last,
                "b": levels_json(bids), "a": levels_json(asks),
            }
            await self.send("btcusdt@depth@100ms", payload)
            self.stats["diffs_sent"] += 1

    async def ticker(self):
        with self.lock:
            bid = max(self.book.bids.items())
            ask = min(self.book.asks.items())
            payload = {
                "u": self.book.update_id, "s": SYMBOL,
                "b": price_text(bid[0]), "B": qty_text(bid[1]),
                "a": price_text(ask[0]), "A": qty_text(ask[1]),
            }
        await self.send("btcusdt@bookTicker", payload)
        self.stats["tickers_sent"] += 1

    async def drop(self):
        for conn in list(self.connections):
            conn.ws.transport.abort()

    # --- REST side (called on the HTTP server's threads) ------------------
    def rest_depth(self, query):
        """(status, body dict, headers) for GET /api/v3/depth."""
        params = parse_qs(query)
        symbol = params.get("symbol", [""])[0]
        try:
            limit = int(params.get("limit", ["100"])[0])
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in parameter 'limit'."}, {}
        with self.lock:
            if self.rest_errors:
                status, code = self.rest_errors.pop(0)
                self.stats["rest_errors_served"] += 1
                headers = {"Retry-After": "0"} if status in (418, 429) else {}
                return status, {"code": code, "msg": "Error injected by the test."}, headers
            if symbol != SYMBOL:
                return 400, {"code": -1121, "msg": "Invalid symbol."}, {}
            firsts = [c.first_diff_u for c in self.connections]
            if not firsts or any(u is None for u in firsts):
                self.stats["snapshots_before_first_diff"] += 1
            update_id = self.book.update_id
            if self.stale_snapshots > 0 and firsts and firsts[0] is not None:
                self.stale_snapshots -= 1
                self.stats["stale_snapshots_served"] += 1
                update_id = max(100, firsts[0] - 2)
            self.stats["snapshots_served"] += 1
            return 200, self.book.snapshot(update_id, min(max(limit, 1), 5000)), {}

    # --- control ------------------------------------------------------------
    async def command(self, line):
        words = line.split()
        if not words:
            return "error empty command"
        name, args = words[0], words[1:]
        if name == "diff":
            await self.diff(int(args[0]) if args else 1)
            return f"ok {self.book.update_id}"
        if name == "gap":
            self.gap_next = True
            return "ok"
        if name == "ticker":
            await self.ticker()
            return "ok"
        if name == "stale_snapshots":
            with self.lock:
                self.stale_snapshots = int(args[0])
            return "ok"
        if name == "rest_error":
            # rest_error STATUS CODE [COUNT]: the next COUNT (default 1) REST calls fail.
            count = int(args[2]) if len(args) > 2 else 1
            with self.lock:
                self.rest_errors.extend([(int(args[0]), int(args[1]))] * count)
            return "ok"
        if name == "rest_errors_clear":
            with self.lock:
                self.rest_errors.clear()
            return "ok"
        if name == "drop":
            await self.drop()
            return "ok"
        if name == "book":
            with self.lock:
                bids = sorted(self.book.bids.items(), key=lambda kv: -kv[0])
                asks = sorted(self.book.asks.items())
                return "ok " + json.dumps({"id": self.book.update_id, "bids": bids, "asks": asks})
        if name == "stats":
            with self.lock:
                return "ok " + json.dumps(self.stats)
        return f"error unknown command {name!r}"


def http_handler(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            url = urlparse(self.path)
            if url.path != "/api/v3/depth":
                status, body, headers = 404, {"code": -1, "msg": "Not found."}, {}
            else:
                status, body, headers = server.rest_depth(url.query)
            data = json.dumps(body, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    options = parser.parse_args()
    tls = None
    if options.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(options.cert, options.key)

    server = Server()
    http = ThreadingHTTPServer(("127.0.0.1", 0), http_handler(server))
    http.daemon_threads = True
    if tls is not None:
        http.socket = tls.wrap_socket(http.socket, server_side=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()

    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
        loop.call_soon_threadsafe(lines.put_nowait, "quit")

    async with serve(server.handler, "127.0.0.1", 0, ssl=tls, max_size=1 << 20) as ws_server:
        ws_port = ws_server.sockets[0].getsockname()[1]
        print(f"ready ws={ws_port} http={http.server_address[1]}", flush=True)
        threading.Thread(target=read_stdin, daemon=True).start()
        while True:
            line = await lines.get()
            if line == "quit":
                break
            try:
                reply = await server.command(line)
            except Exception as error:  # a bad command is the test's bug: say so
                reply = f"error {type(error).__name__}: {error}"
            print(reply, flush=True)
    http.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
