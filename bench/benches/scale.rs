//! Scale (issue 17, item 4): 10 000 seed clients at once on one async server — the demo's
//! `async-server` (smol) and `tokio-server` code, in a child process (this binary,
//! re-executed) so that its RSS is its own.
//!
//! `cargo bench -p wsduplex-bench --bench scale` (`SCALE_CLIENTS=N`, default 10 000;
//! `SCALE_SERVERS=smol,tokio`).
//!
//! Every client first connects and completes the opening handshake; with all of them
//! connected and idle, the server's RSS per connection is taken (what it grew by from 100
//! warm connections to all of them, divided by the number added). Then all of them run the
//! seed at once — 16 × 4 KiB binary messages each while reading the acks (one per 16 KiB),
//! close-output, the final tally after our Close — and each must see exactly what it sent
//! acknowledged and end with a clean close; the server must report no connection that ended
//! otherwise (it prints those on stderr, which is read here). Not a criterion benchmark: the
//! figure is a memory size and a pass; the wall time is printed for scale.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use wsduplex_bench::{Failure, ServerChild, fail, rss};
use wsduplex_demo::cli::ClientFlags;
use wsduplex_demo::seed::{self, SeedClient};
use wsduplex_demo::{on_smol, on_tokio};

const ROLE: &str = "WSDUPLEX_BENCH_SCALE_SERVER";
const WARM: usize = 100;
const MESSAGES: u64 = 16;
const MESSAGE_SIZE: usize = 4 << 10;
const CHUNK: u64 = 16 << 10;
/// Connections opened at once while connecting: below the listen backlog of std's
/// `TcpListener` (128), past which the kernel drops SYNs and the client retries a second later
/// (200 at once took 16 s for 10 000 connections, 64 take 1 s).
const CONNECTING: usize = 64;
/// RSS per idle connection the server must stay within.
const TARGET_KIB: f64 = 6.0;
/// The whole run's bound.
const BOUND: Duration = Duration::from_secs(300);

fn main() {
    wsduplex_bench::main_with_children("scale", ROLE, child, parent);
}

// ---- child: the demo's server -------------------------------------------------------------

fn child(role: &str) -> Result<(), Failure> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
    let addr = listener.local_addr().map_err(fail("local_addr"))?;
    listener.set_nonblocking(true).map_err(fail("nonblocking"))?;
    println!("listening {addr}");
    std::io::stdout().flush().map_err(fail("stdout"))?;
    let config = seed::server_socket_config(CHUNK);
    match role {
        "smol" => {
            let listener = async_net::TcpListener::try_from(listener).map_err(fail("async listener"))?;
            on_smol::block_on_all_cores(|ex| ex.spawn(on_smol::serve_forever(ex.clone(), listener, config)));
        }
        "tokio" => {
            let rt = on_tokio::runtime().map_err(fail("runtime"))?;
            let listener =
                rt.block_on(async { tokio::net::TcpListener::from_std(listener) }).map_err(fail("tokio listener"))?;
            rt.block_on(on_tokio::serve_forever(listener, config));
        }
        other => return Err(format!("unknown server {other}")),
    }
    Ok(())
}

// ---- parent: the clients -------------------------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
    /// Reads the server's stderr as it comes: a server that reports many connections must
    /// not block on a full pipe.
    stderr: JoinHandle<String>,
}

impl Server {
    fn start(role: &str) -> Result<Server, Failure> {
        let s = ServerChild::start(&[(ROLE, role.to_owned())], Stdio::piped())?;
        let mut child = s.child;
        let mut err = child.stderr.take().ok_or("no child stderr")?;
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Ok(Server { child, addr: s.addr, stderr })
    }

    fn rss_kib(&self) -> Result<u64, Failure> {
        Ok(rss::read(Some(self.child.id()))?.current_kib)
    }

    /// Stops the server; what it printed on stderr (a line per connection not ended clean).
    fn stop(mut self) -> Result<String, Failure> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.join().map_err(|_| Failure::from("stderr reader panicked"))
    }
}

type Ws = wsduplex_tokio::WebSocket<tokio::net::TcpStream>;

/// Connects `n` clients, `CONNECTING` at a time.
async fn connect_all(url: &str, n: usize, flags: &ClientFlags) -> Result<Vec<Ws>, Failure> {
    let config = flags.socket_config().map_err(fail("config"))?;
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let batch = (n - all.len()).min(CONNECTING);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let (url, config) = (url.to_owned(), config.clone());
            tasks.spawn(async move { wsduplex_tokio::connect(&url, config).await });
        }
        while let Some(ws) = tasks.join_next().await {
            let ws = ws.map_err(fail("connect task"))?.map_err(|e| format!("client {}: connect: {e}", all.len()))?;
            all.push(ws);
        }
    }
    Ok(all)
}

