//! Deterministic data sets and a brute-force oracle shared by the integration tests.
#![allow(dead_code)]

use kyrodb_core::Metric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Gaussian-mixture data ("clustered-128"): `centres` centres, anisotropic noise.
pub fn clustered(n: usize, dim: usize, centres: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cs: Vec<Vec<f32>> = (0..centres).map(|_| (0..dim).map(|_| rng.gen_range(-10.0f32..10.0)).collect()).collect();
    let scale: Vec<f32> = (0..dim).map(|j| 0.5 + 2.0 * ((j * 7919) % 13) as f32 / 13.0).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = &cs[rng.gen_range(0..centres)];
        for j in 0..dim {
            out.push(c[j] + gaussian(&mut rng) * scale[j]);
        }
    }
    out
}

/// GloVe-like data: low-rank structure plus heavy-tailed noise, for cosine.
pub fn glove_like(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rank = 12;
    let basis: Vec<Vec<f32>> = (0..rank).map(|_| (0..dim).map(|_| gaussian(&mut rng)).collect()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let coef: Vec<f32> = (0..rank).map(|r| gaussian(&mut rng) / (1.0 + r as f32 * 0.3)).collect();
        for j in 0..dim {
            let mut x: f32 = coef.iter().zip(&basis).map(|(c, b)| c * b[j]).sum();
            let t = gaussian(&mut rng);
            x += 0.6 * t * t.abs(); // heavy tail
            out.push(x);
        }
    }
    out
}

pub fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.gen_range(1e-7f32..1.0);
    let u2: f32 = rng.gen_range(0.0f32..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// Exact top-k row indices under `metric` (smaller distance first, ties by index).
pub fn brute_force(metric: Metric, data: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<usize> {
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let qn = norm(q);
    let mut d: Vec<(f64, usize)> = data
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| {
            let dot: f64 = v.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum();
            let dist = match metric {
                Metric::L2 => v.iter().zip(q).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum(),
                Metric::InnerProduct => 1.0 - dot,
                Metric::Cosine => 1.0 - dot / (norm(v) * qn),
            };
            (dist, i)
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().take(k).map(|x| x.1).collect()
}

pub fn recall(found: &[u64], truth: &[usize]) -> f64 {
    let hit = truth.iter().filter(|t| found.contains(&(**t as u64))).count();
    hit as f64 / truth.len() as f64
}
pub mod durable;
