//! Writing to a connection the peer has closed is an error, never a signal. A write to a
//! socket whose peer is gone raises SIGPIPE unless it says `MSG_NOSIGNAL`; Rust programs
//! ignore the signal, but a library embedded in a program that does not (a C host, a binary
//! built to die on a broken pipe) would be killed. The test runs itself again as a child
//! process with SIGPIPE's default action restored, and the child must end normally.

use std::net::TcpListener;
use std::process::Command;
use std::thread;

use wsduplex_smol::{Message, connect};

const CHILD: &str = "WSDUPLEX_SIGPIPE_CHILD";

/// Sends, small and large, to a peer that closed right after the upgrade, until a send fails.
fn send_until_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let peer = thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        drop(tungstenite::accept(s).expect("handshake"));
    });
    smol::block_on(async {
        let ws = connect(&format!("ws://{addr}/"), Default::default()).await.expect("connect");
        peer.join().expect("peer");
        for i in 0..10_000 {
            let size = if i % 2 == 0 { 100 } else { 256 << 10 };
            if ws.send(Message::Binary(vec![7u8; size].into())).await.is_err() {
                return;
            }
        }
        panic!("every send to a closed peer succeeded");
    });
}

/// SIGPIPE's default action (death), which the Rust runtime replaced by "ignore" at startup.
#[allow(unsafe_code)] // No safe call sets a signal's disposition; test code only.
fn restore_sigpipe() {
    // SAFETY: `signal` with `SIG_DFL` installs no handler (no code runs on the signal), and
    // the child calls it before it starts any thread.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR, "signal(SIGPIPE, SIG_DFL)");
}

#[test]
fn a_send_to_a_closed_peer_fails_without_a_signal() {
    if std::env::var_os(CHILD).is_some() {
        restore_sigpipe();
        send_until_refused();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let status = Command::new(exe)
        .args(["--exact", "a_send_to_a_closed_peer_fails_without_a_signal", "--nocapture"])
        .env(CHILD, "1")
        .status()
        .expect("child");
    assert!(status.success(), "the child sending to a closed peer ended with {status}");
}
