//! The seed stream end to end over loopback (1024 × 128 KiB, an ack per 4 MiB, close-output,
//! final tally): wall time (throughput) and CPU time of both ends (user + sys of this process,
//! which runs client and server) for raw TCP, raw TCP + masking (the floor), tungstenite,
//! fastwebsockets and the blocking and smol wsduplex transports. Each twice: with the threads where the scheduler puts them
//! (`seed-wall`, `seed-cpu`), and with client and server pinned to CPUs of their own
//! (`seed-wall-split`, `seed-cpu-split`; see `wsduplex_bench::seed::Placement`).
//!
//! `cargo bench -p wsduplex-bench --bench seed`

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::time::Duration;

use cpu_time::ProcessTime;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use wsduplex_bench::seed::{Contender, Placement, TOTAL};

fn run(c: Contender, placement: Placement) {
    if let Err(e) = c.run(placement) {
        panic!("{e}");
    }
}

fn wall(c: &mut Criterion) {
    for placement in Placement::ALL.into_iter().filter(|p| p.is_available()) {
        let mut g = c.benchmark_group(format!("seed-wall{}", placement.suffix()));
        g.throughput(Throughput::Bytes(TOTAL)).sample_size(10).sampling_mode(SamplingMode::Flat);
        g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
        for contender in Contender::ALL {
            g.bench_function(contender.name(), |b| b.iter(|| run(contender, placement)));
        }
        g.finish();
    }
}

/// Reported as "time" by criterion, but the clock is the process's CPU time: both ends run
/// here, so this is the CPU cost of moving 128 MiB through the whole exchange.
fn cpu(c: &mut Criterion) {
    for placement in Placement::ALL.into_iter().filter(|p| p.is_available()) {
        let mut g = c.benchmark_group(format!("seed-cpu{}", placement.suffix()));
        g.throughput(Throughput::Bytes(TOTAL)).sample_size(10).sampling_mode(SamplingMode::Flat);
        g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
        for contender in Contender::ALL {
            g.bench_function(contender.name(), |b| {
                b.iter_custom(|iters| {
                    let start = ProcessTime::now();
                    for _ in 0..iters {
                        run(contender, placement);
                    }
                    start.elapsed()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, wall, cpu);
criterion_main!(benches);
