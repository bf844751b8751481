//! The seed stream end to end over loopback (1024 × 128 KiB, an ack per 4 MiB, close-output,
//! final tally): wall time (throughput) and CPU time of both ends (user + sys; pinned apart,
//! this process's and the server process's) for raw TCP, raw TCP + masking (the floor), tungstenite,
//! fastwebsockets and the blocking and smol wsduplex transports. Each twice: with the threads where the scheduler puts them
//! (`seed-wall`, `seed-cpu`), and with client and server pinned to CPUs of their own
//! (`seed-wall-split`, `seed-cpu-split`: the server in a process of its own, this binary again;
//! see `wsduplex_bench::seed::Placement`).
//!
//! `cargo bench -p wsduplex-bench --bench seed`

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use wsduplex_bench::seed::{End, Exchange, Placement, TOTAL, end_servers, serve_if_child};

fn run(c: End, placement: Placement) -> Exchange {
    c.run(placement).unwrap_or_else(|e| panic!("{e}"))
}

fn wall(c: &mut Criterion) {
    for placement in Placement::ALL.into_iter().filter(|p| p.is_available()) {
        let mut g = c.benchmark_group(format!("seed-wall{}", placement.suffix()));
        g.throughput(Throughput::Bytes(TOTAL)).sample_size(10).sampling_mode(SamplingMode::Flat);
        g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
        for contender in End::CONTENDERS {
            g.bench_function(contender.name(), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(contender, placement).wall).sum())
            });
        }
        g.finish();
    }
}

/// Reported as "time" by criterion, but the clock is both ends' CPU time: the CPU cost of
/// moving 128 MiB through the whole exchange.
fn cpu(c: &mut Criterion) {
    for placement in Placement::ALL.into_iter().filter(|p| p.is_available()) {
        let mut g = c.benchmark_group(format!("seed-cpu{}", placement.suffix()));
        g.throughput(Throughput::Bytes(TOTAL)).sample_size(10).sampling_mode(SamplingMode::Flat);
        g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
        for contender in End::CONTENDERS {
            g.bench_function(contender.name(), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(contender, placement).cpu).sum())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, wall, cpu);

// `criterion_main!`, after the hook that makes this binary a pinned-apart seed server.
fn main() {
    serve_if_child();
    benches();
    Criterion::default().configure_from_args().final_summary();
    end_servers();
}
