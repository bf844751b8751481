//! The opening handshake with the `http` crate's types, for a server whose HTTP stack (hyper,
//! axum ...) parsed the request: the same checks as for bytes (RFC 6455 §4.2.1), and the
//! response to send (§4.2.2). The transports' `from_upgraded` and `accept_parsed` then adopt
//! the stream the HTTP server hands over.

use crate::handshake::{self, Accept, Request, Response};
use crate::{HandshakeError, LocalError};

impl<B> TryFrom<&http::Request<B>> for Request {
    type Error = HandshakeError;

    /// Validates an upgrade request an HTTP server parsed (RFC 6455 §4.2.1): the same checks
    /// as for a request read from the wire. On error, [`reject_response`] is the answer.
    fn try_from(req: &http::Request<B>) -> Result<Self, HandshakeError> {
        let lines: Vec<(&str, &[u8])> = req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        let path = req.uri().path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        handshake::validate_request(req.method().as_str(), req.version() == http::Version::HTTP_11, path, &lines)
    }
}

/// The 101 response accepting `request` (RFC 6455 §4.2.2 item 5), for the HTTP server to
/// send before it hands the connection over.
pub fn accept_response(request: &Request, accept: &Accept) -> Result<http::Response<()>, LocalError> {
    let bytes = handshake::accept_bytes(request, accept)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut response = http::Response::builder().status(http::StatusCode::SWITCHING_PROTOCOLS);
    // The head accept_bytes wrote, checked there, line by line after the status line.
    for line in text.lines().skip(1).take_while(|l| !l.is_empty()) {
        if let Some((name, value)) = line.split_once(':') {
            response = response.header(name.trim(), value.trim());
        }
    }
    response.body(()).map_err(|e| LocalError::InvalidHeader(e.to_string()))
}

/// The answer to a request that failed the checks: the status [`HandshakeError::status`]
/// gives, with the headers RFC 6455 §4.2.2 and RFC 7231 ask for (`Sec-WebSocket-Version: 13`
/// with 426, `Allow: GET` with 405).
pub fn reject_response(error: &HandshakeError) -> http::Response<()> {
    let status = http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    match error.status() {
        426 => _ = headers.insert("sec-websocket-version", http::HeaderValue::from_static("13")),
        405 => _ = headers.insert(http::header::ALLOW, http::HeaderValue::from_static("GET")),
        _ => {}
    }
    response
}

impl Request {
    /// The header lines as an `http::HeaderMap` (lines that are not valid HTTP are left out).
    pub fn header_map(&self) -> http::HeaderMap {
        header_map(&self.headers)
    }
}

impl Response {
    /// The header lines as an `http::HeaderMap` (lines that are not valid HTTP are left out).
    pub fn header_map(&self) -> http::HeaderMap {
        header_map(&self.headers)
    }
}

fn header_map(lines: &[(String, String)]) -> http::HeaderMap {
    lines
        .iter()
        .filter_map(|(n, v)| {
            let name = http::HeaderName::from_bytes(n.as_bytes()).ok()?;
            Some((name, http::HeaderValue::from_str(v).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade() -> http::request::Builder {
        http::Request::builder()
            .uri("/echo?x=1")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "keep-alive, Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Sec-WebSocket-Protocol", "chat, superchat")
    }

    /// RFC 6455 §1.3's example: the same key gives the same accept value, whichever way the
    /// request came in.
    #[test]
    fn an_http_request_passes_the_same_checks_and_gets_the_rfcs_accept_key() {
        let req = upgrade().body(()).expect("request");
        let request = Request::try_from(&req).expect("valid");
        assert_eq!((request.path.as_str(), request.subprotocols.len()), ("/echo?x=1", 2));
        let accept = Accept { subprotocol: Some("chat".into()), headers: vec![] };
        let response = accept_response(&request, &accept).expect("101");
        assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
        let h = response.headers();
        assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            (h["upgrade"].to_str().ok(), h["sec-websocket-protocol"].to_str().ok()),
            (Some("websocket"), Some("chat"))
        );
        assert_eq!(request.header_map()["host"], "example.com");
    }

    #[test]
    fn a_bad_http_request_is_refused_with_the_right_status() {
        let post = upgrade().method("POST").body(()).expect("request");
        let e = Request::try_from(&post).expect_err("POST");
        assert_eq!(
            (reject_response(&e).status().as_u16(), reject_response(&e).headers()["allow"].to_str().ok()),
            (405, Some("GET"))
        );
        // A second version line (8): no single version 13 is asked for, so 426 names ours (§4.4).
        let v8 = upgrade().header("Sec-WebSocket-Version", "8").body(()).expect("request");
        let e = Request::try_from(&v8).expect_err("two versions");
        let answer = reject_response(&e);
        assert_eq!(
            (answer.status().as_u16(), answer.headers()["sec-websocket-version"].to_str().ok()),
            (426, Some("13"))
        );
        let http10 = upgrade().version(http::Version::HTTP_10).body(()).expect("request");
        assert_eq!(Request::try_from(&http10), Err(HandshakeError::Version));
        let no_key = http::Request::builder()
            .header("Host", "h")
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .body(())
            .expect("request");
        assert_eq!(Request::try_from(&no_key), Err(HandshakeError::Header("Sec-WebSocket-Key")));
        let accept = Accept { subprotocol: Some("not offered".into()), headers: vec![] };
        let request = Request::try_from(&upgrade().body(()).expect("request")).expect("valid");
        assert!(accept_response(&request, &accept).is_err());
    }
}
