//! The core alone, in memory: decoding masked frames (server; binary, and text, which must be
//! validated as UTF-8) and producing them (client), against a plain copy and copy + XOR of the
//! same bytes.
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
    let payload = wsduplex_demo::seed::payload(7, FRAME);
    raw::frame(0x2, &payload, KEY).repeat(FRAMES)
}

/// Text frames of the same size: mixed ASCII, 2-, 3- and 4-byte code points, as JSON with
/// non-English strings would be (RFC 6455 §8.1: every one must be validated).
fn text_wire() -> Vec<u8> {
    let line = "{\"name\":\"κόσμε\",\"note\":\"wsduplex € 𝄞\",\"n\":12345}\n";
    let mut text = line.repeat(FRAME / line.len());
    text.push_str(&"x".repeat(FRAME - text.len()));
    raw::frame(0x1, text.as_bytes(), KEY).repeat(FRAMES)
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

/// The wire, `READ` bytes per read, to tungstenite; what it writes (nothing here) is dropped.
struct Pieces<'a>(&'a [u8]);

impl std::io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(READ).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

impl std::io::Write for Pieces<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// tungstenite's server decoding the same frames (its default configuration), every message
/// handed out.
fn tungstenite_decode(wire: &[u8]) -> usize {
    use tungstenite::protocol::{Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(Pieces(wire), Role::Server, None);
    let mut got = 0;
    while let Ok(m) = ws.read() {
        got += black_box(m).len();
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
    g.bench_function(BenchmarkId::new("tungstenite", "server"), |b| b.iter(|| tungstenite_decode(black_box(&wire))));
    let text = text_wire();
    g.bench_function(BenchmarkId::new("wsduplex", "server-text"), |b| b.iter(|| decode(black_box(&text))));
    g.bench_function(BenchmarkId::new("tungstenite", "server-text"), |b| {
        b.iter(|| tungstenite_decode(black_box(&text)))
    });
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
    let payload = wsduplex_demo::seed::payload(7, FRAME);
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
