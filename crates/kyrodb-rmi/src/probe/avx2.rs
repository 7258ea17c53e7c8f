//! AVX2 probe: 4 keys per compare. AVX2 has only a *signed* 64-bit compare, so both sides
//! are biased by `2^63` (xor with the sign bit), which maps unsigned order onto signed
//! order. After narrowing, at most [`AVX2_COUNT_LIMIT`] = 16 keys remain, counted with
//! exactly four masked loads and compares (`vpmaskmovq` does not access masked-off
//! lanes, so nothing past the window is read), without any branch.

use super::{narrow, AVX2_COUNT_LIMIT};
use crate::Rmi;
use std::arch::x86_64::*;

pub(super) fn is_supported() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt")
}

pub(super) fn lower_bound(window: &[u64], x: u64) -> usize {
    // SAFETY: only installed in a `Probe` after `is_supported()` returned true.
    unsafe { lower_bound_impl(window, x) }
}

pub(super) fn rmi_lower_bound(rmi: &Rmi, keys: &[u64], x: u64) -> usize {
    // SAFETY: as in `lower_bound`.
    unsafe { rmi_lower_bound_impl(rmi, keys, x) }
}

#[target_feature(enable = "avx2,popcnt")]
fn rmi_lower_bound_impl(rmi: &Rmi, keys: &[u64], x: u64) -> usize {
    let w = rmi.clamped_window(keys, x);
    w.start + lower_bound_impl(&keys[w], x)
}

#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn lower_bound_impl(window: &[u64], x: u64) -> usize {
    let (base, size) = narrow(window, x, AVX2_COUNT_LIMIT);
    base + count_less_16(&window[base..base + size], x)
}

/// Number of keys `< x` among at most 16 keys (more are ignored), branch-free.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn count_less_16(keys: &[u64], x: u64) -> usize {
    const _: () = assert!(AVX2_COUNT_LIMIT == 16);
    let bias = _mm256_set1_epi64x(i64::MIN);
    let xb = _mm256_xor_si256(_mm256_set1_epi64x(x as i64), bias);
    let len = _mm256_set1_epi64x(keys.len().min(16) as i64);
    let p = keys.as_ptr();
    let mut less = 0u32;
    for chunk in 0..4 {
        let c = 4 * chunk as i64;
        let lane = _mm256_setr_epi64x(c, c + 1, c + 2, c + 3);
        let valid = _mm256_cmpgt_epi64(len, lane);
        // SAFETY: `vpmaskmovq` accesses only lanes whose mask sign bit is set, which are
        // indices `< len` of `keys`; masked-off lanes are not accessed (no fault).
        // `wrapping_add` makes forming the address itself well-defined past the slice.
        let v = unsafe { _mm256_maskload_epi64(p.wrapping_add(4 * chunk).cast(), valid) };
        let lt = _mm256_and_si256(_mm256_cmpgt_epi64(xb, _mm256_xor_si256(v, bias)), valid);
        less |= (_mm256_movemask_pd(_mm256_castsi256_pd(lt)) as u32) << (4 * chunk);
    }
    less.count_ones() as usize
}
