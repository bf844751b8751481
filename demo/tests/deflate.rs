//! permessage-deflate (RFC 7692) over real loopback sockets against independent peers: python
//! websockets (which negotiates it by default, as browsers do) as client of every server
//! binary and as server of every transport's client; tungstenite, which has no deflate, both ways
//! (our offer declined, its plain handshake served); and the full seed compressed in every
//! transport's demo.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;

use common::{CLIENTS, DEMOS, SERVERS, Server, start};
use wsduplex_std::{Config, DeflateConfig, Message, Outcome, SocketConfig, SocketError, Stats};

const WEBSOCKETS: &str = "websockets==17.4";

/// python websockets, installed once (from PyPI) under the target directory: a fresh machine
/// has Python 3 and pip, not the package.
fn python_path() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(WEBSOCKETS.replace("==", "-"));
        if !dir.join("websockets").exists() {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
                .arg(&dir)
                .arg(WEBSOCKETS)
                .status()
                .expect("python3 runs");
            assert!(status.success(), "pip install {WEBSOCKETS} failed: the tests need Python 3 with pip");
        }
        dir
    })
}

fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/ws_peer.py")
}

fn python(args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg(peer_script()).args(args).env("PYTHONPATH", python_path());
    c
}

fn json_line(text: &str) -> serde_json::Value {
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

fn negotiated(report: &serde_json::Value) -> bool {
    report["extensions"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("PerMessageDeflate"))))
}

#[test]
fn python_websockets_client_against_every_server_binary() {
    for server in SERVERS {
        for (flags, compressed) in [(&["--deflate"][..], true), (&[][..], false)] {
            let flags: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_ref()).collect();
            let (_server, addr) = start(server, &flags);
            let out = python(&["client", &format!("ws://{addr}/echo"), "40"]).output().expect("python runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{server} {flags:?}: {out:?}");
            let report = json_line(&stdout);
            assert_eq!((report["ok"].as_bool(), report["close"].as_u64()), (Some(true), Some(1000)), "{report}");
            assert_eq!(negotiated(&report), compressed, "{server} {flags:?}: {report}");
        }
    }
}

/// python websockets' echo server, on an ephemeral port.
fn python_server() -> (Server, BufReader<std::process::ChildStdout>, u16) {
    let mut child = python(&["server"]).stdout(Stdio::piped()).spawn().expect("python runs");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("listening line");
    let port =
        line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
    (Server(child), out, port)
}

/// What each of our clients sends python websockets' echo server: text that compresses (JSON
/// lines), and bytes.
fn message(i: usize) -> Message {
    if i % 2 == 0 {
        Message::text((0..i * 20).map(|j| format!("{{\"seq\":{j},\"side\":\"buy\"}}\n")).collect::<String>())
    } else {
        Message::binary((0..i * 997).map(|j| (j % 13) as u8).collect::<Vec<u8>>())
    }
}

const MESSAGES: usize = 64;

/// How one transport's client ended, and what it counted.
type Run<'a> = &'a dyn Fn() -> Result<(Outcome, Stats), SocketError>;

