//! Many connections, one message in flight on each: send a binary message, wait for its echo,
//! send the next. The load comes from [`Load`], a raw epoll client on one thread (no
//! WebSocket library: prebuilt masked frames out, every echo compared byte for byte), the way
//! the field's load testers work, so that the server is what is measured. The servers are in
//! [`Server`], each written the way its library's docs show.
//!
//! `cargo bench -p wsduplex-bench --bench many` runs them side by side (see that file).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::epoll;

use crate::{Failure, fail, raw};

/// The echo servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// wsduplex-smol, the code of its `smol-echo-server` example (`recv_message`, `send`).
    WsduplexSmol,
    /// wsduplex-tokio, the code of its `tokio-echo-server` example.
    WsduplexTokio,
    /// fastwebsockets 0.10, its `echo_server` example's loop (`FragmentCollector`,
    /// `read_frame`, `write_frame`) on a multi-threaded tokio runtime. The upgrade is answered
    /// by hand rather than through hyper, which spares it hyper's `Upgraded` wrapper on every
    /// read and write: if anything, this favours it.
    Fastwebsockets,
    /// tokio-tungstenite 0.30, its `echo-server` example (`accept_async`, `split`,
    /// `read.try_filter(..).forward(write)`).
    TokioTungstenite,
    /// Not a library's server: our core driven by hand on one tokio task (read, `handle_input`,
    /// `poll_event`, `send`, `poll_transmit`, write), with none of the transport's layers. The
    /// floor the transport's own cost is measured against; only when asked for
    /// (`MANY_SERVERS=wsduplex-core-by-hand`).
    CoreByHand,
}

impl Server {
    /// Every server, contenders last.
    pub const ALL: [Server; 4] =
        [Server::WsduplexSmol, Server::WsduplexTokio, Server::Fastwebsockets, Server::TokioTungstenite];

    /// Name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Server::WsduplexSmol => "wsduplex-smol",
            Server::WsduplexTokio => "wsduplex-tokio",
            Server::Fastwebsockets => "fastwebsockets",
            Server::TokioTungstenite => "tokio-tungstenite",
            Server::CoreByHand => "wsduplex-core-by-hand",
        }
    }

    /// The server called `name`.
    pub fn named(name: &str) -> Option<Server> {
        Server::ALL.into_iter().chain([Server::CoreByHand]).find(|s| s.name() == name)
    }

    /// Serves `listener` until the process ends: a task per connection, each echoing every
    /// data message. A connection's failure ends that connection only.
    pub fn serve(self, listener: std::net::TcpListener) -> Result<(), Failure> {
        listener.set_nonblocking(true).map_err(fail("nonblocking listener"))?;
        match self {
            Server::WsduplexSmol => {
                let listener = async_net::TcpListener::try_from(listener).map_err(fail("async listener"))?;
                smol::block_on(async {
                    loop {
                        let (stream, _) = listener.accept().await.map_err(fail("accept"))?;
                        smol::spawn(async move {
                            let mut ws = wsduplex_smol::accept(stream, Default::default()).await?;
                            while let Some(message) = ws.recv_message().await? {
                                ws.send(message).await?;
                            }
                            Ok::<_, wsduplex_smol::SocketError>(())
                        })
                        .detach();
                    }
                })
            }
            Server::WsduplexTokio => tokio_main(listener, |stream| async move {
                let mut ws = wsduplex_tokio::accept(stream, Default::default()).await.map_err(fail("accept"))?;
                while let Some(message) = ws.recv_message().await.map_err(fail("recv"))? {
                    ws.send(message).await.map_err(fail("send"))?;
                }
                Ok(())
            }),
            Server::Fastwebsockets => tokio_main(listener, |mut stream| async move {
                use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
                stream.set_nodelay(true).map_err(fail("nodelay"))?;
                crate::echo_pair::upgrade::answer(&mut stream).await?;
                let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
                loop {
                    let frame = ws.read_frame().await.map_err(fail("read"))?;
                    match frame.opcode {
                        OpCode::Close => return Ok(()),
                        OpCode::Text | OpCode::Binary => ws.write_frame(frame).await.map_err(fail("write"))?,
                        _ => {}
                    }
                }
            }),
            Server::CoreByHand => {
                tokio_main(listener, |stream| async move { core_by_hand(stream).await.map_err(fail("core by hand")) })
            }
            Server::TokioTungstenite => tokio_main(listener, |stream| async move {
                use futures_util::{StreamExt, TryStreamExt, future};
                let ws = tokio_tungstenite::accept_async(stream).await.map_err(fail("accept"))?;
                let (write, read) = ws.split();
                read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
                    .forward(write)
                    .await
                    .map_err(fail("forward"))
            }),
        }
    }
}

