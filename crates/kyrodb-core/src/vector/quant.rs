//! 8-bit scalar quantization (SQ8) of a segment's vectors, used to walk its graph.
//!
//! Each component is stored as one byte, `xᵢ ≈ loᵢ + stepᵢ·cᵢ` with `cᵢ ∈ 0..=255`, where
//! `loᵢ`/`stepᵢ` come from the per-dimension range over the segment's rows. A row of codes
//! is a quarter of the `f32` row and is padded to a whole number of 64-byte lines, so the
//! graph walk — which is bound by fetching rows it has never seen from memory — touches
//! two lines per 100-d row instead of seven. The final candidates are re-ranked with the
//! exact `f32` distance (`segment.rs`), so quantization error moves the beam, never the
//! reported distances.
//!
//! Distances to codes are asymmetric (the query stays `f32`) and need one SIMD pass:
//! - inner product / cosine: `⟨q, x⟩ ≈ Σ qᵢloᵢ + Σ (qᵢstepᵢ)·cᵢ`, so the query becomes the
//!   weights `aᵢ = qᵢ·stepᵢ` and a constant;
//! - squared L2: `Σ (qᵢ − loᵢ − stepᵢcᵢ)² = Σ stepᵢ²·(q'ᵢ − cᵢ)²` with
//!   `q'ᵢ = (qᵢ − loᵢ)/stepᵢ`.
//!
//! Query-side arrays are padded with zeros to a multiple of 16 lanes, so the kernels need
//! no tail handling (the padding bytes of a row are zero and meet zero weights).

use super::aligned::{Aligned, Block};
use super::metric::Metric;
use crate::simd::Kernels;
use crate::storage::slab::Slab;

/// How many of the walk's best candidates (by quantized distance) are re-ranked exactly
/// for a top-`k` search: `k + max(k, 16)`. Measured on GloVe-100 and clustered-128
/// (`docs/decisions/0007-sq8-graph-walk-rerank-2k.md`): re-ranking `2k` gives the recall
/// of re-ranking the whole beam; re-ranking only `k` loses 1.5–4.5 points of recall@10.
pub fn rerank_count(k: usize) -> usize {
    k + k.max(16)
}

/// Whether graph walks score 8-bit codes (the default). `KYRODB_SQ8=off` walks the exact
/// `f32` rows instead — a switch for benchmarks and for ruling quantization out when
/// debugging, read once per process.
pub fn walk_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("KYRODB_SQ8").map_or(true, |v| v != "off"))
}

/// Bytes per row of codes for `dim` components: `dim` rounded up to 64.
pub fn code_stride(dim: usize) -> usize {
    dim.div_ceil(64) * 64
}

fn lanes(dim: usize) -> usize {
    dim.div_ceil(16) * 16
}

/// A segment's vectors quantized to 8 bits per component, in row order.
pub struct Sq8 {
    dim: usize,
    stride: usize,
    /// Per dimension: value of code 0 (`dim` entries).
    lo: Vec<f32>,
    /// Per dimension: value of one code step, `> 0` (`dim` entries).
    step: Vec<f32>,
    codes: Block<u8>,
}

impl std::fmt::Debug for Sq8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sq8({} rows × {} B)", self.codes.len() / self.stride.max(1), self.stride)
    }
}