/// Every transport's client, compressed and not, against python websockets' server. Each
/// sends a message and reads its echo before the next: python websockets answers a Close at
/// once and drops what its handler had still to send (the naive behaviour wsduplex exists
/// to avoid), so a pipelined client closing after its last send would lose echoes to it,
/// not to us.
#[test]
fn every_transport_client_against_python_websockets_server() {
    let (_server, mut reports, port) = python_server();
    let url = format!("ws://127.0.0.1:{port}/echo");
    for deflate in [true, false] {
        let config = SocketConfig::default().core(Config::default().deflate(deflate.then(DeflateConfig::default)));
        let std_client = || -> Result<(Outcome, Stats), SocketError> {
            let mut ws = wsduplex_std::connect(&url, config.clone())?;
            for i in 0..MESSAGES {
                ws.send(message(i))?;
                assert_eq!(ws.recv_message()?, Some(message(i)), "echo {i}");
            }
            Ok((ws.close_and_wait(1000, "")?, ws.stats()))
        };
        let smol_client = || -> Result<(Outcome, Stats), SocketError> {
            smol::block_on(async {
                let mut ws = wsduplex_smol::connect(&url, config.clone()).await?;
                for i in 0..MESSAGES {
                    ws.send(message(i)).await?;
                    assert_eq!(ws.recv_message().await?, Some(message(i)), "echo {i}");
                }
                Ok((ws.close_and_wait(1000, "").await?, ws.stats()))
            })
        };
        let tokio_client = || -> Result<(Outcome, Stats), SocketError> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let mut ws = wsduplex_tokio::connect(&url, config.clone()).await?;
                for i in 0..MESSAGES {
                    ws.send(message(i)).await?;
                    assert_eq!(ws.recv_message().await?, Some(message(i)), "echo {i}");
                }
                Ok((ws.close_and_wait(1000, "").await?, ws.stats()))
            })
        };
        let runs: [(&str, Run<'_>); 3] = [("std", &std_client), ("smol", &smol_client), ("tokio", &tokio_client)];
        for (name, run) in runs {
            let (outcome, stats) = run().unwrap_or_else(|e| panic!("{name} deflate={deflate}: {e}"));
            assert!(outcome.is_clean(), "{name}: {outcome:?}");
            let mut line = String::new();
            reports.read_line(&mut line).expect("the server's report");
            let report = json_line(&line);
            assert_eq!(report["messages"].as_u64(), Some(MESSAGES as u64), "{report}");
            assert_eq!(negotiated(&report), deflate, "{name}: {report}");
            // Compressed both ways: what crossed the wire is a fraction of the payload.
            let (sent, received) = (stats.sent, stats.received);
            assert_eq!(sent.payload_bytes, received.payload_bytes);
            assert_eq!(deflate, sent.wire_bytes * 3 < sent.payload_bytes, "{name}: {sent:?}");
            assert_eq!(deflate, received.wire_bytes * 3 < received.payload_bytes, "{name}: {received:?}");
        }
    }
}

/// tungstenite has no permessage-deflate: our servers serve its plain handshake, and its
/// server declines our clients' offer by leaving it out; either way the messages go plain.
#[test]
fn tungstenite_without_deflate_is_served_and_declines_our_offer() {
    for server in SERVERS {
        let (_server, addr) = start(server, &["--deflate".as_ref()]);
        let (mut ws, response) = tungstenite::connect(format!("ws://{addr}/echo")).expect("connects");
        assert!(response.headers().get("sec-websocket-extensions").is_none(), "nothing offered, nothing accepted");
        ws.send(tungstenite::Message::text("plain")).expect("send");
        assert_eq!(ws.read().expect("echo"), tungstenite::Message::text("plain"));
        ws.close(None).expect("close");
        while ws.read().is_ok() {}
    }
    for client in CLIENTS {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let echo = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut ws = tungstenite::accept(stream).expect("handshake");
            let mut echoed = 0;
            loop {
                match ws.read() {
                    Ok(m) if m.is_text() || m.is_binary() => {
                        ws.send(m).expect("echo");
                        echoed += 1;
                    }
                    Ok(_) => {}
                    Err(_) => return echoed,
                }
            }
        });
        let url = format!("--url=ws://127.0.0.1:{port}/echo");
        let out = Command::new(client)
            .args([url.as_str(), "--echo", "--messages=16", "--message-size=1000", "--deflate"])
            .output()
            .expect("client runs");
        assert!(out.status.success(), "{client}: {out:?}");
        assert_eq!(echo.join().expect("echo thread"), 16);
    }
}

/// The seed (64 x 128 KiB here; the demos' defaults otherwise), compressed end to end: every
/// byte acknowledged by the inflated count, the final tally after the client's Close.
#[test]
fn the_seed_compressed_in_every_demo() {
    for demo in DEMOS {
        let out = Command::new(demo).args(["--deflate", "--messages=64", "--json"]).output().expect("demo runs");
        assert!(out.status.success(), "{demo}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("after our Close"), "{stdout}");
    }
}
