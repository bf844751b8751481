//! The seed stream end to end over loopback: 1024 × 128 KiB from client to server, a text ack
//! per 4 MiB received, close-output, the final tally. Six implementations of the same
//! exchange; each returns what it cost ([`Exchange`]).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::output::Output;
use wsduplex_demo::{on_smol, on_std, seed};

use crate::{Failure, ServerChild, fail, raw, runtime};

/// Messages per run.
pub const MESSAGES: u64 = 1024;
/// Bytes per message.
pub const MESSAGE_SIZE: usize = 128 << 10;
/// An ack per this many bytes received.
pub const CHUNK: u64 = 4 << 20;
/// Payload bytes per run (128 MiB).
pub const TOTAL: u64 = MESSAGES * MESSAGE_SIZE as u64;

/// What one exchange cost.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// Bytes the client saw acknowledged: [`TOTAL`] (anything else is a failure).
    pub acked: u64,
    /// Wall time: in one process from the listening socket to both ends' return; pinned apart
    /// from the client's connect to the server process's word that it is done.
    pub wall: Duration,
    /// CPU time of both ends over it (user + sys): this process's, and pinned apart the server
    /// process's over its part.
    pub cpu: Duration,
}

/// Where the two ends of an exchange run.
///
/// Left to the scheduler, the time of one exchange on these 2-vCPU machines is bimodal for every
/// contender, raw TCP included: about 20 ms or about 40 ms per 128 MiB, decided per connection
/// by where Linux places the threads as they sleep and wake (BENCHMARKS.md). A mean over a few
/// dozen runs then mostly counts how many runs were lucky. Pinning the two ends apart takes
/// that draw out and leaves the cost of the implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In this process, wherever the scheduler puts the threads, as an application runs.
    Free,
    /// The client in this process on one CPU, the server in a process of its own on another
    /// (this binary re-executed: its `main` calls [`serve_if_child`] first), as a client and a
    /// server are deployed. Each end has its own runtime and reactor: smol's reactor is one per
    /// process, and two ends in one process would hand every readiness event across the CPUs.
    Split,
}

impl Placement {
    /// Both placements.
    pub const ALL: [Placement; 2] = [Placement::Free, Placement::Split];

    /// Whether this machine can run it: the split placement needs two CPUs.
    pub fn is_available(self) -> bool {
        self == Placement::Free || split_cpus().is_ok()
    }

    /// Name in benchmark ids (`seed-wall` / `seed-wall-split`).
    pub fn suffix(self) -> &'static str {
        match self {
            Placement::Free => "",
            Placement::Split => "-split",
        }
    }

    /// Pins the calling thread (and the threads it starts from now on) to the client's CPU
    /// until the guard drops; nothing for [`Placement::Free`].
    fn pin_client(self) -> Result<Pinned, Failure> {
        if self == Placement::Free {
            return Ok(Pinned(None));
        }
        let all = sched_getaffinity(None).map_err(fail("sched_getaffinity"))?;
        let (client, _) = cpus_of(&all)?;
        pin(client)?;
        Ok(Pinned(Some(all)))
    }
}

/// The client's CPU and the server's: the first two this thread may run on.
fn split_cpus() -> Result<(usize, usize), Failure> {
    cpus_of(&sched_getaffinity(None).map_err(fail("sched_getaffinity"))?)
}

fn cpus_of(all: &CpuSet) -> Result<(usize, usize), Failure> {
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|&c| all.is_set(c)).take(2).collect();
    match cpus[..] {
        [client, server] => Ok((client, server)),
        _ => Err("the split placement needs two CPUs".into()),
    }
}

/// Pins the calling thread, and the threads it starts from now on, to `cpu`.
fn pin(cpu: usize) -> Result<(), Failure> {
    let mut one = CpuSet::new();
    one.set(cpu);
    sched_setaffinity(None, &one).map_err(fail("sched_setaffinity"))
}

/// A pinned thread's previous CPU set, given back on drop.
struct Pinned(Option<CpuSet>);

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(all) = &self.0 {
            let _ = sched_setaffinity(None, all);
        }
    }
}

