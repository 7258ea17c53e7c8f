//! Deterministic key-set generators shared by the tests, the benchmark and the report
//! example (included with `#[path]`). Every set is sorted and duplicate-free.

#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The benchmark key distributions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeySet {
    /// Sequential keys with random gaps of 1..=3.
    UniformDense,
    /// Uniformly random `u64`s.
    UniformSparse,
    /// `⌊1e9 · e^{N(0, 2²)}⌋` (the SOSD "lognormal" shape).
    Lognormal,
    /// `⌊2⁶³ + 2⁵⁰ · N(0, 1)⌋`.
    Normal,
    /// 100 dense clusters (gaps 1..=3) at random places in the `u64` range.
    Clustered,
}

impl KeySet {
    /// Every set, in report order.
    pub const ALL: [KeySet; 5] =
        [KeySet::UniformDense, KeySet::UniformSparse, KeySet::Lognormal, KeySet::Normal, KeySet::Clustered];

    /// Short name for tables and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            KeySet::UniformDense => "uniform_dense",
            KeySet::UniformSparse => "uniform_sparse",
            KeySet::Lognormal => "lognormal",
            KeySet::Normal => "normal",
            KeySet::Clustered => "clustered",
        }
    }

    /// About `n` sorted unique keys (exactly `n` except when the distribution cannot
    /// produce that many distinct values), from a fixed `seed`.
    pub fn generate(self, n: usize, seed: u64) -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(seed);
        match self {
            KeySet::UniformDense => dense_run(&mut rng, 0, n),
            KeySet::UniformSparse => sampled(&mut rng, n, |r| r.gen::<u64>()),
            KeySet::Lognormal => sampled(&mut rng, n, |r| (1e9 * (2.0 * standard_normal(r)).exp()) as u64),
            KeySet::Normal => sampled(&mut rng, n, |r| {
                let v = 9.223_372_036_854_776e18 + 1.125_899_906_842_624e15 * standard_normal(r);
                v as u64
            }),
            KeySet::Clustered => clustered(&mut rng, n, 100),
        }
    }
}

/// A standard normal deviate (Box–Muller).
pub fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` keys starting at `start`, gaps 1..=3 (saturating at `u64::MAX`, deduplicated).
fn dense_run(rng: &mut StdRng, start: u64, n: usize) -> Vec<u64> {
    let mut k = start;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(k);
        k = k.saturating_add(rng.gen_range(1..=3));
    }
    out.dedup();
    out
}

/// Draws until `n` distinct values (or 4 rounds), then sorts.
fn sampled(rng: &mut StdRng, n: usize, mut draw: impl FnMut(&mut StdRng) -> u64) -> Vec<u64> {
    let mut keys: Vec<u64> = Vec::with_capacity(n);
    for _ in 0..4 {
        let missing = n - keys.len();
        keys.extend((0..missing).map(|_| draw(rng)));
        keys.sort_unstable();
        keys.dedup();
        if keys.len() == n {
            break;
        }
    }
    keys
}

/// `clusters` dense runs at random starting points, sorted and deduplicated.
fn clustered(rng: &mut StdRng, n: usize, clusters: usize) -> Vec<u64> {
    let mut keys = Vec::with_capacity(n);
    for c in 0..clusters {
        let size = n / clusters + usize::from(c < n % clusters);
        let start = rng.gen::<u64>() >> 1;
        keys.extend(dense_run(rng, start, size));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// `count` keys drawn from `keys` uniformly (with repetition), fixed seed.
pub fn queries(keys: &[u64], count: usize, seed: u64) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    if keys.is_empty() {
        return Vec::new();
    }
    (0..count).map(|_| keys[rng.gen_range(0..keys.len())]).collect()
}
