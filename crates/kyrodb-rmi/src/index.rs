//! The [`Rmi`] handle: lookups, statistics and (de)serialisation entry points.

use std::ops::Range;

use crate::build::{self, BuildReport, RmiConfig};
use crate::error::RmiError;
use crate::format;
use crate::leaf::{Leaf, LEAF_RECORD_BYTES};
use crate::probe::{self, Probe};
use crate::root::{Root, RootKind};

/// A Recursive Model Index over a sorted array of unique `u64` keys.
///
/// The model does not own the keys: every lookup takes the same `keys` slice the model
/// was built for (for example a memory-mapped run). Passing another slice gives wrong
/// answers but never a panic or an out-of-bounds read.
#[derive(Clone, Debug, PartialEq)]
pub struct Rmi {
    pub(crate) root: Root,
    pub(crate) leaves: Vec<Leaf>,
    pub(crate) n: usize,
}

/// Window lengths over a set of lookups.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct WindowStats {
    /// Number of lookups measured.
    pub count: usize,
    /// Mean window length.
    pub mean: f64,
    /// 99th-percentile window length (nearest rank).
    pub p99: usize,
    /// Largest window length.
    pub max: usize,
}

impl Rmi {
    /// Builds a model over `keys` (strictly ascending, at most `u32::MAX` keys) with
    /// automatic leaf count and root.
    pub fn build(keys: &[u64]) -> Result<Rmi, RmiError> {
        Rmi::build_with(keys, &RmiConfig::default())
    }

    /// Builds a model with explicit options.
    pub fn build_with(keys: &[u64], config: &RmiConfig) -> Result<Rmi, RmiError> {
        build::build(keys, config).map(|(rmi, _)| rmi)
    }

    /// Builds a model and reports the candidates considered and the resulting windows.
    pub fn build_with_report(keys: &[u64], config: &RmiConfig) -> Result<(Rmi, BuildReport), RmiError> {
        build::build(keys, config)
    }

    /// The model over no keys: one empty leaf, every window `0..0`.
    pub(crate) fn empty() -> Rmi {
        let root = Root { kind: RootKind::Linear, min_key: 0, inv_range: 0.0, coef: [0.0; 4], last_leaf: 0 };
        let leaf = Leaf { base: 0, slope: 0.0, intercept: 0.0, first: 0, end: 0, err_lo: 0, err_hi: 0 };
        Rmi { root, leaves: vec![leaf], n: 0 }
    }

    /// Assembles a model; `leaves.len() == root.last_leaf + 1` and every leaf has
    /// `first <= end <= n` (the builder and the decoder guarantee both).
    pub(crate) fn from_parts(root: Root, leaves: Vec<Leaf>, n: usize) -> Rmi {
        debug_assert_eq!(leaves.len(), root.last_leaf + 1);
        Rmi { root, leaves, n }
    }

    /// Number of keys the model indexes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the model indexes no keys.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// The root polynomial in use.
    pub fn root_kind(&self) -> RootKind {
        self.root.kind
    }

    /// Size of the model in bytes: the serialised size, which is also the size of the
    /// root plus the leaf array in memory (`72 + 40 · leaves`).
    pub fn index_bytes(&self) -> usize {
        format::HEADER_BYTES + LEAF_RECORD_BYTES * self.leaves.len()
    }

    /// The positions to search for `x`: `lower_bound(x)` lies in `start..=end` for every
    /// `x` (see the crate docs), and `end <= n` always.
    #[inline(always)]
    pub fn window(&self, x: u64) -> Range<usize> {
        let j = self.root.leaf(x);
        // `j <= last_leaf == leaves.len() − 1`; the bounds check never fails.
        self.leaves[j].window(x, self.n)
    }

    /// First position `p` with `keys[p] >= x`, or `keys.len()` if none, using the
    /// [`probe::selected`] probe on the window only.
    #[inline]
    pub fn lower_bound(&self, keys: &[u64], x: u64) -> usize {
        self.lower_bound_with_probe(probe::selected(), keys, x)
    }

    /// [`Rmi::lower_bound`] with a specific probe (for tests and benchmarks).
    #[inline]
    pub fn lower_bound_with_probe(&self, probe: Probe, keys: &[u64], x: u64) -> usize {
        probe.rmi_lower_bound(self, keys, x)
    }

    /// [`Rmi::lower_bound`] and the length of the window it searched (for histograms).
    #[inline]
    pub fn lower_bound_and_window(&self, keys: &[u64], x: u64) -> (usize, usize) {
        let w = self.clamped_window(keys, x);
        let len = w.len();
        (w.start + probe::lower_bound_in(&keys[w], x), len)
    }

    /// Position of `x` in `keys`, if present.
    #[inline]
    pub fn find(&self, keys: &[u64], x: u64) -> Option<usize> {
        let p = self.lower_bound(keys, x);
        (keys.get(p) == Some(&x)).then_some(p)
    }

    /// The window, additionally clamped to `keys.len()` so a mismatched slice cannot
    /// make the slicing panic.
    #[inline(always)]
    pub(crate) fn clamped_window(&self, keys: &[u64], x: u64) -> Range<usize> {
        let w = self.window(x);
        let end = w.end.min(keys.len());
        w.start.min(end)..end
    }

    /// Window lengths for looking up every key of `keys`.
    pub fn window_stats(&self, keys: &[u64]) -> WindowStats {
        window_stats(keys.iter().map(|&k| self.window(k).len()))
    }

    /// Serialises the model (little-endian; layout in the `format` module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self)
    }

    /// Decodes and validates a model for `n` keys. Any input — truncated, corrupted or
    /// hostile — gives an error or a model whose windows lie within `0..=n`; it never
    /// panics and never makes a lookup read outside the key slice.
    pub fn from_bytes(bytes: &[u8], n: usize) -> Result<Rmi, RmiError> {
        format::decode(bytes, n)
    }
}

/// Mean, nearest-rank p99 and max of window lengths. Lengths up to 2¹⁶ are counted
/// exactly; longer ones share the last bucket for the p99 (the max stays exact).
pub(crate) fn window_stats(lengths: impl Iterator<Item = usize>) -> WindowStats {
    const CAP: usize = 1 << 16;
    let mut hist = vec![0u64; 64];
    let (mut count, mut sum, mut max) = (0usize, 0u128, 0usize);
    for len in lengths {
        let bucket = len.min(CAP);
        if bucket >= hist.len() {
            hist.resize((bucket + 1).next_power_of_two().min(CAP + 1), 0);
        }
        hist[bucket] += 1;
        count += 1;
        sum += len as u128;
        max = max.max(len);
    }
    if count == 0 {
        return WindowStats::default();
    }
    let rank = (count as u128 * 99).div_ceil(100) as u64;
    let mut seen = 0u64;
    let mut p99 = max;
    for (len, &c) in hist.iter().enumerate() {
        seen += c;
        if seen >= rank {
            p99 = if len == CAP { max } else { len };
            break;
        }
    }
    WindowStats { count, mean: sum as f64 / count as f64, p99, max }
}
