//! AVX-512F kernels (16 lanes, four independent accumulators, masked loads for the tail
//! so odd dimensions such as 100 need no scalar loop).

use std::arch::x86_64::*;

pub(super) fn is_supported() -> bool {
    is_x86_feature_detected!("avx512f")
}

pub(super) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: only installed in a `Kernels` after `is_supported()` returned true; the
    // caller guarantees `a.len() == b.len()`.
    unsafe { l2sq_impl(a, b) }
}

pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: as in `l2sq`.
    unsafe { dot_impl(a, b) }
}

pub(super) fn sq8_dot(a: &[f32], codes: &[u8]) -> f32 {
    // SAFETY: as in `l2sq`; the caller guarantees `a.len()` is a multiple of 16 and
    // `codes.len() >= a.len()`.
    unsafe { sq8_dot_impl(a, codes) }
}

pub(super) fn sq8_l2(q: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    // SAFETY: as in `sq8_dot`, and `w.len() == q.len()`.
    unsafe { sq8_l2_impl(q, w, codes) }
}

/// Mask selecting the first `rest` (< 16) lanes.
#[inline(always)]
fn tail_mask(rest: usize) -> __mmask16 {
    ((1u32 << rest) - 1) as __mmask16
}

#[target_feature(enable = "avx512f")]
unsafe fn l2sq_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads below): full loads read indices < n; the masked tail load reads
    // only the `n - i` lanes its mask selects (masked-off lanes are not accessed).
    while i + 64 <= n {
        for (j, acc) in acc.iter_mut().enumerate() {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i + 16 * j)), _mm512_loadu_ps(pb.add(i + 16 * j)));
            *acc = _mm512_fmadd_ps(d, d, *acc);
        }
        i += 64;
    }
    while i + 16 <= n {
        let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
        acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
        i += 16;
    }
    if i < n {
        let m = tail_mask(n - i);
        let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i)));
        acc[2] = _mm512_fmadd_ps(d, d, acc[2]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: as in `l2sq_impl`.
    while i + 64 <= n {
        for (j, acc) in acc.iter_mut().enumerate() {
            *acc = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i + 16 * j)), _mm512_loadu_ps(pb.add(i + 16 * j)), *acc);
        }
        i += 64;
    }
    while i + 16 <= n {
        acc[1] = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc[1]);
        i += 16;
    }
    if i < n {
        let m = tail_mask(n - i);
        acc[2] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i)), acc[2]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])))
}

/// 16 codes at `p` widened to `f32` lanes.
#[inline(always)]
unsafe fn codes16(p: *const u8) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i)))
}

#[target_feature(enable = "avx512f")]
unsafe fn sq8_dot_impl(a: &[f32], codes: &[u8]) -> f32 {
    let (pa, pc) = (a.as_ptr(), codes.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: i + 16 <= a.len() <= codes.len() for every load.
    while i + 32 <= a.len() {
        acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), codes16(pc.add(i)), acc[0]);
        acc[1] = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i + 16)), codes16(pc.add(i + 16)), acc[1]);
        i += 32;
    }
    if i < a.len() {
        acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), codes16(pc.add(i)), acc[0]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
}

#[target_feature(enable = "avx512f")]
unsafe fn sq8_l2_impl(q: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    let (pq, pw, pc) = (q.as_ptr(), w.as_ptr(), codes.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: i + 16 <= q.len() == w.len() <= codes.len() for every load.
    while i < q.len() {
        let d = _mm512_sub_ps(_mm512_loadu_ps(pq.add(i)), codes16(pc.add(i)));
        let j = (i / 16) & 1;
        acc[j] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_loadu_ps(pw.add(i))), d, acc[j]);
        i += 16;
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
}
