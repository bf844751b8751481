//! The core alone, in memory: decoding masked frames (server) and producing them (client),
//! against a plain copy and copy + XOR of the same bytes.
//!
//! `cargo bench -p wsduplex-bench --bench core`

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsduplex_bench::raw;
use wsduplex_core::{Config, Connection, Event, SeededKeys, Transmit};

const FRAME: usize = 128 << 10;
const FRAMES: usize = 1024;
const TOTAL: usize = FRAME * FRAMES;
/// What a transport reads at a time (its default read buffer).
const READ: usize = 64 << 10;
const KEY: [u8; 4] = [0xa1, 0x5b, 0x3c, 0x07];

fn wire() -> Vec<u8> {
    let payload = wsduplex_core::seed::payload(7, FRAME);
    raw::frame(0x2, &payload, KEY).repeat(FRAMES)
}

fn decode(wire: &[u8]) -> usize {
    let now = Instant::now();
    let mut conn = Connection::server_established(Config::default(), now);
    let mut got = 0;
    for piece in wire.chunks(READ) {
        conn.handle_input(now, piece);
        while let Some(e) = conn.poll_event() {
            if let Event::Message(m) = e {
                got += black_box(m).len();
            }
        }
    }
    assert_eq!(got, TOTAL, "every payload byte decoded");
    got
}

fn bench_decode(c: &mut Criterion) {
    let wire = wire();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(TOTAL as u64)).sample_size(20);
    g.bench_function(BenchmarkId::new("memcpy", "whole"), |b| {
        let mut dst = vec![0u8; wire.len()];
        b.iter(|| {
            dst.copy_from_slice(black_box(&wire));
            black_box(&dst);
        })
    });
    g.bench_function(BenchmarkId::new("memcpy", "64KiB-pieces"), |b| {
        let mut dst = vec![0u8; READ];
        b.iter(|| {
            for piece in black_box(&wire).chunks(READ) {
                dst[..piece.len()].copy_from_slice(piece);
                black_box(&dst);
            }
        })
    });
    g.bench_function(BenchmarkId::new("wsduplex", "server"), |b| b.iter(|| decode(black_box(&wire))));
    g.finish();
}

fn encode(payload: &Bytes) -> usize {
    let now = Instant::now();
    let mut conn = Connection::client_established(Config::default(), SeededKeys::new(1), now);
    let mut out = 0;
    for _ in 0..FRAMES {
        let r = conn.send_binary(payload.clone());
        assert!(r.is_ok(), "send accepted");
        while let Some(t) = conn.poll_transmit() {
            if let Transmit::Bytes(b) = t {
                out += black_box(b).len();
            }
        }
    }
    assert_eq!(out, FRAMES * (FRAME + 14), "every frame produced");
    out
}

fn bench_encode(c: &mut Criterion) {
    let payload = wsduplex_core::seed::payload(7, FRAME);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(TOTAL as u64)).sample_size(20);
    g.bench_function(BenchmarkId::new("copy+xor", "per-message-buffer"), |b| {
        b.iter(|| {
            for _ in 0..FRAMES {
                let mut m = black_box(&payload[..]).to_vec();
                raw::mask(&mut m, KEY);
                black_box(m);
            }
        })
    });
    g.bench_function(BenchmarkId::new("copy+xor", "reused-buffer"), |b| {
        let mut m = vec![0u8; FRAME];
        b.iter(|| {
            for _ in 0..FRAMES {
                raw::mask_copy(&mut m, black_box(&payload[..]), KEY);
                black_box(&m);
            }
        })
    });
    g.bench_function(BenchmarkId::new("wsduplex", "client"), |b| b.iter(|| encode(black_box(&payload))));
    g.finish();
}

criterion_group!(benches, bench_decode, bench_encode);
criterion_main!(benches);
