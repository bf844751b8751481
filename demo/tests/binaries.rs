//! The demo binaries as other tools drive them (DESIGN.md "Demo binaries"): the command-line
//! contract, a closed stdout, the JSON summary, and one `async-server` and one `tokio-server`
//! each serving 1 000 concurrent clients.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{CLIENTS, DEMOS, SERVERS, Server, start};

use wsduplex_demo::on_smol;
use wsduplex_demo::seed::SeedClient;
use wsduplex_smol::{SocketConfig, connect};

fn run<T: Send + 'static>(f: impl FnOnce(Arc<smol::Executor<'static>>) -> smol::Task<T>) -> T {
    on_smol::block_on_all_cores(f)
}

/// One `async-server` process, 1 000 clients connected at once, each streaming 64 x 16 KiB
/// with a 256 KiB chunk: every client is acknowledged exactly and closes cleanly.
#[test]
fn one_async_server_serves_a_thousand_concurrent_clients() {
    a_thousand_concurrent_clients_on(env!("CARGO_BIN_EXE_async-server"));
}

/// The same on one `tokio-server` process.
#[test]
fn one_tokio_server_serves_a_thousand_concurrent_clients() {
    a_thousand_concurrent_clients_on(env!("CARGO_BIN_EXE_tokio-server"));
}

fn a_thousand_concurrent_clients_on(bin: &str) {
    const CLIENTS: usize = 1000;
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--chunk-size=262144"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut line).expect("listening line");
    let server = Server(child);
    let addr = line.split("ws://").nth(1).and_then(|s| s.split('/').next()).expect("address").to_owned();
    assert!(TcpStream::connect(&addr).is_ok());
    let t0 = Instant::now();
    let results = run(move |ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let barrier = Arc::new(async_lock::Barrier::new(CLIENTS));
            let connecting = Arc::new(async_lock::Semaphore::new(100));
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let (barrier, connecting, addr, ex2) =
                        (barrier.clone(), connecting.clone(), addr.clone(), inner.clone());
                    inner.spawn(async move {
                        let ws = {
                            let _permit = connecting.acquire().await;
                            connect(&format!("ws://{addr}/"), SocketConfig::default()).await?
                        };
                        barrier.wait().await; // all 1 000 are connected now
                        let (tx, rx) = ws.split();
                        let mut book = SeedClient::new(false, 16 << 10);
                        let payload = book.message(0);
                        let reader = ex2.spawn(async move {
                            while let Some(e) = rx.recv().await? {
                                book.on_event(&e);
                            }
                            Ok::<_, wsduplex_smol::SocketError>(book)
                        });
                        for _ in 0..64 {
                            tx.send_binary(payload.clone()).await?;
                        }
                        tx.close(1000, "").await?;
                        let book = reader.await?;
                        Ok::<_, wsduplex_smol::SocketError>(book.summary(
                            tx.stats(),
                            tx.outcome().as_ref(),
                            Duration::ZERO,
                            None,
                        ))
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await);
            }
            out
        })
    });
    let elapsed = t0.elapsed();
    drop(server);
    let mut failures = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(s) if s.passed() && s.acks == 5 && s.bytes_acked == 64 * (16 << 10) => {}
            other => failures.push(format!("client {i}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{} of {CLIENTS} failed, first: {:?}", failures.len(), failures.first());
    eprintln!("{bin}: 1000 concurrent clients x 1 MiB, all acked exactly and closed clean, in {elapsed:?}");
}

fn output(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run the binary")
}

/// Every client against every server, `--json` and `--flag=value`: exit 0, and the last line
/// of stdout is the contract's JSON object with every byte acknowledged and a clean close;
/// then the same pair with `--echo`.
#[test]
fn every_client_against_every_server_ends_with_the_json_summary() {
    for server in SERVERS {
        let (_server, addr) = start(server, &[]);
        for client in CLIENTS {
            let url = format!("--url=ws://{addr}/");
            let out = output(client, &[&url, "--messages=64", "--json"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{client} -> {server}: {out:?}");
            let json: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("JSON");
            assert_eq!(json["bytes_acked"], json["bytes_sent"], "{json}");
            assert_eq!((json["bytes_sent"].as_u64(), json["close"].as_str()), (Some(64 << 17), Some("clean")));
            // The pipelined echo: the client's reader must run while it sends, or both ends
            // wait on full buffers.
            let url = format!("--url=ws://{addr}/echo");
            let out = output(client, &[&url, "--echo", "--messages=64", "--json"]);
            assert!(out.status.success(), "{client} --echo -> {server}: {out:?}");
        }
    }
}

/// `--help` and `--version` exit 0; an unknown flag, a bad value or a flag whose feature is
/// not built yet is one line on stderr and exit 2.
#[test]
fn every_binary_keeps_the_command_line_contract() {
    for bin in SERVERS.into_iter().chain(CLIENTS).chain(DEMOS) {
        for ok in ["--help", "--version"] {
            let out = output(bin, &[ok]);
            assert!(out.status.success() && !out.stdout.is_empty(), "{bin} {ok}: {out:?}");
        }
        for bad in [&["--bogus"][..], &["--chunk-size", "lots"], &["--deflate=yes"]] {
            let out = output(bin, bad);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{bin} {bad:?}: {out:?}");
            assert_eq!(stderr.trim_end().lines().count(), 1, "{bin} {bad:?}: one line, got {stderr:?}");
        }
    }
}

/// `*-demo | head -1`: the demo prints its first line, finds stdout closed, and still runs the
/// seed to its clean close, quietly: exit 0, no panic.
#[test]
fn a_demo_piped_into_head_ends_quietly() {
    for demo in DEMOS {
        let mut child = Command::new(demo)
            .args(["--messages", "256"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the demo");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        assert!(first.starts_with("wsduplex"), "{first:?}");
        drop(stdout); // `head -1` exits
        let status = child.wait().expect("demo ends");
        let mut stderr = String::new();
        child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
        assert!(status.success(), "{demo}: {status:?} {stderr}");
        assert!(!stderr.contains("panicked"), "{demo}: {stderr}");
    }
}

/// The full demo, as the README runs it: the replies, the close timeline with the final tally
/// received in CloseSent, and the verdict.
#[test]
fn the_demo_reports_the_final_tally_after_our_close() {
    for demo in DEMOS {
        let out = output(demo, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{demo}: {out:?}");
        let acks = stdout.lines().filter(|l| *l == "Server got 4194304 bytes").count();
        assert_eq!(acks, 32, "one reply line per 4 MiB of 128 MiB: {stdout}");
        assert!(stdout.lines().any(|l| l == "Server got 0 bytes"), "the final tally: {stdout}");
        assert!(stdout.contains("received after our Close (CloseSent)"), "{stdout}");
        assert!(stdout.trim_end().ends_with("both sides closed cleanly."), "{stdout}");
    }
}
