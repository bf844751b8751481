//! The opening handshake (RFC 6455 §4), sans-IO: building and validating the HTTP/1.1
//! upgrade on both sides. [`crate::Connection`] drives these functions; they are public so
//! that a server with its own HTTP stack can reuse the checks.

use data_encoding::BASE64;
use sha1::{Digest, Sha1};

use crate::{HandshakeError, LocalError};

/// Header lines accepted in one HTTP head; more is answered with 431.
const MAX_HEADERS: usize = 64;

/// What a client asks for (RFC 6455 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// `Host` header: `host` or `host:port`.
    pub host: String,
    /// Request target, e.g. `/echo?x=1`.
    pub path: String,
    /// Subprotocols offered, in order of preference (`Sec-WebSocket-Protocol`).
    pub subprotocols: Vec<String>,
    /// Extra header lines (e.g. `Origin`, `Authorization`).
    pub headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// A request for `path` on `host`, offering no subprotocol.
    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Self {
        ClientRequest { host: host.into(), path: path.into(), subprotocols: Vec::new(), headers: Vec::new() }
    }

    /// Offers one more subprotocol.
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.subprotocols.push(name.into());
        self
    }

    /// Adds a header line.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A parsed `ws://` URL (RFC 6455 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: the connection runs over TLS (RFC 6455 §3, "secure" flag).
    pub secure: bool,
    /// The host alone (no port, no IPv6 brackets): the TLS server name.
    pub host: String,
    /// `host[:port]` as written: the `Host` header.
    pub authority: String,
    /// `host:port` to connect to (port 80, or 443 for `wss://`, when absent).
    pub address: String,
    /// Resource name: path and query, at least `/` (the fragment is dropped, §3).
    pub path: String,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path][?query]` or the same with `wss://` (RFC 6455 §3).
    pub fn parse(url: &str) -> Result<Self, LocalError> {
        let bad = |why: &str| LocalError::InvalidUrl(format!("{url:?}: {why}"));
        let (secure, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("wss") => (true, rest),
            _ => return Err(bad("does not start with ws:// or wss://")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') || authority.bytes().any(|b| b <= b' ') {
            return Err(bad("missing or invalid host (user info is not supported)"));
        }
        let (host, has_port) = match authority.rfind(']') {
            Some(b) if authority.starts_with('[') => (&authority[1..b], authority[b..].contains(':')),
            Some(_) => return Err(bad("invalid IPv6 address")),
            None => (authority.split(':').next().unwrap_or_default(), authority.contains(':')),
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let port = if secure { 443 } else { 80 };
        let address = if has_port { authority.to_owned() } else { format!("{authority}:{port}") };
        Ok(WsUrl { secure, host: host.to_owned(), authority: authority.to_owned(), address, path })
    }

    /// The upgrade request for this URL.
    pub fn request(&self) -> ClientRequest {
        ClientRequest::new(self.authority.clone(), self.path.clone())
    }
}

/// An upgrade refused: what a server answers instead of 101 (its application's choice, or a
/// failed check of the request), and what a client keeps of such an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status; a server sends 400-599 (anything else becomes 400).
    pub status: u16,
    /// Header lines. A server adds `Connection: close` and `Content-Length` itself.
    pub headers: Vec<(String, String)>,
    /// The body. A client keeps the bytes that arrived with the head, up to its
    /// `Content-Length` and `Config::max_handshake_size`.
    pub body: bytes::Bytes,
}

impl Rejection {
    /// A rejection with `status`, no header, no body.
    pub fn new(status: u16) -> Self {
        Rejection { status, headers: Vec::new(), body: bytes::Bytes::new() }
    }

    /// Adds a header line (`Retry-After`, `WWW-Authenticate` ...).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body (say why, for a human reading it).
    pub fn body(mut self, body: impl Into<bytes::Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

impl From<u16> for Rejection {
    fn from(status: u16) -> Self {
        Rejection::new(status)
    }
}

/// The server's accepted response, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Subprotocol the server chose (one of those offered).
    pub subprotocol: Option<String>,
    /// The permessage-deflate agreement, if we offered it and the server accepted.
    pub deflate: Option<crate::DeflateParams>,
    /// All header lines of the response.
    pub headers: Vec<(String, String)>,
}

/// A client's upgrade request, as the server parsed it (RFC 6455 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Request target, e.g. `/echo`.
    pub path: String,
    /// All header lines, names as sent.
    pub headers: Vec<(String, String)>,
    /// `Sec-WebSocket-Key` (validated: base64 of 16 bytes).
    pub key: String,
    /// Subprotocols offered, in the client's order.
    pub subprotocols: Vec<String>,
    /// Extensions offered, one element each (`permessage-deflate; client_max_window_bits`).
    /// A server with [`crate::Config::deflate`] accepts the first valid permessage-deflate
    /// offer; every other extension is declined by leaving it out of the response (RFC 6455
    /// §9.1), so its RSV bits stay reserved.
    pub extensions: Vec<String>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How a server accepts a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// Subprotocol to select; must be one the client offered.
    pub subprotocol: Option<String>,
    /// Extra header lines for the 101 response.
    pub headers: Vec<(String, String)>,
}

