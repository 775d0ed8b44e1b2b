//! Where one Binance WebSocket message goes: which instrument and stream,
//! or which request it answers. Both of Binance's wrappings are handled:
//!
//! - combined (`/stream?streams=…`): `{"stream":"btcusdt@depth@100ms","data":{…}}`,
//!   routed by the stream name;
//! - raw (`/ws/…`): the bare payload. `"e":"depthUpdate"` is a diff, and
//!   a message with `"B"` and `"A"` and no `"e"` is a spot bookTicker
//!   (which carries no event type); `"s"` names the instrument. A raw
//!   connection that carries one instrument's streams only knows its
//!   instrument (and, with a single stream, its kind) without reading them.
//!
//! Answers carry an `"id"`: a `SUBSCRIBE` acknowledgement
//! (`{"result":null,"id":N}`), a WebSocket-API `depth` answer, or an error
//! (`{"code":2,"msg":"…","id":N}`). An error without an id is a stream-level
//! error frame.
//!
//! Owning thread: the ingest thread. Pure functions over borrowed bytes:
//! one pass over the top-level fields ([`for_each_field`]), no allocation.

use super::json_route::{for_each_field, string_contents};

/// Which of an instrument's streams a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// `<symbol>@depth@100ms` (or `<symbol>@depth`).
    Depth,
    /// `<symbol>@bookTicker`.
    BookTicker,
}

/// The names one instrument's streams go by.
#[derive(Clone, Debug)]
pub(crate) struct StreamNames {
    /// Upper-case exchange symbol, as in `"s"`.
    pub symbol_upper: String,
    /// `<lower>@depth@100ms`.
    pub depth_100ms: String,
    /// `<lower>@depth` (1000 ms updates; accepted when the URL names it).
    pub depth_1s: String,
    /// `<lower>@bookTicker`.
    pub ticker: String,
}

impl StreamNames {
    pub(crate) fn new(symbol: &str) -> StreamNames {
        let lower = symbol.to_ascii_lowercase();
        StreamNames {
            symbol_upper: symbol.to_ascii_uppercase(),
            depth_100ms: format!("{lower}@depth@100ms"),
            depth_1s: format!("{lower}@depth"),
            ticker: format!("{lower}@bookTicker"),
        }
    }

    /// What `stream` is for this instrument, if anything.
    pub(crate) fn kind_of(&self, stream: &[u8]) -> Option<StreamKind> {
        if stream == self.depth_100ms.as_bytes() || stream == self.depth_1s.as_bytes() {
            Some(StreamKind::Depth)
        } else if stream == self.ticker.as_bytes() {
            Some(StreamKind::BookTicker)
        } else {
            None
        }
    }
}

/// The top-level fields routing looks at (raw values, strings unquoted
/// where noted).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Envelope<'a> {
    /// `"stream"`, unquoted.
    pub stream: Option<&'a [u8]>,
    /// `"data"`.
    pub data: Option<&'a [u8]>,
    /// `"id"`.
    pub id: Option<&'a [u8]>,
    /// `"status"`.
    pub status: Option<&'a [u8]>,
    /// `"result"`.
    pub result: Option<&'a [u8]>,
    /// `"error"` or `"code"`: the message reports an error.
    pub error: bool,
    /// `"e"`, unquoted.
    pub event: Option<&'a [u8]>,
    /// `"s"`, unquoted.
    pub symbol: Option<&'a [u8]>,
    /// `"B"` and `"A"` both present (bookTicker quantities).
    pub ticker_fields: bool,
}

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// A stream payload for instrument `index`.
    Stream {
        index: usize,
        kind: StreamKind,
        payload: &'a [u8],
    },
    /// An answer to request `id` (a number, or `None` if not one).
    Answer { id: Option<u64> },
    /// An error frame with no id.
    StreamError,
    /// A stream no instrument has, or a payload that says nothing routable.
    Unknown,
    /// Not a JSON object.
    Invalid,
}

/// What a raw connection carries when it carries one instrument only: its
/// index, and the stream kind if it carries a single stream.
pub(crate) type RawKnown = Option<(usize, Option<StreamKind>)>;

/// Route one message (`single`: see [`RawKnown`]).
pub(crate) fn route<'a>(
    bytes: &'a [u8],
    names: &[StreamNames],
    single: RawKnown,
) -> (Route<'a>, Envelope<'a>) {
    let mut envelope = Envelope::default();
    let mut ticker_quantities = (false, false);
    let parsed = for_each_field(bytes, |key, value| match key {
        b"stream" => envelope.stream = string_contents(value),
        b"data" => envelope.data = Some(value),
        b"id" => envelope.id = Some(value),
        b"status" => envelope.status = Some(value),
        b"result" => envelope.result = Some(value),
        b"error" | b"code" => envelope.error = true,
        b"e" => envelope.event = string_contents(value),
        b"s" => envelope.symbol = string_contents(value),
        b"B" => ticker_quantities.0 = true,
        b"A" => ticker_quantities.1 = true,
        _ => {}
    });
    envelope.ticker_fields = ticker_quantities == (true, true);
    if parsed.is_none() {
        return (Route::Invalid, envelope);
    }
    let route = match (envelope.stream, envelope.data, envelope.id) {
        (Some(stream), Some(data), _) => by_stream_name(names, stream, data),
        (_, _, Some(id)) => Route::Answer {
            id: super::json_route::unsigned(id),
        },
        _ if envelope.error => Route::StreamError,
        _ => raw_payload(names, single, &envelope, bytes),
    };
    (route, envelope)
}

