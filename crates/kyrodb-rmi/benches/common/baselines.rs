//! What the RMI is measured against, shared by `benches/rmi_lookup.rs` and
//! `examples/rmi_report.rs` (included with `#[path]`):
//!
//! - [`store_find`]: the key-value store's own lookup path over a run
//!   (`kyrodb-core/src/kv/run.rs`, `Run::lower_bound`): `Rmi::window`, clamp to the slice,
//!   the probe counters, `probe::lower_bound_in` on the window, the bracketing check with its
//!   binary-search fallback, then the equality check of `Run::get`. Only the prefetches of
//!   the run's value offsets and kinds are left out (there are no values here).
//! - [`binary_find`]: `partition_point` + equality check (the store without the feature).
//! - [`Eytzinger`]: the keys in BFS (Eytzinger) order, 64-byte aligned, searched branch-free
//!   with a prefetch of the node four levels down (Khuong & Morin, "Array layouts for
//!   comparison-based searching"). A store built on it would keep its values in the same
//!   order, so a lookup returns the slot (timed); [`Eytzinger::rank`] maps a slot to its
//!   sorted position for the answer checks only.
//! - [`Pgm`]: a PGM-index (Ferragina & Vinciguerra): ε-bounded piecewise-linear models over
//!   the keys, recursively indexed by the same kind of models until one segment is left;
//!   segments made by the greedy shrinking-cone pass (not the optimal convex-hull one, so
//!   somewhat more segments than the reference implementation for the same ε); the error
//!   bound used at lookup is the one measured over every key, so windows are exact. The
//!   last level is searched with the same SIMD probe as the RMI.
//!
//! The `pgm_index` crate (crates.io) is timed beside these: its segments are least-squares
//! fits over equal-size chunks and its `get` searches only ±ε around the prediction, so it
//! does not bound the error and misses present keys on skewed data; the callers count its
//! wrong answers next to its time.

#![allow(dead_code)]

use kyrodb_rmi::{probe, Rmi};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The store's per-lookup probe counters (`kv/stats.rs`, `KvCounters::probe`).
#[derive(Default)]
pub struct ProbeCounters {
    probe_keys: AtomicU64,
    probe_hist: [AtomicU64; 24],
    mispredictions: AtomicU64,
}

impl ProbeCounters {
    #[inline]
    fn probe(&self, window: usize) {
        self.probe_keys.fetch_add(window as u64, Relaxed);
        let b = (usize::BITS - window.saturating_sub(1).leading_zeros()) as usize;
        self.probe_hist[b.min(23)].fetch_add(1, Relaxed);
    }

    /// Lookups whose window missed (0 for a model built over these keys).
    pub fn mispredictions(&self) -> u64 {
        self.mispredictions.load(Relaxed)
    }
}

/// `Run::lower_bound` with the learned index, then `Run::get`'s equality check.
#[inline]
pub fn store_find(rmi: &Rmi, keys: &[u64], x: u64, counters: &ProbeCounters) -> Option<usize> {
    let w = rmi.window(x);
    let (lo, hi) = (w.start.min(keys.len()), w.end.min(keys.len()).max(w.start.min(keys.len())));
    counters.probe(hi - lo);
    let mut p = lo + probe::lower_bound_in(&keys[lo..hi], x);
    let bracketed = (p == 0 || keys[p - 1] < x) && (p == keys.len() || keys[p] >= x);
    if !bracketed {
        counters.mispredictions.fetch_add(1, Relaxed);
        p = keys.partition_point(|&k| k < x);
    }
    (keys.get(p) == Some(&x)).then_some(p)
}

/// Binary search over the sorted keys.
#[inline]
pub fn binary_find(keys: &[u64], x: u64) -> Option<usize> {
    let p = keys.partition_point(|&k| k < x);
    (keys.get(p) == Some(&x)).then_some(p)
}

#[inline(always)]
fn prefetch(p: *const u64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[repr(C, align(64))]
#[derive(Copy, Clone)]
struct Line([u64; 8]);

/// Sorted keys in Eytzinger order (slot `k` has children `2k` and `2k + 1`, slot 0 unused),
/// with the sorted position of each slot.
pub struct Eytzinger {
    lines: Vec<Line>,
    rank: Vec<u32>,
    n: usize,
}

impl Eytzinger {
    /// Lays out `keys` (sorted, fewer than 2³² of them).
    pub fn new(keys: &[u64]) -> Eytzinger {
        let n = keys.len();
        let mut lines = vec![Line([0; 8]); (n + 1).div_ceil(8)];
        let mut rank = vec![0u32; n + 1];
        {
            // SAFETY: `Line` is 8 plain `u64`s with no padding; the slice covers the lines exactly.
            let t = unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr() as *mut u64, lines.len() * 8) };
            // In-order walk of the implicit tree, iteratively (explicit stack).
            let (mut i, mut k, mut stack) = (0usize, 1usize, Vec::new());
            loop {
                while k <= n {
                    stack.push(k);
                    k *= 2;
                }
                let Some(top) = stack.pop() else { break };
                t[top] = keys[i];
                rank[top] = i as u32;
                i += 1;
                k = 2 * top + 1;
            }
        }
        Eytzinger { lines, rank, n }
    }

    #[inline(always)]
    fn slots(&self) -> &[u64] {
        // SAFETY: as in `new`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const u64, self.lines.len() * 8) }
    }

    /// Bytes beyond the sorted keys: the second copy of the keys plus the ranks.
    pub fn extra_bytes(&self) -> usize {
        self.lines.len() * 64 + self.rank.len() * 4
    }

    /// Sorted position of the key in `slot`.
    pub fn rank(&self, slot: usize) -> usize {
        self.rank[slot] as usize
    }

    /// Slot of `x`, if present.
    #[inline]
    pub fn find_slot(&self, x: u64) -> Option<usize> {
        let t = self.slots();
        let base = t.as_ptr();
        let mut k = 1usize;
        while k <= self.n {
            // Slots 16k..16k+15 (two cache lines, since slot 0 of each line is 8-aligned)
            // are the descendants four levels down.
            prefetch(base.wrapping_add(16 * k));
            prefetch(base.wrapping_add(16 * k + 8));
            k = 2 * k + (t[k] < x) as usize;
        }
        // Undo the right turns taken after the last left turn: that node is the lower bound.
        k >>= k.trailing_ones() + 1;
        (k != 0 && t[k] == x).then_some(k)
    }
}

