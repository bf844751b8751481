//! The text stream of issue 18 (`wsduplex_bench::text_stream`), `runs` times, with
//! permessage-deflate on or off; for `bench/pairs.py` against `bench/python/text_stream.py`:
//!
//! ```sh
//! cargo build --release -p wsduplex-bench --example text-stream
//! python3 bench/pairs.py -n 10 --vs 'python3 bench/python/text_stream.py 20000 1' -- target/release/examples/text-stream on 20000 1
//! python3 bench/pairs.py -n 10 --vs 'target/release/examples/text-stream off 20000 1' -- target/release/examples/text-stream on 20000 1
//! ```
//!
//! Prints one line per run: messages/s, payload and wire bytes, CPU seconds per MiB of payload
//! (this process: both ends).

use std::process::ExitCode;
use std::time::Instant;

use wsduplex_bench::text_stream::{message, run};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let deflate = match args.first().map(String::as_str) {
        Some("on") => true,
        Some("off") => false,
        _ => {
            eprintln!("usage: text-stream on|off [messages] [runs]");
            return ExitCode::from(2);
        }
    };
    let messages: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let runs: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
    let texts: Vec<String> = (0..messages).map(message).collect();
    for _ in 0..runs {
        let (start, cpu) = (Instant::now(), cpu_time::ProcessTime::now());
        let stats = match run(&texts, deflate) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("text-stream: {e}");
                return ExitCode::from(1);
            }
        };
        let (elapsed, cpu) = (start.elapsed().as_secs_f64(), cpu.elapsed().as_secs_f64());
        let mib = stats.sent.payload_bytes as f64 / f64::from(1 << 20);
        println!(
            "wsduplex deflate={deflate}: {messages} msgs in {elapsed:.3} s, {:.0} msgs/s, payload {} B, wire {} B ({:.3}), CPU {:.4} s/MiB",
            messages as f64 / elapsed,
            stats.sent.payload_bytes,
            stats.sent.wire_bytes,
            stats.sent.wire_bytes as f64 / stats.sent.payload_bytes as f64,
            cpu / mib
        );
    }
    ExitCode::SUCCESS
}