/// One end of a seed exchange. A WebSocket client runs against any WebSocket server; the raw
/// TCP ends only against themselves; the diagnostic ends are servers only. The contenders
/// ([`End::CONTENDERS`]) are the ends that are both, each run against itself ([`End::run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Length-prefixed messages over TCP, half-close as the close: the floor.
    RawTcp,
    /// [`End::RawTcp`] plus the one thing RFC 6455 adds that no implementation can skip:
    /// the client masks every payload byte (§5.3: a fresh key per frame, copied and XORed in
    /// one pass into a reused buffer) and the server unmasks every byte (in place). No framing,
    /// no validation, no close handshake: the floor under any WebSocket library.
    RawTcpMasked,
    /// tungstenite, blocking. Its client cannot read and write at once from two threads, so
    /// it writes everything and then reads the acks (32 small messages: they wait in the socket
    /// buffer). Its server cannot send after the peer's Close, so there is no final tally: the
    /// volume makes it exact anyway (128 MiB is a multiple of 4 MiB).
    Tungstenite,
    /// wsduplex-std: exactly what `blocking-server` and `blocking-client` run.
    WsduplexBlocking,
    /// wsduplex-smol: exactly what `async-server` and `async-client` run. Against itself with
    /// the scheduler's placement, both ends on one executor, as one async program runs them.
    WsduplexAsync,
    /// fastwebsockets 0.10 on tokio, as its examples are written (the `fastwebsockets` module
    /// below). Against itself with the scheduler's placement, both ends on one multi-threaded
    /// runtime.
    Fastwebsockets,
    /// A diagnostic server, not a contender: the seed server as a WebSocket server reduced to
    /// what this exchange needs (`floor_server` below): it reads into the buffer the frames are
    /// parsed in and unmasks each payload there, in place (as fastwebsockets and tungstenite
    /// do). Against it a client runs at the floor of any server; a server end can be compared
    /// with it under the same client.
    FloorServer,
    /// A diagnostic server, not a contender: the seed server on wsduplex's core driven by hand
    /// on one thread (`core_by_hand_server` below): reads into a
    /// [`wsduplex_core::driver::ReadBuffer`] as the transports do and hands them to
    /// [`wsduplex_core::Connection::handle_input`], no transport. Its gap to
    /// [`End::WsduplexBlocking`] is the transport's; its gap to [`End::FloorServer`] the core's.
    CoreByHand,
}

impl End {
    /// The contenders of the seed benchmark, baselines first: every end that is both a client
    /// and a server.
    pub const CONTENDERS: [End; 6] = [
        End::RawTcp,
        End::RawTcpMasked,
        End::Tungstenite,
        End::WsduplexBlocking,
        End::WsduplexAsync,
        End::Fastwebsockets,
    ];

    /// The diagnostic ends: servers only.
    pub const DIAGNOSTIC: [End; 2] = [End::FloorServer, End::CoreByHand];

    /// Every end: the contenders, then the diagnostic servers.
    pub fn all() -> impl Iterator<Item = End> {
        End::CONTENDERS.into_iter().chain(End::DIAGNOSTIC)
    }

    /// Runs one exchange with this end on both sides; the bytes acknowledged must be [`TOTAL`].
    pub fn run(self, placement: Placement) -> Result<Exchange, Failure> {
        let exchange = match (self, placement) {
            (End::WsduplexAsync, Placement::Free) => in_process(wsduplex_async)?,
            (End::Fastwebsockets, Placement::Free) => in_process(fastwebsockets::shared)?,
            (end, placement) => return run_pair(end, end, placement),
        };
        checked_total(exchange, self.name(), self.name())
    }