/// One seed client on an open socket, started by `go`: sends while a second task reads the
/// replies, closes its output, reads to the server's Close; exact acks and a clean close.
async fn seed_client(ws: Ws, mut go: watch::Receiver<bool>) -> Result<(), Failure> {
    go.wait_for(|go| *go).await.map_err(fail("start signal"))?;
    let (tx, rx) = ws.split();
    let mut client = SeedClient::new(false, MESSAGE_SIZE);
    let sending = client.clone();
    let reader = tokio::spawn(async move {
        while let Some(event) = rx.recv().await? {
            client.on_event(&event);
        }
        Ok::<_, wsduplex_tokio::SocketError>(client)
    });
    for i in 0..MESSAGES {
        tx.send_binary(sending.message(i)).await.map_err(fail("send"))?;
    }
    tx.close(1000, "").await.map_err(fail("close"))?;
    let client = reader.await.map_err(fail("reader task"))?.map_err(fail("recv"))?;
    let summary = client.summary(tx.stats(), tx.outcome().as_ref(), Duration::ZERO, None);
    if !summary.passed() || summary.bytes_acked != MESSAGES * MESSAGE_SIZE as u64 {
        return Err(summary.to_json());
    }
    Ok(())
}

fn run(role: &str, clients: usize) -> Result<(), Failure> {
    let server = Server::start(role)?;
    let url = format!("ws://{}/", server.addr);
    let flags = ClientFlags { messages: MESSAGES, message_size: MESSAGE_SIZE, ..ClientFlags::default() };
    let rt = on_tokio::runtime().map_err(fail("runtime"))?;
    let started = Instant::now();
    let outcome = rt.block_on(async {
        tokio::time::timeout(BOUND, async {
            let mut sockets = connect_all(&url, WARM, &flags).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = server.rss_kib()?;
            sockets.extend(connect_all(&url, clients, &flags).await?);
            let connected = started.elapsed();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = server.rss_kib()?;
            let per = after.saturating_sub(before) as f64 / clients as f64;
            let (go, wait) = watch::channel(false);
            let tasks: Vec<_> = sockets.into_iter().map(|ws| tokio::spawn(seed_client(ws, wait.clone()))).collect();
            let run_start = Instant::now();
            go.send(true).map_err(fail("start"))?;
            let total = tasks.len();
            let mut failures = Vec::new();
            for (i, t) in tasks.into_iter().enumerate() {
                if let Err(e) = t.await.map_err(fail("client task")).and_then(|r| r) {
                    failures.push(format!("client {i}: {e}"));
                }
            }
            Ok::<_, Failure>((total, failures, per, before, after, connected, run_start.elapsed()))
        })
        .await
        .map_err(|_| format!("not done within {BOUND:?}"))?
    });
    let peak = rss::read(Some(server.child.id()))?.peak_kib;
    let server_log = server.stop()?;
    let (total, failures, per, before, after, connected, ran) = outcome?;
    let unclean = server_log.lines().count();
    println!(
        "scale/{role}: {total} clients at once ({WARM} warm + {clients}): {} of {total} acknowledged exactly and closed clean; \
         server: {unclean} connections not ended clean; connected in {:.1} s, the seed on all in {:.1} s; \
         RSS per idle connection {per:.2} KiB ({before} -> {after} KiB; peak {peak} KiB); target <= {TARGET_KIB} KiB: {}",
        total - failures.len(),
        connected.as_secs_f64(),
        ran.as_secs_f64(),
        if per <= TARGET_KIB { "met" } else { "MISSED" }
    );
    if !failures.is_empty() || unclean > 0 {
        let shown: Vec<&String> = failures.iter().take(5).collect();
        return Err(format!(
            "{role}: {} clients failed ({shown:?}), server reported {unclean}: {}",
            failures.len(),
            server_log.lines().take(5).collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok(())
}

fn parent() -> Result<(), Failure> {
    let clients = std::env::var("SCALE_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let roles = std::env::var("SCALE_SERVERS").unwrap_or_else(|_| "smol,tokio".into());
    for role in roles.split(',') {
        run(role.trim(), clients)?;
    }
    Ok(())
}
