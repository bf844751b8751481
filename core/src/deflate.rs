//! permessage-deflate (RFC 7692): the negotiation in the opening handshake (§7.1) and the
//! per-message codec (§7.2), sans-IO like the rest of the core.
//!
//! - **Negotiation.** A client offers the extension with the parameters of its
//!   [`DeflateConfig`]; a server takes the first offer it can honour and *declines* every
//!   other (an invalid offer is left out of the response, never a failed handshake, §7.1); a
//!   client fails the handshake on an answer it cannot accept. The agreement is
//!   [`DeflateParams`], in the RFC's terms.
//! - **Compression.** A message is compressed as one DEFLATE stream (over all its fragments),
//!   flushed with a sync flush, and its trailing `00 00 ff ff` removed (§7.2.1); RSV1 marks the
//!   first frame of a compressed message only (§6). Messages under
//!   [`DeflateConfig::threshold`] go uncompressed (§6 lets a sender choose per message), and
//!   so does everything we send when our window was limited to 8 bits: zlib (and zlib-rs,
//!   which has zlib's API) cannot deflate with a 256-byte window. python websockets declines
//!   such an offer instead; we accept it and still inflate what the peer compresses.
//! - **Inflation** is bounded: the receiver asks for at most what the message may still grow
//!   by (`Config::max_message_size`), so a small frame that would inflate past the limit fails
//!   with 1009 before the memory is taken; in streaming delivery the output comes in pieces that
//!   the application drains before more is inflated (see `connection/receive.rs`).
//!
//! Context takeover (§7.1.1): without `*_no_context_takeover` the LZ77 window carries over
//! from one message to the next in each direction; with it, the compressor or decompressor is
//! reset after every message.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::HandshakeError;

/// The extension's registered name (RFC 7692 §7).
pub const EXTENSION: &str = "permessage-deflate";

/// The empty stored block a sync flush ends with, removed from every compressed message and
/// restored before inflating it (RFC 7692 §7.2.1, §7.2.2).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How we use permessage-deflate: what a client offers, what a server accepts, and how we
/// compress. Off unless set in [`crate::Config::deflate`].
///
/// The four negotiation parameters keep the RFC's names, which are the same for both ends:
/// `server_*` limits the server's compressor, `client_*` the client's. A client *asks* for
/// what it sets; a server *imposes* it (a window no larger than asked, no context takeover if
/// either side wants none).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// zlib's compression level, 0 (store) to 9 (smallest); default 1, the fastest that
    /// compresses: text streams shrink several times already, at a fraction of level 6's CPU.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed (default 64 bytes: below that the
    /// deflate block's overhead eats the gain). Fragmented messages (`send_fragment`) are
    /// always compressed: their length is not known at the first fragment.
    pub threshold: usize,
    /// `server_no_context_takeover` (§7.1.1.1): the server resets its compressor after each
    /// message (less memory between messages, less compression).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` (§7.1.1.2): the same for the client's compressor.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits` (§7.1.2.1), 8-15: the server's LZ77 window is at most this
    /// many bits. `None`: not limited (15).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (§7.1.2.2), 8-15: the client's window. A client always
    /// offers the parameter (with this value, or bare: "you may limit mine").
    pub client_max_window_bits: Option<u8>,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 1,
            threshold: 64,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: None,
        }
    }
}

crate::config::setters!(DeflateConfig {
    level: u32,
    threshold: usize,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
} optional {
    server_max_window_bits: u8,
    client_max_window_bits: u8,
});

/// The parameters both ends agreed on (RFC 7692 §7.1), as the server's response states them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's window is at most this many bits (`None`: 15).
    pub server_max_window_bits: Option<u8>,
    /// The client's window is at most this many bits (`None`: 15).
    pub client_max_window_bits: Option<u8>,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value that states this agreement (a server's response).
    pub fn header_value(&self) -> String {
        let mut s = EXTENSION.to_owned();
        if self.server_no_context_takeover {
            s += "; server_no_context_takeover";
        }
        if self.client_no_context_takeover {
            s += "; client_no_context_takeover";
        }
        if let Some(b) = self.server_max_window_bits {
            s += &format!("; server_max_window_bits={b}");
        }
        if let Some(b) = self.client_max_window_bits {
            s += &format!("; client_max_window_bits={b}");
        }
        s
    }
}

