//! Building a model: root fits, choice of leaf count and root, exact leaf ranges, leaf
//! fits, and a verification pass over the result.
//!
//! # Choosing the leaf count and the root
//!
//! Candidates are `L = n/4, n/8, n/16, n/32, n/64` (rounded down, at least 1, duplicates
//! removed) crossed with the root kinds of [`RootKind::ALL`] (linear and cubic, each on the
//! plain and on the log key scale) and the [`FitMethod`]s (free least squares and least
//! squares through the end points); a cubic fit is a candidate only if it is monotone.
//! Every root fit is first estimated at the middle leaf count (`n/16`), and only those
//! within [`SCREEN_FACTOR`] of the best go on to the other leaf counts.
//! Each combination is *estimated* on [`ESTIMATE_SAMPLES`] keys at evenly
//! spaced positions: each sample's leaf is routed, the leaf's keys are found by binary
//! search on the routing, fitted, and its window `err_lo + err_hi + 1` measured. Sampling
//! by position weights leaves by their key count, so the sample means estimate the mean
//! window over all keys. For each `L` the root fit with the smallest estimated mean window is
//! kept, where a cubic and a log-scale root each must win by [`COSTLIER_ROOT_MARGIN`]
//! (they cost a few more cycles per lookup); among those, `L` minimises
//!
//! `cost(L) = mean(log2 window) + 0.25 · index bytes per key`
//!
//! `log2 window` is the number of binary-search steps the window costs (a proxy for cache
//! lines touched); one more byte per key of index (`40 · L / n`) is worth a quarter step.
//! Halving the keys per leaf typically shrinks windows by about `√2` (half a step) while
//! doubling the index. On the benchmark sets at 1M keys (`examples/rmi_report.rs`) this
//! picks `n/16` leaves (2.5 bytes/key) for uniform, normal and lognormal keys, with mean
//! windows of 4–9 keys and p99 of 7–17 (one or two cache lines), and `n/8` for densely
//! packed keys, whose windows are under 2 keys.
//! [`RmiConfig`] fixes either choice.

use crate::error::RmiError;
use crate::index::window_stats;
use crate::index::Rmi;
use crate::leaf::{fit_line, Leaf, LEAF_RECORD_BYTES};
use crate::root::{self, FitMethod, Root, RootFit, RootKind};
use crate::WindowStats;

/// Keys sampled (evenly spaced) to fit the root's CDF.
pub const ROOT_SAMPLES: usize = 1 << 16;

/// Keys sampled (evenly spaced) to estimate each candidate's mean window.
pub const ESTIMATE_SAMPLES: usize = 2048;

/// Root fits whose (handicapped) estimated mean window at the middle leaf count exceeds
/// the best one's by more than this factor are not estimated at other leaf counts.
pub const SCREEN_FACTOR: f64 = 1.5;

/// Leaves larger than this are estimated on a subsample (see `estimate_window`).
pub const ESTIMATE_MAX_FIT: usize = 256;

/// Divisors of `n` tried as leaf counts.
pub const LEAF_DIVISORS: [usize; 5] = [4, 8, 16, 32, 64];

/// Weight of one index byte per key in the cost, in `log2(window)` units.
pub const BYTES_PER_KEY_WEIGHT: f64 = 0.25;

/// Relative mean-window margin a root must win by per step up in evaluation cost
/// (plain → log scale, linear → cubic).
pub const COSTLIER_ROOT_MARGIN: f64 = 0.03;

/// Build options; `None` fields are chosen automatically (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RmiConfig {
    /// Leaf count; clamped to `1..=max(n, 1)`.
    pub leaves: Option<usize>,
    /// Root kind. A requested cubic whose fit is not monotone falls back to the linear
    /// kind on the same scale ([`Rmi::root_kind`] tells which one was used).
    pub root: Option<RootKind>,
}

/// One `(leaf count, root kind, fit method)` combination the builder estimated.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Leaf count.
    pub leaves: usize,
    /// Root kind.
    pub root: RootKind,
    /// How the root was fitted.
    pub fit: FitMethod,
    /// Estimated mean window over all keys.
    pub mean_window: f64,
    /// Estimated mean `log2(window)` over all keys.
    pub mean_log2_window: f64,
    /// `mean_log2_window + 0.25 · index bytes per key`.
    pub cost: f64,
}