    /// Name on command lines.
    pub fn name(self) -> &'static str {
        match self {
            End::RawTcp => "raw-tcp",
            End::RawTcpMasked => "raw-tcp-masked",
            End::Tungstenite => "tungstenite",
            End::WsduplexBlocking => "wsduplex-blocking",
            End::WsduplexAsync => "wsduplex-async",
            End::Fastwebsockets => "fastwebsockets",
            End::FloorServer => "ws-floor",
            End::CoreByHand => "wsduplex-core-by-hand",
        }
    }

    /// The end called `name`.
    pub fn named(name: &str) -> Option<End> {
        End::all().find(|e| e.name() == name)
    }

    fn is_raw(self) -> bool {
        matches!(self, End::RawTcp | End::RawTcpMasked)
    }

    /// Whether `self` as the client can run an exchange against `server`.
    fn pairs_with(self, server: End) -> Result<(), Failure> {
        if End::DIAGNOSTIC.contains(&self) {
            return Err(format!("{}: a server only", self.name()));
        }
        if (self.is_raw() || server.is_raw()) && self != server {
            return Err(format!("{} -> {}: a raw TCP end runs only against itself", self.name(), server.name()));
        }
        Ok(())
    }

    /// Serves one exchange on `s`, just accepted.
    fn serve(self, s: TcpStream, placement: Placement) -> Result<(), Failure> {
        s.set_nodelay(true).map_err(fail("nodelay"))?;
        match self {
            End::RawTcp => raw_server(false, s),
            End::RawTcpMasked => raw_server(true, s),
            End::Tungstenite => tungstenite_server(s),
            End::WsduplexBlocking => wsduplex_blocking_server(s),
            End::WsduplexAsync => {
                let s = async_net::TcpStream::try_from(s).map_err(fail("async stream"))?;
                match placement {
                    Placement::Free => runtime::block_on(wsduplex_async_server(s)),
                    Placement::Split => smol::block_on(wsduplex_async_server(s)),
                }
            }
            End::Fastwebsockets => fastwebsockets::serve(s, placement),
            End::FloorServer => floor_server(s),
            End::CoreByHand => core_by_hand_server(s),
        }
    }

    fn client(self, addr: SocketAddr, placement: Placement) -> Result<u64, Failure> {
        let _pinned = placement.pin_client()?;
        match self {
            End::RawTcp => raw_client(false, addr),
            End::RawTcpMasked => raw_client(true, addr),
            End::Tungstenite => tungstenite_client(addr),
            End::WsduplexBlocking => {
                let (url, flags) = client_args(addr);
                let summary = on_std::run_client(&url, &flags, &Output::quiet(), None).map_err(fail("client"))?;
                checked(summary)
            }
            End::WsduplexAsync if placement == Placement::Split => {
                let ex = smol::Executor::new();
                let (url, flags) = client_args(addr);
                let quiet = Output::quiet();
                let client = on_smol::run_client(|f| ex.spawn(f), &url, &flags, &quiet, None);
                checked(smol::block_on(ex.run(client)).map_err(fail("client"))?)
            }
            End::WsduplexAsync => runtime::block_on(async move {
                let (url, flags) = client_args(addr);
                let summary =
                    on_smol::run_client(|f| runtime::executor().spawn(f), &url, &flags, &Output::quiet(), None)
                        .await
                        .map_err(fail("client"))?;
                checked(summary)
            }),
            End::Fastwebsockets => fastwebsockets::client(addr, placement),
            End::FloorServer | End::CoreByHand => Err(format!("{}: a server only", self.name())),
        }
    }
}

/// Runs one exchange between `client` and `server`: in this process, the server on a thread
/// of its own ([`Placement::Free`]), or the server in a process of its own
/// ([`Placement::Split`]). The bytes acknowledged must be [`TOTAL`].
pub fn run_pair(client: End, server: End, placement: Placement) -> Result<Exchange, Failure> {
    client.pairs_with(server)?;
    let exchange = match placement {
        Placement::Free => in_process(|| {
            let (listener, addr) = listen()?;
            let served = spawn("seed-server", move || {
                let (s, _) = listener.accept().map_err(fail("accept"))?;
                server.serve(s, placement)
            })?;
            let acked = client.client(addr, placement);
            join(served)?;
            acked
        })?,
        Placement::Split => apart::run(client, server)?,
    };
    checked_total(exchange, client.name(), server.name())
}

fn checked_total(exchange: Exchange, client: &str, server: &str) -> Result<Exchange, Failure> {
    if exchange.acked != TOTAL {
        return Err(format!("{client} -> {server}: {} bytes acknowledged, {TOTAL} sent", exchange.acked));
    }
    Ok(exchange)
}

/// Times `f`, which runs both ends in this process.
fn in_process(f: impl FnOnce() -> Result<u64, Failure>) -> Result<Exchange, Failure> {
    let (start, cpu) = (Instant::now(), ProcessTime::now());
    let acked = f()?;
    Ok(Exchange { acked, wall: start.elapsed(), cpu: cpu.elapsed() })
}

/// If this process was started as a pinned-apart seed server, serves and exits; otherwise
/// returns at once. Call it first in `main` of any binary that runs [`Placement::Split`]
/// exchanges: their servers are that binary, re-executed.
pub fn serve_if_child() {
    if let Ok(name) = std::env::var(apart::ROLE) {
        let code = match apart::serve(&name) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("seed server {name}: {e}");
                1
            }
        };
        std::process::exit(code);
    }
}

