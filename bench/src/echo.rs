//! Small messages: 100 000 × 64 B binary messages, pipelined on one connection, echoed by the
//! server under test. The client is [`crate::raw`] (the same independent peer for every
//! server): a writer thread sends the frames in batches, a reader thread checks every echo.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;

use crate::raw::{self, Reader};
use crate::{Failure, fail, runtime};

/// Messages per run.
pub const MESSAGES: usize = 100_000;
/// Payload bytes per message.
pub const SIZE: usize = 64;
/// Frames per client write.
const BATCH: usize = 1000;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The echo servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// A byte echo with batched writes (no WebSocket at all): the ceiling.
    RawTcp,
    /// tungstenite, answering with `send` (write and flush each message, as its examples do).
    TungsteniteSend,
    /// tungstenite, answering with `write` (its buffer goes out every 128 KiB and on close).
    TungsteniteWrite,
    /// wsduplex-std.
    WsduplexBlocking,
    /// wsduplex-smol.
    WsduplexAsync,
}

impl Server {
    /// Every server, baselines first.
    pub const ALL: [Server; 5] = [
        Server::RawTcp,
        Server::TungsteniteSend,
        Server::TungsteniteWrite,
        Server::WsduplexBlocking,
        Server::WsduplexAsync,
    ];

    /// Name in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Server::RawTcp => "raw-tcp",
            Server::TungsteniteSend => "tungstenite-send",
            Server::TungsteniteWrite => "tungstenite-write",
            Server::WsduplexBlocking => "wsduplex-blocking",
            Server::WsduplexAsync => "wsduplex-async",
        }
    }

    /// One run: every message sent, echoed and checked.
    pub fn run(self) -> Result<(), Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
        let addr = listener.local_addr().map_err(fail("local_addr"))?;
        let server = match self {
            Server::RawTcp => thread::spawn(move || raw_echo(listener)),
            Server::TungsteniteSend => thread::spawn(move || tungstenite_echo(listener, true)),
            Server::TungsteniteWrite => thread::spawn(move || tungstenite_echo(listener, false)),
            Server::WsduplexBlocking => thread::spawn(move || wsduplex_blocking_echo(listener)),
            Server::WsduplexAsync => thread::spawn(move || wsduplex_async_echo(listener)),
        };
        let client = if self == Server::RawTcp { raw_client(addr) } else { client(addr) };
        let served = server.join().map_err(|_| Failure::from("server panicked"))?;
        client.and(served)
    }
}

fn payload() -> [u8; SIZE] {
    std::array::from_fn(|i| i as u8)
}

fn batch() -> Vec<u8> {
    let one = raw::frame(0x2, &payload(), KEY);
    one.repeat(BATCH)
}

fn client(addr: SocketAddr) -> Result<(), Failure> {
    let (mut s, leftover) = raw::connect(addr, "/")?;
    let r = s.try_clone().map_err(fail("clone"))?;
    let reader = thread::spawn(move || -> Result<(), Failure> {
        let mut r = Reader::new(r, leftover);
        let expected = payload();
        for i in 0..MESSAGES {
            let f = r.next_frame()?.ok_or_else(|| format!("EOF after {i} echoes"))?;
            if f.opcode != 0x2 || !f.fin || f.payload != expected {
                return Err(format!("echo {i} differs: {f:?}"));
            }
        }
        let close = r.next_frame()?.ok_or("EOF instead of Close")?;
        if close.opcode != 0x8 {
            return Err(format!("expected Close, got {close:?}"));
        }
        Ok(())
    });
    let frames = batch();
    for _ in 0..MESSAGES / BATCH {
        s.write_all(&frames).map_err(fail("client write"))?;
    }
    s.write_all(&raw::frame(0x8, &1000u16.to_be_bytes(), KEY)).map_err(fail("client close"))?;
    reader.join().map_err(|_| Failure::from("reader panicked"))?
}

/// For the byte echo: the same bytes go out and must all come back.
fn raw_client(addr: SocketAddr) -> Result<(), Failure> {
    let mut s = TcpStream::connect(addr).map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let mut r = s.try_clone().map_err(fail("clone"))?;
    let frames = batch();
    let total = frames.len() * (MESSAGES / BATCH);
    let expected = frames.clone();
    let reader = thread::spawn(move || -> Result<(), Failure> {
        let mut buf = vec![0u8; 64 << 10];
        let mut got = 0;
        while got < total {
            let n = r.read(&mut buf).map_err(fail("read"))?;
            if n == 0 {
                return Err(format!("EOF after {got} of {total} bytes"));
            }
            for (i, b) in buf[..n].iter().enumerate() {
                if *b != expected[(got + i) % expected.len()] {
                    return Err(format!("byte {} differs", got + i));
                }
            }
            got += n;
        }
        Ok(())
    });
    for _ in 0..MESSAGES / BATCH {
        s.write_all(&frames).map_err(fail("client write"))?;
    }
    let r = reader.join().map_err(|_| Failure::from("reader panicked"))?;
    s.shutdown(Shutdown::Both).map_err(fail("shutdown"))?;
    r
}

fn raw_echo(listener: TcpListener) -> Result<(), Failure> {
    let (mut s, _) = listener.accept().map_err(fail("accept"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = s.read(&mut buf).map_err(fail("server read"))?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).map_err(fail("server write"))?;
    }
}

fn tungstenite_echo(listener: TcpListener, flush_each: bool) -> Result<(), Failure> {
    use tungstenite::Message;
    let (s, _) = listener.accept().map_err(fail("accept"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let mut ws = tungstenite::accept(s).map_err(fail("tungstenite accept"))?;
    loop {
        let m = match ws.read() {
            Ok(m @ (Message::Binary(_) | Message::Text(_))) => m,
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(format!("server read: {e}")),
        };
        let r = if flush_each { ws.send(m) } else { ws.write(m) };
        r.map_err(fail("server send"))?;
    }
}

fn wsduplex_blocking_echo(listener: TcpListener) -> Result<(), Failure> {
    use wsduplex_std::{Event, SocketConfig};
    let (s, _) = listener.accept().map_err(fail("accept"))?;
    let mut ws = wsduplex_std::accept(s, SocketConfig::default()).map_err(fail("accept"))?;
    while let Some(event) = ws.recv().map_err(fail("server recv"))? {
        match event {
            Event::Message(m) => ws.feed(m).map_err(fail("server feed"))?,
            Event::CloseReceived { frame, .. } => ws.close(frame.code, "").map_err(fail("server close"))?,
            _ => {}
        }
    }
    Ok(())
}

fn wsduplex_async_echo(listener: TcpListener) -> Result<(), Failure> {
    use wsduplex_smol::{Event, SocketConfig};
    let listener = async_net::TcpListener::try_from(listener).map_err(fail("async listener"))?;
    runtime::block_on(async move {
        let (s, _) = listener.accept().await.map_err(fail("accept"))?;
        let mut ws = wsduplex_smol::accept(s, SocketConfig::default()).await.map_err(fail("accept"))?;
        while let Some(event) = ws.recv().await.map_err(fail("server recv"))? {
            match event {
                Event::Message(m) => ws.feed(m).await.map_err(fail("server feed"))?,
                Event::CloseReceived { frame, .. } => ws.close(frame.code, "").await.map_err(fail("server close"))?,
                _ => {}
            }
        }
        Ok(())
    })
}