/// What the builder decided and measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildReport {
    /// Every estimated combination (empty if the configuration fixed both choices).
    pub candidates: Vec<Candidate>,
    /// Leaf count used.
    pub leaves: usize,
    /// Root used.
    pub root: RootKind,
    /// How the root was fitted.
    pub fit: FitMethod,
    /// Leaves whose error bounds the verification pass had to widen. The correctness
    /// argument says this is always 0; the tests assert it.
    pub widened: usize,
    /// Window lengths over every key of the build.
    pub windows: WindowStats,
}

/// Builds a model over `keys` (strictly ascending, at most `u32::MAX` of them).
pub(crate) fn build(keys: &[u64], config: &RmiConfig) -> Result<(Rmi, BuildReport), RmiError> {
    check_keys(keys)?;
    let n = keys.len();
    if n == 0 {
        let rmi = Rmi::empty();
        let report = BuildReport {
            candidates: Vec::new(),
            leaves: 1,
            root: RootKind::Linear,
            fit: FitMethod::Endpoints,
            widened: 0,
            windows: rmi.window_stats(keys),
        };
        return Ok((rmi, report));
    }
    let (fit, leaves, candidates) = choose(keys, config);
    let root = fit.scaled(leaves);
    let mut leaf_models = fit_leaves(keys, &root);
    let (widened, windows) = verify(keys, &root, &mut leaf_models);
    let rmi = Rmi::from_parts(root, leaf_models, n);
    // Widening (never expected) changes windows measured before it: measure again.
    let windows = if widened == 0 { windows } else { rmi.window_stats(keys) };
    Ok((rmi, BuildReport { candidates, leaves, root: root.kind, fit: fit.method, widened, windows }))
}

/// Rejects more than `u32::MAX` keys and keys that are not strictly ascending.
fn check_keys(keys: &[u64]) -> Result<(), RmiError> {
    if keys.len() > u32::MAX as usize {
        return Err(RmiError::TooManyKeys { n: keys.len() });
    }
    match keys.windows(2).position(|w| w[0] >= w[1]) {
        Some(i) => Err(RmiError::NotStrictlyAscending { position: i + 1 }),
        None => Ok(()),
    }
}

/// Picks the root fit and leaf count (see the module docs). `keys` is non-empty.
fn choose(keys: &[u64], config: &RmiConfig) -> (RootFit, usize, Vec<Candidate>) {
    let n = keys.len();
    let kinds: &[RootKind] = match &config.root {
        Some(kind) => std::slice::from_ref(kind),
        None => &RootKind::ALL,
    };
    let fits: Vec<RootFit> = kinds.iter().flat_map(|&kind| root::fits_for(keys, kind, ROOT_SAMPLES)).collect();
    let leaf_counts: Vec<usize> = match config.leaves {
        Some(l) => vec![l.clamp(1, n)],
        None => {
            let mut v: Vec<usize> = LEAF_DIVISORS.iter().map(|d| (n / d).max(1)).collect();
            v.dedup();
            v
        }
    };
    if let ([fit], [leaves]) = (fits.as_slice(), leaf_counts.as_slice()) {
        return (*fit, *leaves, Vec::new());
    }
    // Screen every fit at the middle leaf count; only fits within `SCREEN_FACTOR` of the
    // best go on to the other leaf counts (a root that crams keys into a few leaves is
    // bad at every leaf count, and estimating it costs the most).
    let screen_l = leaf_counts[leaf_counts.len() / 2];
    let screened: Vec<Candidate> = fits.iter().map(|fit| estimate(keys, &fit.scaled(screen_l), fit.method)).collect();
    let floor = screened.iter().map(handicapped).fold(f64::INFINITY, f64::min);
    let survivors: Vec<(RootFit, Candidate)> = fits
        .iter()
        .zip(&screened)
        .filter(|(_, c)| handicapped(c) <= SCREEN_FACTOR * floor)
        .map(|(f, c)| (*f, c.clone()))
        .collect();
    let mut candidates = screened;
    let mut best: Option<(f64, RootFit, usize)> = None;
    for &leaves in &leaf_counts {
        let mut per_l: Option<(Candidate, RootFit)> = None;
        for (fit, screened) in &survivors {
            let c = if leaves == screen_l {
                screened.clone()
            } else {
                let c = estimate(keys, &fit.scaled(leaves), fit.method);
                candidates.push(c.clone());
                c
            };
            if per_l.as_ref().is_none_or(|(b, _)| handicapped(&c) < handicapped(b)) {
                per_l = Some((c, *fit));
            }
        }
        if let Some((c, fit)) = per_l {
            if best.as_ref().is_none_or(|(cost, _, _)| c.cost < *cost) {
                best = Some((c.cost, fit, leaves));
            }
        }
    }
    let (_, fit, leaves) = best.unwrap_or_else(|| {
        // Unreachable: a linear fit always exists and there is at least one leaf count.
        let fallback = root::fit(keys, RootKind::Linear, FitMethod::Endpoints, ROOT_SAMPLES);
        let fallback = fallback.unwrap_or(RootFit {
            kind: RootKind::Linear,
            method: FitMethod::Endpoints,
            min_key: 0,
            inv_range: 0.0,
            coef: [0.0; 4],
        });
        (0.0, fallback, 1)
    });
    (fit, leaves, candidates)
}

