//! AVX-512F probe: 8 keys per compare with the native unsigned compare into a mask
//! register; the tail (fewer than 8 keys) uses a masked load, whose masked-off lanes are
//! not accessed, and the same mask on the compare so those lanes are never counted.

use super::{narrow, SIMD_COUNT_LIMIT};
use std::arch::x86_64::*;

pub(super) fn is_supported() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("popcnt")
}

pub(super) fn lower_bound(window: &[u64], x: u64) -> usize {
    // SAFETY: only installed in a `Probe` after `is_supported()` returned true.
    unsafe { lower_bound_impl(window, x) }
}

#[target_feature(enable = "avx512f,popcnt")]
fn lower_bound_impl(window: &[u64], x: u64) -> usize {
    let (base, size) = narrow(window, x, SIMD_COUNT_LIMIT);
    base + count_less(&window[base..base + size], x)
}

#[inline]
#[target_feature(enable = "avx512f,popcnt")]
fn count_less(keys: &[u64], x: u64) -> usize {
    let xv = _mm512_set1_epi64(x as i64);
    let mut chunks = keys.chunks_exact(8);
    let mut count = 0usize;
    for chunk in &mut chunks {
        // SAFETY: `chunk` has exactly 8 `u64`s = 64 readable bytes; `loadu` has no
        // alignment requirement.
        let v = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast()) };
        count += _mm512_cmplt_epu64_mask(v, xv).count_ones() as usize;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // `rest.len()` is in 1..=7, so the mask selects exactly the lanes that exist.
        let mask = ((1u16 << rest.len()) - 1) as __mmask8;
        // SAFETY: the masked load reads only the `rest.len()` selected lanes, all inside
        // `rest`; masked-off lanes are not accessed (no fault even past a page end).
        let v = unsafe { _mm512_maskz_loadu_epi64(mask, rest.as_ptr().cast()) };
        count += _mm512_mask_cmplt_epu64_mask(mask, v, xv).count_ones() as usize;
    }
    count
}
