//! AVX-512F probe: 8 keys per compare with the native unsigned compare into a mask
//! register. After narrowing, at most [`AVX512_COUNT_LIMIT`] = 32 keys remain, and they
//! are counted with exactly four masked compares whatever the length, so the count has no
//! branch at all (a length-dependent loop would mispredict, as window lengths vary from
//! lookup to lookup). Masked-off lanes are neither loaded (masked loads do not access
//! them, so nothing past the window is read) nor counted.

use super::{narrow, AVX512_COUNT_LIMIT};
use crate::Rmi;
use std::arch::x86_64::*;

pub(super) fn is_supported() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("popcnt")
}

pub(super) fn lower_bound(window: &[u64], x: u64) -> usize {
    // SAFETY: only installed in a `Probe` after `is_supported()` returned true.
    unsafe { lower_bound_impl(window, x) }
}

pub(super) fn rmi_lower_bound(rmi: &Rmi, keys: &[u64], x: u64) -> usize {
    // SAFETY: as in `lower_bound`.
    unsafe { rmi_lower_bound_impl(rmi, keys, x) }
}

#[target_feature(enable = "avx512f,popcnt")]
fn rmi_lower_bound_impl(rmi: &Rmi, keys: &[u64], x: u64) -> usize {
    let w = rmi.clamped_window(keys, x);
    w.start + lower_bound_impl(&keys[w], x)
}

#[inline]
#[target_feature(enable = "avx512f,popcnt")]
fn lower_bound_impl(window: &[u64], x: u64) -> usize {
    let (base, size) = narrow(window, x, AVX512_COUNT_LIMIT);
    base + count_less_32(&window[base..base + size], x)
}

/// Number of keys `< x` among at most 32 keys (more are ignored), branch-free.
#[inline]
#[target_feature(enable = "avx512f,popcnt")]
fn count_less_32(keys: &[u64], x: u64) -> usize {
    const _: () = assert!(AVX512_COUNT_LIMIT == 32);
    let xv = _mm512_set1_epi64(x as i64);
    let len = keys.len().min(32);
    let lanes = ((1u64 << len) - 1) as u32; // bit i set iff keys[i] exists
    let p = keys.as_ptr();
    let mut less = 0u32;
    for chunk in 0..4 {
        let mask = (lanes >> (8 * chunk)) as __mmask8;
        // SAFETY: the masked load accesses only the lanes selected by `mask`, which are
        // indices `< len` of `keys`; masked-off lanes (possibly past the end of the
        // slice) are not accessed. `wrapping_add` makes forming the address itself
        // well-defined even when it points past the slice.
        let v = unsafe { _mm512_maskz_loadu_epi64(mask, p.wrapping_add(8 * chunk).cast()) };
        less |= u32::from(_mm512_mask_cmplt_epu64_mask(mask, v, xv)) << (8 * chunk);
    }
    less.count_ones() as usize
}