/// A client's offer for `config` (RFC 7692 §5, §7.1): one `Sec-WebSocket-Extensions` value.
pub fn offer(config: &DeflateConfig) -> String {
    let mut s = EXTENSION.to_owned();
    if config.server_no_context_takeover {
        s += "; server_no_context_takeover";
    }
    if config.client_no_context_takeover {
        s += "; client_no_context_takeover";
    }
    if let Some(b) = config.server_max_window_bits {
        s += &format!("; server_max_window_bits={b}");
    }
    match config.client_max_window_bits {
        Some(b) => s += &format!("; client_max_window_bits={b}"),
        // §7.1.2.2: without a value, it says we can honour a limit the server chooses.
        None => s += "; client_max_window_bits",
    }
    s
}

/// One element of a `Sec-WebSocket-Extensions` list (RFC 6455 §9.1): the extension's name and
/// its parameters, values unquoted.
#[derive(Debug, PartialEq, Eq)]
struct Element<'a> {
    name: &'a str,
    params: Vec<(&'a str, Option<String>)>,
}

/// `token` of RFC 7230 §3.2.6 (what RFC 6455 §9.1 uses for names and values).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits a header value into its elements at the commas outside quoted strings.
fn split_list(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

/// Parses one element: `name *( ";" param [ "=" ( token | quoted-string ) ] )`; a quoted value
/// must be a token once unescaped (RFC 6455 §9.1).
fn parse_element(element: &str) -> Result<Element<'_>, String> {
    let mut parts = element.split(';').map(str::trim);
    let name = parts.next().unwrap_or_default();
    if !is_token(name) {
        return Err(format!("invalid extension name {name:?}"));
    }
    let mut params = Vec::new();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            None => (part, None),
            Some((k, v)) => {
                let v = v.trim();
                let v = match v.strip_prefix('"') {
                    Some(q) => {
                        let inner = q.strip_suffix('"').ok_or_else(|| format!("unterminated quote in {part:?}"))?;
                        let mut out = String::new();
                        let mut chars = inner.chars();
                        while let Some(c) = chars.next() {
                            out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
                        }
                        out
                    }
                    None => v.to_owned(),
                };
                if !is_token(&v) {
                    return Err(format!("invalid value in {part:?}"));
                }
                (k.trim(), Some(v))
            }
        };
        if !is_token(key) {
            return Err(format!("invalid parameter {part:?}"));
        }
        params.push((key, value));
    }
    Ok(Element { name, params })
}

/// What one offer or response asks for, each parameter at most once, values checked (§7.1).
#[derive(Debug, Default)]
struct Asked {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// §7.1.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
fn window_bits(value: &str) -> Option<u8> {
    match value.parse::<u8>() {
        Ok(b @ 8..=15) if !value.starts_with('0') && value.bytes().all(|c| c.is_ascii_digit()) => Some(b),
        _ => None,
    }
}

fn read_params(element: &Element<'_>) -> Result<Asked, String> {
    let mut asked = Asked::default();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in &element.params {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return Err(format!("{key} given twice"));
        }
        seen.push(key);
        let no_value = |flag: &mut bool| match value {
            None => {
                *flag = true;
                Ok(())
            }
            Some(v) => Err(format!("{key} takes no value (got {v:?})")),
        };
        match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => no_value(&mut asked.server_no_context_takeover)?,
            "client_no_context_takeover" => no_value(&mut asked.client_no_context_takeover)?,
            "server_max_window_bits" => {
                let bits = value.as_deref().and_then(window_bits);
                asked.server_max_window_bits = Some(bits.ok_or_else(|| format!("invalid {key}: {value:?}"))?);
            }
            "client_max_window_bits" => {
                asked.client_max_window_bits = Some(match value.as_deref() {
                    None => None,
                    Some(v) => Some(window_bits(v).ok_or_else(|| format!("invalid {key}: {v:?}"))?),
                });
            }
            _ => return Err(format!("unknown parameter {key}")),
        }
    }
    Ok(asked)
}

