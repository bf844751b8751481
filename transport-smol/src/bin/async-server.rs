//! The seed server over the async transport (CLI contract in DESIGN.md): one task per
//! connection, on an executor with a thread per core.

use std::process::ExitCode;

use wsduplex_smol::demo;
use wsduplex_smol::seed::ServerArgs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match ServerArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("async-server: {e}\nusage: async-server {}", ServerArgs::USAGE);
            return ExitCode::from(2);
        }
    };
    let listener = match smol::block_on(async_net::TcpListener::bind(args.listen.as_str())) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("async-server: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    if let Ok(addr) = listener.local_addr() {
        eprintln!("async-server: listening on ws://{addr}/ (echo on /echo), chunk size {}", args.chunk_size);
    }
    demo::block_on_all_cores(|ex| ex.spawn(demo::serve_forever(ex.clone(), listener, args.chunk_size)));
    ExitCode::SUCCESS
}
