//! The seed client over the async transport (CLI contract in DESIGN.md): streams in one task
//! while another reads the replies, closes, and checks every byte was acknowledged.

use std::process::ExitCode;

use wsduplex_smol::demo;
use wsduplex_smol::seed::ClientArgs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match ClientArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("async-client: {e}\nusage: async-client {}", ClientArgs::USAGE);
            return ExitCode::from(2);
        }
    };
    let run_args = args.clone();
    let result = demo::block_on_all_cores(move |ex| {
        let inner = ex.clone();
        ex.spawn(async move { demo::run_client(&inner, &run_args, !run_args.json, None).await })
    });
    match result {
        Ok(summary) => {
            let (line, status) = summary.report(args.json);
            println!("{line}");
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("async-client: {e}");
            ExitCode::from(1)
        }
    }
}
