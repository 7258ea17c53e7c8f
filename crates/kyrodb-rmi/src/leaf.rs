//! Leaf models: one line per leaf, predicting a position clamped to the leaf's range.

use std::ops::Range;

/// Size in bytes of one serialised leaf record (see the `format` module).
pub const LEAF_RECORD_BYTES: usize = 40;

/// One leaf, laid out exactly like its serialised 40-byte record (on little-endian
/// targets), so a later version can read the leaf array zero-copy from a memory map.
///
/// Prediction: `pred(x) = clamp(trunc_sat(intercept + slope · (x ⊖ base) as f64), first, end)`
/// (`⊖` saturating, `trunc_sat` Rust's saturating `f64 as u64`, equal to `floor` on
/// non-negative values and mapping negatives to 0, below `first` anyway).
/// Window: `pred(x) − err_lo .. min(pred(x) + err_hi + 1, n)` (saturating).
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Leaf {
    /// The leaf's first key (any value for an empty leaf).
    pub(crate) base: u64,
    /// Positions per key unit; finite and `>= 0`.
    pub(crate) slope: f64,
    /// Predicted position at `base` (absolute, may be fractional or negative).
    pub(crate) intercept: f64,
    /// First position of the leaf's range.
    pub(crate) first: u32,
    /// One past the last position of the leaf's range (`first == end` for an empty leaf).
    pub(crate) end: u32,
    /// `max(pred(keys[i]) − i, 0)` over the range (after verification, possibly more).
    pub(crate) err_lo: u32,
    /// `max(i − pred(keys[i]), 0)` over the range (after verification, possibly more).
    pub(crate) err_hi: u32,
}

const _: () = assert!(std::mem::size_of::<Leaf>() == LEAF_RECORD_BYTES);

impl Leaf {
    /// The clamped position prediction. Monotone non-decreasing in `x`: every step
    /// (saturating subtraction, `u64 → f64`, multiplication by `slope >= 0`, addition,
    /// saturating truncation, clamp) is, under round-to-nearest.
    #[inline(always)]
    pub(crate) fn predict(&self, x: u64) -> usize {
        let v = self.intercept + self.slope * x.saturating_sub(self.base) as f64;
        // `max` then `min` rather than `clamp`, which would panic on `first > end`
        // (impossible for a validated leaf, but this must never panic).
        (v as u64).max(u64::from(self.first)).min(u64::from(self.end)) as usize
    }

    /// The search window for `x` in an array of `n` keys; always within `0..=n` when
    /// `end <= n` (which validation guarantees).
    #[inline(always)]
    pub(crate) fn window(&self, x: u64, n: usize) -> Range<usize> {
        let p = self.predict(x);
        let lo = p.saturating_sub(self.err_lo as usize);
        let hi = p.saturating_add(self.err_hi as usize).saturating_add(1).min(n);
        lo..hi
    }

    /// Widens the error bounds so that `window(x)` contains `lb`.
    /// Returns whether anything changed.
    pub(crate) fn widen_to(&mut self, x: u64, lb: usize) -> bool {
        let p = self.predict(x);
        if lb < p && p - lb > self.err_lo as usize {
            self.err_lo = (p - lb) as u32;
            true
        } else if lb > p && lb - p - 1 > self.err_hi as usize {
            self.err_hi = (lb - p - 1) as u32;
            true
        } else {
            false
        }
    }

    /// Fits the leaf for positions `first..end` of `keys` (`first <= end <= keys.len()`,
    /// `keys.len() <= u32::MAX`) and measures its exact error bounds with [`Leaf::predict`].
    pub(crate) fn fit(keys: &[u64], first: usize, end: usize) -> Leaf {
        let range = &keys[first..end];
        let Some(&base) = range.first() else {
            let base = keys.get(first).or(keys.last()).copied().unwrap_or(0);
            return Leaf { base, slope: 0.0, intercept: first as f64, first: first as u32, end: end as u32, ..ZERO };
        };
        let line = fit_line(range, base, 1);
        let mut leaf = Leaf {
            base,
            slope: line.slope,
            intercept: first as f64 + line.intercept,
            first: first as u32,
            end: end as u32,
            err_lo: 0,
            err_hi: 0,
        };
        let (mut lo, mut hi) = (0usize, 0usize);
        for (i, &k) in range.iter().enumerate() {
            let (pos, p) = (first + i, leaf.predict(k));
            lo = lo.max(p.saturating_sub(pos));
            hi = hi.max(pos.saturating_sub(p));
        }
        leaf.err_lo = lo as u32;
        leaf.err_hi = hi as u32;
        leaf
    }
}

