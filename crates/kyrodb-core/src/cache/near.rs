//! Near-repeat answers: a search whose query lies close to a cached one is answered from
//! that entry's candidates, but only when the triangle inequality proves that no row
//! outside them could be among the new answer.
//!
//! **The guarantee.** A cached entry for query `q` holds the `k′ > k` best rows its search
//! found and their radius `r` (the `k′`-th distance; `+∞` when fewer than `k′` rows
//! matched). Revalidation keeps it so: a new matching row within `r` of `q`, or a candidate
//! that died, invalidates the entry. For a new query `q′` at Euclidean distance `δ` from
//! `q`, the candidates are re-ranked exactly against `q′`; if the `k`-th of them lies at
//! `d_k(q′) < r − δ`, any row `x` outside the candidates has `d(q′, x) ≥ d(q, x) − δ ≥
//! r − δ > d_k(q′)`, so it cannot enter the top `k`. The answer is then exactly what an
//! exact search over the rows the cached search saw would return; for an exact search (a
//! hot tier, a small or selective segment) it is the exact answer, for a graph search it is
//! as good as the cached search was. Metrics: `l2` (distances are squared Euclidean) and
//! `cosine` (unit vectors: Euclidean distance `√(2·(1 − cos))`); `ip` has no triangle
//! inequality and never gets near answers. Every bound allows for `f32` rounding.
//!
//! **Finding the nearest cached query** without a scan: random-hyperplane signatures
//! (SimHash) in [`TABLES`] tables of [`BITS`] bits; a query probes its own bucket in each
//! table, and the candidates found there are compared exactly (at most
//! [`MAX_PROBED`]). Nearby vectors share a bucket in at least one table with high
//! probability; a query whose neighbour is missed is simply computed (a miss is always
//! safe).

use crate::simd::Kernels;
use crate::vector::Metric;
use std::collections::HashMap;

/// Signature tables.
pub const TABLES: usize = 6;
/// Bits per signature.
pub const BITS: usize = 10;
/// Cached queries compared exactly per near lookup, at most.
pub const MAX_PROBED: usize = 48;

/// Bytes the index holds per entry (its bucket slots and keys), counted in the entry.
pub const BYTES_PER_ENTRY: usize = TABLES * (8 + 4 + 16);

/// Random ±1 hyperplanes for one dimension, `TABLES × BITS` rows of `dim` values.
pub struct Planes {
    dim: usize,
    rows: Box<[f32]>,
}

