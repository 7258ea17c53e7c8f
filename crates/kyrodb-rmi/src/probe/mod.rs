//! Window probes: `lower_bound` inside the small, sorted window an RMI predicts.
//!
//! A probe receives **only** the window (a subslice of the sorted key array), so it cannot
//! read outside it: every version below either indexes the slice (bounds-checked) or uses
//! SIMD loads whose extent is derived from the slice length, with masked loads (AVX-512)
//! or a scalar loop (AVX2) for the tail.
//!
//! Every version computes the same thing: the number of keys in the window that are
//! `< x`. For a sorted window that count *is* the lower bound (the first position whose
//! key is `>= x`, or the window length if there is none). The algorithm is:
//!
//! 1. while more than a threshold of keys remain, one step of a branchless binary search
//!    (`base += half` selected by a compare, compiled to `cmov`/arithmetic, so there are no
//!    data-dependent branches); the threshold is [`AVX512_COUNT_LIMIT`] (32),
//!    [`AVX2_COUNT_LIMIT`] (16) or [`SCALAR_COUNT_LIMIT`] (16) keys;
//! 2. count the keys `< x` among the at most threshold keys left: 8 per instruction
//!    (AVX-512F: four masked `vpcmpuq` into mask registers + `popcnt`), 4 per instruction
//!    (AVX2: four masked loads, bias by `2^63` so the signed `vpcmpgtq` compares unsigned,
//!    `vmovmskpd` + `popcnt`), both with a fixed instruction sequence whatever the length,
//!    or one at a time (scalar).
//!
//! The version used is chosen **once, at runtime** ([`selected`]), like the distance
//! kernels of `kyrodb-core`: the Cargo features `simd-avx2` and `simd-avx512` only decide
//! which versions are compiled, CPU feature detection decides which one runs. The
//! environment variable `KYRODB_SIMD=scalar|avx2|avx512` caps the level (same variable as
//! `kyrodb-core`); an unavailable request falls back to the next lower level.

mod scalar;

#[cfg(all(target_arch = "x86_64", feature = "simd-avx2"))]
mod avx2;
#[cfg(all(target_arch = "x86_64", feature = "simd-avx512"))]
mod avx512;

use crate::Rmi;
use std::fmt;
use std::sync::OnceLock;

/// The AVX-512 probe narrows windows longer than this by branchless binary search, then
/// counts the rest with four masked 8-lane compares. In-cache measurements on an AMD EPYC
/// with AVX-512 (`examples/rmi_report.rs --probe-sweep`) showed a length-dependent count
/// loop over 64 keys costing more than one extra binary-search step plus 32 keys; the
/// branch-free four-compare count fixes the limit at 32.
pub const AVX512_COUNT_LIMIT: usize = 32;

/// Like [`AVX512_COUNT_LIMIT`] for the AVX2 probe (four masked 4-lane compares).
pub const AVX2_COUNT_LIMIT: usize = 16;

/// Like [`AVX512_COUNT_LIMIT`] for the scalar probe, which counts one key per compare.
pub const SCALAR_COUNT_LIMIT: usize = 16;

/// An instruction-set level a probe is written for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// x86-64 AVX2 (+ POPCNT): 4 keys per compare.
    Avx2,
    /// x86-64 AVX-512F (+ POPCNT): 8 keys per compare.
    Avx512,
}

impl ProbeKind {
    /// Every kind, lowest level first.
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Scalar, ProbeKind::Avx2, ProbeKind::Avx512];

    /// Stable lower-case name (`"scalar"`, `"avx2"`, `"avx512"`).
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Scalar => "scalar",
            ProbeKind::Avx2 => "avx2",
            ProbeKind::Avx512 => "avx512",
        }
    }

    /// Whether this build contains the kind and this CPU can run it.
    pub fn is_available(self) -> bool {
        Probe::for_kind(self).is_some()
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Raw probe signature: number of keys `< x` in a sorted window.
type RawProbe = fn(&[u64], u64) -> usize;

/// A whole RMI lookup (route, predict, probe) compiled for one instruction set, so the
/// model evaluation also uses that set's conversions (`vcvtusi2sd` and friends under
/// AVX-512). Rust fixes the results of `as` casts and never contracts `a * b + c` into an
/// FMA, so every version computes bit-identical windows.
type RawLookup = fn(&Rmi, &[u64], u64) -> usize;

/// A probe implementation for one [`ProbeKind`], checked to be runnable on this CPU.
#[derive(Copy, Clone)]
pub struct Probe {
    kind: ProbeKind,
    raw: RawProbe,
    lookup: RawLookup,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").field("kind", &self.kind).finish()
    }
}

