//! A Recursive Model Index (learned index) over a sorted array of unique `u64` keys, as
//! used by KyroDB's key-value store to find keys in immutable sorted runs.
//!
//! ```
//! use kyrodb_rmi::Rmi;
//! let keys: Vec<u64> = (0..10_000u64).map(|i| i * i).collect();
//! let rmi = Rmi::build(&keys).expect("sorted, unique keys");
//! assert_eq!(rmi.find(&keys, 49), Some(7));
//! assert_eq!(rmi.lower_bound(&keys, 50), 8);
//! let restored = Rmi::from_bytes(&rmi.to_bytes(), keys.len()).expect("valid model");
//! assert_eq!(restored.lower_bound(&keys, 50), 8);
//! ```
//!
//! Map of the crate:
//! - [`Rmi`]: build, lookups ([`Rmi::window`], [`Rmi::lower_bound`], [`Rmi::find`]),
//!   [`Rmi::to_bytes`] / [`Rmi::from_bytes`] (layout in the `format` module docs);
//! - [`probe`]: `lower_bound` inside a window, scalar / AVX2 / AVX-512, chosen at runtime;
//! - [`RmiConfig`], [`BuildReport`]: build options and what the builder chose.
//!
//! # The model
//!
//! Keys `keys[0..n]` are strictly ascending; `lower_bound(x)` is the first position `p`
//! with `keys[p] >= x` (`n` if none).
//!
//! - **Root** ([`RootKind`]): routes `x` to a leaf `route(x)` in `0..L` with a linear or
//!   cubic polynomial of the normalised key `t ∈ [0, 1]`, truncated and clamped. `t` is
//!   `x − min_key` scaled either linearly or logarithmically (a cheap, exactly monotone
//!   piecewise-linear `log2` taken from the float's bit pattern; it is what makes
//!   lognormal keys work). The root is monotone non-decreasing in `x` (exactly for the
//!   linear polynomial; up to a tiny, bounded rounding error `η` for the cubic, handled
//!   below).
//! - **Leaf `j`**: a line `pred_j(x) = clamp(⌊intercept + slope·(x ⊖ base)⌋, first_j, end_j)`
//!   (`⊖` saturating, `slope >= 0`), monotone non-decreasing in `x`, and error bounds
//!   `err_lo_j = max(pred_j(keys[i]) − i)`, `err_hi_j = max(i − pred_j(keys[i]))` (both
//!   `>= 0`) over **every** position `i` of the leaf's range `first_j..end_j`, measured with
//!   the same function the lookup uses.
//! - **Window**: `j = route(x)`, `p = pred_j(x)`,
//!   `window(x) = p − err_lo_j .. min(p + err_hi_j + 1, n)` (saturating).
//!
//! # Why the window always contains the lower bound
//!
//! **Claim.** For every `x: u64`, present or absent, `lower_bound(x) ∈ [window.start,
//! window.end]`. Hence `lower_bound(x) = window.start + #{keys in window < x}`, and a
//! lookup reads `keys[window]` and nothing else. There is no fallback path.
//!
//! **Range property.** The builder chooses leaf ranges such that for every `x` with
//! `route(x) = j`, all positions `< first_j` hold keys `< x` and all positions `>= end_j`
//! hold keys `>= x`; that is, `lb := lower_bound(x) ∈ [first_j, end_j]`.
//! For the linear root the range of leaf `j` is exactly the keys routed to `j`, which is
//! contiguous because routing is monotone, and the property is immediate: a key `k < x`
//! routes to `route(k) <= j` and a key `k >= x` to `route(k) >= j`. For the cubic root
//! the computed routing value `ŷ(x)` is within `η` of an exactly monotone `y(x)`, so a key
//! `k < x` has `ŷ(k) <= ŷ(x) + 2η` and a key `k >= x` has `ŷ(k) >= ŷ(x) − 2η`; the builder
//! widens each range to every key whose routing value is within `2η` of the leaf
//! (`build::leaf_ranges`), which restores the property. Widened ranges may overlap;
//! nothing below needs them to be disjoint, only that errors are measured over all of
//! each range.
//!
//! **Proof of the claim.** Let `j = route(x)`, `p = pred_j(x)`, `lb` as above, so
//! `first_j <= lb <= end_j`.
//! - `lb >= window.start`: if `lb = end_j`, then `p <= end_j = lb` by the clamp, so
//!   `p − err_lo <= lb`. Otherwise `lb` is a position of the range with `keys[lb] >= x`,
//!   so by monotonicity `p <= pred_j(keys[lb]) <= lb + err_lo`.
//! - `lb <= window.end`: if `lb = first_j`, then `p >= first_j = lb` by the clamp, and
//!   `window.end >= min(p + 1, n) >= lb` (as `lb <= n`). Otherwise `lb − 1` is a position
//!   of the range with `keys[lb − 1] < x`, so `p >= pred_j(keys[lb − 1]) >= lb − 1 − err_hi`,
//!   i.e. `lb <= p + err_hi + 1`, and `lb <= n`.
//!
//! Both cases only use that `pred_j` is monotone and clamped to `[first_j, end_j]`, which
//! is what makes absent keys between two leaves work: for `x` between the last key of
//! leaf `j` and the first key of leaf `j + 1` the clamp pins `pred_j(x)` to the boundary.
//!
//! **Floating point.** Every step of `route` and `pred_j` is a monotone operation under
//! round-to-nearest (see `root` and `leaf`), the error bounds are measured with the very
//! functions used at lookup, and the cubic root's non-monotonicity is bounded by `η` and
//! absorbed as above. As a safety net the builder also re-checks every key and the gap
//! keys around every leaf boundary and widens any bound that misses
//! ([`BuildReport::widened`]; the tests assert it stays 0), and the tests check the claim
//! against `partition_point` on present keys, gap keys, `0` and `u64::MAX`, and
//! exhaustively over small universes.
//!
//! **Safety.** Nothing here relies on the claim for memory safety: the routed leaf is
//! clamped to `L − 1`, predictions to the leaf range (`<= n`), windows to `n` and to the
//! key slice's length, and the probe only ever sees the window subslice.
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod build;
mod error;
pub mod format;
mod index;
mod leaf;
pub mod probe;
mod root;

pub use build::{
    BuildReport, Candidate, RmiConfig, BYTES_PER_KEY_WEIGHT, COSTLIER_ROOT_MARGIN, ESTIMATE_MAX_FIT, ESTIMATE_SAMPLES,
    LEAF_DIVISORS, ROOT_SAMPLES, SCREEN_FACTOR,
};
pub use error::RmiError;
pub use format::{HEADER_BYTES, MAGIC, VERSION};
pub use index::{Rmi, WindowStats};
pub use leaf::LEAF_RECORD_BYTES;
pub use probe::{Probe, ProbeKind};
pub use root::{FitMethod, RootKind};
