//! The small-message echo end to end (`wsduplex_bench::echo_pair`): both ends from one library,
//! 100 000 × 64 B pipelined by a client that reads the echoes on a second thread or task.
//! Messages per second (wall time), then CPU time (user + sys of this process, which holds
//! both ends) per run.
//!
//! `cargo bench -p wsduplex-bench --bench echo_pair`

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::time::Duration;

use cpu_time::ProcessTime;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use wsduplex_bench::echo_pair::{MESSAGES, Pair};

fn run(pair: Pair) {
    if let Err(e) = pair.run() {
        panic!("{}: {e}", pair.name());
    }
}

fn echo_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("echo-pair-wall");
    g.throughput(Throughput::Elements(MESSAGES as u64)).sample_size(10).sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(6)).warm_up_time(Duration::from_secs(1));
    for pair in Pair::ALL {
        g.bench_function(pair.name(), |b| b.iter(|| run(pair)));
    }
    g.finish();
    // Reported as "time" by criterion, but the clock is the process's CPU time.
    let mut g = c.benchmark_group("echo-pair-cpu");
    g.throughput(Throughput::Elements(MESSAGES as u64)).sample_size(10).sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(6)).warm_up_time(Duration::from_secs(1));
    for pair in Pair::ALL {
        g.bench_function(pair.name(), |b| {
            b.iter_custom(|iters| {
                let start = ProcessTime::now();
                for _ in 0..iters {
                    run(pair);
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, echo_pair);
criterion_main!(benches);
