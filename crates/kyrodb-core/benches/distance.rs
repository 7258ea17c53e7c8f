//! Throughput of every available distance kernel (`cargo bench -p kyrodb-core --bench distance`).
//! Reports elements/s for L2², inner product and cosine at common embedding dimensions.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kyrodb_core::simd::Kernels;
use rand::{Rng, SeedableRng};

fn kernels(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for dim in [100usize, 128, 384, 768, 1536] {
        let a: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut group = c.benchmark_group(format!("distance/{dim}"));
        group.throughput(Throughput::Elements(dim as u64));
        for k in Kernels::available() {
            let level = k.level().name();
            group.bench_with_input(BenchmarkId::new("l2sq", level), &k, |bench, k| {
                bench.iter(|| k.l2sq(std::hint::black_box(&a), std::hint::black_box(&b)))
            });
            group.bench_with_input(BenchmarkId::new("dot", level), &k, |bench, k| {
                bench.iter(|| k.dot(std::hint::black_box(&a), std::hint::black_box(&b)))
            });
            group.bench_with_input(BenchmarkId::new("cosine", level), &k, |bench, k| {
                bench.iter(|| k.cosine(std::hint::black_box(&a), std::hint::black_box(&b)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
