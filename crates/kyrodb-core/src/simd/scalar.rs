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
