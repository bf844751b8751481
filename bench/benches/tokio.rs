//! wsduplex-tokio against tokio-tungstenite, both ends of each pair from one library
//! (`wsduplex_bench::tokio_pair`): the seed stream's wall time and CPU time (user + sys of
//! this process, which runs both ends), plain and over TLS (theirs over tokio-rustls), each
//! timed run interleaved with one of the other library; and the pipelined small-message
//! echo's wall time.
//!
//! `cargo bench -p wsduplex-bench --bench tokio`

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use wsduplex_bench::seed::TOTAL;
use wsduplex_bench::tokio_pair::{ECHO_MESSAGES, Library};

fn seed(library: Library, tls: bool) {
    let result = if tls { library.seed_tls() } else { library.seed() };
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// What one run costs, by one clock.
type Clock = fn(&mut dyn FnMut()) -> Duration;

/// Interleaved: every timed run of one library follows an untimed run of each other one, so
/// the two libraries' samples are taken side by side in time, not minutes apart (this
/// machine's speed drifts by more than the differences measured). Twice the running time.
/// Two groups: wall time, and the process's CPU time (which criterion reports as "time").
fn seed_groups(c: &mut Criterion, name: &str, tls: bool) {
    let others = |library: Library| {
        for other in Library::ALL.into_iter().filter(|&o| o != library) {
            seed(other, tls);
        }
    };
    let clocks: [(&str, Clock); 2] = [
        ("wall", |run| {
            let start = Instant::now();
            run();
            start.elapsed()
        }),
        ("cpu", |run| {
            let start = ProcessTime::now();
            run();
            start.elapsed()
        }),
    ];
    for (clock_name, clock) in clocks {
        let mut g = c.benchmark_group(format!("{name}-{clock_name}"));
        g.throughput(Throughput::Bytes(TOTAL)).sample_size(10).sampling_mode(SamplingMode::Flat);
        g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
        for library in Library::ALL {
            g.bench_function(library.name(), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            others(library);
                            clock(&mut || seed(library, tls))
                        })
                        .sum()
                })
            });
        }
        g.finish();
    }
}

fn tokio_seed(c: &mut Criterion) {
    seed_groups(c, "tokio-seed", false);
}

fn tokio_seed_tls(c: &mut Criterion) {
    seed_groups(c, "tokio-seed-tls", true);
}

fn tokio_echo(c: &mut Criterion) {
    let mut g = c.benchmark_group("tokio-echo");
    g.throughput(Throughput::Elements(ECHO_MESSAGES as u64)).sample_size(10).sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    for library in Library::ALL {
        g.bench_function(library.name(), |b| {
            b.iter(|| {
                if let Err(e) = library.echo() {
                    panic!("{e}");
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, tokio_seed, tokio_seed_tls, tokio_echo);
criterion_main!(benches);
