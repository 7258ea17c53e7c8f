//! aarch64 Advanced SIMD kernels (4 lanes, four accumulators). NEON is part of the
//! aarch64 baseline, so no runtime detection is needed.

use std::arch::aarch64::*;

pub(super) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: NEON is always present on aarch64; the caller guarantees equal lengths.
    unsafe { l2sq_impl(a, b) }
}

pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: as in `l2sq`.
    unsafe { dot_impl(a, b) }
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY (all loads below): every index read is < n = a.len() = b.len().
    while i + 16 <= n {
        for (j, acc) in acc.iter_mut().enumerate() {
            let d = vsubq_f32(vld1q_f32(pa.add(i + 4 * j)), vld1q_f32(pb.add(i + 4 * j)));
            *acc = vfmaq_f32(*acc, d, d);
        }
        i += 16;
    }
    while i + 4 <= n {
        let d = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
        acc[0] = vfmaq_f32(acc[0], d, d);
        i += 4;
    }
    let mut total = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    while i < n {
        let d = *pa.add(i) - *pb.add(i);
        total += d * d;
        i += 1;
    }
    total
}

#[target_feature(enable = "neon")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: as in `l2sq_impl`.
    while i + 16 <= n {
        for (j, acc) in acc.iter_mut().enumerate() {
            *acc = vfmaq_f32(*acc, vld1q_f32(pa.add(i + 4 * j)), vld1q_f32(pb.add(i + 4 * j)));
        }
        i += 16;
    }
    while i + 4 <= n {
        acc[0] = vfmaq_f32(acc[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
        i += 4;
    }
    let mut total = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    while i < n {
        total += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    total
}