/// [`Server::CoreByHand`]: the handshake and the echo, the connection driven by hand.
async fn core_by_hand(mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wsduplex_core::{Accept, Config, Connection, Event, Transmit};
    stream.set_nodelay(true)?;
    let mut conn = Connection::server(Config::default(), Instant::now());
    let mut buf = vec![0u8; 64 << 10];
    loop {
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Request(_) => conn.accept(Instant::now(), Accept::default()).map_err(std::io::Error::other)?,
                Event::Message(m) => conn.send(m).map_err(std::io::Error::other)?,
                Event::Closed(_) => return Ok(()),
                _ => {}
            }
        }
        while let Some(t) = conn.poll_transmit() {
            match t {
                Transmit::Bytes(b) => stream.write_all(&b).await?,
                Transmit::ShutdownWrite | Transmit::Disconnect => return Ok(()),
            }
        }
        let n = stream.read(&mut buf).await?;
        conn.handle_input(Instant::now(), &buf[..n]);
        if n == 0 {
            return Ok(());
        }
    }
}

/// `#[tokio::main]` and a task per connection, as tokio's servers are written.
fn tokio_main<F>(
    listener: std::net::TcpListener,
    handle: impl Fn(tokio::net::TcpStream) -> F + Send + 'static,
) -> Result<(), Failure>
where
    F: Future<Output = Result<(), Failure>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(fail("tokio runtime"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(fail("tokio listener"))?;
        loop {
            let (stream, _) = listener.accept().await.map_err(fail("accept"))?;
            tokio::spawn(handle(stream));
        }
    })
}

/// The mask key of every request: the server unmasks whatever key it gets, so a fixed one
/// costs the server the same as fresh ones and this client nothing.
const KEY: [u8; 4] = [0x5a, 0x0f, 0xc3, 0x96];
/// How long a run may go without a single echo before it fails.
const STALL: Duration = Duration::from_secs(10);

/// One run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Messages echoed.
    pub messages: u64,
    /// Wall time of the run.
    pub wall: Duration,
    /// CPU time this client's thread spent in it: near `wall`, the client was the bottleneck.
    pub client_cpu: Duration,
}

impl Run {
    /// Echoes per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.wall.as_secs_f64()
    }
}

struct Conn {
    stream: TcpStream,
    /// Bytes of the current request written.
    written: usize,
    /// Bytes of the current echo received.
    got: usize,
    in_flight: bool,
    /// Registered for writability too (a request only partly written).
    wants_out: bool,
}

/// N connections to one server, driven from one thread with epoll.
pub struct Load {
    epoll: OwnedFd,
    conns: Vec<Conn>,
    scratch: Vec<u8>,
}

