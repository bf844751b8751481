//! Runs the seed exchange N times, for profilers (`perf stat`, `perf record`, callgrind), and
//! any client against any server, to tell which end a cost belongs to:
//!
//! ```sh
//! cargo run --release -p wsduplex-bench --example seed-run -- wsduplex-blocking 40
//! cargo run --release -p wsduplex-bench --example seed-run -- tungstenite:wsduplex-blocking 40
//! cargo run --release -p wsduplex-bench --example seed-run -- wsduplex-blocking 40 --split --each
//! ```
//!
//! The first argument is a contender (`raw-tcp`, `raw-tcp-masked`, `tungstenite`,
//! `wsduplex-blocking`, `wsduplex-async`, `fastwebsockets`) or `CLIENT:SERVER` with two of the
//! WebSocket ends (two more servers for diagnosis: `ws-floor`, a minimal server that unmasks in
//! place where it read, and `wsduplex-core-by-hand`, the core without a transport).
//! `--split` runs the server in a process of its own (this binary again), client and server
//! pinned to CPUs of their own (`Placement::Split`); `--each` prints every run's wall time and,
//! on a second line, its CPU time (user + sys of both ends). The summary gives the mean and the
//! spread: single runs are bimodal when the scheduler places the threads (BENCHMARKS.md), so
//! the mean alone says little.

use std::process::ExitCode;

use wsduplex_bench::seed::{End, Exchange, Placement, TOTAL, end_servers, run_pair, serve_if_child};

fn main() -> ExitCode {
    serve_if_child();
    let code = seed_run();
    end_servers();
    code
}

fn seed_run() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |args: &mut Vec<String>, name: &str| {
        let found = args.iter().any(|a| a == name);
        args.retain(|a| a != name);
        found
    };
    let placement = if flag(&mut args, "--split") { Placement::Split } else { Placement::Free };
    let each = flag(&mut args, "--each");
    let what = args.first().map(String::as_str).unwrap_or("");
    let run: Box<dyn Fn() -> Result<Exchange, String>> = match what.split_once(':') {
        Some((c, s)) => match (End::named(c), End::named(s)) {
            (Some(c), Some(s)) => Box::new(move || run_pair(c, s, placement)),
            _ => return usage(),
        },
        None => match End::CONTENDERS.into_iter().find(|c| c.name() == what) {
            Some(c) => Box::new(move || c.run(placement)),
            None => return usage(),
        },
    };
    let runs: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20).max(1);
    let (mut ms, mut cpu_ms) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        match run() {
            Ok(exchange) => {
                ms.push(exchange.wall.as_secs_f64() * 1e3);
                cpu_ms.push(exchange.cpu.as_secs_f64() * 1e3);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if each {
        for line in [&ms, &cpu_ms] {
            let all: Vec<String> = line.iter().map(|m| format!("{m:.1}")).collect();
            println!("{}", all.join(" "));
        }
    }
    let mean = ms.iter().sum::<f64>() / runs as f64;
    let gib_s = TOTAL as f64 / (mean / 1e3) / (1u64 << 30) as f64;
    let (min, median, max) = spread(&mut ms);
    let (cpu_min, cpu_median, cpu_max) = spread(&mut cpu_ms);
    println!(
        "{what}{}: {runs} runs, mean {mean:.1} ms ({gib_s:.2} GiB/s), min {min:.1} / median {median:.1} / max {max:.1} ms; CPU min {cpu_min:.1} / median {cpu_median:.1} / max {cpu_max:.1} ms",
        placement.suffix()
    );
    ExitCode::SUCCESS
}

/// Minimum, median and maximum (sorts `v`, which holds at least one figure).
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn usage() -> ExitCode {
    let contenders: Vec<&str> = End::CONTENDERS.iter().map(|c| c.name()).collect();
    let ends: Vec<&str> = End::all().map(|e| e.name()).collect();
    eprintln!(
        "usage: seed-run {{{}|CLIENT:SERVER}} [runs] [--split] [--each]   (ends: {})",
        contenders.join("|"),
        ends.join(", ")
    );
    ExitCode::from(2)
}
