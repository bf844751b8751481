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
            if args.json {
                println!("{}", summary.to_json());
            } else {
                println!(
                    "sent {} bytes, acknowledged {} in {} replies, {:.2} s; close: {}",
                    summary.bytes_sent, summary.bytes_acked, summary.acks, summary.elapsed_s, summary.close
                );
            }
            if summary.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("blocking-client: {e}");
            ExitCode::from(1)
        }
    }
}