impl Load {
    /// Opens `n` connections to `addr` and upgrades each (RFC 6455 §4.1), one after another.
    pub fn connect(addr: SocketAddr, n: usize) -> Result<Load, Failure> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(fail("epoll_create"))?;
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let (stream, leftover) = raw::connect(addr, "/")?;
            if !leftover.is_empty() {
                return Err(format!("connection {i}: {} bytes after the handshake", leftover.len()));
            }
            stream.set_nonblocking(true).map_err(fail("nonblocking"))?;
            epoll::add(&epoll, &stream, epoll::EventData::new_u64(i as u64), epoll::EventFlags::IN)
                .map_err(fail("epoll_ctl"))?;
            conns.push(Conn { stream, written: 0, got: 0, in_flight: false, wants_out: false });
        }
        Ok(Load { epoll, conns, scratch: vec![0; 64 << 10] })
    }

    /// Echoes `messages` binary messages of `size` bytes, at most one in flight per
    /// connection; every echo must come back whole and equal, as one unfragmented frame.
    pub fn run(&mut self, size: usize, messages: u64) -> Result<Run, Failure> {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
        let request = raw::frame(0x2, &payload, KEY);
        let mut echo = Vec::with_capacity(size + 4);
        echo.push(0x82);
        if size < 126 {
            echo.push(size as u8);
        } else if size <= u16::MAX as usize {
            echo.push(126);
            echo.extend_from_slice(&(size as u16).to_be_bytes());
        } else {
            return Err(format!("{size} B: larger than this client's echoes"));
        }
        echo.extend_from_slice(&payload);

        let cpu = cpu_time::ThreadTime::now();
        let start = Instant::now();
        let (mut sent, mut done) = (0u64, 0u64);
        for i in 0..self.conns.len() {
            if sent == messages {
                break;
            }
            self.start(i, &request)?;
            sent += 1;
        }
        let mut events = Vec::with_capacity(1024);
        let stall = rustix::event::Timespec { tv_sec: STALL.as_secs() as i64, tv_nsec: 0 };
        while done < messages {
            events.clear();
            epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events), Some(&stall))
                .map_err(fail("epoll_wait"))?;
            if events.is_empty() {
                return Err(format!("no echo for {STALL:?}: {done} of {messages} echoed"));
            }
            for &event in &events {
                // A copy of each field: the struct is packed, its fields cannot be borrowed.
                let (flags, data) = (event.flags, event.data);
                let i = data.u64() as usize;
                if flags.contains(epoll::EventFlags::OUT) {
                    self.write(i, &request)?;
                }
                if flags.intersects(epoll::EventFlags::IN | epoll::EventFlags::ERR | epoll::EventFlags::HUP)
                    && self.read(i, &echo)?
                {
                    done += 1;
                    if sent < messages {
                        self.start(i, &request)?;
                        sent += 1;
                    }
                }
            }
        }
        Ok(Run { messages, wall: start.elapsed(), client_cpu: cpu.elapsed() })
    }

    fn start(&mut self, i: usize, request: &[u8]) -> Result<(), Failure> {
        let c = &mut self.conns[i];
        c.in_flight = true;
        c.written = 0;
        c.got = 0;
        self.write(i, request)
    }

    /// Writes what is left of the request; waits for writability only when the kernel took
    /// part of it.
    fn write(&mut self, i: usize, request: &[u8]) -> Result<(), Failure> {
        let c = &mut self.conns[i];
        while c.written < request.len() {
            match c.stream.write(&request[c.written..]) {
                Ok(0) => return Err(format!("connection {i}: write returned 0")),
                Ok(n) => c.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("connection {i}: write: {e}")),
            }
        }
        let wants_out = c.written < request.len();
        if wants_out != c.wants_out {
            let flags = if wants_out { epoll::EventFlags::IN | epoll::EventFlags::OUT } else { epoll::EventFlags::IN };
            epoll::modify(&self.epoll, &c.stream, epoll::EventData::new_u64(i as u64), flags)
                .map_err(fail("epoll_ctl"))?;
            c.wants_out = wants_out;
        }
        Ok(())
    }

    /// Reads what is there of the echo; true once the whole echo has arrived.
    fn read(&mut self, i: usize, echo: &[u8]) -> Result<bool, Failure> {
        let c = &mut self.conns[i];
        loop {
            // One byte more than the echo still owes: anything beyond it is an error.
            let want = (echo.len() - c.got + 1).min(self.scratch.len());
            let n = match c.stream.read(&mut self.scratch[..want]) {
                Ok(0) => return Err(format!("connection {i}: EOF with {} of {} echo bytes", c.got, echo.len())),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("connection {i}: read: {e}")),
            };
            if !c.in_flight || c.got + n > echo.len() {
                return Err(format!("connection {i}: bytes beyond the echo (in flight: {})", c.in_flight));
            }
            if self.scratch[..n] != echo[c.got..c.got + n] {
                return Err(format!("connection {i}: the echo differs within bytes {}..{}", c.got, c.got + n));
            }
            c.got += n;
            if c.got == echo.len() {
                c.in_flight = false;
                return Ok(true);
            }
        }
    }
}
