//! AVX2 + FMA kernels (8 lanes, four independent accumulators to hide FMA latency).

use std::arch::x86_64::*;

pub(super) fn is_supported() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

pub(super) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: this function is only installed in a `Kernels` after `is_supported()`
    // returned true, and the caller guarantees `a.len() == b.len()`.
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

#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2sq_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads below): every index read is < n = a.len() = b.len().
    while i + 32 <= n {
        for (j, acc) in acc.iter_mut().enumerate() {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8 * j)), _mm256_loadu_ps(pb.add(i + 8 * j)));
            *acc = _mm256_fmadd_ps(d, d, *acc);
        }
        i += 32;
    }
    while i + 8 <= n {
        let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
        acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut total = hsum(sum);
    while i < n {
        let d = *pa.add(i) - *pb.add(i);
        total += d * d;
        i += 1;
    }
    total
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads below): every index read is < n = a.len() = b.len().
    while i + 32 <= n {
        for (j, acc) in acc.iter_mut().enumerate() {
            *acc = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8 * j)), _mm256_loadu_ps(pb.add(i + 8 * j)), *acc);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut total = hsum(sum);
    while i < n {
        total += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    total
}

/// 8 codes at `p` widened to `f32` lanes.
#[inline(always)]
unsafe fn codes8(p: *const u8) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i)))
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sq8_dot_impl(a: &[f32], codes: &[u8]) -> f32 {
    let (pa, pc) = (a.as_ptr(), codes.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: i + 16 <= a.len() <= codes.len() for every load (a.len() % 16 == 0).
    while i < a.len() {
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), codes8(pc.add(i)), acc[0]);
        acc[1] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), codes8(pc.add(i + 8)), acc[1]);
        i += 16;
    }
    hsum(_mm256_add_ps(acc[0], acc[1]))
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sq8_l2_impl(q: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    let (pq, pw, pc) = (q.as_ptr(), w.as_ptr(), codes.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut i = 0;
    // SAFETY: as in `sq8_dot_impl`, with w.len() == q.len().
    while i < q.len() {
        for (j, acc) in acc.iter_mut().enumerate() {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pq.add(i + 8 * j)), codes8(pc.add(i + 8 * j)));
            *acc = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_loadu_ps(pw.add(i + 8 * j))), d, *acc);
        }
        i += 16;
    }
    hsum(_mm256_add_ps(acc[0], acc[1]))
}
