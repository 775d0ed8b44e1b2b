//! Binance stream URLs, parsed once at start-up: scheme (`ws`/`wss`), host,
//! port, and which streams the URL names, in either of Binance's shapes:
//!
//! - combined: `/stream?streams=<a>/<b>/…`, each message wrapped as
//!   `{"stream":"<name>","data":<payload>}`;
//! - raw: `/ws/<a>` (one stream), `/ws/<a>/<b>` (several), or `/ws` alone
//!   (streams added later with a `SUBSCRIBE` request); messages are the
//!   bare payloads.
//!
//! Owning thread: start-up (the engine's config check, the feed's
//! constructor). Also derives the REST base URL of the simulator (same
//! host and port, `http`/`https` for `ws`/`wss`) and resolves the host, so
//! the ingest thread never does DNS.

use super::error::NetError;
use super::ws_config::WsEndpoint;
use std::net::{SocketAddr, ToSocketAddrs};

/// How the connection wraps its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamWrapping {
    /// `/stream?streams=…`: `{"stream":…,"data":…}`.
    Combined,
    /// `/ws/…`: bare payloads.
    Raw,
}

/// A parsed stream URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamUrl {
    /// The URL as given.
    pub url: String,
    /// `wss://`: the stream runs over TLS.
    pub tls: bool,
    /// Host as written (IPv6 without brackets); also the TLS server name.
    pub host: String,
    /// Port (443 for `wss`, 80 for `ws` when absent).
    pub port: u16,
    /// Combined or raw.
    pub wrapping: StreamWrapping,
    /// Stream names in the URL, in order (may be empty for a bare `/ws`).
    pub streams: Vec<String>,
}

/// Scheme, host, port and the rest of a `ws`/`wss`/`http`/`https` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub tls: bool,
    pub host: &'a str,
    pub port: u16,
    pub path_and_query: &'a str,
}

/// Split `url` into its parts; `schemes` is (plain, secure), e.g. ("ws", "wss").
pub(crate) fn split_url<'a>(url: &'a str, schemes: (&str, &str)) -> Result<UrlParts<'a>, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!(
            "has no scheme (expected {}:// or {}://)",
            schemes.0, schemes.1
        )
    })?;
    let tls = if scheme.eq_ignore_ascii_case(schemes.1) {
        true
    } else if scheme.eq_ignore_ascii_case(schemes.0) {
        false
    } else {
        return Err(format!(
            "scheme {scheme:?} is neither {:?} nor {:?}",
            schemes.0, schemes.1
        ));
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    let (host, port) = split_authority(authority)?;
    let port = port.unwrap_or(if tls { 443 } else { 80 });
    if host.is_empty() {
        return Err("has no host".into());
    }
    Ok(UrlParts {
        tls,
        host,
        port,
        path_and_query,
    })
}

/// `host[:port]` or `[v6][:port]`.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), String> {
    if authority.contains('@') {
        return Err("carries user information, which is not accepted".into());
    }
    let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("has an IPv6 host without its closing ']'")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = port_text
        .map(|text| {
            text.parse::<u16>()
                .map_err(|_| format!("has an invalid port {text:?}"))
        })
        .transpose()?;
    Ok((host, port))
}

impl StreamUrl {
    /// Parse a Binance stream URL (see the module docs for the shapes).
    pub fn parse(url: &str) -> Result<StreamUrl, NetError> {
        let invalid = |reason: String| NetError::Url {
            url: url.to_string(),
            reason,
        };
        let parts = split_url(url, ("ws", "wss")).map_err(invalid)?;
        let (path, query) = parts
            .path_and_query
            .split_once('?')
            .unwrap_or((parts.path_and_query, ""));
        let (wrapping, list) = if path == "/stream" {
            let list = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("streams="))
                .ok_or_else(|| invalid("a combined-stream URL needs ?streams=…".into()))?;
            (StreamWrapping::Combined, list)
        } else if path == "/ws" || path == "/ws/" {
            (StreamWrapping::Raw, "")
        } else if let Some(list) = path.strip_prefix("/ws/") {
            (StreamWrapping::Raw, list)
        } else {
            return Err(invalid(format!(
                "path {path:?} is neither raw (/ws/<stream>) nor combined (/stream?streams=…)"
            )));
        };
        let streams: Vec<String> = list
            .split('/')
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        if wrapping == StreamWrapping::Combined && streams.is_empty() {
            return Err(invalid("?streams= names no stream".into()));
        }
        Ok(StreamUrl {
            url: url.to_string(),
            tls: parts.tls,
            host: parts.host.to_string(),
            port: parts.port,
            wrapping,
            streams,
        })
    }

    /// `host:port` as it goes into another URL (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The REST base of a server that serves both on one port, as the
    /// simulated venue does: `http://host:port` (`https` for `wss`). For
    /// Binance itself configure the base instead (`https://api.binance.com`).
    pub fn rest_base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host_port())
    }

    /// Resolve the host (DNS, at start-up) to the first address.
    pub fn resolve(&self) -> Result<SocketAddr, NetError> {
        let url_error = |reason: String| NetError::Url {
            url: self.url.clone(),
            reason,
        };
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|error| url_error(format!("cannot resolve {:?}: {error}", self.host)))?
            .next()
            .ok_or_else(|| url_error(format!("{:?} resolves to no address", self.host)))
    }

    /// The resolved endpoint for [`super::WsClient`].
    pub fn endpoint(&self) -> Result<WsEndpoint, NetError> {
        Ok(WsEndpoint {
            addr: self.resolve()?,
            url: self.url.clone(),
        })
    }

    /// Whether the URL names `stream`.
    pub fn names(&self, stream: &str) -> bool {
        self.streams.iter().any(|s| s == stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Binance's documented shapes parse, with default ports by scheme.
    #[test]
    fn raw_and_combined_shapes() {
        let url = StreamUrl::parse("wss://stream.binance.com:9443/ws/btcusdt@depth@100ms").unwrap();
        assert_eq!(
            (url.tls, url.port, url.wrapping),
            (true, 9443, StreamWrapping::Raw)
        );
        assert_eq!(url.streams, ["btcusdt@depth@100ms"]);
        assert_eq!(url.rest_base_url(), "https://stream.binance.com:9443");
        let url = StreamUrl::parse(
            "ws://127.0.0.1:9000/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker",
        )
        .unwrap();
        assert_eq!((url.tls, url.wrapping), (false, StreamWrapping::Combined));
        assert!(url.names("btcusdt@bookTicker"));
        assert_eq!(url.rest_base_url(), "http://127.0.0.1:9000");
        let url = StreamUrl::parse("wss://stream.binance.com/ws").unwrap();
        assert_eq!((url.port, url.streams.len()), (443, 0));
        let url = StreamUrl::parse("ws://[::1]:81/ws/a@bookTicker/b@bookTicker").unwrap();
        assert_eq!((url.host.as_str(), url.streams.len()), ("::1", 2));
        assert_eq!(url.host_port(), "[::1]:81");
    }

    // Other schemes, paths and malformed authorities are refused with a reason.
    #[test]
    fn refusals_name_the_problem() {
        for (url, expected) in [
            ("http://h/ws", "scheme"),
            ("stream.binance.com/ws", "no scheme"),
            ("ws:///ws", "no host"),
            ("ws://h:99999/ws", "port"),
            ("ws://h/api/v3", "neither raw"),
            ("ws://h/stream", "?streams="),
            ("ws://h/stream?streams=", "names no stream"),
            ("ws://u:p@h/ws", "user information"),
        ] {
            let error = StreamUrl::parse(url).unwrap_err().to_string();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }
}