/// Handicap of a costlier root evaluation: a cubic or log root must beat a cheaper one
/// by [`COSTLIER_ROOT_MARGIN`] of mean window per step up.
fn handicapped(c: &Candidate) -> f64 {
    let steps = u8::from(c.root.is_cubic()) + u8::from(c.root.is_log());
    c.mean_window * (1.0 + COSTLIER_ROOT_MARGIN * f64::from(steps))
}

/// Estimates a candidate's mean window from [`ESTIMATE_SAMPLES`] evenly spaced keys.
fn estimate(keys: &[u64], root: &Root, fit: FitMethod) -> Candidate {
    let n = keys.len();
    let samples = n.min(ESTIMATE_SAMPLES);
    let (mut sum, mut sum_log2) = (0.0f64, 0.0f64);
    let mut cached: Option<(usize, f64)> = None;
    for s in 0..samples {
        let i = (s as u64 * n as u64 / samples as u64) as usize;
        let j = root.leaf(keys[i]);
        let width = match cached {
            Some((cj, w)) if cj == j => w,
            _ => {
                let (first, end) = routed_run(keys, root, i, j);
                let w = estimate_window(keys, first, end).min(n as f64);
                cached = Some((j, w));
                w
            }
        };
        sum += width;
        sum_log2 += width.log2();
    }
    let leaves = root.last_leaf + 1;
    let mean_log2_window = sum_log2 / samples as f64;
    let bytes_per_key = (LEAF_RECORD_BYTES * leaves) as f64 / n as f64;
    Candidate {
        leaves,
        root: root.kind,
        fit,
        mean_window: sum / samples as f64,
        mean_log2_window,
        cost: mean_log2_window + BYTES_PER_KEY_WEIGHT * bytes_per_key,
    }
}

/// Window of the leaf over `keys[first..end]`: exact (`err_lo + err_hi + 1`) up to
/// [`ESTIMATE_MAX_FIT`] keys; for larger leaves (only bad candidates have them) the line is
/// fitted on a strided subsample of about that many keys and the window taken as its
/// residual width + 1, so a bad candidate costs no more to estimate than a good one.
fn estimate_window(keys: &[u64], first: usize, end: usize) -> f64 {
    let m = end - first;
    if m <= ESTIMATE_MAX_FIT {
        let leaf = Leaf::fit(keys, first, end);
        return leaf.err_lo as f64 + leaf.err_hi as f64 + 1.0;
    }
    let run = &keys[first..end];
    fit_line(run, run[0], m.div_ceil(ESTIMATE_MAX_FIT)).width + 1.0
}

