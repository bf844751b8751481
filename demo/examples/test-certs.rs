//! Writes a test CA and a server certificate for `localhost` and `127.0.0.1` (made on the
//! spot with rcgen) into a directory, for trying the binaries over `wss://`:
//!
//! ```text
//! cargo run -p wsduplex-demo --example test-certs -- /tmp/wsduplex-pem
//! cargo run --release -p wsduplex-demo --bin tokio-demo -- \
//!     --tls-cert /tmp/wsduplex-pem/cert.pem --tls-key /tmp/wsduplex-pem/key.pem --tls-ca /tmp/wsduplex-pem/ca.pem
//! ```

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args_os().nth(1).unwrap_or_else(|| "wsduplex-pem".into()));
    std::fs::create_dir_all(&dir)?;
    let files = wsduplex_demo::pki::Pki::new()?.write_files(&dir)?;
    println!("--tls-cert {} --tls-key {} --tls-ca {}", files.cert.display(), files.key.display(), files.ca.display());
    Ok(())
}