impl Probe {
    /// The instruction-set level of this probe.
    pub fn kind(&self) -> ProbeKind {
        self.kind
    }

    /// Lower bound of `x` in the sorted `window`: the number of keys `< x`, which is the
    /// first index whose key is `>= x`, or `window.len()` if there is none. On an unsorted
    /// window the result is some index in `0..=window.len()` (never a panic).
    #[inline]
    pub fn lower_bound(&self, window: &[u64], x: u64) -> usize {
        (self.raw)(window, x)
    }

    /// [`Rmi::lower_bound`] with this probe: one indirect call for the whole lookup.
    #[inline]
    pub(crate) fn rmi_lower_bound(&self, rmi: &Rmi, keys: &[u64], x: u64) -> usize {
        (self.lookup)(rmi, keys, x)
    }

    /// The scalar probe (always available; the reference for every other kind).
    pub fn scalar() -> Probe {
        Probe { kind: ProbeKind::Scalar, raw: scalar::lower_bound, lookup: scalar::rmi_lower_bound }
    }

    /// The probe for `kind`, if this build contains it and this CPU supports it.
    pub fn for_kind(kind: ProbeKind) -> Option<Probe> {
        match kind {
            ProbeKind::Scalar => Some(Probe::scalar()),
            #[cfg(all(target_arch = "x86_64", feature = "simd-avx2"))]
            ProbeKind::Avx2 if avx2::is_supported() => {
                Some(Probe { kind, raw: avx2::lower_bound, lookup: avx2::rmi_lower_bound })
            }
            #[cfg(all(target_arch = "x86_64", feature = "simd-avx512"))]
            ProbeKind::Avx512 if avx512::is_supported() => {
                Some(Probe { kind, raw: avx512::lower_bound, lookup: avx512::rmi_lower_bound })
            }
            _ => None,
        }
    }

    /// Every probe this CPU can run, scalar first.
    pub fn available() -> Vec<Probe> {
        ProbeKind::ALL.into_iter().filter_map(Probe::for_kind).collect()
    }

    fn detect() -> Probe {
        let requested = std::env::var("KYRODB_SIMD").ok();
        let preference = [ProbeKind::Avx512, ProbeKind::Avx2, ProbeKind::Scalar];
        let start = requested.as_deref().and_then(|r| preference.iter().position(|k| k.name() == r)).unwrap_or(0);
        preference[start..].iter().find_map(|&k| Probe::for_kind(k)).unwrap_or_else(Probe::scalar)
    }
}

/// The best probe for this CPU, detected on first use and then fixed for the process.
#[inline]
pub fn selected() -> Probe {
    static SELECTED: OnceLock<Probe> = OnceLock::new();
    *SELECTED.get_or_init(Probe::detect)
}

/// Lower bound of `x` in the sorted `window` with the [`selected`] probe.
#[inline]
pub fn lower_bound_in(window: &[u64], x: u64) -> usize {
    selected().lower_bound(window, x)
}

/// Lower bound of `x` in `window` with a specific probe kind; `None` if this build or
/// CPU lacks it. For tests and benchmarks.
pub fn lower_bound_with(kind: ProbeKind, window: &[u64], x: u64) -> Option<usize> {
    Probe::for_kind(kind).map(|p| p.lower_bound(window, x))
}

/// Branchless binary search narrowing `window` to at most `limit` keys.
///
/// Returns `(base, size)` with `base + size <= window.len()` such that the lower bound of
/// `x` (in a sorted window) lies in `base..=base + size`; the caller then adds the count of
/// keys `< x` in `window[base..base + size]` to `base`.
///
/// Invariant: the answer is in `base..=base + size`. With `mid = base + half`,
/// `window[mid] < x` means the answer is `> mid`, so in `mid..=mid + (size - half)`
/// (the old upper end); otherwise it is `<= mid`, so in `base..=base + (size - half)`
/// because `half <= size - half`. The loop trip count depends only on the length, and the
/// select is a conditional move, so nothing branches on key data.
#[inline(always)]
fn narrow(window: &[u64], x: u64, limit: usize) -> (usize, usize) {
    let mut base = 0usize;
    let mut size = window.len();
    while size > limit {
        let half = size / 2;
        let mid = base + half;
        // `select_unpredictable` asks for a `cmov`; plain `if`/arithmetic forms were
        // compiled to a branch.
        base = std::hint::select_unpredictable(window[mid] < x, mid, base);
        size -= half;
    }
    (base, size)
}
