//! AVX2 probe: 4 keys per compare. AVX2 has only a *signed* 64-bit compare, so both sides
//! are biased by `2^63` (xor with the sign bit), which maps unsigned order onto signed
//! order. The tail of fewer than 4 keys is counted by the scalar loop, so no load reaches
//! past the window.

use super::{narrow, scalar, SIMD_COUNT_LIMIT};
use std::arch::x86_64::*;

pub(super) fn is_supported() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt")
}

pub(super) fn lower_bound(window: &[u64], x: u64) -> usize {
    // SAFETY: only installed in a `Probe` after `is_supported()` returned true.
    unsafe { lower_bound_impl(window, x) }
}

#[target_feature(enable = "avx2,popcnt")]
fn lower_bound_impl(window: &[u64], x: u64) -> usize {
    let (base, size) = narrow(window, x, SIMD_COUNT_LIMIT);
    base + count_less(&window[base..base + size], x)
}

#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn count_less(keys: &[u64], x: u64) -> usize {
    let bias = _mm256_set1_epi64x(i64::MIN);
    let xb = _mm256_xor_si256(_mm256_set1_epi64x(x as i64), bias);
    let mut chunks = keys.chunks_exact(4);
    let mut count = 0usize;
    for chunk in &mut chunks {
        // SAFETY: `chunk` has exactly 4 `u64`s = 32 readable bytes; `loadu` has no
        // alignment requirement.
        let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        let less = _mm256_cmpgt_epi64(xb, _mm256_xor_si256(v, bias));
        count += (_mm256_movemask_pd(_mm256_castsi256_pd(less)) as u32).count_ones() as usize;
    }
    count + scalar::count_less(chunks.remainder(), x)
}
