//! Measured sequential read bandwidth of this machine, single thread. Exact search is
//! memory-bound, so benchmarks report its throughput as a fraction of this figure.

use std::time::Instant;

/// Best-of-`rounds` GB/s (10⁹ bytes/s) for summing a `megabytes`-MB buffer of `f32`
/// with the selected SIMD dot kernel (the same loads a scan issues).
pub fn measure_read_gbps(megabytes: usize, rounds: usize) -> f64 {
    let len = (megabytes.max(1) << 20) / 4;
    let data: Vec<f32> = (0..len).map(|i| (i % 7) as f32).collect();
    let ones = vec![1.0f32; 4096];
    let k = super::kernels();
    let mut best = 0.0f64;
    let mut sink = 0.0f32;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        for chunk in data.chunks(4096) {
            sink += k.dot(chunk, &ones[..chunk.len()]);
        }
        let secs = t.elapsed().as_secs_f64();
        best = best.max((len * 4) as f64 / secs / 1e9);
    }
    std::hint::black_box(sink);
    best
}
