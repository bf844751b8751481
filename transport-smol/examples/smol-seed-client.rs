//! The seed client: `cargo run -p wsduplex-smol --example smol-seed-client -- [URL]
//! [--deflate]`. This task streams 1024 x 128 KiB while a second task reads the server's
//! replies; then close-output (our Close, and we keep receiving), so the final tally the server
//! sends after our Close still arrives. Checks that the acknowledged total is what was sent.

use wsduplex_smol::{Config, DeflateConfig, Event, Message, SocketConfig, connect};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.iter().find(|a| !a.starts_with("--")).map_or("ws://127.0.0.1:9000/", String::as_str);
    let deflate = args.iter().any(|a| a == "--deflate").then(DeflateConfig::default);
    let config = SocketConfig::default().core(Config::default().deflate(deflate));
    let (tx, rx) = connect(url, config).await?.split();
    let reader = smol::spawn(async move {
        let mut acked = 0u64;
        while let Some(event) = rx.recv().await? {
            if let Event::Message(Message::Text(reply)) = event {
                print!("{reply}");
                acked += reply
                    .trim()
                    .strip_prefix("Server got ")
                    .and_then(|r| r.strip_suffix(" bytes"))
                    .map_or(0, |n| n.parse().unwrap_or(0));
            }
        }
        Ok::<_, wsduplex_smol::SocketError>((acked, rx.outcome()))
    });
    let sent = 1024 * (128 << 10);
    for _ in 0..1024 {
        tx.send(Message::binary(vec![0x5a; 128 << 10])).await?;
    }
    tx.close(1000, "").await?; // close-output: the replies keep coming until the server's Close
    let (acked, outcome) = reader.await?;
    println!("sent {sent}, acknowledged {acked}, {outcome:?}");
    if acked != sent || !outcome.is_some_and(|o| o.is_clean()) {
        return Err("not every byte was acknowledged, or the close was not clean".into());
    }
    Ok(())
}
