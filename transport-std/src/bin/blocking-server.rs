//! The seed server over the blocking transport (CLI contract in DESIGN.md).

use std::net::TcpListener;
use std::process::ExitCode;

use wsduplex_std::demo;
use wsduplex_std::seed::ServerArgs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match ServerArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("blocking-server: {e}\nusage: blocking-server {}", ServerArgs::USAGE);
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("blocking-server: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    if let Ok(addr) = listener.local_addr() {
        eprintln!("blocking-server: listening on ws://{addr}/ (echo on /echo), chunk size {}", args.chunk_size);
    }
    demo::serve_forever(listener, args.chunk_size);
    ExitCode::SUCCESS
}
