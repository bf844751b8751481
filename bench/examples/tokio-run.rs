//! Runs the tokio contest's workloads N times, for profilers and syscall counts:
//!
//! ```sh
//! cargo run --release -p wsduplex-bench --example tokio-run -- echo wsduplex-tokio 5
//! cargo run --release -p wsduplex-bench --example tokio-run -- seed tokio-tungstenite 20
//! cargo run --release -p wsduplex-bench --example tokio-run -- seed-tls wsduplex-tokio 20
//! ```

use std::process::ExitCode;
use std::time::Instant;

use wsduplex_bench::tokio_pair::Library;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(what), Some(library)) = (args.first(), args.get(1)) else {
        eprintln!("usage: tokio-run seed|seed-tls|echo tokio-tungstenite|wsduplex-tokio [runs]");
        return ExitCode::from(2);
    };
    let Some(library) = Library::ALL.into_iter().find(|l| l.name() == library) else {
        eprintln!("tokio-run: unknown library {library}");
        return ExitCode::from(2);
    };
    let runs: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(5);
    let start = Instant::now();
    for _ in 0..runs {
        let result = match what.as_str() {
            "seed" => library.seed().map(drop),
            "seed-tls" => library.seed_tls().map(drop),
            "echo" => library.echo().map(drop),
            other => Err(format!("unknown workload {other}")),
        };
        if let Err(e) = result {
            eprintln!("tokio-run: {e}");
            return ExitCode::from(1);
        }
    }
    println!(
        "{what} {}: {runs} runs, {:.1} ms each",
        library.name(),
        start.elapsed().as_secs_f64() * 1e3 / f64::from(runs)
    );
    ExitCode::SUCCESS
}