/// Ends the server processes [`Placement::Split`] started, and waits for them (their CPU time
/// then counts in this process's children's): call it before `main` returns.
pub fn end_servers() {
    let servers = std::mem::take(&mut *apart::SERVERS.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, mut server) in servers {
        // Their stdin closing is their signal to go.
        drop(server.child.stdin.take());
        let _ = server.child.wait();
    }
}

/// Pinned apart: the server in a child process, one per server end, kept for every exchange
/// with it (no process start inside a measurement). The child pins itself to the server's CPU
/// before any runtime starts a thread, serves one exchange per connection, and after each
/// prints `done NANOS`, the CPU time it spent on it; it ends with this process (its stdin
/// closes).
mod apart {
    use super::*;

    pub(super) const ROLE: &str = "WSDUPLEX_BENCH_SEED_SERVER";
    const CPU: &str = "WSDUPLEX_BENCH_SEED_CPU";
    /// How long a server may take to say it is done once the client is: an exchange takes
    /// 20-50 ms.
    const DONE_WITHIN: Duration = Duration::from_secs(30);

    pub(super) static SERVERS: Mutex<Vec<(End, ServerChild)>> = Mutex::new(Vec::new());

    pub(super) fn serve(name: &str) -> Result<(), Failure> {
        let server = End::named(name).ok_or_else(|| format!("no such end {name}"))?;
        let cpu = std::env::var(CPU).ok().and_then(|c| c.parse().ok()).ok_or("no CPU given")?;
        pin(cpu)?;
        thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0)
        });
        let (listener, addr) = listen()?;
        let mut out = std::io::stdout();
        writeln!(out, "listening {addr}").and_then(|()| out.flush()).map_err(fail("stdout"))?;
        loop {
            let cpu = ProcessTime::now();
            let (s, _) = listener.accept().map_err(fail("accept"))?;
            server.serve(s, Placement::Split)?;
            let spent = cpu.elapsed().as_nanos();
            writeln!(out, "done {spent}").and_then(|()| out.flush()).map_err(fail("stdout"))?;
        }
    }

    pub(super) fn run(client: End, server: End) -> Result<Exchange, Failure> {
        if std::env::var(ROLE).is_ok() {
            return Err("a seed server process runs no exchange: call serve_if_child first in main".into());
        }
        let (_, server_cpu) = split_cpus()?;
        let mut servers = SERVERS.lock().map_err(|_| "the seed servers' lock is poisoned")?;
        let i = match servers.iter().position(|(end, _)| *end == server) {
            Some(i) => i,
            None => {
                let envs = [(ROLE, server.name().to_owned()), (CPU, server_cpu.to_string())];
                servers.push((server, ServerChild::start(&envs, std::process::Stdio::inherit())?));
                servers.len() - 1
            }
        };
        let child = &mut servers[i].1;
        let (start, cpu) = (Instant::now(), ProcessTime::now());
        let done = client.client(child.addr, Placement::Split).and_then(|acked| {
            let line = child.next_line(DONE_WITHIN)?;
            let spent: u64 = line
                .trim()
                .strip_prefix("done ")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("server: {line:?}"))?;
            Ok((acked, spent))
        });
        let (wall, cpu) = (start.elapsed(), cpu.elapsed());
        match done {
            Ok((acked, spent)) => Ok(Exchange { acked, wall, cpu: cpu + Duration::from_nanos(spent) }),
            Err(e) => {
                // The server may be stuck in the failed exchange: the next one gets a new one.
                let (_, mut child) = servers.remove(i);
                let _ = child.child.kill();
                let _ = child.child.wait();
                Err(e)
            }
        }
    }
}

fn listen() -> Result<(TcpListener, SocketAddr), Failure> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
    let a = l.local_addr().map_err(fail("local_addr"))?;
    Ok((l, a))
}

/// Starts a thread named after its part in the exchange, so that `perf` tells the server from
/// the client's reading thread (BENCHMARKS.md counts their migrations).
fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<thread::JoinHandle<Result<T, Failure>>, Failure> {
    thread::Builder::new().name(name.into()).spawn(f).map_err(fail("spawn"))
}

fn join<T>(h: thread::JoinHandle<Result<T, Failure>>) -> Result<T, Failure> {
    h.join().map_err(|_| Failure::from("a seed thread panicked"))?
}

/// The demo client's URL and flags for the seed against `addr`.
fn client_args(addr: SocketAddr) -> (String, ClientFlags) {
    (format!("ws://{addr}/"), ClientFlags { messages: MESSAGES, message_size: MESSAGE_SIZE, ..ClientFlags::default() })
}

