//! Autobahn|Testsuite client (fuzzingserver mode): asks for the case count, runs every case
//! as an echo client, then asks the server to write its reports. URL from `AUTOBAHN_URL`.

use wsduplex_demo::seed::{self, Reaction, SeedServer};
use wsduplex_std::{Event, SocketError, connect};

const AGENT: &str = "wsduplex-std";

/// Echoes until the connection is released, with the seed server's streaming echo reactions.
fn echo(url: &str) -> Result<Option<String>, SocketError> {
    let mut ws = connect(url, seed::autobahn_client_config())?;
    let mut app = SeedServer::new("/echo", 1);
    let mut text = None;
    while let Some(event) = ws.recv()? {
        if let Event::Message(wsduplex_std::Message::Text(t)) = &event {
            text.get_or_insert_with(String::new).push_str(t);
        }
        for reaction in app.on_event(&event) {
            let r = match reaction {
                Reaction::Send(m) => ws.send(m),
                Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message),
                Reaction::Close(f) => ws.close(f.code, &f.reason),
            };
            // A case that fails us on purpose may close under our feet: keep reading to the end.
            if let Err(e) = r {
                eprintln!("{url}: {e}");
            }
        }
    }
    Ok(text)
}

fn main() -> Result<(), SocketError> {
    let base = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".into());
    let count: u32 = echo(&format!("{base}/getCaseCount"))?.and_then(|t| t.trim().parse().ok()).ok_or(
        SocketError::Local(wsduplex_std::LocalError::InvalidUrl("no case count from the fuzzing server".into())),
    )?;
    eprintln!("autobahn-client: {count} cases");
    for case in 1..=count {
        if let Err(e) = echo(&format!("{base}/runCase?case={case}&agent={AGENT}")) {
            eprintln!("case {case}: {e}");
        }
    }
    echo(&format!("{base}/updateReports?agent={AGENT}"))?;
    Ok(())
}