/// The run of positions around `i` (which routes to `j`) that route to `j`, found by
/// galloping outwards from `i` and then binary search (`O(log run length)` routings).
/// Exact for monotone routing, which is all an estimate needs.
fn routed_run(keys: &[u64], root: &Root, i: usize, j: usize) -> (usize, usize) {
    let n = keys.len();
    // End: first position after `i` routed past `j`.
    let (mut lo, mut step) = (i, 1usize);
    while lo + step < n && root.leaf(keys[lo + step]) <= j {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(n);
    let end = lo + 1 + keys[lo + 1..hi].partition_point(|&k| root.leaf(k) <= j);
    // First: first position at or before `i` routed to `j` or later.
    let (mut hi, mut step) = (i, 1usize);
    while hi >= step && root.leaf(keys[hi - step]) >= j {
        hi -= step;
        step *= 2;
    }
    let lo = hi.saturating_sub(step);
    let first = lo + keys[lo..hi].partition_point(|&k| root.leaf(k) < j);
    (first, end)
}

/// Computes every leaf's position range and fits it.
///
/// With `η' = 3η` ([`Root::eta`], tripled to cover rounding of `ŷ ± 2η` itself) each key
/// `i` gets `lo_i = leaf(ŷᵢ − η')` and `hi_i = leaf(ŷᵢ + η')` (equal to its routed leaf for
/// the linear root, `η = 0`). If `x` routes to `j`, then a key `>= x` has `hi_i >= j` and a
/// key `< x` has `lo_i <= j` (crate docs). Hence with
///
/// - `first_j = 1 + max{i : hi_i < j}` (0 if none): every position `< first_j` holds a key `< x`,
/// - `end_j = min{i : lo_i > j}` (`n` if none): every position `>= end_j` holds a key `>= x`,
///
/// the lower bound of `x` is in `first_j..=end_j`. Both are computed in one pass with
/// marks and a prefix max / suffix min. Finally `end_j` is raised to `max(first_j,
/// first_{j+1})` so ranges never leave a gap (widening a range never breaks the argument).
fn leaf_ranges(keys: &[u64], root: &Root) -> (Vec<u32>, Vec<u32>) {
    const UNSET: u32 = u32::MAX;
    let n = keys.len();
    let l = root.last_leaf + 1;
    let eta = 3.0 * root.eta();
    let mut first = vec![0u32; l];
    let mut end = vec![UNSET; l];
    for (i, &k) in keys.iter().enumerate() {
        let y = root.y(k);
        let (lo, hi) = if eta == 0.0 {
            let r = root.leaf_of(y);
            (r, r)
        } else {
            (root.leaf_of(y - eta), root.leaf_of(y + eta))
        };
        if hi + 1 < l {
            first[hi + 1] = (i + 1) as u32; // later (larger) i overwrites: a max
        }
        if lo >= 1 && end[lo - 1] == UNSET {
            end[lo - 1] = i as u32; // first (smallest) i wins: a min
        }
    }
    for j in 1..l {
        first[j] = first[j].max(first[j - 1]);
    }
    let mut suffix = n as u32;
    for e in end.iter_mut().rev() {
        suffix = suffix.min(*e);
        *e = suffix;
    }
    for j in 0..l {
        let next_first = if j + 1 < l { first[j + 1] } else { n as u32 };
        end[j] = end[j].max(first[j]).max(next_first);
    }
    (first, end)
}

/// Fits every leaf over its range (see [`leaf_ranges`]).
fn fit_leaves(keys: &[u64], root: &Root) -> Vec<Leaf> {
    let (first, end) = leaf_ranges(keys, root);
    first.iter().zip(&end).map(|(&f, &e)| Leaf::fit(keys, f as usize, e as usize)).collect()
}

/// Checks the finished model and widens any leaf whose window misses the lower bound.
/// Returns how many widenings happened (the proof says none) and the window statistics
/// over every key, measured in the same pass.
///
/// Checked: every key (its own position), the absent keys just before and just after
/// each leaf's key range when they fall in a gap (where the clamp to the leaf range does
/// the work), and `0` and `u64::MAX`.
fn verify(keys: &[u64], root: &Root, leaves: &mut [Leaf]) -> (usize, WindowStats) {
    let n = keys.len();
    let mut widened = 0usize;
    let stats = window_stats(keys.iter().enumerate().map(|(i, &k)| {
        let j = root.leaf(k);
        let w = leaves[j].window(k, n);
        if !(w.start <= i && i <= w.end) {
            widened += usize::from(leaves[j].widen_to(k, i));
        }
        w.len()
    }));
    let mut check = |leaves: &mut [Leaf], x: u64, lb: usize| {
        let j = root.leaf(x);
        widened += usize::from(leaves[j].widen_to(x, lb));
    };
    for j in 0..leaves.len() {
        let (first, end) = (leaves[j].first as usize, leaves[j].end as usize);
        if first >= end {
            continue;
        }
        let a = keys[first];
        if a > 0 && (first == 0 || keys[first - 1] < a - 1) {
            check(leaves, a - 1, first);
        }
        let b = keys[end - 1];
        if b < u64::MAX && (end == n || keys[end] > b + 1) {
            check(leaves, b + 1, end);
        }
    }
    check(leaves, 0, 0);
    check(leaves, u64::MAX, if keys[n - 1] == u64::MAX { n - 1 } else { n });
    (widened, stats)
}