impl Planes {
    /// The planes for `dim` (deterministic: the same dimension always gets the same).
    pub fn new(dim: usize) -> Planes {
        // splitmix64, seeded by the dimension.
        let mut s = 0x6e65_6172_5f72_6570u64 ^ dim as u64;
        let mut next = move || {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut rows = vec![0f32; TABLES * BITS * dim];
        for chunk in rows.chunks_mut(64) {
            let bits = next();
            for (i, x) in chunk.iter_mut().enumerate() {
                *x = if bits >> i & 1 == 1 { 1.0 } else { -1.0 };
            }
        }
        Planes { dim, rows: rows.into() }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        planes_bytes(self.dim)
    }

    /// The signature of `q` in each table.
    pub fn signatures(&self, kernels: &Kernels, q: &[f32]) -> [u16; TABLES] {
        debug_assert_eq!(q.len(), self.dim);
        let mut out = [0u16; TABLES];
        for (t, sig) in out.iter_mut().enumerate() {
            for b in 0..BITS {
                let row = &self.rows[(t * BITS + b) * self.dim..][..self.dim];
                if kernels.dot(row, q) >= 0.0 {
                    *sig |= 1 << b;
                }
            }
        }
        out
    }
}

/// Bytes of the hyperplanes for `dim`.
pub fn planes_bytes(dim: usize) -> usize {
    TABLES * BITS * dim * 4 + 32
}

/// The bucket keys of a query: its search's group (everything but the query vector) and
/// its signature in each table.
pub fn bucket_keys(group: u64, sigs: &[u16; TABLES]) -> [u64; TABLES] {
    std::array::from_fn(|t| {
        let x = group ^ ((t as u64) << 56 | sigs[t] as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // A final mix so neighbouring signatures do not share hash-map probe sequences.
        (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    })
}

/// Cache slots by bucket key.
#[derive(Default)]
pub struct NearIndex {
    buckets: HashMap<u64, Vec<u32>, foldhash::fast::FixedState>,
}

impl NearIndex {
    /// File `slot` under `keys`.
    pub fn insert(&mut self, slot: u32, keys: &[u64; TABLES]) {
        for k in keys {
            self.buckets.entry(*k).or_default().push(slot);
        }
    }

    /// Remove `slot` from `keys`.
    pub fn remove(&mut self, slot: u32, keys: &[u64; TABLES]) {
        for k in keys {
            if let Some(list) = self.buckets.get_mut(k) {
                if let Some(i) = list.iter().position(|&s| s == slot) {
                    list.swap_remove(i);
                }
                if list.is_empty() {
                    self.buckets.remove(k);
                }
            }
        }
    }

    /// Slots filed under any of `keys` (each once), at most [`MAX_PROBED`].
    pub fn candidates(&self, keys: &[u64; TABLES]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for k in keys {
            for &s in self.buckets.get(k).map_or(&[][..], |v| v.as_slice()) {
                if !out.contains(&s) {
                    out.push(s);
                    if out.len() == MAX_PROBED {
                        return out;
                    }
                }
            }
        }
        out
    }
}

/// Largest relative rounding error of an `f32` distance over `dim` components, with room
/// to spare (`dim` roundings of 2⁻²⁴ each, doubled).
fn rounding(dim: usize) -> f64 {
    2.0 * (dim as f64 + 2.0) * f64::from(f32::EPSILON) / 2.0
}

/// A lower bound of the true Euclidean distance behind metric distance `d`.
fn euclid_low(metric: Metric, dim: usize, d: f32) -> f64 {
    let e = rounding(dim);
    let d = d as f64;
    match metric {
        Metric::L2 => (d * (1.0 - e)).max(0.0).sqrt(),
        // Unit vectors: ‖a − b‖² = 2·(1 − ⟨a, b⟩); the dot product is off by at most e.
        Metric::Cosine => (2.0 * (d - e)).max(0.0).sqrt(),
        Metric::InnerProduct => 0.0,
    }
}

/// An upper bound of the true Euclidean distance behind metric distance `d`, widened by
/// two more rounding errors so a row the bound excludes also loses under the computed
/// distances that rank the answer.
fn euclid_high(metric: Metric, dim: usize, d: f32) -> f64 {
    let e = rounding(dim);
    let d = d as f64;
    match metric {
        Metric::L2 => (d * (1.0 + 3.0 * e)).sqrt(),
        Metric::Cosine => (2.0 * (d + 3.0 * e)).max(0.0).sqrt(),
        Metric::InnerProduct => f64::INFINITY,
    }
}

/// The Euclidean distance between two prepared queries, rounded up.
pub fn query_distance(kernels: &Kernels, a: &[f32], b: &[f32]) -> f64 {
    let d2 = kernels.l2sq(a, b) as f64;
    (d2 * (1.0 + rounding(a.len()))).sqrt()
}

/// Whether a cached search of radius `r` (metric distance), or one that found every
/// matching row (`complete`), proves the re-ranked answer whose `k`-th distance is `dk`
/// exact for a query `delta` (Euclidean) away.
pub fn proves(metric: Metric, dim: usize, complete: bool, r: f32, dk: f32, delta: f64) -> bool {
    if metric == Metric::InnerProduct {
        return false;
    }
    if complete {
        return true;
    }
    // An overflowed distance proves nothing.
    r.is_finite() && dk.is_finite() && euclid_high(metric, dim, dk) + delta < euclid_low(metric, dim, r)
}

/// The largest Euclidean distance between queries that `max` (a metric distance, as the
/// user sets it) allows.
pub fn max_query_distance(metric: Metric, max: f32) -> f64 {
    match metric {
        Metric::L2 => (max as f64).sqrt(),
        Metric::Cosine => (2.0 * max as f64).sqrt(),
        Metric::InnerProduct => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_needs_room_for_the_query_shift() {
        let m = Metric::L2;
        // r = 4 (distance 2), k-th at 1 (distance 1): a shift of up to just under 1 is proven.
        assert!(proves(m, 8, false, 4.0, 1.0, 0.99));
        assert!(!proves(m, 8, false, 4.0, 1.0, 1.0));
        assert!(!proves(m, 8, false, f32::INFINITY, 1.0, 0.0), "an overflowed radius proves nothing");
        assert!(proves(m, 8, true, f32::INFINITY, 100.0, 50.0), "a search that saw every row proves anything");
        assert!(!proves(Metric::InnerProduct, 8, true, 4.0, 0.0, 0.0));
        // Cosine: 1 − cos = 0.5 is Euclidean 1.
        assert!((max_query_distance(Metric::Cosine, 0.5) - 1.0).abs() < 1e-12);
        assert!(proves(Metric::Cosine, 8, false, 0.5, 0.02, 0.7));
        assert!(!proves(Metric::Cosine, 8, false, 0.5, 0.02, 0.85));
    }

    #[test]
    fn nearby_queries_share_a_bucket_and_the_index_forgets_removed_slots() {
        let k = crate::simd::kernels();
        let planes = Planes::new(32);
        let q: Vec<f32> = (0..32).map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5).collect();
        let near: Vec<f32> = q.iter().enumerate().map(|(i, x)| x + if i % 5 == 0 { 0.01 } else { 0.0 }).collect();
        let (a, b) = (planes.signatures(k, &q), planes.signatures(k, &near));
        assert!(a.iter().zip(&b).any(|(x, y)| x == y), "{a:?} vs {b:?}");
        let mut index = NearIndex::default();
        let keys = bucket_keys(7, &a);
        index.insert(3, &keys);
        index.insert(4, &keys);
        assert_eq!(index.candidates(&bucket_keys(7, &b)).len(), 2);
        assert!(index.candidates(&bucket_keys(8, &a)).is_empty(), "another group never matches");
        index.remove(3, &keys);
        assert_eq!(index.candidates(&keys), vec![4]);
        index.remove(4, &keys);
        assert!(index.buckets.is_empty());
    }
}
