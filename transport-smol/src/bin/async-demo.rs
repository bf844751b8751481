//! The seed scenario end to end in one process over loopback, on the async transport: a
//! server task acks every 4 MiB; the client streams 1024 x 128 KiB while another task reads
//! the acks, closes with close-output, still receives the final tally, and both sides finish
//! the close handshake.

use std::process::ExitCode;
use std::time::Instant;

use wsduplex_smol::demo;
use wsduplex_smol::seed::{self, ClientArgs, Timeline};

fn main() -> ExitCode {
    let timeline = Timeline::default();
    let start = Instant::now();
    let t = timeline.clone();
    let result = demo::block_on_all_cores(move |ex| {
        let inner = ex.clone();
        ex.spawn(async move {
            let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server_t = t.clone();
            let server = inner.spawn(async move {
                let (stream, _) = listener.accept().await?;
                let ws = wsduplex_smol::accept(stream, demo::server_config(seed::DEFAULT_CHUNK_SIZE)).await?;
                demo::serve(ws, seed::DEFAULT_CHUNK_SIZE, Some((&server_t, start))).await
            });
            let args =
                ClientArgs::parse(&["--url".to_owned(), format!("ws://{addr}/")]).unwrap_or_else(|_| unreachable!());
            println!(
                "wsduplex async demo: {} x {} bytes to ws://{addr}/, an ack every 4 MiB\n",
                args.messages, args.message_size
            );
            let summary = demo::run_client(&inner, &args, true, Some((&t, start))).await;
            Ok::<_, wsduplex_smol::Error>((summary, server.await))
        })
    });
    let (summary, server) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("async-demo: {e}");
            return ExitCode::from(1);
        }
    };
    let server = match &server {
        Ok(o) => o.to_string(),
        Err(e) => e.to_string(),
    };
    match summary {
        Ok(s) => {
            let (report, status) = timeline.demo_report(&s, &server);
            println!("{report}");
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("async-demo: client: {e}");
            ExitCode::from(1)
        }
    }
}
