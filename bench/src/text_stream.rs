//! The text stream of issue 18's benchmark: JSON lines, as market data or logs are streamed,
//! sent by a client as fast as it can (one `send` per message) to a server that counts the
//! payload and, at the final `END` message, replies with the total; the client checks it and
//! closes. Both ends are wsduplex's blocking transport in one process (a server thread, the
//! client on the caller's), with permessage-deflate on (the defaults) or off. python
//! websockets runs the same exchange in `bench/python/text_stream.py`, both ends its own.

use std::net::TcpListener;
use std::thread;

use wsduplex_std::{Config, DeflateConfig, Message, SocketConfig, Stats, accept_with, connect};

use crate::{Failure, fail};

/// Lines per message: about 1 KiB of text.
pub const LINES: usize = 12;

/// Message `i`: `LINES` lines of JSON, the same text that `text_stream.py` builds.
pub fn message(i: usize) -> String {
    (i * LINES..(i + 1) * LINES)
        .map(|j| {
            let side = if j % 3 == 0 { "sell" } else { "buy" };
            format!(
                "{{\"seq\":{j},\"symbol\":\"SYM{}\",\"price\":{}.{:02},\"qty\":{},\"side\":\"{side}\"}}\n",
                j % 50,
                100 + (j * 7) % 997,
                j % 100,
                (j * 13) % 1000
            )
        })
        .collect()
}

fn config(deflate: bool) -> SocketConfig {
    SocketConfig::default().core(Config::default().deflate(deflate.then(DeflateConfig::default)))
}

/// One exchange of the messages (prepared beforehand); the client's counts, whose
/// `sent.wire_bytes` is what its data frames took on the wire, headers included.
pub fn run(texts: &[String], deflate: bool) -> Result<Stats, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
    let url = format!("ws://{}/", listener.local_addr().map_err(fail("addr"))?);
    let server = thread::spawn(move || -> Result<(), Failure> {
        let (stream, _) = listener.accept().map_err(fail("accept"))?;
        let mut ws = accept_with(stream, config(deflate), |_| Ok(Default::default())).map_err(fail("handshake"))?;
        let mut total = 0usize;
        while let Some(m) = ws.recv_message().map_err(fail("server recv"))? {
            if matches!(&m, Message::Text(t) if t.as_str() == "END") {
                ws.send(Message::text(format!("got {total}"))).map_err(fail("reply"))?;
            } else {
                total += m.len();
            }
        }
        Ok(())
    });
    let mut ws = connect(&url, config(deflate)).map_err(fail("connect"))?;
    if ws.deflate().is_some() != deflate {
        return Err(format!("permessage-deflate negotiated: {:?}, wanted {deflate}", ws.deflate()));
    }
    let total: usize = texts.iter().map(String::len).sum();
    let mut frames = 0u64;
    for t in texts {
        let before = ws.stats().sent.wire_bytes;
        ws.send(Message::text(t.clone())).map_err(fail("send"))?;
        frames += header_len(ws.stats().sent.wire_bytes - before);
    }
    ws.send(Message::text("END")).map_err(fail("send"))?;
    let reply = ws.recv_message().map_err(fail("recv"))?;
    let expected = format!("got {total}");
    if !matches!(&reply, Some(Message::Text(t)) if t.as_str() == expected) {
        return Err(format!("reply {reply:?}, sent {total}"));
    }
    let outcome = ws.close_and_wait(1000, "").map_err(fail("close"))?;
    server.join().map_err(|_| "server panicked".to_owned())??;
    if !outcome.is_clean() {
        return Err(format!("{outcome:?}"));
    }
    let mut stats = ws.stats();
    // Frame headers too, as python's count (TCP's bytes acked) has them.
    stats.sent.wire_bytes += frames;
    Ok(stats)
}

/// A client frame's header for a payload of `len` bytes (RFC 6455 §5.2, masked).
fn header_len(len: u64) -> u64 {
    2 + 4
        + if len < 126 {
            0
        } else if len <= 0xFFFF {
            2
        } else {
            8
        }
}
