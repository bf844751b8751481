//! The demo binaries over `wss://` (DESIGN.md "Demo binaries": `--tls-cert`, `--tls-key`,
//! `--tls-ca`), with certificates made here: every client against every server, the seed and
//! the echo; the full seed (1024 x 128 KiB) end to end over TLS in every transport's demo; and
//! what a user gets wrong (a file that is not there, a client that does not trust the CA).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{CLIENTS, DEMOS, SERVERS, Server};

use wsduplex_demo::pki::{PemFiles, Pki};

fn pem_files(dir: &Path) -> PemFiles {
    std::fs::create_dir_all(dir).expect("temp dir");
    Pki::new().expect("CA").write_files(dir).expect("PEM files")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("wsduplex-tls-{name}-{}", std::process::id()))
}

/// Starts a server binary over TLS on an ephemeral port.
fn start(bin: &str, files: &PemFiles) -> (Server, String) {
    common::start(bin, &["--tls-cert".as_ref(), files.cert.as_ref(), "--tls-key".as_ref(), files.key.as_ref()])
}

fn client(bin: &str, url: &str, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("--url").arg(url).args(args);
    if let Some(ca) = ca {
        cmd.arg("--tls-ca").arg(ca);
    }
    cmd.output().expect("run the client")
}

fn json_of(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a line")).expect("JSON")
}

/// Every client binary against every server binary over `wss://`: the seed with its acks and
/// final tally (every byte acknowledged, clean close), then the pipelined echo.
#[test]
fn every_client_against_every_server_over_tls() {
    let dir = temp_dir("matrix");
    let files = pem_files(&dir);
    for server in SERVERS {
        let (_server, addr) = start(server, &files);
        for bin in CLIENTS {
            let out = client(bin, &format!("wss://{addr}/"), Some(&files.ca), &["--messages=64", "--json"]);
            assert!(out.status.success(), "{bin} -> {server}: {out:?}");
            let json = json_of(&out);
            assert_eq!(json["bytes_acked"], json["bytes_sent"], "{json}");
            assert_eq!((json["bytes_sent"].as_u64(), json["close"].as_str()), (Some(64 << 17), Some("clean")));
            let out = client(
                bin,
                &format!("wss://localhost:{}/echo", port(&addr)),
                Some(&files.ca),
                &["--echo", "--messages=64", "--json"],
            );
            assert!(out.status.success(), "{bin} --echo -> {server}: {out:?}");
            assert_eq!(json_of(&out)["close"].as_str(), Some("clean"));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().expect("port")
}

/// The whole seed over `wss://` in each transport's demo: 1024 x 128 KiB from a sender while
/// a reader takes the acks, close-output, the final tally received after our Close, both
/// sides clean. TLS is under both halves at once.
#[test]
fn the_full_seed_over_tls_in_every_demo() {
    let dir = temp_dir("demo");
    let files = pem_files(&dir);
    for demo in DEMOS {
        let out = Command::new(demo)
            .arg("--tls-cert")
            .arg(&files.cert)
            .arg("--tls-key")
            .arg(&files.key)
            .arg("--tls-ca")
            .arg(&files.ca)
            .output()
            .expect("run the demo");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{demo}: {out:?}");
        assert!(stdout.lines().next().is_some_and(|l| l.contains("wss://")), "{stdout}");
        let acks = stdout.lines().filter(|l| *l == "Server got 4194304 bytes").count();
        assert_eq!(acks, 32, "one reply line per 4 MiB of 128 MiB: {stdout}");
        assert!(stdout.lines().any(|l| l == "Server got 0 bytes"), "the final tally: {stdout}");
        assert!(stdout.contains("received after our Close (CloseSent)"), "{stdout}");
        assert!(stdout.trim_end().ends_with("both sides closed cleanly."), "{stdout}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A client that does not trust the server's CA fails the handshake with rustls' reason, at
/// once (exit 1, no hang); TLS files that are not there are a bad value (exit 2) that names
/// the file; a plain `ws://` client on the TLS port fails its handshake too.
#[test]
fn what_users_get_wrong_is_a_clear_error() {
    let dir = temp_dir("wrong");
    let files = pem_files(&dir);
    let (_server, addr) = start(SERVERS[2], &files);
    for bin in CLIENTS {
        let out = client(bin, &format!("wss://{addr}/"), None, &["--messages=1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin}: {out:?}");
        assert!(stderr.contains("invalid peer certificate") && stderr.contains("UnknownIssuer"), "{bin}: {stderr}");
        let out = client(bin, &format!("ws://{addr}/"), None, &["--messages=1"]);
        assert_eq!(out.status.code(), Some(1), "{bin} ws:// on a wss:// port: {out:?}");
        let out = client(bin, &format!("wss://{addr}/"), Some(&dir.join("nope.pem")), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin}: {out:?}");
        assert!(stderr.contains("--tls-ca") && stderr.contains("nope.pem"), "{stderr}");
    }
    for bin in SERVERS {
        let out = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&files.cert)
            .arg("--tls-key")
            .arg(&files.cert) // a certificate is not a key
            .output()
            .expect("run the server");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin}: {out:?}");
        assert!(stderr.contains("key file"), "{bin}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
