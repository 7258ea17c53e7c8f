//! The root model: routes a key to a leaf.
//!
//! `t(x) = min(s(x ⊖ min_key) · inv_range, 1)` (`⊖` saturating) normalises the key to
//! `[0, 1]`, where the scale `s` is either
//!
//! - *plain*: `s(d) = d as f64`, or
//! - *log*: `s(d) = (bits(d as f64 + 1) − bits(1.0)) as f64`, with `bits` the IEEE-754
//!   bit pattern as an integer. Within each binade the bit pattern is linear in the
//!   value, so this is a piecewise-linear `2⁵²·log2(d + 1)`, exactly monotone and cheap
//!   (no `libm` call). It spreads heavy-tailed data (lognormal keys) over the leaves,
//!   where the plain scale crams most keys into a handful of leaves.
//!
//! `inv_range = 1 / s(max_key − min_key)` (0 if that is 0). The leaf is
//! `min(trunc_sat(y(t)), L − 1)` where `y` is a polynomial with the leaf count `L` folded
//! into its coefficients (`y ≈ L · position / n`):
//!
//! - linear: `y = c0 + c1·t` with `c1 >= 0`;
//! - cubic: `y = c0 + t·(c1 + t·(c2 + t·c3))` (Horner), accepted only if its derivative
//!   is `>= 0` on `[0, 1]` (checked analytically with a safety margin, see
//!   [`cubic_is_monotone`]); otherwise the linear root is used.
//!
//! `trunc_sat` is Rust's saturating `f64 as usize` (negative → 0), which equals
//! `clamp(floor(y), 0, ·)` on the values that matter. Both are the design's
//! `clamp(floor(f(t)·L), 0, L−1)` with `f = y / L`.
//!
//! # Monotonicity in floating point
//!
//! Each step of `t(x)` is monotone non-decreasing under round-to-nearest (saturating
//! subtraction, `u64 → f64` conversion, adding 1, the bit pattern of a non-negative float,
//! subtracting `bits(1.0)` from a pattern that is at least that, multiplication by
//! `inv_range >= 0`, `min`), and so
//! is the linear `y` (multiplication by `c1 >= 0`, adding a constant), the truncation and
//! the clamp: **the linear root routes monotonically, exactly.**
//!
//! The cubic is monotone as a real polynomial, but its rounded Horner evaluation need not
//! be: two close `t` can evaluate a few ulps out of order, and if that straddles an integer
//! the routed leaf goes *down* by one. We therefore only rely on the bound
//! `|ŷ(t) − y(t)| <= η` with `η` = [`Root::eta`] (`Σ|cᵢ|·2⁻⁴⁸`, more than four times the
//! classic Horner bound `γ₆·Σ|cᵢ|tⁱ`, `γ₆ ≈ 6·2⁻⁵³`), where `y(t)` is the exact real
//! value (monotone in `x`, since `t(x)` is). The builder widens each leaf's position range
//! by the keys whose routing could be off by `2η` (see `build.rs`); the correctness
//! argument in the crate docs then goes through unchanged. For the linear root `η = 0`.

use crate::error::RmiError;

/// Which polynomial and key scale the root uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RootKind {
    /// `y = c0 + c1·t`, `c1 >= 0`, plain scale. Exactly monotone in floating point.
    Linear,
    /// `y = c0 + c1·t + c2·t² + c3·t³`, derivative `>= 0` on `[0, 1]`, plain scale.
    Cubic,
    /// Linear polynomial on the log scale (see the module docs).
    LogLinear,
    /// Cubic polynomial on the log scale.
    LogCubic,
}

impl RootKind {
    /// Every kind, in serialisation-tag order.
    pub const ALL: [RootKind; 4] = [RootKind::Linear, RootKind::Cubic, RootKind::LogLinear, RootKind::LogCubic];

    /// Stable lower-case name (`"linear"`, `"cubic"`, `"log-linear"`, `"log-cubic"`).
    pub fn name(self) -> &'static str {
        match self {
            RootKind::Linear => "linear",
            RootKind::Cubic => "cubic",
            RootKind::LogLinear => "log-linear",
            RootKind::LogCubic => "log-cubic",
        }
    }

    /// Whether the polynomial is cubic (else linear).
    pub fn is_cubic(self) -> bool {
        matches!(self, RootKind::Cubic | RootKind::LogCubic)
    }

    /// Whether the key is normalised on the log scale (else the plain scale).
    pub fn is_log(self) -> bool {
        matches!(self, RootKind::LogLinear | RootKind::LogCubic)
    }

    /// The linear kind on the same scale.
    pub(crate) fn linear_counterpart(self) -> RootKind {
        if self.is_log() {
            RootKind::LogLinear
        } else {
            RootKind::Linear
        }
    }

    /// Serialised tag (byte 5 of the header).
    pub(crate) fn tag(self) -> u8 {
        match self {
            RootKind::Linear => 0,
            RootKind::Cubic => 1,
            RootKind::LogLinear => 2,
            RootKind::LogCubic => 3,
        }
    }

    /// Inverse of [`RootKind::tag`].
    pub(crate) fn from_tag(tag: u8) -> Option<RootKind> {
        RootKind::ALL.get(usize::from(tag)).copied()
    }
}