/// A fresh `Sec-WebSocket-Key` from 16 random bytes (RFC 6455 §4.1 item 7).
pub fn generate_key(random: [u8; 16]) -> String {
    BASE64.encode(&random)
}

/// The `Sec-WebSocket-Accept` value for a key (RFC 6455 §4.2.2 item 5.4).
pub fn accept_key(key: &str) -> String {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID);
    BASE64.encode(&sha1.finalize())
}

fn check_header(name: &str, value: &str) -> Result<(), LocalError> {
    let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if bad_name || value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(LocalError::InvalidHeader(name.to_owned()));
    }
    Ok(())
}

fn check_headers(headers: &[(String, String)]) -> Result<(), LocalError> {
    headers.iter().try_for_each(|(k, v)| check_header(k, v))
}

/// Serialises a client's upgrade request with `key` (RFC 6455 §4.1).
pub fn request_bytes(req: &ClientRequest, key: &str) -> Result<Vec<u8>, LocalError> {
    check_header("Host", &req.host)?;
    check_headers(&req.headers)?;
    if req.path.bytes().any(|b| b <= b' ' || b == 0x7f) || !req.path.starts_with('/') {
        return Err(LocalError::InvalidHeader("request target".into()));
    }
    let mut s = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        req.path, req.host, key
    );
    if !req.subprotocols.is_empty() {
        let list = req.subprotocols.join(", ");
        check_header("Sec-WebSocket-Protocol", &list)?;
        s += &format!("Sec-WebSocket-Protocol: {list}\r\n");
    }
    for (k, v) in &req.headers {
        s += &format!("{k}: {v}\r\n");
    }
    s += "\r\n";
    Ok(s.into_bytes())
}

/// Header lines as the checks see them, whoever parsed them (httparse here, or an HTTP
/// server's `http::HeaderMap`): name and raw value.
type Lines<'a> = [(&'a str, &'a [u8])];

fn lines<'a>(headers: &'a [httparse::Header<'a>]) -> Vec<(&'a str, &'a [u8])> {
    headers.iter().map(|h| (h.name, h.value)).collect()
}

/// Comma-separated tokens of every header line called `name` (RFC 7230 §7 list syntax).
fn tokens<'a>(headers: &'a Lines<'a>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn has_token(headers: &Lines<'_>, name: &str, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

fn single<'a>(headers: &'a Lines<'a>, name: &str) -> Option<&'a str> {
    let mut it = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let first = it.next()?;
    if it.next().is_some() {
        return None;
    }
    std::str::from_utf8(first.1).ok().map(str::trim)
}

fn owned(headers: &Lines<'_>) -> Vec<(String, String)> {
    headers.iter().map(|(n, v)| ((*n).to_owned(), String::from_utf8_lossy(v).into_owned())).collect()
}

fn parse_error(e: httparse::Error) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooLarge,
        e => HandshakeError::Malformed(e.to_string()),
    }
}

/// The length of a complete HTTP head, `None` while incomplete; too large either way is 431.
fn head_len(parsed: httparse::Result<usize>, have: usize, max_size: usize) -> Result<Option<usize>, HandshakeError> {
    match parsed.map_err(parse_error)? {
        httparse::Status::Partial if have > max_size => Err(HandshakeError::TooLarge),
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(n) if n > max_size => Err(HandshakeError::TooLarge),
        httparse::Status::Complete(n) => Ok(Some(n)),
    }
}

