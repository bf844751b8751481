//! The main demo: the seed scenario end to end in one process over loopback. A server thread
//! acks every 4 MiB; the client streams 1024 x 128 KiB while reading the acks, closes with
//! close-output, still receives the final tally, and both sides finish the close handshake.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Instant;

use wsduplex_std::demo;
use wsduplex_std::seed::{self, ClientArgs, Timeline};
use wsduplex_std::{Config, accept_with};

fn main() -> ExitCode {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("blocking-demo: cannot bind loopback: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let timeline = Timeline::default();
    let start = Instant::now();
    let server_timeline = timeline.clone();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let config: Config = demo::server_config(seed::DEFAULT_CHUNK_SIZE);
        let ws = accept_with(stream, config, |_| Ok(Default::default()))?;
        demo::serve(ws, seed::DEFAULT_CHUNK_SIZE, Some((&server_timeline, start)))
    });
    let args = ClientArgs::parse(&["--url".to_owned(), format!("ws://{addr}/")]).unwrap_or_else(|_| unreachable!());
    println!(
        "wsduplex blocking demo: {} x {} bytes to ws://{addr}/, an ack every 4 MiB\n",
        args.messages, args.message_size
    );
    let summary = demo::run_client(&args, true, Some((&timeline, start)));
    let server = server.join().map_err(|_| "server thread panicked".to_owned());
    let server = match &server {
        Ok(Ok(o)) => o.to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.clone(),
    };
    match summary {
        Ok(s) => {
            let (report, status) = timeline.demo_report(&s, &server);
            println!("{report}");
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("blocking-demo: client: {e}");
            ExitCode::from(1)
        }
    }
}
