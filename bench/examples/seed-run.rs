//! Runs the seed exchange N times, for profilers (`perf stat`, `perf record`, callgrind), and
//! any client against any server, to tell which end a cost belongs to:
//!
//! ```sh
//! cargo run --release -p wsduplex-bench --example seed-run -- wsduplex-blocking 40
//! cargo run --release -p wsduplex-bench --example seed-run -- tungstenite:wsduplex-blocking 40
//! ```
//!
//! The first argument is a contender (`raw-tcp`, `raw-tcp-masked`, `tungstenite`,
//! `wsduplex-blocking`, `wsduplex-async`) or `CLIENT:SERVER` with two of the WebSocket ends.

use std::process::ExitCode;
use std::time::Instant;

use wsduplex_bench::seed::{Contender, End, TOTAL, run_pair};

fn end(name: &str) -> Option<End> {
    End::ALL.into_iter().find(|e| e.name() == name)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("");
    let run: Box<dyn Fn() -> Result<u64, String>> = match what.split_once(':') {
        Some((c, s)) => match (end(c), end(s)) {
            (Some(c), Some(s)) => Box::new(move || run_pair(c, s)),
            _ => return usage(),
        },
        None => match Contender::ALL.into_iter().find(|c| c.name() == what) {
            Some(c) => Box::new(move || c.run()),
            None => return usage(),
        },
    };
    let runs: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20).max(1);
    let start = Instant::now();
    for _ in 0..runs {
        if let Err(e) = run() {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let per = start.elapsed() / runs;
    let gib_s = TOTAL as f64 / per.as_secs_f64() / (1u64 << 30) as f64;
    println!("{what}: {runs} runs, {per:?} each, {gib_s:.2} GiB/s");
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    let contenders: Vec<&str> = Contender::ALL.iter().map(|c| c.name()).collect();
    let ends: Vec<&str> = End::ALL.iter().map(|e| e.name()).collect();
    eprintln!("usage: seed-run {{{}|CLIENT:SERVER}} [runs]   (ends: {})", contenders.join("|"), ends.join(", "));
    ExitCode::from(2)
}