/// Bit pattern of `1.0f64`.
const ONE_BITS: u64 = 0x3FF0_0000_0000_0000;

/// The log scale `bits(d as f64 + 1) − bits(1.0)`, monotone in `d`, in `0..=64·2⁵²`.
#[inline(always)]
fn log_scale(d: u64) -> u64 {
    (d as f64 + 1.0).to_bits() - ONE_BITS
}

/// The key scale `s(d)` of the module docs.
#[inline(always)]
fn scale(log: bool, d: u64) -> f64 {
    if log {
        log_scale(d) as f64
    } else {
        d as f64
    }
}

impl std::fmt::Display for RootKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a root polynomial is fitted to the CDF samples `(t, position / n)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FitMethod {
    /// Unconstrained least squares. Fits the bulk best, but where the CDF flattens at the
    /// ends (normal, lognormal) the fit leaves `[0, 1]` early and the clamp crams the tails
    /// into the first and last leaf.
    LeastSquares,
    /// Least squares through the end points: `f(0) = 0` and `f(1) = (n − 1) / n`, so the
    /// whole key range maps onto all leaves (the linear fit is the line through them; the
    /// cubic is `F·t + t(1 − t)(a + b·t)` with `a, b` by least squares).
    Endpoints,
}

impl FitMethod {
    /// Both methods.
    pub const ALL: [FitMethod; 2] = [FitMethod::LeastSquares, FitMethod::Endpoints];

    /// Stable lower-case name (`"lsq"`, `"endpoints"`).
    pub fn name(self) -> &'static str {
        match self {
            FitMethod::LeastSquares => "lsq",
            FitMethod::Endpoints => "endpoints",
        }
    }
}

impl std::fmt::Display for FitMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A root fitted to the CDF with unit scale (`f(t) ≈ position / n`), before the leaf
/// count is folded in.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct RootFit {
    pub(crate) kind: RootKind,
    pub(crate) method: FitMethod,
    pub(crate) min_key: u64,
    pub(crate) inv_range: f64,
    pub(crate) coef: [f64; 4],
}

/// A root ready to route: coefficients scaled by the leaf count.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Root {
    pub(crate) kind: RootKind,
    pub(crate) min_key: u64,
    pub(crate) inv_range: f64,
    pub(crate) coef: [f64; 4],
    /// `L − 1`.
    pub(crate) last_leaf: usize,
}

impl RootFit {
    /// The root for `leaves` leaves (`>= 1`).
    pub(crate) fn scaled(&self, leaves: usize) -> Root {
        let l = leaves as f64;
        let coef = self.coef.map(|c| c * l);
        Root { kind: self.kind, min_key: self.min_key, inv_range: self.inv_range, coef, last_leaf: leaves - 1 }
    }
}

impl Root {
    /// Normalised key in `[0, 1]`.
    #[inline(always)]
    pub(crate) fn t(&self, x: u64) -> f64 {
        if self.kind.is_log() {
            self.t_on::<true>(x)
        } else {
            self.t_on::<false>(x)
        }
    }

    /// [`Root::t`] for a fixed scale.
    #[inline(always)]
    fn t_on<const LOG: bool>(&self, x: u64) -> f64 {
        (scale(LOG, x.saturating_sub(self.min_key)) * self.inv_range).min(1.0)
    }

    /// The unrounded routing value `ŷ(x)`, `≈ L · position / n`.
    ///
    /// One `match` on the kind, then straight-line code for that kind: computing both
    /// scales and selecting with a `cmov` would put the log scale's latency on every
    /// lookup. The branch is perfectly predictable (the kind never changes).
    #[inline(always)]
    pub(crate) fn y(&self, x: u64) -> f64 {
        match self.kind {
            RootKind::Linear => self.y_on::<false, false>(x),
            RootKind::Cubic => self.y_on::<false, true>(x),
            RootKind::LogLinear => self.y_on::<true, false>(x),
            RootKind::LogCubic => self.y_on::<true, true>(x),
        }
    }

    /// [`Root::y`] for a fixed scale and degree.
    #[inline(always)]
    fn y_on<const LOG: bool, const CUBIC: bool>(&self, x: u64) -> f64 {
        let t = self.t_on::<LOG>(x);
        let [c0, c1, c2, c3] = self.coef;
        if CUBIC {
            c0 + t * (c1 + t * (c2 + t * c3))
        } else {
            c0 + t * c1
        }
    }

    /// Leaf for a routing value: `min(trunc_sat(y), L − 1)`; NaN would map to 0.
    #[inline(always)]
    pub(crate) fn leaf_of(&self, y: f64) -> usize {
        (y as usize).min(self.last_leaf)
    }

    /// Leaf index of `x`, in `0..L`.
    #[inline(always)]
    pub(crate) fn leaf(&self, x: u64) -> usize {
        self.leaf_of(self.y(x))
    }

    /// Bound on `|ŷ − y|` (rounded vs exact evaluation at the same `t`); see module docs.
    pub(crate) fn eta(&self) -> f64 {
        if self.kind.is_cubic() {
            self.coef.iter().map(|c| c.abs()).sum::<f64>() * f64::powi(2.0, -48)
        } else {
            0.0
        }
    }

    /// Checks a decoded root: finite parameters, `inv_range >= 0`, and monotone
    /// coefficients for its kind.
    pub(crate) fn validate(&self) -> Result<(), RmiError> {
        if !(self.inv_range.is_finite() && self.inv_range >= 0.0) {
            return Err(RmiError::corrupt("root inv_range is not a finite non-negative number"));
        }
        if !self.coef.iter().all(|c| c.is_finite()) {
            return Err(RmiError::corrupt("root coefficient is not finite"));
        }
        let monotone = if self.kind.is_cubic() {
            cubic_is_monotone_with_margin(&self.coef, DECODE_MARGIN_EXP)
        } else {
            self.coef[1] >= 0.0 && self.coef[2] == 0.0 && self.coef[3] == 0.0
        };
        if !monotone {
            return Err(RmiError::corrupt("root polynomial is not monotone"));
        }
        Ok(())
    }
}

/// Whether `c0 + c1·t + c2·t² + c3·t³` has derivative `q(t) = c1 + 2c2·t + 3c3·t² >= 0`
/// on `[0, 1]`, with margin: the computed minimum of `q` (at `t = 0`, `t = 1` and, for
/// `c3 > 0`, the vertex `−c2 / 3c3` if inside) must be `>= 2⁻⁴⁰·Σ|cᵢ|`, far above the
/// rounding error of computing it, so the exact real derivative is `>= 0`.
pub(crate) fn cubic_is_monotone(coef: &[f64; 4]) -> bool {
    cubic_is_monotone_with_margin(coef, BUILD_MARGIN_EXP)
}

/// Margin exponent of the build-time check.
const BUILD_MARGIN_EXP: i32 = -40;

/// Margin exponent of the decode-time check: half the build margin, so that scaling the
/// coefficients by the leaf count (a few ulps of rounding) can never make the decoder
/// reject a root the builder accepted. Still far above rounding, so a decoded cubic is
/// exactly monotone too.
const DECODE_MARGIN_EXP: i32 = -41;

/// [`cubic_is_monotone`] with margin `2^exp · Σ|cᵢ|`.
fn cubic_is_monotone_with_margin(coef: &[f64; 4], exp: i32) -> bool {
    let [_, c1, c2, c3] = *coef;
    let scale: f64 = coef.iter().map(|c| c.abs()).sum();
    if !scale.is_finite() {
        return false;
    }
    let margin = scale * f64::powi(2.0, exp);
    let mut q_min = c1.min(c1 + 2.0 * c2 + 3.0 * c3);
    if c3 > 0.0 {
        let vertex = -c2 / (3.0 * c3);
        if vertex > 0.0 && vertex < 1.0 {
            q_min = q_min.min(c1 - c2 * c2 / (3.0 * c3));
        }
    }
    q_min.is_finite() && q_min >= margin
}

/// The samples the root is fitted on: `(t, position / n)` at up to `max_samples` evenly
/// spaced positions, always including the first and last key.
fn cdf_samples(keys: &[u64], kind: RootKind, inv_range: f64, max_samples: usize) -> Vec<(f64, f64)> {
    let n = keys.len();
    let count = n.min(max_samples.max(2));
    let probe = Root { kind, min_key: keys[0], inv_range, coef: [0.0; 4], last_leaf: 0 };
    (0..count)
        .map(|k| {
            let i = if count <= 1 { 0 } else { (k as u128 * (n - 1) as u128 / (count - 1) as u128) as usize };
            (probe.t(keys[i]), i as f64 / n as f64)
        })
        .collect()
}

/// `inv_range` for a sorted, non-empty key array on `kind`'s scale.
fn inv_range(keys: &[u64], kind: RootKind) -> f64 {
    let range = scale(kind.is_log(), keys[keys.len() - 1] - keys[0]);
    if range > 0.0 {
        1.0 / range
    } else {
        0.0
    }
}

/// Fits a root of `kind` with `method` to the CDF of `keys` (sorted, non-empty) on up to
/// `max_samples` evenly spaced keys. A linear slope is forced `>= 0`, so a linear fit
/// always exists; a cubic gives `None` if its normal equations are singular or the fit
/// is not monotone on `[0, 1]`.
pub(crate) fn fit(keys: &[u64], kind: RootKind, method: FitMethod, max_samples: usize) -> Option<RootFit> {
    let inv_range = inv_range(keys, kind);
    let samples = cdf_samples(keys, kind, inv_range, max_samples);
    let f_end = (keys.len() - 1) as f64 / keys.len() as f64;
    let coef = match (kind.is_cubic(), method) {
        (false, FitMethod::LeastSquares) => {
            let (slope, intercept) = least_squares_line(&samples);
            [intercept, slope, 0.0, 0.0]
        }
        (false, FitMethod::Endpoints) => [0.0, f_end, 0.0, 0.0],
        (true, FitMethod::LeastSquares) => least_squares_cubic(&samples)?,
        (true, FitMethod::Endpoints) => endpoint_cubic(&samples, f_end)?,
    };
    if kind.is_cubic() && !cubic_is_monotone(&coef) {
        return None;
    }
    Some(RootFit { kind, method, min_key: keys[0], inv_range, coef })
}

/// The fits to consider for `kind`: every method that succeeds, or, if none does (a
/// cubic that is never monotone), the linear kind on the same scale.
pub(crate) fn fits_for(keys: &[u64], kind: RootKind, max_samples: usize) -> Vec<RootFit> {
    let fits: Vec<RootFit> = FitMethod::ALL.iter().filter_map(|&m| fit(keys, kind, m, max_samples)).collect();
    if fits.is_empty() && kind.is_cubic() {
        return fits_for(keys, kind.linear_counterpart(), max_samples);
    }
    fits
}

/// Cubic through `(0, 0)` and `(1, f_end)`: `f_end·t + a·t(1 − t) + b·t²(1 − t)` with
/// `a, b` by least squares, returned as power-basis coefficients.
fn endpoint_cubic(points: &[(f64, f64)], f_end: f64) -> Option<[f64; 4]> {
    let (mut s11, mut s12, mut s22, mut r1, mut r2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for &(t, f) in points {
        let (p1, p2) = (t * (1.0 - t), t * t * (1.0 - t));
        let r = f - f_end * t;
        s11 += p1 * p1;
        s12 += p1 * p2;
        s22 += p2 * p2;
        r1 += p1 * r;
        r2 += p2 * r;
    }
    let det = s11 * s22 - s12 * s12;
    if det.is_nan() || det.abs() <= 1e-300 {
        return None;
    }
    let a = (r1 * s22 - r2 * s12) / det;
    let b = (s11 * r2 - s12 * r1) / det;
    let coef = [0.0, f_end + a, b - a, -b];
    coef.iter().all(|c| c.is_finite()).then_some(coef)
}

/// Least-squares line through `(t, f)` points: `(slope, intercept)`, slope `>= 0`.
fn least_squares_line(points: &[(f64, f64)]) -> (f64, f64) {
    let m = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / m;
    let mean_f = points.iter().map(|p| p.1).sum::<f64>() / m;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(t, f) in points {
        sxy += (t - mean_t) * (f - mean_f);
        sxx += (t - mean_t) * (t - mean_t);
    }
    let slope = if sxx > 0.0 { (sxy / sxx).max(0.0) } else { 0.0 };
    let slope = if slope.is_finite() { slope } else { 0.0 };
    (slope, mean_f - slope * mean_t)
}

/// Least-squares cubic through `(t, f)` points via the 4×4 normal equations.
fn least_squares_cubic(points: &[(f64, f64)]) -> Option<[f64; 4]> {
    let mut a = [[0.0f64; 5]; 4];
    for &(t, f) in points {
        let pow = [1.0, t, t * t, t * t * t];
        for (r, row) in a.iter_mut().enumerate() {
            for c in 0..4 {
                row[c] += pow[r] * pow[c];
            }
            row[4] += pow[r] * f;
        }
    }
    solve4(a)
}

/// Gaussian elimination with partial pivoting on an augmented 4×5 matrix.
fn solve4(mut a: [[f64; 5]; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let pivot = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        let p = a[pivot][col].abs();
        if p.is_nan() || p <= 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for row in a.iter_mut().skip(col + 1) {
            let factor = row[col] / pivot_row[col];
            for (v, &q) in row.iter_mut().zip(&pivot_row).skip(col) {
                *v -= factor * q;
            }
        }
    }
    let mut x = [0.0f64; 4];
    for r in (0..4).rev() {
        let tail: f64 = (r + 1..4).map(|c| a[r][c] * x[c]).sum();
        x[r] = (a[r][4] - tail) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_check_accepts_and_rejects() {
        assert!(cubic_is_monotone(&[0.0, 1.0, 0.0, 0.0]));
        // (t − 1)³ + 1: q = 3(t − 1)² touches 0 at t = 1, inside the safety margin.
        assert!(!cubic_is_monotone(&[0.0, 3.0, -3.0, 1.0]));
        // q(t) = 1 − 6t + 6t² dips to −0.5 at t = 1/2.
        assert!(!cubic_is_monotone(&[0.0, 1.0, -3.0, 2.0]));
        assert!(!cubic_is_monotone(&[0.0, -0.1, 0.0, 1.0]));
        assert!(cubic_is_monotone(&[0.1, 0.5, 0.5, 0.1]));
    }

    /// `a + b` as an unevaluated sum `(s, e)`, exactly.
    fn two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }

    /// `(hi, lo)·t + c` in double-double arithmetic (~106-bit accurate).
    fn dd_mul_add(hi: f64, lo: f64, t: f64, c: f64) -> (f64, f64) {
        let p = hi * t;
        let pe = hi.mul_add(t, -p) + lo * t;
        let (s, e) = two_sum(p, c);
        two_sum(s, e + pe)
    }

    /// The rounded Horner evaluation stays within `η` of the (double-double) exact value,
    /// and is sometimes non-monotone — which is why `η` exists.
    #[test]
    fn horner_error_within_eta() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut wobbles = 0;
        for round in 0..200 {
            // Monotone cubics `L·(a·t + b·t² + c·t³)`-like with mixed signs.
            let leaves = [1e3, 1e6, 5e7][round % 3];
            let coef = [(next() - 0.5) * 0.1, next() * 2.0, (next() - 0.5) * 1.5, (next() - 0.5) * 0.9];
            let fit =
                RootFit { kind: RootKind::Cubic, method: FitMethod::LeastSquares, min_key: 0, inv_range: 1.0, coef };
            let root = fit.scaled(leaves as usize);
            let eta = root.eta();
            let [c0, c1, c2, c3] = root.coef;
            let mut prev = f64::NEG_INFINITY;
            let mut t = next();
            for _ in 0..2000 {
                let got = c0 + t * (c1 + t * (c2 + t * c3));
                let (h, l) = dd_mul_add(c3, 0.0, t, c2);
                let (h, l) = dd_mul_add(h, l, t, c1);
                let (h, l) = dd_mul_add(h, l, t, c0);
                let err = ((got - h) - l).abs();
                assert!(err <= eta / 4.0, "error {err} vs eta {eta} at t = {t}");
                if cubic_is_monotone(&root.coef) && got < prev {
                    wobbles += 1;
                }
                prev = got;
                t = f64::from_bits(t.to_bits() + 1).min(1.0);
            }
        }
        println!("non-monotone rounded steps seen: {wobbles}");
        // Deterministic (fixed seed): rounded Horner really does step backwards now and
        // then, so monotone routing for the cubic cannot rest on the real polynomial alone.
        assert!(wobbles > 0);
    }

    #[test]
    fn solves_exact_cubic() {
        let pts: Vec<(f64, f64)> = (0..50)
            .map(|i| {
                let t = i as f64 / 49.0;
                (t, 0.1 + 0.2 * t + 0.3 * t * t + 0.4 * t * t * t)
            })
            .collect();
        let c = least_squares_cubic(&pts).expect("well-conditioned");
        for (got, want) in c.iter().zip([0.1, 0.2, 0.3, 0.4]) {
            assert!((got - want).abs() < 1e-9, "{c:?}");
        }
    }
}