fn write_prefixed(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    s.write_all(&(payload.len() as u32).to_be_bytes())?;
    s.write_all(payload)
}

/// Raw TCP's server: each message and ack is a 4-byte length and the bytes; the client's close
/// is a half-close, after which the server sends the final tally and closes. `masked`: client
/// messages carry a 4-byte key after the length and are masked with it (see
/// [`End::RawTcpMasked`]).
fn raw_server(masked: bool, mut s: TcpStream) -> Result<(), Failure> {
    let mut buf = vec![0u8; MESSAGE_SIZE];
    let mut since = 0u64;
    loop {
        let mut len = [0u8; 4];
        match s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(format!("server read: {e}")),
        }
        let len = u32::from_be_bytes(len) as usize;
        let mut key = [0u8; 4];
        if masked {
            s.read_exact(&mut key).map_err(fail("server read"))?;
        }
        buf.resize(len, 0);
        s.read_exact(&mut buf).map_err(fail("server read"))?;
        if masked {
            raw::mask(&mut buf, key);
            black_box(&buf);
        }
        since += len as u64;
        while since >= CHUNK {
            since -= CHUNK;
            write_prefixed(&mut s, seed::ack(CHUNK).as_bytes()).map_err(fail("server ack"))?;
        }
    }
    write_prefixed(&mut s, seed::ack(since).as_bytes()).map_err(fail("server tally"))?;
    s.shutdown(Shutdown::Both).map_err(fail("server shutdown"))
}

/// Raw TCP's client: a thread reading the acks while this one writes (see [`raw_server`]).
fn raw_client(masked: bool, addr: SocketAddr) -> Result<u64, Failure> {
    let mut s = TcpStream::connect(addr).map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let mut r = s.try_clone().map_err(fail("clone"))?;
    let reader = spawn("seed-reader", move || -> Result<u64, Failure> {
        let mut acked = 0;
        let mut buf = Vec::new();
        loop {
            let mut len = [0u8; 4];
            match r.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(acked),
                Err(e) => return Err(format!("client read: {e}")),
            }
            buf.resize(u32::from_be_bytes(len) as usize, 0);
            r.read_exact(&mut buf).map_err(fail("client read"))?;
            let text = std::str::from_utf8(&buf).map_err(fail("ack"))?;
            acked += seed::parse_ack(text).ok_or_else(|| format!("not an ack: {text:?}"))?;
        }
    })?;
    // One buffer per message, prefix included, so each message is one write.
    let payload = seed::payload(0, MESSAGE_SIZE);
    let mut message = (MESSAGE_SIZE as u32).to_be_bytes().to_vec();
    let head = if masked { 8 } else { 4 };
    message.resize(head, 0);
    message.extend_from_slice(&payload);
    for i in 0..MESSAGES {
        if masked {
            let key = (i as u32).wrapping_mul(0x9E37_79B9).to_ne_bytes();
            message[4..8].copy_from_slice(&key);
            raw::mask_copy(&mut message[8..], &payload, key);
        }
        s.write_all(&message).map_err(fail("client write"))?;
    }
    s.shutdown(Shutdown::Write).map_err(fail("client shutdown"))?;
    join(reader)
}

fn checked(summary: seed::Summary) -> Result<u64, Failure> {
    if !summary.passed() {
        return Err(format!("client: {}", summary.to_json()));
    }
    Ok(summary.bytes_acked)
}

fn tungstenite_server(s: TcpStream) -> Result<(), Failure> {
    use tungstenite::Message;
    let mut ws = tungstenite::accept(s).map_err(fail("tungstenite accept"))?;
    let mut since = 0u64;
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => {
                since += b.len() as u64;
                while since >= CHUNK {
                    since -= CHUNK;
                    ws.send(Message::text(seed::ack(CHUNK))).map_err(fail("server ack"))?;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(format!("server read: {e}")),
        }
    }
}

fn tungstenite_client(addr: SocketAddr) -> Result<u64, Failure> {
    use tungstenite::Message;
    let s = TcpStream::connect(addr).map_err(fail("connect"))?;
    s.set_nodelay(true).map_err(fail("nodelay"))?;
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/"), s).map_err(fail("tungstenite connect"))?;
    let payload = seed::payload(0, MESSAGE_SIZE);
    for _ in 0..MESSAGES {
        ws.send(Message::Binary(payload.clone())).map_err(fail("client send"))?;
    }
    ws.close(None).map_err(fail("client close"))?;
    let mut acked = 0;
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => acked += seed::parse_ack(&t).ok_or_else(|| format!("not an ack: {t:?}"))?,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(acked),
            Err(e) => return Err(format!("client read: {e}")),
        }
    }
}

