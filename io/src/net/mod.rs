//! Socket transports for the feeds: a mio busy-poll reactor with socket
//! options from config, MoldUDP64 over UDP (subscriber, and the venue's
//! publisher and request server), and Binance-compatible WebSocket streams
//! (`ws://` or `wss://` through rustls) with REST depth snapshots.
//!
//! Owning thread: the ingest thread owns the subscriber side (reactor,
//! [`MoldReceiver`]); the venue simulator's thread owns the publisher side.
//! Nothing here is shared between threads except the bounded queues to the
//! Binance snapshot fetcher's own thread ([`SnapshotFetcher`], blocking HTTP
//! off the ingest thread). No type reads a clock on its
//! own: the caller passes `now_ns` or a clock closure, so tests drive time.
//!
//! How the engine's ingest loop drives it, once per iteration, in the
//! design's priority order:
//! 1. `reactor.poll()` — zero timeout in prod ([`PollMode::Spin`]), a short
//!    one in dev ([`PollMode::Wait`]); the events only wake a dev loop, the
//!    receivers below are polled every iteration regardless;
//! 2. control input, then venue (FIX) sessions — not here;
//! 3. `mold_receiver.poll(&mut itch_feed, &mut clock, on_message)`: reads
//!    retransmissions then feed datagrams (bounded per call) with the
//!    kernel's receive stamp as `ts_recv_ns`, applies them in sequence or
//!    buffers them past a gap, sends bounded retransmission requests, runs a
//!    GLIMPSE snapshot session when a large gap or late join needs one
//!    ([`MoldReceiver::configure_recovery`]); a book with `is_stale()` must
//!    not be traded on;
//! 4. `binance_feed.poll(&mut clock, on_update)`: drives the WebSocket
//!    (connect, TLS, reconnect with backoff, pings), routes messages to the
//!    L2 books, takes REST snapshot answers and requests due snapshots;
//!    after `MarketUpdate::Connected` every book is stale until its
//!    `Snapshot { outcome: Synced }`.
//!
//! Venue side (simulator thread): [`MoldPublisher`] + [`MoldRequestServer`]
//! (`server.poll(publisher.store())` every loop), [`GlimpseServer`]
//! (`glimpse.poll(now_ns, publisher.next_sequence(), &orders)` every loop),
//! and [`WsServer`] for the streams and, on the same port, `GET /api/v3/depth`
//! ([`WsServer::poll_with_http`]). Each lists its descriptors and what they
//! wait for (`list_fds`, [`WaitFor`]), so that thread blocks between polls.
//!
//! The only `unsafe` code is in `sys.rs`: the `setsockopt`/`getsockopt`
//! wrappers, `recvmsg` with the kernel's receive stamp, and `recvmsg` of
//! the error queue for transmit stamps ([`enable_tx_stamps`]).

mod backoff;
mod binance_config;
mod binance_route;
mod binance_snapshots;
mod binance_ws;
mod error;
mod glimpse_server;
mod json_route;
mod mold_publisher;
mod mold_receiver;
mod mold_request_server;
mod options;
mod reactor;
mod retransmit_store;
mod rx_stamp;
mod snapshot_fetcher;
mod soup_client;
mod stream_url;
#[allow(unsafe_code)]
mod sys;
mod tls;
mod tx_stamp;
mod wait_for;
mod ws_client;
mod ws_config;
mod ws_server;
mod ws_stream;

pub use backoff::JitteredBackoff;
pub use binance_route::{MessageKind as BinanceMessageKind, MessageRouter as BinanceMessageRouter};
pub use binance_ws::{
    combined_stream_url, BinanceFeedConfig, BinanceFeedOptions, BinanceFeedStats,
    BinanceInstrument, BinanceWsFeed, MarketUpdate, SnapshotSource, SnapshotStats,
};
pub use error::NetError;
pub use glimpse_server::{GlimpseServer, GlimpseServerConfig, GlimpseServerStats};
pub use mold_publisher::{MoldPublisher, MoldPublisherConfig, PublisherStats};
pub use mold_receiver::{MoldReceiver, MoldReceiverConfig, ReceivePoll, ReceiverStats};
pub use mold_request_server::{MoldRequestServer, RequestServerStats};
pub use options::{
    apply_socket_options, apply_tcp_options, OptionOutcome, OptionsReport, SocketOptions,
};
pub use reactor::{
    bind_udp, connect_tcp, tcp_connect_state, ConnectState, PollMode, Reactor, ReactorStats,
};
pub use retransmit_store::RetransmitStore;
pub use rx_stamp::{
    enable_rx_stamps, measure_realtime_offset, probe_tcp_rx_stamps, realtime_ns, recv_stamped,
    RxStamping, RX_STAMP_OFFSET_ERROR_NS_MAX,
};
pub use snapshot_fetcher::{
    FetchFailure, SnapshotAnswer, SnapshotFetcher, SnapshotFetcherConfig, SnapshotRequest,
};
pub use soup_client::{SoupClient, SoupClientConfig, SoupClientStats, SoupEvent};
pub use stream_url::{StreamUrl, StreamWrapping};
pub use tls::{TlsConfig, TlsRoots, TlsSetup};
pub use tx_stamp::{
    drain_tx_stamps, drain_tx_stamps_until, enable_tx_stamps, TxDrain, TxKey, TxStamp, TxStamping,
};
pub use wait_for::WaitFor;
pub use ws_client::{DisconnectReason, WsClient, WsEvent, WsStats};
pub use ws_config::{WsConfig, WsEndpoint};
pub use ws_server::{ConnectionId, WsServer, WsServerStats};
