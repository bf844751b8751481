//! The obvious echo server, one thread per connection: `cargo run -p wsduplex-std --example
//! blocking-echo-server --features rustls -- [ADDR] [CERT.pem KEY.pem]` (with a certificate and its
//! key it serves wss://). It never looks at the peer's Close, and still answers it at once:
//! asking for the next message after it, with nothing else able to send, is the answer.

use std::net::TcpListener;

use wsduplex_std::{SocketConfig, accept, tls};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().map_or("127.0.0.1:9000", String::as_str);
    let mut config = SocketConfig::default();
    if let [_, cert, key] = &args[..] {
        config.tls_server = Some(tls::server_config(&std::fs::read(cert)?, &std::fs::read(key)?)?);
    }
    let listener = TcpListener::bind(addr)?;
    eprintln!("echo on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let (stream, config) = (stream?, config.clone());
        std::thread::spawn(move || {
            let mut ws = accept(stream, config)?;
            while let Some(message) = ws.recv_message()? {
                ws.send(message)?;
            }
            Ok::<_, wsduplex_std::SocketError>(())
        });
    }
    Ok(())
}
