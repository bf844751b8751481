//! What the tests of the binaries share: the binaries, and a guard that stops a server.

use std::process::Child;

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