fn wsduplex_blocking_server(s: TcpStream) -> Result<(), Failure> {
    let ws = wsduplex_std::accept(s, seed::server_socket_config(CHUNK)).map_err(fail("accept"))?;
    let outcome = on_std::serve(ws, CHUNK, None).map_err(fail("serve"))?;
    if !outcome.is_clean() {
        return Err(format!("server: {outcome}"));
    }
    Ok(())
}

async fn wsduplex_async_server(s: async_net::TcpStream) -> Result<(), Failure> {
    let ws = wsduplex_smol::accept(s, seed::server_socket_config(CHUNK)).await.map_err(fail("accept"))?;
    let outcome = on_smol::serve(ws, CHUNK, None).await.map_err(fail("serve"))?;
    if !outcome.is_clean() {
        return Err(format!("server: {outcome}"));
    }
    Ok(())
}

/// Both async ends on the shared executor, as one async program would run them.
fn wsduplex_async() -> Result<u64, Failure> {
    runtime::block_on(async {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await.map_err(fail("bind"))?;
        let addr = listener.local_addr().map_err(fail("local_addr"))?;
        let server = runtime::executor().spawn(async move {
            let (s, _) = listener.accept().await.map_err(fail("accept"))?;
            wsduplex_async_server(s).await
        });
        let (url, flags) = client_args(addr);
        let summary = on_smol::run_client(|f| runtime::executor().spawn(f), &url, &flags, &Output::quiet(), None)
            .await
            .map_err(fail("client"))?;
        server.await?;
        checked(summary)
    })
}

/// fastwebsockets 0.10, written as its examples are: the server a `FragmentCollector` reading
/// frames and acking with `write_frame`; the client its split halves (`unstable-split`), one
/// task writing a `write_frame` per message while another reads the acks. Its server answers
/// the Close as it reads it (`auto_close`): no final tally, as with tungstenite's (128 MiB is
/// a multiple of 4 MiB, so the count is exact anyway). The HTTP upgrade is left to hyper by
/// fastwebsockets; a few lines of ours do it (`echo_pair`'s `upgrade`).
mod fastwebsockets {
    use std::net::SocketAddr;

    use fastwebsockets::{
        FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, Role, WebSocket, WebSocketError,
    };
    use tokio::net::TcpStream;
    use wsduplex_demo::seed;

    use super::{CHUNK, MESSAGE_SIZE, MESSAGES, Placement, listen};
    use crate::echo_pair::upgrade;
    use crate::{Failure, fail};

    /// Both ends on the shared multi-threaded runtime, as one tokio program would run them.
    pub(super) fn shared() -> Result<u64, Failure> {
        let (listener, addr) = listen()?;
        listener.set_nonblocking(true).map_err(fail("nonblocking"))?;
        crate::tokio_pair::runtime().block_on(async move {
            let served = tokio::spawn(async move {
                let (s, _) = tokio::net::TcpListener::from_std(listener)
                    .map_err(fail("listener"))?
                    .accept()
                    .await
                    .map_err(fail("accept"))?;
                s.set_nodelay(true).map_err(fail("nodelay"))?;
                server(s).await
            });
            let acked = client_task(addr).await;
            served.await.map_err(fail("server task"))??;
            acked
        })
    }

    /// The server on `s`: on the shared runtime ([`Placement::Free`]), or on a current-thread
    /// runtime of its own ([`Placement::Split`]).
    pub(super) fn serve(s: std::net::TcpStream, placement: Placement) -> Result<(), Failure> {
        s.set_nonblocking(true).map_err(fail("nonblocking"))?;
        let served = async move { server(TcpStream::from_std(s).map_err(fail("stream"))?).await };
        match placement {
            Placement::Free => crate::tokio_pair::runtime().block_on(served),
            Placement::Split => one_thread()?.block_on(served),
        }
    }

    /// The client against `addr`, on the runtime [`serve`] would use.
    pub(super) fn client(addr: SocketAddr, placement: Placement) -> Result<u64, Failure> {
        match placement {
            Placement::Free => crate::tokio_pair::runtime().block_on(client_task(addr)),
            Placement::Split => one_thread()?.block_on(client_task(addr)),
        }
    }