/// Server: the agreement for the first offer of permessage-deflate that is valid (RFC 7692
/// §7.1), given the client's `Sec-WebSocket-Extensions` elements. Invalid offers are skipped:
/// a server declines what it cannot accept, it does not fail the handshake.
pub fn negotiate(offers: &[String], config: &DeflateConfig) -> Option<DeflateParams> {
    offers.iter().flat_map(|value| split_list(value)).find_map(|element| {
        let element = parse_element(element).ok()?;
        if !element.name.eq_ignore_ascii_case(EXTENSION) {
            return None;
        }
        let asked = read_params(&element).ok()?;
        let limit = |asked: Option<u8>, ours: Option<u8>| match (asked, ours) {
            (Some(a), Some(o)) => Some(a.min(o)),
            (a, o) => a.or(o),
        };
        Some(DeflateParams {
            server_no_context_takeover: asked.server_no_context_takeover || config.server_no_context_takeover,
            client_no_context_takeover: asked.client_no_context_takeover || config.client_no_context_takeover,
            // §7.1.2.1: what the client asks for, or smaller if we want smaller.
            server_max_window_bits: limit(asked.server_max_window_bits, config.server_max_window_bits),
            // §7.1.2.2: only a client that sent the parameter can be limited.
            client_max_window_bits: match asked.client_max_window_bits {
                None => None,
                Some(hint) => limit(hint, config.client_max_window_bits),
            },
        })
    })
}

/// Client: the server's `Sec-WebSocket-Extensions` answer to our offer (RFC 7692 §7.1): the
/// agreement, `None` if it declined, or why the answer cannot be accepted (the handshake
/// fails, RFC 6455 §4.1 item 5).
pub(crate) fn accept_answer<'a>(
    values: impl Iterator<Item = &'a str>,
    config: Option<&DeflateConfig>,
) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut agreed = None;
    for element in values.flat_map(split_list) {
        let bad = |why: String| HandshakeError::Extension(format!("{element:?}: {why}"));
        let parsed = parse_element(element).map_err(bad)?;
        let Some(config) = config.filter(|_| parsed.name.eq_ignore_ascii_case(EXTENSION)) else {
            return Err(HandshakeError::ExtensionNotOffered(element.to_owned()));
        };
        if agreed.is_some() {
            return Err(bad("answered twice".into()));
        }
        let asked = read_params(&parsed).map_err(bad)?;
        if config.server_no_context_takeover && !asked.server_no_context_takeover {
            return Err(bad("server_no_context_takeover was asked for and not granted".into()));
        }
        let server_max_window_bits = match (config.server_max_window_bits, asked.server_max_window_bits) {
            (Some(_), None) => return Err(bad("server_max_window_bits was asked for and not granted".into())),
            (Some(ours), Some(theirs)) if theirs > ours => {
                return Err(bad(format!("server_max_window_bits {theirs} is above the {ours} asked for")));
            }
            (_, theirs) => theirs,
        };
        let client_max_window_bits = match asked.client_max_window_bits {
            // §7.1.2.2: the response must carry a value.
            Some(None) => return Err(bad("client_max_window_bits without a value".into())),
            Some(Some(b)) if config.client_max_window_bits.is_some_and(|ours| b > ours) => {
                return Err(bad(format!("client_max_window_bits {b} is above the one offered")));
            }
            Some(Some(b)) => Some(b),
            None => config.client_max_window_bits,
        };
        agreed = Some(DeflateParams {
            server_no_context_takeover: asked.server_no_context_takeover,
            client_no_context_takeover: asked.client_no_context_takeover || config.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        });
    }
    Ok(agreed)
}

/// Why inflating failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CorruptData(pub(crate) String);

/// One connection's compressor and decompressor, each made when first needed (a connection
/// that never compresses pays for neither), each reset after every message when its side
/// gave up context takeover.
pub(crate) struct Codec {
    pub(crate) params: DeflateParams,
    level: u32,
    threshold: usize,
    /// Our window, or `None` when limited to 8 bits: then we never compress.
    tx_bits: Option<u8>,
    tx_reset: bool,
    rx_bits: u8,
    rx_reset: bool,
    /// The peer ended the DEFLATE stream inside the current message (BFINAL).
    rx_ended: bool,
    deflater: Option<Box<Compress>>,
    inflater: Option<Box<Decompress>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec").field("tx_bits", &self.tx_bits).field("rx_bits", &self.rx_bits).finish_non_exhaustive()
    }
}

impl Codec {
    /// A copy, while neither side of the codec has a window yet (zlib's state cannot be
    /// copied): for [`crate::Connection::try_clone`].
    pub(crate) fn try_clone(&self) -> Option<Self> {
        (self.deflater.is_none() && self.inflater.is_none()).then_some(Codec {
            deflater: None,
            inflater: None,
            ..*self
        })
    }

