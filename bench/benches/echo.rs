//! Small messages: 100 000 × 64 B echoed on one connection, pipelined, by each server under
//! test, against the same raw client. Throughput is in messages per second.
//!
//! `cargo bench -p wsduplex-bench --bench echo`

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use wsduplex_bench::echo::{MESSAGES, Server};

fn echo(c: &mut Criterion) {
    let mut g = c.benchmark_group("echo");
    g.throughput(Throughput::Elements(MESSAGES as u64)).sample_size(10).sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    for server in Server::ALL {
        g.bench_function(server.name(), |b| {
            b.iter(|| {
                if let Err(e) = server.run() {
                    panic!("{}: {e}", server.name());
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, echo);
criterion_main!(benches);
