//! Memory: the server's peak RSS while one 1 GiB message streams in (streaming delivery), and
//! the RSS per idle connection of a server holding 10 000 connections. Each server runs in a
//! child process (this binary, re-executed), so its RSS is its own.
//!
//! `cargo bench -p wsduplex-bench --bench memory`
//!
//! Not a criterion benchmark: memory is not a time. Prints a table and fails if a figure
//! cannot be measured.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Stdio};
use std::thread;
use std::time::Duration;

use wsduplex_bench::raw::{self, Reader};
use wsduplex_bench::{Failure, ServerChild, fail, rss};
use wsduplex_demo::{on_smol, on_std, seed};

const ROLE: &str = "WSDUPLEX_BENCH_MEMORY_ROLE";
const GIB: u64 = 1 << 30;
const PIECE: usize = 1 << 20;
const IDLE: usize = 10_000;
const WARM: usize = 100;
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn main() {
    wsduplex_bench::main_with_children("memory", ROLE, child, parent);
}

// ---- child: the server under test ------------------------------------------------------

fn child(role: &str) -> Result<(), Failure> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
    let addr = listener.local_addr().map_err(fail("local_addr"))?;
    let before = rss::read(None)?;
    println!("listening {addr} {}", before.current_kib);
    std::io::stdout().flush().map_err(fail("stdout"))?;
    match role {
        "stream-blocking" => {
            let (s, _) = listener.accept().map_err(fail("accept"))?;
            let config = seed::server_socket_config(seed::DEFAULT_CHUNK_SIZE);
            let ws = wsduplex_std::accept(s, config).map_err(fail("accept"))?;
            let o = on_std::serve(ws, seed::DEFAULT_CHUNK_SIZE, None).map_err(fail("serve"))?;
            if !o.is_clean() {
                return Err(format!("server: {o}"));
            }
        }
        "stream-async" => {
            let listener = async_net::TcpListener::try_from(listener).map_err(fail("async listener"))?;
            on_smol::block_on_all_cores(|ex| {
                ex.spawn(async move {
                    let (s, _) = listener.accept().await.map_err(fail("accept"))?;
                    let config = seed::server_socket_config(seed::DEFAULT_CHUNK_SIZE);
                    let ws = wsduplex_smol::accept(s, config).await.map_err(fail("accept"))?;
                    let o = on_smol::serve(ws, seed::DEFAULT_CHUNK_SIZE, None).await.map_err(fail("serve"))?;
                    if !o.is_clean() {
                        return Err(format!("server: {o}"));
                    }
                    Ok::<(), Failure>(())
                })
            })?;
        }
        "idle-async" => {
            let listener = async_net::TcpListener::try_from(listener).map_err(fail("async listener"))?;
            on_smol::block_on_all_cores(|ex| {
                ex.spawn(on_smol::serve_forever(
                    ex.clone(),
                    listener,
                    seed::server_socket_config(seed::DEFAULT_CHUNK_SIZE),
                ))
            });
        }
        "idle-tungstenite" => {
            // The least a tungstenite server can hold: its WebSocket values, no threads.
            let mut held = Vec::new();
            for s in listener.incoming() {
                let s = s.map_err(fail("accept"))?;
                held.push(tungstenite::accept(s).map_err(fail("tungstenite accept"))?);
            }
        }
        other => return Err(format!("unknown role {other}")),
    }
    let after = rss::read(None)?;
    println!("peak {}", after.peak_kib);
    Ok(())
}

// ---- parent: the client and the measurements -------------------------------------------

struct Server {
    child: Child,
    out: BufReader<ChildStdout>,
    addr: SocketAddr,
    idle_kib: u64,
}

impl Server {
    fn start(role: &str) -> Result<Server, Failure> {
        // The idle servers log every connection the parent drops at the end: not worth showing.
        let stderr = if role.starts_with("idle") { Stdio::null() } else { Stdio::inherit() };
        let s = ServerChild::start(&[(ROLE, role.to_owned())], stderr)?;
        let idle_kib = s.word()?;
        Ok(Server { child: s.child, out: s.out, addr: s.addr, idle_kib })
    }

    fn rss(&self) -> Result<rss::Rss, Failure> {
        rss::read(Some(self.child.id()))
    }

