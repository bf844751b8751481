//! The seed server, one task per connection: `cargo run -p wsduplex-tokio --example
//! tokio-seed-server -- [ADDR] [--deflate]`. It acks every 4 MiB received ("Server got
//! 4194304 bytes"); when the client's Close arrives (`CloseReceived`) it still sends the final
//! tally, then its own Close. With `--deflate` it accepts permessage-deflate offers (the acks
//! count the inflated bytes).

use tokio::net::TcpListener;
use wsduplex_tokio::{Config, DeflateConfig, Event, Message, SocketConfig, accept};

const CHUNK: u64 = 4 << 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.iter().find(|a| !a.starts_with("--")).map_or("127.0.0.1:9000", String::as_str);
    let deflate = args.iter().any(|a| a == "--deflate").then(DeflateConfig::default);
    let config = SocketConfig::default().core(Config::default().chunk_size(CHUNK).deflate(deflate));
    let listener = TcpListener::bind(addr).await?;
    eprintln!("seed server on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let config = config.clone();
        tokio::spawn(async move {
            let mut ws = accept(stream, config).await?;
            while let Some(event) = ws.recv().await? {
                match event {
                    Event::ChunkBoundary { .. } => {
                        ws.send(Message::text(format!("Server got {CHUNK} bytes\n"))).await?
                    }
                    // Our side is still open: the final tally goes out before our Close.
                    Event::CloseReceived { remainder, .. } => {
                        ws.send(Message::text(format!("Server got {remainder} bytes\n"))).await?;
                        ws.close(1000, "").await?;
                    }
                    _ => {}
                }
            }
            Ok::<_, wsduplex_tokio::SocketError>(())
        });
    }
}
