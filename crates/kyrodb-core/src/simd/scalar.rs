//! Portable reference kernels. Plain left-to-right `f32` sums: every SIMD version is
//! tested against these.

pub(super) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

pub(super) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    cosine_from_parts(ab, aa, bb)
}

/// `1 − ab / √(aa·bb)`, with `1` for a zero norm. Shared by every kernel level so the
/// final step is identical everywhere. The norms are combined in `f64` so that large
/// but finite vectors do not overflow `aa·bb`.
#[inline]
pub(super) fn cosine_from_parts(ab: f32, aa: f32, bb: f32) -> f32 {
    let denom = (aa as f64 * bb as f64).sqrt();
    if denom == 0.0 || !denom.is_finite() {
        return 1.0;
    }
    (1.0 - ab as f64 / denom) as f32
}

pub(super) fn sq8_dot(a: &[f32], codes: &[u8]) -> f32 {
    let mut sum = 0.0f32;
    for (x, &c) in a.iter().zip(codes) {
        sum += x * c as f32;
    }
    sum
}

pub(super) fn sq8_l2(q: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    let mut sum = 0.0f32;
    for ((x, wi), &c) in q.iter().zip(w).zip(codes) {
        let d = x - c as f32;
        sum += wi * d * d;
    }
    sum
}