    fn finish(mut self) -> Result<u64, Failure> {
        let line = read_line(&mut self.out)?;
        let peak = line.strip_prefix("peak ").and_then(|p| p.parse().ok()).ok_or_else(|| format!("bad {line:?}"))?;
        let status = self.child.wait().map_err(fail("wait"))?;
        if !status.success() {
            return Err(format!("server exited with {status}"));
        }
        Ok(peak)
    }
}

fn read_line(out: &mut BufReader<ChildStdout>) -> Result<String, Failure> {
    let mut line = String::new();
    out.read_line(&mut line).map_err(fail("child stdout"))?;
    if line.is_empty() {
        return Err("server exited early".into());
    }
    Ok(line.trim().to_owned())
}

/// Streams one 1 GiB binary frame (masked 1 MiB at a time), then closes; checks the acks.
fn stream_one_gib(addr: SocketAddr) -> Result<(), Failure> {
    let (mut s, leftover) = raw::connect(addr, "/")?;
    let r = s.try_clone().map_err(fail("clone"))?;
    let reader = thread::spawn(move || -> Result<u64, Failure> {
        let mut r = Reader::new(r, leftover);
        let mut acked = 0;
        while let Some(f) = r.next_frame()? {
            match f.opcode {
                0x1 => {
                    let text = String::from_utf8(f.payload).map_err(fail("ack"))?;
                    acked += seed::parse_ack(&text).ok_or_else(|| format!("not an ack: {text:?}"))?;
                }
                0x8 => break,
                op => return Err(format!("unexpected opcode {op}")),
            }
        }
        Ok(acked)
    });
    let mut header = Vec::new();
    raw::put_header(&mut header, 0x2, GIB, KEY);
    s.write_all(&header).map_err(fail("write header"))?;
    let mut piece = seed::payload(3, PIECE).to_vec();
    raw::mask(&mut piece, KEY);
    for _ in 0..GIB / PIECE as u64 {
        s.write_all(&piece).map_err(fail("write payload"))?;
    }
    s.write_all(&raw::frame(0x8, &1000u16.to_be_bytes(), KEY)).map_err(fail("write close"))?;
    let acked = reader.join().map_err(|_| Failure::from("reader panicked"))??;
    if acked != GIB {
        return Err(format!("{acked} bytes acknowledged of {GIB}"));
    }
    Ok(())
}

fn streamed(role: &str) -> Result<(), Failure> {
    let server = Server::start(role)?;
    let idle = server.idle_kib;
    stream_one_gib(server.addr)?;
    let peak = server.finish()?;
    println!(
        "memory/{role}: 1 GiB message streamed in: peak RSS {peak} KiB ({:.2} MiB; at start {idle} KiB); target <= 8 MiB: {}",
        peak as f64 / 1024.0,
        if peak <= 8 * 1024 { "met" } else { "MISSED" }
    );
    Ok(())
}

fn idle(role: &str, target_kib: Option<f64>) -> Result<(), Failure> {
    let mut server = Server::start(role)?;
    let mut held = Vec::with_capacity(IDLE + WARM);
    for _ in 0..WARM {
        held.push(raw::connect(server.addr, "/")?.0);
    }
    thread::sleep(Duration::from_millis(500));
    let before = server.rss()?.current_kib;
    for i in 0..IDLE {
        held.push(raw::connect(server.addr, "/").map_err(|e| format!("connection {i}: {e}"))?.0);
    }
    thread::sleep(Duration::from_secs(1));
    let after = server.rss()?.current_kib;
    let per = (after.saturating_sub(before)) as f64 / IDLE as f64;
    let verdict = match target_kib {
        Some(t) if per <= t => format!("; target <= {t} KiB: met"),
        Some(t) => format!("; target <= {t} KiB: MISSED"),
        None => String::new(),
    };
    println!("memory/{role}: {IDLE} idle connections: {per:.2} KiB each (RSS {before} -> {after} KiB){verdict}");
    let _ = server.child.kill();
    let _ = server.child.wait();
    drop(held);
    Ok(())
}

fn parent() -> Result<(), Failure> {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    for role in ["stream-blocking", "stream-async"] {
        if wanted(role) {
            streamed(role)?;
        }
    }
    for (role, target) in [("idle-async", Some(6.0)), ("idle-tungstenite", None)] {
        if wanted(role) {
            idle(role, target)?;
        }
    }
    Ok(())
}
