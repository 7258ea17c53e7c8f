//! AVX2 + FMA kernels (8 lanes, four independent accumulators to hide FMA latency).

use super::scalar::cosine_from_parts;
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

pub(super) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: as in `l2sq`.
    let (ab, aa, bb) = unsafe { cosine_parts_impl(a, b) };
    cosine_from_parts(ab, aa, bb)
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

#[target_feature(enable = "avx2,fma")]
unsafe fn cosine_parts_impl(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut ab, mut aa, mut bb) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY (all loads below): every index read is < n = a.len() = b.len().
    while i + 8 <= n {
        let x = _mm256_loadu_ps(pa.add(i));
        let y = _mm256_loadu_ps(pb.add(i));
        ab = _mm256_fmadd_ps(x, y, ab);
        aa = _mm256_fmadd_ps(x, x, aa);
        bb = _mm256_fmadd_ps(y, y, bb);
        i += 8;
    }
    let (mut sab, mut saa, mut sbb) = (hsum(ab), hsum(aa), hsum(bb));
    while i < n {
        let (x, y) = (*pa.add(i), *pb.add(i));
        sab += x * y;
        saa += x * x;
        sbb += y * y;
        i += 1;
    }
    (sab, saa, sbb)
}
