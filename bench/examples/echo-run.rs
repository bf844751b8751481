//! Runs one pair of the end-to-end echo (`wsduplex_bench::echo_pair`) N times and prints its
//! messages per second and CPU time per message (this process holds both ends), for
//! `bench/pairs.py`, profilers and syscall counts:
//!
//! ```sh
//! cargo run --release -p wsduplex-bench --example echo-run -- wsduplex-std 5
//! strace -f -c target/release/examples/echo-run tungstenite 1
//! ```

use std::process::ExitCode;
use std::time::Instant;

use cpu_time::ProcessTime;
use wsduplex_bench::echo_pair::{MESSAGES, Pair};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(pair) = args.first().and_then(|n| Pair::named(n)) else {
        let names: Vec<_> = Pair::ALL.iter().map(|p| p.name()).collect();
        eprintln!("usage: echo-run {} [runs]", names.join("|"));
        return ExitCode::from(2);
    };
    let runs: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5);
    let (start, cpu) = (Instant::now(), ProcessTime::now());
    for _ in 0..runs {
        if let Err(e) = pair.run() {
            eprintln!("echo-run: {e}");
            return ExitCode::from(1);
        }
    }
    let messages = MESSAGES as f64 * f64::from(runs);
    println!(
        "echo {}: {runs} runs, {:.0} msgs/s, {:.2} us CPU per message",
        pair.name(),
        messages / start.elapsed().as_secs_f64(),
        cpu.elapsed().as_secs_f64() * 1e6 / messages
    );
    ExitCode::SUCCESS
}