    /// The codec of an endpoint that is the server (`server`) or the client, for `params`.
    pub(crate) fn new(server: bool, params: &DeflateParams, config: &DeflateConfig) -> Self {
        let (ours, theirs) = if server {
            (params.server_max_window_bits, params.client_max_window_bits)
        } else {
            (params.client_max_window_bits, params.server_max_window_bits)
        };
        let (tx_reset, rx_reset) = if server {
            (params.server_no_context_takeover, params.client_no_context_takeover)
        } else {
            (params.client_no_context_takeover, params.server_no_context_takeover)
        };
        Codec {
            params: *params,
            level: config.level.min(9),
            threshold: config.threshold,
            tx_bits: match ours.unwrap_or(15) {
                8 => None,
                b => Some(b),
            },
            tx_reset,
            // zlib inflates an 8-bit window's stream with 9 bits as well (a larger window
            // reads any smaller one's output); flate2 takes 9-15.
            rx_bits: theirs.unwrap_or(15).max(9),
            rx_reset,
            rx_ended: false,
            deflater: None,
            inflater: None,
        }
    }

    /// Whether a whole message of `len` bytes goes out compressed.
    pub(crate) fn compresses(&self, len: usize) -> bool {
        self.tx_bits.is_some() && len >= self.threshold
    }

    /// Whether the fragments of a message go out compressed.
    pub(crate) fn compresses_fragments(&self) -> bool {
        self.tx_bits.is_some()
    }

    /// Compresses the next part of a message. At its end, the sync flush's trailer is removed
    /// (§7.2.1) and the context reset if we gave up takeover; before, the flushed output
    /// keeps its trailer (an empty stored block that the peer's inflater passes over), so each
    /// fragment can be inflated as it arrives.
    pub(crate) fn compress(&mut self, data: &[u8], end_of_message: bool) -> Bytes {
        let (level, bits) = (self.level, self.tx_bits.unwrap_or(15));
        let d = self
            .deflater
            .get_or_insert_with(|| Box::new(Compress::new_with_window_bits(Compression::new(level), false, bits)));
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut input = data;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before = d.total_in();
            // Compressing into memory we own cannot fail: zlib's errors are for misuse only.
            let status = d.compress_vec(input, &mut out, FlushCompress::Sync).unwrap_or(Status::StreamEnd);
            input = &input[(d.total_in() - before) as usize..];
            // A sync flush is complete once the output did not fill the room it had.
            if (input.is_empty() && out.len() < out.capacity()) || status == Status::StreamEnd {
                break;
            }
        }
        if end_of_message {
            if out.ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
            }
            if self.tx_reset {
                d.reset();
            }
        }
        Bytes::from(out)
    }

    /// Inflates from `input`, appending at most `room` bytes to `out`. Returns how much input
    /// it took and how much output it gave: all of `room` given means more may be waiting
    /// (call again, with or without more input).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<(usize, usize), CorruptData> {
        let bits = self.rx_bits;
        let d = self.inflater.get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        let (in_before, out_before, len) = (d.total_in(), d.total_out(), out.len());
        // Exactly `room` bytes of room, so the output is bounded; zeroing them costs a small
        // fraction of inflating into them, and needs no `unsafe` (Vec's growth stays amortised).
        out.resize(len + room, 0);
        let status = d.decompress(input, &mut out[len..], FlushDecompress::None);
        let (taken, given) = ((d.total_in() - in_before) as usize, (d.total_out() - out_before) as usize);
        out.truncate(len + given);
        if status.map_err(|e| CorruptData(e.to_string()))? == Status::StreamEnd {
            // A block with BFINAL set ends the stream (RFC 7692 §7.2.3.4 allows it); what follows
            // in this message (the restored trailer) is not part of it, and the next message
            // starts a fresh stream.
            self.rx_ended = true;
            return Ok((input.len(), given));
        }
        Ok((taken, given))
    }

    /// The bytes to inflate after a message's last frame (§7.2.2).
    pub(crate) fn trailer() -> &'static [u8] {
        &TRAILER
    }

    /// A compressed message was received whole: the peer's context is reset if it gave up
    /// takeover (its next message starts a fresh stream).
    pub(crate) fn end_inflate(&mut self) {
        if self.rx_reset || std::mem::take(&mut self.rx_ended) {
            if let Some(d) = &mut self.inflater {
                d.reset(false);
            }
        }
    }
}

#[cfg(test)]
mod tests;