fn by_stream_name<'a>(names: &[StreamNames], stream: &[u8], data: &'a [u8]) -> Route<'a> {
    names
        .iter()
        .enumerate()
        .find_map(|(index, n)| {
            n.kind_of(stream).map(|kind| Route::Stream {
                index,
                kind,
                payload: data,
            })
        })
        .unwrap_or(Route::Unknown)
}

fn raw_payload<'a>(
    names: &[StreamNames],
    single: RawKnown,
    envelope: &Envelope<'a>,
    bytes: &'a [u8],
) -> Route<'a> {
    let from_payload = match envelope.event {
        Some(b"depthUpdate") => Some(StreamKind::Depth),
        None if envelope.ticker_fields => Some(StreamKind::BookTicker),
        _ => None,
    };
    let found = match single {
        Some((index, known)) => known.or(from_payload).map(|kind| (index, kind)),
        None => from_payload
            .zip(envelope.symbol)
            .and_then(|(kind, symbol)| {
                names
                    .iter()
                    .position(|n| n.symbol_upper.as_bytes().eq_ignore_ascii_case(symbol))
                    .map(|index| (index, kind))
            }),
    };
    found.map_or(Route::Unknown, |(index, kind)| Route::Stream {
        index,
        kind,
        payload: bytes,
    })
}

/// What a message is, without its payload (see [`MessageRouter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A depth diff of instrument `index`.
    Depth(usize),
    /// A bookTicker of instrument `index`.
    BookTicker(usize),
    /// An answer to request `id` (`None`: the id is not a number).
    Answer(Option<u64>),
    /// An error frame with no id.
    StreamError,
    /// A stream or payload no instrument has.
    Unknown,
    /// Not a JSON object.
    Invalid,
}

/// The feed's message routing on its own, for tools and fuzzing: routes
/// like a combined or raw connection carrying `symbols` (raw routing by
/// `"e"` and `"s"`).
#[derive(Clone, Debug)]
pub struct MessageRouter {
    names: Vec<StreamNames>,
}

impl MessageRouter {
    /// A router for these exchange symbols (any case).
    pub fn new(symbols: &[&str]) -> MessageRouter {
        MessageRouter {
            names: symbols.iter().map(|s| StreamNames::new(s)).collect(),
        }
    }

    /// What `bytes` is.
    pub fn route(&self, bytes: &[u8]) -> MessageKind {
        match route(bytes, &self.names, None).0 {
            Route::Stream {
                index,
                kind: StreamKind::Depth,
                ..
            } => MessageKind::Depth(index),
            Route::Stream {
                index,
                kind: StreamKind::BookTicker,
                ..
            } => MessageKind::BookTicker(index),
            Route::Answer { id } => MessageKind::Answer(id),
            Route::StreamError => MessageKind::StreamError,
            Route::Unknown => MessageKind::Unknown,
            Route::Invalid => MessageKind::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<StreamNames> {
        vec![StreamNames::new("BTCUSDT"), StreamNames::new("ethbtc")]
    }

    // Combined messages route by stream name, 1 s depth included.
    #[test]
    fn combined_routes_by_name() {
        let msg = br#"{"stream":"ethbtc@depth","data":{"U":1}}"#;
        let (route, _) = route(msg, &names(), None);
        assert_eq!(
            route,
            Route::Stream {
                index: 1,
                kind: StreamKind::Depth,
                payload: br#"{"U":1}"#
            }
        );
        let msg = br#"{"stream":"xrpusdt@bookTicker","data":{}}"#;
        assert_eq!(route_of(msg, None), Route::Unknown);
    }

    fn route_of(bytes: &[u8], single: RawKnown) -> Route<'_> {
        route(bytes, &names(), single).0
    }

    // Raw payloads route by event type and symbol, or by the one stream a
    // single-stream connection carries.
    #[test]
    fn raw_routes_by_payload() {
        let diff = br#"{"e":"depthUpdate","E":1,"s":"ETHBTC","U":1,"u":2,"b":[],"a":[]}"#;
        assert!(matches!(
            route_of(diff, None),
            Route::Stream {
                index: 1,
                kind: StreamKind::Depth,
                ..
            }
        ));
        let ticker = br#"{"u":4,"s":"BTCUSDT","b":"1","B":"2","a":"3","A":"4"}"#;
        assert!(matches!(
            route_of(ticker, None),
            Route::Stream {
                index: 0,
                kind: StreamKind::BookTicker,
                ..
            }
        ));
        let trade = br#"{"e":"trade","s":"BTCUSDT"}"#;
        assert_eq!(route_of(trade, None), Route::Unknown);
        // One stream: its kind is known whatever the payload says.
        let single = Some((0, Some(StreamKind::Depth)));
        assert!(matches!(
            route_of(trade, single),
            Route::Stream { index: 0, .. }
        ));
        // One instrument: a ticker without "s" still finds it.
        let bare = br#"{"u":4,"b":"1","B":"2","a":"3","A":"4"}"#;
        assert_eq!(route_of(bare, None), Route::Unknown);
        assert!(matches!(
            route_of(bare, Some((1, None))),
            Route::Stream {
                index: 1,
                kind: StreamKind::BookTicker,
                ..
            }
        ));
    }

    // Answers, error frames and junk are told apart.
    #[test]
    fn answers_errors_and_junk() {
        assert_eq!(
            route_of(br#"{"result":null,"id":3}"#, None),
            Route::Answer { id: Some(3) }
        );
        assert_eq!(
            route_of(br#"{"code":2,"msg":"Invalid request"}"#, None),
            Route::StreamError
        );
        assert_eq!(route_of(b"{nope", None), Route::Invalid);
        assert_eq!(route_of(b"{}", None), Route::Unknown);
    }
}
