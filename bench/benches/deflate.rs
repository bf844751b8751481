//! permessage-deflate: which DEFLATE implementation, measured (issue 18 item 2). The work of
//! one connection's compressor and decompressor: 1 000 messages of JSON lines (~1 KiB each,
//! `text_stream::message`), each compressed with a sync flush and the context kept (RFC 7692
//! §7.2.1 with context takeover), then all inflated the same way. Both candidates are pure
//! Rust: flate2 over zlib-rs (zlib's API, window bits 9-15) and miniz_oxide (flate2's default
//! backend; a 15-bit window only).
//!
//! ```sh
//! cargo bench -p wsduplex-bench --bench deflate
//! ```
#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};
use wsduplex_bench::text_stream::message;

const MESSAGES: usize = 1000;

fn zlib_rs_compress(texts: &[String], level: u32) -> Vec<Vec<u8>> {
    let mut c = Compress::new_with_window_bits(Compression::new(level), false, 15);
    texts
        .iter()
        .map(|t| {
            let mut out = Vec::with_capacity(t.len() + 64);
            c.compress_vec(t.as_bytes(), &mut out, FlushCompress::Sync).expect("compress");
            out
        })
        .collect()
}

fn zlib_rs_inflate(compressed: &[Vec<u8>]) -> usize {
    let mut d = Decompress::new_with_window_bits(false, 15);
    let mut out = vec![0u8; 64 << 10];
    compressed
        .iter()
        .map(|c| {
            let before = d.total_out();
            d.decompress(c, &mut out, FlushDecompress::Sync).expect("inflate");
            (d.total_out() - before) as usize
        })
        .sum()
}

fn miniz_compress(texts: &[String], level: i32) -> Vec<Vec<u8>> {
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(level, -15, 0));
    texts
        .iter()
        .map(|t| {
            let mut out = vec![0u8; t.len() + 64];
            let r = miniz_oxide::deflate::stream::deflate(&mut c, t.as_bytes(), &mut out, MZFlush::Sync);
            out.truncate(r.bytes_written);
            out
        })
        .collect()
}

fn miniz_inflate(compressed: &[Vec<u8>]) -> usize {
    let mut d = InflateState::new_boxed(DataFormat::Raw);
    let mut out = vec![0u8; 64 << 10];
    compressed
        .iter()
        .map(|c| miniz_oxide::inflate::stream::inflate(&mut d, c, &mut out, MZFlush::Sync).bytes_written)
        .sum()
}

fn codecs(c: &mut Criterion) {
    let texts: Vec<String> = (0..MESSAGES).map(message).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    for level in [1, 6] {
        let a = zlib_rs_compress(&texts, level);
        let b = miniz_compress(&texts, level as i32);
        let size = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>();
        assert_eq!((zlib_rs_inflate(&a), miniz_inflate(&b)), (bytes, bytes), "both round-trip");
        eprintln!(
            "level {level}: {bytes} B -> zlib-rs {} B ({:.3}), miniz_oxide {} B ({:.3})",
            size(&a),
            size(&a) as f64 / bytes as f64,
            size(&b),
            size(&b) as f64 / bytes as f64
        );
        let mut g = c.benchmark_group(format!("deflate-compress-level{level}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("zlib-rs", |bench| bench.iter(|| zlib_rs_compress(&texts, level)));
        g.bench_function("miniz_oxide", |bench| bench.iter(|| miniz_compress(&texts, level as i32)));
        g.finish();
        if level == 1 {
            let mut g = c.benchmark_group("deflate-inflate");
            g.throughput(Throughput::Bytes(bytes as u64));
            g.bench_function("zlib-rs", |bench| bench.iter(|| zlib_rs_inflate(&a)));
            g.bench_function("miniz_oxide", |bench| bench.iter(|| miniz_inflate(&b)));
            g.finish();
        }
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