impl Sq8 {
    /// Quantize `vectors` (row-major, `dim` components per row).
    pub fn encode(vectors: &[f32], dim: usize) -> Sq8 {
        use rayon::prelude::*;
        let n = vectors.len() / dim;
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for row in vectors.chunks_exact(dim) {
            for (i, &x) in row.iter().enumerate() {
                lo[i] = lo[i].min(x);
                hi[i] = hi[i].max(x);
            }
        }
        let step: Vec<f32> = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| {
                let s = (h - l) / 255.0;
                // A constant (or empty) dimension: any positive step encodes it as 0 exactly.
                if s > 0.0 && s.is_finite() {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        if n == 0 {
            lo.iter_mut().for_each(|l| *l = 0.0);
        }
        let stride = code_stride(dim);
        let mut codes = Aligned::<u8>::zeroed(n * stride);
        codes.par_chunks_mut(stride).zip(vectors.par_chunks_exact(dim)).for_each(|(out, row)| {
            for i in 0..dim {
                out[i] = ((row[i] - lo[i]) / step[i]).round().clamp(0.0, 255.0) as u8;
            }
        });
        Sq8 { dim, stride, lo, step, codes: Block::Owned(codes) }
    }

    /// Quantization parameters and codes read from a segment file. `None` when the sizes
    /// do not fit `rows × dim` or a step is not a positive finite number.
    pub fn from_parts(dim: usize, rows: usize, lo: Vec<f32>, step: Vec<f32>, codes: Slab<u8>) -> Option<Sq8> {
        let stride = code_stride(dim);
        let fits = lo.len() == dim && step.len() == dim && codes.len() == rows.checked_mul(stride)?;
        let sane = lo.iter().all(|l| l.is_finite()) && step.iter().all(|s| *s > 0.0 && s.is_finite());
        (fits && sane).then_some(Sq8 { dim, stride, lo, step, codes: Block::Mapped(codes) })
    }

    /// Per-dimension offsets and steps, and the code rows (for writing a segment file).
    pub fn parts(&self) -> (&[f32], &[f32], &[u8]) {
        (&self.lo, &self.step, &self.codes)
    }

    /// Codes of row `u` (`stride` bytes, zero-padded).
    #[inline(always)]
    pub fn row(&self, u: u32) -> &[u8] {
        let s = u as usize * self.stride;
        &self.codes[s..s + self.stride]
    }

    /// Hint the CPU to load row `u`'s codes.
    #[inline(always)]
    pub fn prefetch(&self, u: u32) {
        crate::simd::prefetch(self.row(u), usize::MAX);
    }

    /// Bytes held by the codes and parameters.
    pub fn memory_bytes(&self) -> usize {
        self.codes.len() + self.dim * 8
    }

    /// Prepare a query (in stored form) for distances to codes under `metric`.
    pub fn query(&self, metric: Metric, query: &[f32]) -> Sq8Query {
        let lanes = lanes(self.dim);
        let mut a = vec![0.0f32; lanes];
        match metric {
            Metric::L2 => {
                let mut w = vec![0.0f32; lanes];
                for i in 0..self.dim {
                    a[i] = (query[i] - self.lo[i]) / self.step[i];
                    w[i] = self.step[i] * self.step[i];
                }
                Sq8Query { metric, a, w, constant: 0.0 }
            }
            Metric::Cosine | Metric::InnerProduct => {
                let mut constant = 0.0f32;
                for i in 0..self.dim {
                    a[i] = query[i] * self.step[i];
                    constant += query[i] * self.lo[i];
                }
                Sq8Query { metric, a, w: Vec::new(), constant }
            }
        }
    }
}

/// A query prepared for distances to one [`Sq8`]'s codes.
pub struct Sq8Query {
    metric: Metric,
    /// L2: the query in code units; dot: the query scaled by the steps. Zero-padded.
    a: Vec<f32>,
    /// L2 only: squared steps (zero-padded).
    w: Vec<f32>,
    /// Dot only: `Σ qᵢ·loᵢ`.
    constant: f32,
}

impl Sq8Query {
    /// Approximate distance (same scale as [`Metric::distance`]) to a row of codes.
    #[inline(always)]
    pub fn distance(&self, kernels: &Kernels, codes: &[u8]) -> f32 {
        let d = match self.metric {
            Metric::L2 => kernels.sq8_l2(&self.a, &self.w, codes),
            Metric::Cosine | Metric::InnerProduct => 1.0 - (self.constant + kernels.sq8_dot(&self.a, codes)),
        };
        if d.is_nan() {
            f32::INFINITY
        } else {
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Kernels;

    fn rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * dim)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn distances_to_codes_track_exact_distances_at_every_level() {
        for dim in [1, 7, 16, 100, 128, 129] {
            let v = rows(300, dim, dim as u64);
            let q = Sq8::encode(&v, dim);
            let query = &rows(1, dim, 99)[..];
            for metric in [Metric::L2, Metric::InnerProduct] {
                let pq = q.query(metric, query);
                for k in Kernels::available() {
                    for u in 0..300u32 {
                        let row = &v[u as usize * dim..(u as usize + 1) * dim];
                        let exact = metric.distance(&k, query, row);
                        let approx = pq.distance(&k, q.row(u));
                        // One code step is (4/255) per component: half a step of error each.
                        let tol = match metric {
                            Metric::L2 => 0.05 * dim as f32 + 0.02 * exact,
                            _ => 0.02 * dim as f32,
                        };
                        assert!(
                            (exact - approx).abs() <= tol,
                            "{metric:?} dim {dim} {:?}: {exact} vs {approx}",
                            k.level()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn constant_dimensions_and_empty_sets_encode() {
        let v = vec![3.0f32; 4 * 10];
        let q = Sq8::encode(&v, 10);
        let pq = q.query(Metric::L2, &[3.0; 10]);
        assert_eq!(pq.distance(crate::simd::kernels(), q.row(2)), 0.0);
        let empty = Sq8::encode(&[], 5);
        assert_eq!(empty.memory_bytes(), 40);
    }
}
