//! What the tests of the binaries share: the binaries, and a guard that stops a server.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) const SERVERS: [&str; 3] =
    [env!("CARGO_BIN_EXE_blocking-server"), env!("CARGO_BIN_EXE_async-server"), env!("CARGO_BIN_EXE_tokio-server")];
pub(crate) const CLIENTS: [&str; 3] =
    [env!("CARGO_BIN_EXE_blocking-client"), env!("CARGO_BIN_EXE_async-client"), env!("CARGO_BIN_EXE_tokio-client")];
pub(crate) const DEMOS: [&str; 3] =
    [env!("CARGO_BIN_EXE_blocking-demo"), env!("CARGO_BIN_EXE_async-demo"), env!("CARGO_BIN_EXE_tokio-demo")];

/// Kills the server it holds when dropped.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server binary on an ephemeral loopback port with `args`; its address (host:port)
/// from the line it prints (`listening on ws://...` or `wss://...`).
pub(crate) fn start(bin: &str, args: &[&OsStr]) -> (Server, String) {
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut line).expect("listening line");
    let addr = line.split("://").nth(1).and_then(|s| s.split('/').next()).unwrap_or_else(|| panic!("{line}"));
    (Server(child), addr.to_owned())
}