const ZERO: Leaf = Leaf { base: 0, slope: 0.0, intercept: 0.0, first: 0, end: 0, err_lo: 0, err_hi: 0 };

/// A line `local position ≈ intercept + slope · (key − base)` and the width
/// `max residual − min residual` of the points it was fitted on.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct LineFit {
    pub(crate) slope: f64,
    pub(crate) intercept: f64,
    pub(crate) width: f64,
}

/// Fits a line to the points `(range[k·step] − base, k·step)` of a non-empty sorted run
/// (`step = 1`: every key; larger steps subsample for cheap estimates).
///
/// Two slopes are tried, least squares (two-pass, centred, so no cancellation) and the
/// endpoint slope; for each the intercept centres the residuals (`mid-range + 0.5`, so the
/// truncation rounds to nearest), and the slope with the smaller residual range (≈ window
/// width) wins. Both residual ranges are measured in one fused pass.
pub(crate) fn fit_line(range: &[u64], base: u64, step: usize) -> LineFit {
    let step = step.max(1);
    let points =
        || range.iter().step_by(step).enumerate().map(move |(k, &key)| ((key - base) as f64, (k * step) as f64));
    let m = range.len().div_ceil(step);
    if m <= 1 {
        return LineFit { slope: 0.0, intercept: 0.5, width: 0.0 };
    }
    let mean_d = points().map(|(d, _)| d).sum::<f64>() / m as f64;
    let mean_p = ((m - 1) * step) as f64 / 2.0;
    let (mut sxy, mut sxx) = (0.0f64, 0.0f64);
    let mut last = (0.0, 0.0);
    for (d, p) in points() {
        let dd = d - mean_d;
        sxy += dd * (p - mean_p);
        sxx += dd * dd;
        last = (d, p);
    }
    let sanitize = |s: f64| if s.is_finite() { s.max(0.0) } else { 0.0 };
    let least_squares = sanitize(if sxx > 0.0 { sxy / sxx } else { 0.0 });
    let endpoints = sanitize(if last.0 > 0.0 { last.1 / last.0 } else { 0.0 });
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for (d, p) in points() {
        let r = [p - least_squares * d, p - endpoints * d];
        for c in 0..2 {
            lo[c] = lo[c].min(r[c]);
            hi[c] = hi[c].max(r[c]);
        }
    }
    let c = usize::from(hi[1] - lo[1] < hi[0] - lo[0]);
    let slope = [least_squares, endpoints][c];
    LineFit { slope, intercept: (lo[c] + hi[c]) / 2.0 + 0.5, width: hi[c] - lo[c] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_exact_on_arithmetic_progression() {
        let keys: Vec<u64> = (0..100).map(|i| 1000 + 7 * i).collect();
        let leaf = Leaf::fit(&keys, 0, 100);
        assert_eq!((leaf.err_lo, leaf.err_hi), (0, 0));
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(leaf.predict(k), i);
        }
    }

    #[test]
    fn empty_leaf_predicts_its_position() {
        let keys = [1u64, 5, 9];
        let leaf = Leaf::fit(&keys, 2, 2);
        assert_eq!(leaf.predict(0), 2);
        assert_eq!(leaf.predict(u64::MAX), 2);
        assert_eq!(leaf.window(7, 3), 2..3);
    }

    #[test]
    fn window_clamped_to_n() {
        let leaf = Leaf { base: 0, slope: 1e300, intercept: 0.0, first: 0, end: 10, err_lo: 3, err_hi: u32::MAX };
        assert_eq!(leaf.window(u64::MAX, 10), 7..10);
        let nan = Leaf { slope: f64::NAN, ..leaf };
        let w = nan.window(5, 10);
        assert!(w.start <= w.end && w.end <= 10);
    }
}
