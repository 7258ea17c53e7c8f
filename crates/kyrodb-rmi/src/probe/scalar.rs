//! Portable probe: branchless binary search down to [`SCALAR_COUNT_LIMIT`] keys, then a
//! branch-free count. The reference every SIMD probe is tested against.

use super::{narrow, SCALAR_COUNT_LIMIT};
use crate::Rmi;

pub(super) fn rmi_lower_bound(rmi: &Rmi, keys: &[u64], x: u64) -> usize {
    let w = rmi.clamped_window(keys, x);
    w.start + lower_bound(&keys[w], x)
}

#[inline]
pub(super) fn lower_bound(window: &[u64], x: u64) -> usize {
    let (base, size) = narrow(window, x, SCALAR_COUNT_LIMIT);
    base + count_less(&window[base..base + size], x)
}

/// Number of keys `< x`, one compare per key, no data-dependent branch.
#[inline(always)]
pub(super) fn count_less(keys: &[u64], x: u64) -> usize {
    keys.iter().map(|&k| usize::from(k < x)).sum()
}
