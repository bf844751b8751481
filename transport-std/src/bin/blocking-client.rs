//! The seed client over the blocking transport (CLI contract in DESIGN.md): streams while a
//! second thread reads the replies, closes, and checks every byte was acknowledged.

use std::process::ExitCode;

use wsduplex_std::demo;
use wsduplex_std::seed::ClientArgs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match ClientArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("blocking-client: {e}\nusage: blocking-client {}", ClientArgs::USAGE);
            return ExitCode::from(2);
        }
    };
    match demo::run_client(&args, !args.json, None) {
        Ok(summary) => {
            let (line, status) = summary.report(args.json);
            println!("{line}");
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("blocking-client: {e}");
            ExitCode::from(1)
        }
    }
}