/// Parses and validates a server's response to our request (RFC 6455 §4.1, the client's
/// checks 1–6), to which we offered the subprotocols `offered` and, if `deflate` is given,
/// permessage-deflate with those settings (RFC 7692 §7.1). `Ok(None)`: incomplete. On
/// success, also returns the head's length: the bytes after it are WebSocket frames.
pub fn parse_response(
    buf: &[u8],
    key: &str,
    offered: &[String],
    deflate: Option<&crate::DeflateConfig>,
    max_size: usize,
) -> Result<Option<(Response, usize)>, HandshakeError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut storage);
    let Some(n) = head_len(res.parse(buf), buf.len(), max_size)? else { return Ok(None) };
    let code = res.code.unwrap_or(0);
    let h = &lines(res.headers)[..];
    if code != 101 {
        // The body, as far as it came with the head and within the limits.
        let declared = single(h, "Content-Length").and_then(|v| v.trim().parse::<usize>().ok());
        let room = max_size.saturating_sub(n).min(declared.unwrap_or(usize::MAX));
        let body = bytes::Bytes::copy_from_slice(&buf[n..buf.len().min(n.saturating_add(room))]);
        return Err(HandshakeError::Rejected(Box::new(Rejection { status: code, headers: owned(h), body })));
    }
    if !has_token(h, "Upgrade", "websocket") {
        return Err(HandshakeError::Header("Upgrade"));
    }
    if !has_token(h, "Connection", "upgrade") {
        return Err(HandshakeError::Header("Connection"));
    }
    if single(h, "Sec-WebSocket-Accept") != Some(accept_key(key).as_str()) {
        return Err(HandshakeError::AcceptMismatch);
    }
    let answers = h
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok());
    let deflate = crate::deflate::accept_answer(answers, deflate)?;
    let subprotocol = match tokens(h, "Sec-WebSocket-Protocol").collect::<Vec<_>>()[..] {
        [] => None,
        [p] if offered.iter().any(|o| o == p) => Some(p.to_owned()),
        ref ps => return Err(HandshakeError::SubprotocolNotOffered(ps.join(", "))),
    };
    Ok(Some((Response { subprotocol, deflate, headers: owned(h) }, n)))
}

/// Parses and validates a client's upgrade request (RFC 6455 §4.2.1). `Ok(None)`: incomplete.
/// On error, [`HandshakeError::status`] is the status to answer with ([`reject_bytes`]).
pub fn parse_request(buf: &[u8], max_size: usize) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    let Some(n) = head_len(req.parse(buf), buf.len(), max_size)? else { return Ok(None) };
    let h = lines(req.headers);
    let request =
        validate_request(req.method.unwrap_or_default(), req.version == Some(1), req.path.unwrap_or("/"), &h)?;
    Ok(Some((request, n)))
}

/// The checks of RFC 6455 §4.2.1 on a request head, whoever parsed it.
pub(crate) fn validate_request(
    method: &str,
    http_1_1: bool,
    path: &str,
    h: &Lines<'_>,
) -> Result<Request, HandshakeError> {
    if method != "GET" {
        return Err(HandshakeError::Method(method.to_owned()));
    }
    if !http_1_1 {
        return Err(HandshakeError::Version);
    }
    if single(h, "Host").is_none_or(str::is_empty) {
        return Err(HandshakeError::Header("Host"));
    }
    if !has_token(h, "Upgrade", "websocket") {
        return Err(HandshakeError::Header("Upgrade"));
    }
    if !has_token(h, "Connection", "upgrade") {
        return Err(HandshakeError::Header("Connection"));
    }
    match single(h, "Sec-WebSocket-Version") {
        Some("13") => {}
        other => return Err(HandshakeError::UnsupportedVersion(other.unwrap_or("").to_owned())),
    }
    let key = single(h, "Sec-WebSocket-Key")
        .filter(|k| BASE64.decode(k.as_bytes()).is_ok_and(|raw| raw.len() == 16))
        .ok_or(HandshakeError::Header("Sec-WebSocket-Key"))?
        .to_owned();
    Ok(Request {
        path: path.to_owned(),
        headers: owned(h),
        key,
        subprotocols: tokens(h, "Sec-WebSocket-Protocol").map(str::to_owned).collect(),
        extensions: tokens(h, "Sec-WebSocket-Extensions").map(str::to_owned).collect(),
    })
}