    fn one_thread() -> Result<tokio::runtime::Runtime, Failure> {
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(fail("runtime"))
    }

    async fn server(mut s: TcpStream) -> Result<(), Failure> {
        upgrade::answer(&mut s).await?;
        let mut ws = FragmentCollector::new(WebSocket::after_handshake(s, Role::Server));
        let mut since = 0u64;
        loop {
            let frame = ws.read_frame().await.map_err(fail("server read"))?;
            match frame.opcode {
                OpCode::Binary => {
                    since += frame.payload.len() as u64;
                    while since >= CHUNK {
                        since -= CHUNK;
                        let ack = Frame::text(Payload::Owned(seed::ack(CHUNK).into_bytes()));
                        ws.write_frame(ack).await.map_err(fail("server ack"))?;
                    }
                }
                OpCode::Close => return Ok(()),
                _ => {}
            }
        }
    }

    async fn client_task(addr: SocketAddr) -> Result<u64, Failure> {
        let mut s = TcpStream::connect(addr).await.map_err(fail("connect"))?;
        s.set_nodelay(true).map_err(fail("nodelay"))?;
        upgrade::ask(&mut s, addr).await?;
        let (rx, mut tx) = WebSocket::after_handshake(s, Role::Client).split(tokio::io::split);
        let mut rx = FragmentCollectorRead::new(rx);
        let reader = tokio::spawn(async move {
            let mut acked = 0;
            loop {
                // The only obligated send is the answer to the server's Close: ours went first.
                let frame =
                    rx.read_frame::<_, WebSocketError>(&mut |_| async { Ok(()) }).await.map_err(fail("client read"))?;
                match frame.opcode {
                    OpCode::Text => {
                        let text = std::str::from_utf8(&frame.payload).map_err(fail("ack"))?;
                        acked += seed::parse_ack(text).ok_or_else(|| format!("not an ack: {text:?}"))?;
                    }
                    OpCode::Close => return Ok::<_, Failure>(acked),
                    _ => {}
                }
            }
        });
        let payload = seed::payload(0, MESSAGE_SIZE);
        for _ in 0..MESSAGES {
            tx.write_frame(Frame::binary(Payload::Borrowed(&payload))).await.map_err(fail("client send"))?;
        }
        tx.write_frame(Frame::close(1000, b"")).await.map_err(fail("client close"))?;
        reader.await.map_err(fail("reader task"))?
    }
}

