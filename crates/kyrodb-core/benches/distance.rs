//! Throughput of the distance kernels production calls, at every available SIMD level
//! (`cargo bench -p kyrodb-core --bench distance`), at common embedding dimensions:
//!
//! - `l2sq`, `dot`: the exact `f32` distances (`vector/metric.rs`: L2, and inner product /
//!   cosine on unit vectors) of the exact scan, the re-ranking and the graph build;
//! - `sq8_l2`, `sq8_dot`: the asymmetric 8-bit kernels of the quantized graph walk
//!   (`vector/quant.rs`): `f32` query-side weights padded with zeros to a multiple of 16
//!   lanes, against a row of codes padded to whole 64-byte lines, as the segment stores them.
//!
//! One element is one vector component (`dim` per call; the padding is not counted).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kyrodb_core::simd::Kernels;
use rand::{Rng, SeedableRng};
use std::hint::black_box;

fn kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for dim in [100usize, 128, 384, 768, 1536] {
        let a: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
        // The quantized walk's shapes: weights padded to 16 lanes, codes to 64 bytes.
        let lanes = dim.div_ceil(16) * 16;
        let pad = |v: Vec<f32>| -> Vec<f32> { v.into_iter().chain(std::iter::repeat(0.0)).take(lanes).collect() };
        let q = pad((0..dim).map(|_| rng.gen_range(0.0..255.0)).collect());
        let w = pad((0..dim).map(|_| rng.gen_range(0.0..0.01)).collect());
        let mut codes: Vec<u8> = (0..dim).map(|_| rng.gen()).collect();
        codes.resize(dim.div_ceil(64) * 64, 0);

        let mut group = c.benchmark_group(format!("distance/{dim}"));
        group.throughput(Throughput::Elements(dim as u64));
        for k in Kernels::available() {
            let level = k.level().name();
            group.bench_with_input(BenchmarkId::new("l2sq", level), &k, |bench, k| {
                bench.iter(|| k.l2sq(black_box(&a), black_box(&b)))
            });
            group.bench_with_input(BenchmarkId::new("dot", level), &k, |bench, k| {
                bench.iter(|| k.dot(black_box(&a), black_box(&b)))
            });
            group.bench_with_input(BenchmarkId::new("sq8_l2", level), &k, |bench, k| {
                bench.iter(|| k.sq8_l2(black_box(&q), black_box(&w), black_box(&codes)))
            });
            group.bench_with_input(BenchmarkId::new("sq8_dot", level), &k, |bench, k| {
                bench.iter(|| k.sq8_dot(black_box(&w), black_box(&codes)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