/// The 101 response accepting `req` (RFC 6455 §4.2.2 item 5).
pub fn accept_bytes(req: &Request, accept: &Accept) -> Result<Vec<u8>, LocalError> {
    check_headers(&accept.headers)?;
    let mut s = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        accept_key(&req.key)
    );
    if let Some(p) = &accept.subprotocol {
        if !req.subprotocols.contains(p) {
            return Err(LocalError::SubprotocolNotOffered(p.clone()));
        }
        s += &format!("Sec-WebSocket-Protocol: {p}\r\n");
    }
    for (k, v) in &accept.headers {
        s += &format!("{k}: {v}\r\n");
    }
    s += "\r\n";
    Ok(s.into_bytes())
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Rejected",
    }
}

/// A response refusing the upgrade. 426 carries `Sec-WebSocket-Version: 13`
/// (RFC 6455 §4.4); 405 carries `Allow: GET`.
pub fn reject_bytes(rejection: &Rejection) -> Result<Vec<u8>, LocalError> {
    check_headers(&rejection.headers)?;
    let status = if (400..600).contains(&rejection.status) { rejection.status } else { 400 };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    match status {
        426 => head.push_str("Sec-WebSocket-Version: 13\r\n"),
        405 => head.push_str("Allow: GET\r\n"),
        _ => {}
    }
    for (name, value) in &rejection.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Connection: close\r\nContent-Length: {}\r\n\r\n", rejection.body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&rejection.body);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn request(extra: &str) -> Vec<u8> {
        format!(
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    fn with_version(v: &str) -> Vec<u8> {
        request(&format!("Sec-WebSocket-Version: {v}\r\n"))
    }

    #[test]
    fn rfc_example_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn server_parses_the_rfc_request_with_odd_casing_and_trailing_bytes() {
        let mut buf = with_version("13");
        let head = buf.len();
        buf.extend_from_slice(b"\x81\x80rest");
        let lower = String::from_utf8_lossy(&buf).replace("Upgrade: websocket", "uPgRaDe: WebSocket");
        let (req, n) = parse_request(lower.as_bytes(), 4096).ok().flatten().expect("complete");
        assert_eq!(n, head);
        assert_eq!(req.path, "/chat");
        assert_eq!(req.key, KEY);
        assert_eq!(parse_request(&buf[..head - 1], 4096), Ok(None));
    }

    #[test]
    fn server_rejections_carry_the_right_status() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (with_version("8"), 426),
            (request(""), 426),
            (String::from_utf8_lossy(&with_version("13")).replacen("GET", "POST", 1).into_bytes(), 405),
            (String::from_utf8_lossy(&with_version("13")).replace("HTTP/1.1", "HTTP/1.0").into_bytes(), 400),
            (String::from_utf8_lossy(&with_version("13")).replace(KEY, "short").into_bytes(), 400),
            (String::from_utf8_lossy(&with_version("13")).replace("Upgrade: websocket\r\n", "").into_bytes(), 400),
            (
                String::from_utf8_lossy(&with_version("13")).replace("keep-alive, Upgrade", "keep-alive").into_bytes(),
                400,
            ),
            (
                String::from_utf8_lossy(&with_version("13")).replace("Host: server.example.com\r\n", "").into_bytes(),
                400,
            ),
            (b"GARBAGE\x00\r\n\r\n".to_vec(), 400),
        ];
        for (req, status) in cases {
            let err = parse_request(&req, 4096).expect_err(&String::from_utf8_lossy(&req));
            assert_eq!(err.status(), status, "{err:?}");
        }
        let big = request(&format!("X-Pad: {}\r\nSec-WebSocket-Version: 13\r\n", "a".repeat(5000)));
        assert_eq!(parse_request(&big, 4096).map_err(|e| e.status()), Err(431));
        assert_eq!(parse_request(&big[..4500], 4096).map_err(|e| e.status()), Err(431));
        let many: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(parse_request(&request(&many), 1 << 20).map_err(|e| e.status()), Err(431));
        let r426 = String::from_utf8(reject_bytes(&Rejection::new(426)).unwrap_or_default()).unwrap_or_default();
        assert!(r426.starts_with("HTTP/1.1 426 ") && r426.contains("Sec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn accept_then_client_validates() {
        let buf = request(
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
        );
        let (req, _) = parse_request(&buf, 4096).ok().flatten().expect("complete");
        assert_eq!(req.subprotocols, ["a", "b"]);
        assert_eq!(req.extensions, ["permessage-deflate"]);
        let bad = Accept { subprotocol: Some("c".into()), headers: vec![] };
        assert_eq!(accept_bytes(&req, &bad), Err(LocalError::SubprotocolNotOffered("c".into())));
        let ok = Accept { subprotocol: Some("b".into()), headers: vec![] };
        let resp = accept_bytes(&req, &ok).unwrap_or_default();
        let offered = vec!["a".to_owned(), "b".to_owned()];
        let (r, n) = parse_response(&resp, KEY, &offered, None, 4096).ok().flatten().expect("complete");
        assert_eq!((r.subprotocol.as_deref(), n), (Some("b"), resp.len()));
        // The declined extension does not appear in the response.
        assert!(!String::from_utf8_lossy(&resp).contains("Extensions"));
    }

    #[test]
    fn client_rejects_bad_responses() {
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            accept_key(KEY)
        );
        let check = |extra: &str, edit: &dyn Fn(String) -> String| {
            let resp = edit(format!("{ok}{extra}\r\n"));
            parse_response(resp.as_bytes(), KEY, &["chat".to_owned()], None, 4096)
        };
        let id = |s: String| s;
        assert!(matches!(check("", &id), Ok(Some(_))));
        let rejected = check("", &|s| s.replace("101 Switching Protocols", "403 Forbidden"));
        assert!(matches!(&rejected, Err(HandshakeError::Rejected(r)) if r.status == 403), "{rejected:?}");
        assert_eq!(
            check("", &|s| s.replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA")),
            Err(HandshakeError::AcceptMismatch)
        );
        assert_eq!(check("", &|s| s.replace("Upgrade: websocket\r\n", "")), Err(HandshakeError::Header("Upgrade")));
        assert_eq!(
            check("", &|s| s.replace("Connection: Upgrade", "Connection: close")),
            Err(HandshakeError::Header("Connection"))
        );
        assert_eq!(
            check("Sec-WebSocket-Protocol: other\r\n", &id),
            Err(HandshakeError::SubprotocolNotOffered("other".into()))
        );
        assert_eq!(
            check("Sec-WebSocket-Extensions: permessage-deflate\r\n", &id),
            Err(HandshakeError::ExtensionNotOffered("permessage-deflate".into()))
        );
        assert!(matches!(
            check("Sec-WebSocket-Protocol: chat\r\n", &id),
            Ok(Some((Response { subprotocol: Some(_), .. }, _)))
        ));
    }

    #[test]
    fn ws_urls() {
        let p = |u: &str| WsUrl::parse(u).map(|w| (w.authority, w.address, w.path)).map_err(|e| e.to_string());
        let ok = |a: &str, b: &str, c: &str| Ok((a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(p("ws://127.0.0.1:9001/echo"), ok("127.0.0.1:9001", "127.0.0.1:9001", "/echo"));
        assert_eq!(p("WS://example.com"), ok("example.com", "example.com:80", "/"));
        assert_eq!(p("ws://[::1]:5/a?b=c#frag"), ok("[::1]:5", "[::1]:5", "/a?b=c"));
        assert_eq!(p("ws://[::1]/"), ok("[::1]", "[::1]:80", "/"));
        assert_eq!(p("ws://h?x"), ok("h", "h:80", "/?x"));
        // §3: wss:// is the secure flag, port 443 by default.
        assert_eq!(p("wss://example.com/s"), ok("example.com", "example.com:443", "/s"));
        assert_eq!(p("WSS://h:8443"), ok("h:8443", "h:8443", "/"));
        let host = |u: &str| WsUrl::parse(u).map(|w| (w.secure, w.host)).map_err(|e| e.to_string());
        assert_eq!(host("wss://[::1]:5/"), Ok((true, "::1".to_owned())));
        assert_eq!(host("ws://example.com:80/"), Ok((false, "example.com".to_owned())));
        for bad in ["http://h/", "https://h/", "ws:///x", "ws://u@h/", "h:80", "ws://a b/", "wss://:443/", "ws://x]:1/"]
        {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_bytes_refuse_header_injection() {
        let r = ClientRequest::new("h", "/").header("X", "a\r\nEvil: 1");
        assert!(request_bytes(&r, KEY).is_err());
        assert!(request_bytes(&ClientRequest::new("h", "no-slash"), KEY).is_err());
        let good = request_bytes(&ClientRequest::new("h:1", "/p").subprotocol("chat"), KEY).unwrap_or_default();
        let (req, _) = parse_request(&good, 4096).ok().flatten().expect("our request parses");
        assert_eq!((req.path.as_str(), req.subprotocols.len()), ("/p", 1));
    }
}