/// [`End::FloorServer`]: the opening handshake (RFC 6455 §4.2), then unfragmented masked
/// binary frames unmasked in place where they were read, an ack per [`CHUNK`], and on the
/// client's Close the final tally and the Close echoed; the stream's end read before the
/// socket closes (no reset). Anything the seed stream does not send (text, fragments, pings,
/// unmasked frames) is an error: this is a measuring instrument, not a server.
fn floor_server(mut s: TcpStream) -> Result<(), Failure> {
    let mut buf = vec![0u8; 256 << 10];
    let (mut lo, mut hi) = (0, 0);
    let head_end = loop {
        let n = s.read(&mut buf[hi..]).map_err(fail("read request"))?;
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        hi += n;
        if let Some(i) = buf[..hi].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if hi == buf.len() {
            return Err("request head too long".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let key = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim())
        .ok_or("no Sec-WebSocket-Key")?;
    let accept = wsduplex_core::handshake::accept_key(key);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    s.write_all(response.as_bytes()).map_err(fail("write response"))?;
    lo = lo.max(head_end);
    let text = |s: &mut TcpStream, t: &str| {
        let mut f = vec![0x81, t.len() as u8];
        f.extend_from_slice(t.as_bytes());
        s.write_all(&f)
    };
    let (mut total, mut since) = (0u64, 0u64);
    loop {
        while let Some((op, at, len)) = floor_frame(&buf[lo..hi])? {
            let payload = lo + at..lo + at + len;
            let key = [buf[lo + at - 4], buf[lo + at - 3], buf[lo + at - 2], buf[lo + at - 1]];
            raw::mask(&mut buf[payload.clone()], key);
            black_box(&buf[payload]);
            lo += at + len;
            match op {
                0x2 => {
                    total += len as u64;
                    since += len as u64;
                    while since >= CHUNK {
                        since -= CHUNK;
                        text(&mut s, &seed::ack(CHUNK)).map_err(fail("server ack"))?;
                    }
                }
                0x8 => {
                    text(&mut s, &seed::ack(since)).map_err(fail("server tally"))?;
                    s.write_all(&[0x88, 0x02, 0x03, 0xE8]).map_err(fail("server close"))?;
                    s.shutdown(Shutdown::Write).map_err(fail("server shutdown"))?;
                    let mut rest = [0u8; 1024];
                    while s.read(&mut rest).map_err(fail("server drain"))? > 0 {}
                    black_box(total);
                    return Ok(());
                }
                op => return Err(format!("floor server: opcode {op:#x} is not in the seed stream")),
            }
        }
        // Room for the rest of a frame and a full read: the unparsed tail moves to the front
        // (at most one frame's worth), the buffer grows only for a frame larger than it.
        if lo == hi {
            (lo, hi) = (0, 0);
        } else if buf.len() - hi < MESSAGE_SIZE {
            buf.copy_within(lo..hi, 0);
            (lo, hi) = (0, hi - lo);
        }
        if buf.len() - hi < MESSAGE_SIZE {
            buf.resize(hi + 2 * MESSAGE_SIZE, 0);
        }
        let n = s.read(&mut buf[hi..]).map_err(fail("server read"))?;
        if n == 0 {
            return Err("floor server: the stream ended before the Close".into());
        }
        hi += n;
    }
}

/// The next frame in `b` if it is all there: opcode, payload offset, payload length. Only
/// what [`floor_server`] accepts: FIN set, masked, no reserved bits.
fn floor_frame(b: &[u8]) -> Result<Option<(u8, usize, usize)>, Failure> {
    if b.len() < 2 {
        return Ok(None);
    }
    if b[0] & 0xF0 != 0x80 || b[1] & 0x80 == 0 {
        return Err(format!("floor server: frame {:#04x} {:#04x}: not a final masked frame", b[0], b[1]));
    }
    let (len, at) = match b[1] & 0x7F {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as u64, 8),
        127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap_or_default()), 14),
        126 | 127 => return Ok(None),
        n => (n as u64, 6),
    };
    let len = usize::try_from(len).map_err(|_| "floor server: frame too long")?;
    Ok((b.len() >= at + len).then_some((b[0] & 0x0F, at, len)))
}

/// [`End::CoreByHand`]: the seed server's events and reactions (the demo's [`seed::SeedServer`])
/// on a [`wsduplex_core::Connection`], reading into a [`wsduplex_core::driver::ReadBuffer`] of
/// 128 KiB as the transports do, reads handed to `handle_input`, every transmit written at once.
fn core_by_hand_server(mut s: TcpStream) -> Result<(), Failure> {
    use wsduplex_core::{Accept, Connection, Event, Transmit};
    let mut conn = Connection::server(seed::server_config(CHUNK), Instant::now());
    let mut app = seed::SeedServer::new("/", CHUNK);
    let mut buf = wsduplex_core::driver::ReadBuffer::new(128 << 10);
    loop {
        while let Some(event) = conn.poll_event() {
            let reactions = match &event {
                Event::Request(_) => {
                    conn.accept(Instant::now(), Accept::default()).map_err(fail("accept"))?;
                    continue;
                }
                event => app.on_event(event),
            };
            for reaction in reactions {
                match reaction {
                    seed::Reaction::Send(m) => conn.send(m).map_err(fail("send"))?,
                    seed::Reaction::Fragment(c) => {
                        conn.send_fragment(c.kind, c.data, c.end_of_message).map_err(fail("send"))?
                    }
                    seed::Reaction::Close(f) => conn.close(Instant::now(), f).map_err(fail("close"))?,
                }
            }
        }
        while let Some(t) = conn.poll_transmit() {
            match t {
                Transmit::Bytes(b) => s.write_all(&b).map_err(fail("server write"))?,
                Transmit::ShutdownWrite | Transmit::Disconnect => {
                    s.shutdown(Shutdown::Write).map_err(fail("server shutdown"))?;
                    let mut rest = [0u8; 1024];
                    while s.read(&mut rest).map_err(fail("server drain"))? > 0 {}
                    return match conn.outcome() {
                        Some(o) if o.is_clean() => Ok(()),
                        o => Err(format!("core by hand: {o:?}")),
                    };
                }
            }
        }
        let read = buf.read(
            |room| s.read(room),
            |res| {
                res.map(|bytes| {
                    conn.handle_input(Instant::now(), bytes);
                    bytes.len()
                })
            },
        );
        if read.map_err(fail("server read"))? == 0 {
            conn.handle_eof(Instant::now());
        }
    }
}
