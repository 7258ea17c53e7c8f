//! The distance a collection ranks by. Smaller is always closer:
//!
//! | metric   | distance                          |
//! |----------|-----------------------------------|
//! | `l2`     | squared Euclidean `Σ (qᵢ − vᵢ)²`  |
//! | `cosine` | `1 − cos(q, v)`                   |
//! | `ip`     | `1 − ⟨q, v⟩`                      |
//!
//! Under `cosine`, vectors (stored and query) are normalised to unit length once, on the
//! way in, so every search is an inner product; `get` returns the normalised vector.

use crate::error::{Error, Result};
use crate::simd::Kernels;

/// Distance metric of a collection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance.
    L2,
    /// Cosine distance (vectors stored normalised).
    Cosine,
    /// Inner product, as `1 − ⟨q, v⟩`.
    InnerProduct,
}

impl Metric {
    /// Parse `"l2" | "cosine" | "ip"`.
    pub fn parse(s: &str) -> Result<Metric> {
        match s {
            "l2" => Ok(Metric::L2),
            "cosine" => Ok(Metric::Cosine),
            "ip" => Ok(Metric::InnerProduct),
            other => Err(Error::invalid(format!("unknown metric {other:?}; expected 'l2', 'cosine' or 'ip'"))),
        }
    }

    /// The name accepted by [`Metric::parse`].
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
        }
    }

    /// Distance between a prepared query and a stored row (both already passed through
    /// [`Metric::prepare`]). Never NaN: finite inputs can still overflow (`+∞ + −∞` in an
    /// inner product of huge vectors), and such an incomparable distance ranks as `+∞`,
    /// the farthest possible, instead of wherever the NaN's sign bit would sort it.
    #[inline(always)]
    pub fn distance(self, kernels: &Kernels, query: &[f32], row: &[f32]) -> f32 {
        let d = match self {
            Metric::L2 => kernels.l2sq(query, row),
            Metric::Cosine | Metric::InnerProduct => 1.0 - kernels.dot(query, row),
        };
        if d.is_nan() {
            f32::INFINITY
        } else {
            d
        }
    }

    /// Check a vector (all components finite; non-zero under cosine) and bring it into
    /// stored form in place (unit length under cosine). `what` names it in errors.
    pub fn prepare(self, v: &mut [f32], what: &dyn Fn() -> String) -> Result<()> {
        if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(format!(
                "{} has a non-finite component at index {pos} ({}); vectors must contain only finite numbers",
                what(),
                v[pos]
            )));
        }
        if self == Metric::Cosine {
            let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
            if norm == 0.0 || !norm.is_finite() {
                return Err(Error::invalid(format!(
                    "{} has zero length; cosine distance is undefined for a zero vector",
                    what()
                )));
            }
            // Divide in f64: for a vector of subnormal components, 1/norm overflows f32.
            v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
        }
        Ok(())
    }
}