/// One linear model: position ≈ `intercept + slope · (x − key)` for `x ≥ key`, clamped to
/// the segment's own points `intercept..=last`.
#[derive(Copy, Clone)]
struct Seg {
    slope: f64,
    intercept: f64,
    last: usize,
}

/// One level of a [`Pgm`]: segment `j` covers the points from `first[j]` on.
struct Level {
    /// First key of each segment (searched to route `x`).
    keys: Vec<u64>,
    segs: Vec<Seg>,
    /// Largest |prediction − position| over every point of the level below, plus one: a
    /// key between two points predicts at most one past the bound of the point below it.
    err: usize,
}

/// A PGM-index over sorted unique keys (see the module docs).
pub struct Pgm {
    /// `levels[0]` models the keys; `levels[i + 1]` models `levels[i].keys`; the last has
    /// at most a few segments, searched linearly.
    levels: Vec<Level>,
    n: usize,
}

/// Greedy shrinking-cone segmentation of the points `(keys[i], i)` with error ≤ `eps`.
fn segment(keys: &[u64], eps: usize) -> (Vec<u64>, Vec<Seg>) {
    let eps = eps as f64;
    let (mut firsts, mut segs) = (Vec::new(), Vec::new());
    let mut start = 0usize;
    while start < keys.len() {
        let k0 = keys[start];
        let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
        let mut end = start + 1;
        while end < keys.len() {
            let dx = (keys[end] - k0) as f64;
            let dy = (end - start) as f64;
            let (l, h) = (lo.max((dy - eps) / dx), hi.min((dy + eps) / dx));
            if l > h {
                break;
            }
            (lo, hi) = (l, h);
            end += 1;
        }
        let slope = if hi.is_finite() { (lo + hi) / 2.0 } else { 0.0 };
        firsts.push(k0);
        segs.push(Seg { slope, intercept: start as f64, last: end - 1 });
        start = end;
    }
    (firsts, segs)
}

impl Pgm {
    /// Builds with error `eps` on the keys and `eps_rec` on the upper levels.
    pub fn new(keys: &[u64], eps: usize, eps_rec: usize) -> Pgm {
        let mut levels = Vec::new();
        let mut points: Vec<u64> = keys.to_vec();
        let mut e = eps;
        loop {
            let (firsts, segs) = segment(&points, e);
            let mut level = Level { keys: firsts, segs, err: 0 };
            level.err = (0..points.len())
                .map(|i| level.predict(level.route_exact(points[i]), points[i], points.len()).abs_diff(i))
                .max()
                .unwrap_or(0)
                + 1;
            let done = level.keys.len() <= 8;
            points = level.keys.clone();
            levels.push(level);
            if done {
                break;
            }
            e = eps_rec;
        }
        Pgm { levels, n: keys.len() }
    }

    /// Bytes of the models (segment keys, slopes and intercepts of every level).
    pub fn index_bytes(&self) -> usize {
        self.levels.iter().map(|l| l.keys.len() * (8 + std::mem::size_of::<Seg>())).sum()
    }

    /// Number of levels and leaf segments.
    pub fn shape(&self) -> (usize, usize) {
        (self.levels.len(), self.levels[0].keys.len())
    }

    /// Sorted position of `x` in `keys` (the slice it was built over), if present.
    #[inline]
    pub fn find(&self, keys: &[u64], x: u64) -> Option<usize> {
        let top = self.levels.last().expect("at least one level");
        // Root: the last segment whose first key is ≤ x (0 when x is below every key).
        let mut j = top.keys.iter().take_while(|&&k| k <= x).count().saturating_sub(1);
        for d in (1..self.levels.len()).rev() {
            let (upper, lower) = (&self.levels[d], &self.levels[d - 1]);
            let p = upper.predict(j, x, lower.keys.len());
            let lo = p.saturating_sub(upper.err);
            let hi = (p + upper.err + 1).min(lower.keys.len());
            // Last segment of the lower level with first key ≤ x, inside the window.
            let w = &lower.keys[lo..hi];
            j = (lo + w.partition_point(|&k| k <= x)).saturating_sub(1);
        }
        let leaf = &self.levels[0];
        let p = leaf.predict(j, x, self.n);
        let lo = p.saturating_sub(leaf.err);
        let hi = (p + leaf.err + 1).min(self.n);
        let p = lo + probe::lower_bound_in(&keys[lo..hi], x);
        (keys.get(p) == Some(&x)).then_some(p)
    }
}

impl Level {
    /// Segment for `x` by binary search over the first keys (build time only).
    fn route_exact(&self, x: u64) -> usize {
        self.keys.partition_point(|&k| k <= x).saturating_sub(1)
    }

    /// Prediction of segment `j` for `x`, clamped to the segment's points (so `< n`).
    #[inline(always)]
    fn predict(&self, j: usize, x: u64, n: usize) -> usize {
        let s = self.segs[j];
        let y = s.intercept + s.slope * x.saturating_sub(self.keys[j]) as f64;
        (y as usize).clamp(s.intercept as usize, s.last).min(n.saturating_sub(1))
    }
}
