// The Autobahn|Testsuite client (fuzzingserver mode) over an async transport, written once:
// `include!`d by `autobahn-async-client.rs` and `autobahn-tokio-client.rs`, which name the
// transport crate `transport`, its agent `AGENT`, and run `run()` on their runtime.

use transport::{Event, LocalError, Message, SocketError, connect};
use wsduplex_demo::seed::{self, Reaction, SeedServer};

/// Echoes until the connection is released, with the seed server's echo reactions.
async fn echo(url: &str) -> Result<Option<String>, SocketError> {
    let mut ws = connect(url, seed::autobahn_client_config()).await?;
    let mut app = SeedServer::new("/echo", 1);
    let mut text = None;
    while let Some(event) = ws.recv().await? {
    if let Event::Message(Message::Text(t)) = &event {
        text.get_or_insert_with(String::new).push_str(t);
    }
    for reaction in app.on_event(&event) {
        let r = match reaction {
            Reaction::Send(m) => ws.send(m).await,
            Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message).await,
            Reaction::Close(f) => ws.close(f.code, &f.reason).await,
        };
        // A case that fails us on purpose may close under our feet: keep reading to the end.
        if let Err(e) = r {
            eprintln!("{url}: {e}");
        }
    }
    }
    Ok(text)
}

/// Asks for the case count, runs every case as an echo client, then asks the server to write
/// its reports. URL from `AUTOBAHN_URL`.
async fn run() -> Result<(), SocketError> {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".into());
    let count: u32 = echo(&format!("{base}/getCaseCount"))
        .await?
        .and_then(|t| t.trim().parse().ok())
        .ok_or(SocketError::Local(LocalError::InvalidUrl("no case count from the fuzzing server".into())))?;
    eprintln!("autobahn-client: {count} cases");
    for case in 1..=count {
        if let Err(e) = echo(&format!("{base}/runCase?case={case}&agent={AGENT}")).await {
            eprintln!("case {case}: {e}");
        }
    }
    echo(&format!("{base}/updateReports?agent={AGENT}")).await?;
    Ok(())
}
