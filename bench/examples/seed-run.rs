//! Runs one seed contender N times, for profilers (`perf stat`, `perf record`, callgrind):
//! `cargo run --release -p wsduplex-bench --example seed-run -- wsduplex-blocking 50`

use std::process::ExitCode;
use std::time::Instant;

use wsduplex_bench::seed::{Contender, TOTAL};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = Contender::ALL.iter().map(|c| c.name()).collect();
    let Some(contender) = args.first().and_then(|a| Contender::ALL.into_iter().find(|c| c.name() == a)) else {
        eprintln!("usage: seed-run {{{}}} [runs]", names.join("|"));
        return ExitCode::from(2);
    };
    let runs: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20);
    let start = Instant::now();
    for _ in 0..runs {
        if let Err(e) = contender.run() {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let per = start.elapsed() / runs;
    let gib_s = TOTAL as f64 / per.as_secs_f64() / (1u64 << 30) as f64;
    println!("{}: {runs} runs, {per:?} each, {gib_s:.2} GiB/s", contender.name());
    ExitCode::SUCCESS
}
