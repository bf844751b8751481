//! For the transports' `tests/sigpipe.rs`: a write to a peer that is gone must be an error,
//! never SIGPIPE. Rust programs ignore the signal, but a library embedded in a program that
//! does not (a C host, a binary built to die on a broken pipe) would be killed by it. A test
//! runs its body in a child process (the test binary again) with the signal's default action
//! restored; the child must end normally.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread::{self, JoinHandle};

const CHILD: &str = "WSDUPLEX_SIGPIPE_CHILD";

/// Runs `body` in a child process whose SIGPIPE kills it, and panics unless the child ends
/// normally. `test` is the calling test's name (the child runs only that test).
pub fn in_child(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        restore_default();
        body();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let status =
        Command::new(exe).args(["--exact", test, "--nocapture"]).env(CHILD, "1").status().expect("child process");
    assert!(status.success(), "the child sending to a closed peer ended with {status}");
}

/// A peer that answers one upgrade and closes at once: its address, and its thread (join it
/// before sending, so the peer is surely gone).
pub fn closed_peer() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let peer = thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        drop(wsduplex_std::accept(s, Default::default()).expect("upgrade"));
    });
    (addr, peer)
}

/// The sizes of the messages sent to the closed peer, small and large in turn (the transports
/// write the two through different paths), until one fails.
pub fn message_sizes() -> impl Iterator<Item = usize> {
    (0..10_000).map(|i| if i % 2 == 0 { 100 } else { 256 << 10 })
}

/// SIGPIPE's default action (death), which the Rust runtime replaced by "ignore" at startup.
#[allow(unsafe_code)] // No safe call sets a signal's disposition; test support only.
fn restore_default() {
    // SAFETY: `signal` with `SIG_DFL` installs no handler (no code runs on the signal), and
    // the child calls it before its test starts any thread.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR, "signal(SIGPIPE, SIG_DFL)");
}
