//! The obvious echo server, one task per connection: `cargo run -p wsduplex-tokio --example
//! tokio-echo-server --features rustls -- [ADDR] [CERT.pem KEY.pem]` (with a certificate and its
//! key it serves wss://). It never looks at the peer's Close, and still answers it at once:
//! asking for the next message after it, with nothing else able to send, is the answer.

use tokio::net::TcpListener;
use wsduplex_tokio::{SocketConfig, accept, tls};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().map_or("127.0.0.1:9000", String::as_str);
    let mut config = SocketConfig::default();
    if let [_, cert, key] = &args[..] {
        config.tls_server = Some(tls::server_config(&std::fs::read(cert)?, &std::fs::read(key)?)?);
    }
    let listener = TcpListener::bind(addr).await?;
    eprintln!("echo on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let config = config.clone();
        tokio::spawn(async move {
            let mut ws = accept(stream, config).await?;
            while let Some(message) = ws.recv_message().await? {
                ws.send(message).await?;
            }
            Ok::<_, wsduplex_tokio::SocketError>(())
        });
    }
}
