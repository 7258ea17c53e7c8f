//! Every SIMD kernel agrees with the scalar reference.
//!
//! Stated bound: for vectors of length n, |simd − scalar| ≤ 2·n·ε·S + 1e-30, where ε is
//! `f32::EPSILON` and S is the sum of the absolute values of the terms (|dᵢ|² for L2,
//! |aᵢbᵢ| for the inner product). This is the classic worst-case bound for reordered
//! floating-point summation, so it holds for adversarial inputs, not just random ones.

use kyrodb_core::simd::{Kernels, SimdLevel};
use proptest::prelude::*;

fn bound(n: usize, sum_abs: f64) -> f64 {
    2.0 * n as f64 * f32::EPSILON as f64 * sum_abs + 1e-30
}

fn sum_abs_l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ((*x as f64) - (*y as f64)).powi(2)).sum()
}

fn sum_abs_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum()
}

fn close(got: f32, want: f32, tol: f64) -> bool {
    if got.is_infinite() || want.is_infinite() {
        return got == want;
    }
    ((got as f64) - (want as f64)).abs() <= tol
}

fn check_all(a: &[f32], b: &[f32]) -> Result<(), TestCaseError> {
    let scalar = Kernels::scalar();
    let n = a.len();
    for k in Kernels::available() {
        let (got, want) = (k.l2sq(a, b), scalar.l2sq(a, b));
        prop_assert!(
            close(got, want, bound(n, sum_abs_l2(a, b))),
            "{} l2sq: {got} vs scalar {want} (n={n})",
            k.level()
        );
        let (got, want) = (k.dot(a, b), scalar.dot(a, b));
        prop_assert!(
            close(got, want, bound(n, sum_abs_dot(a, b))),
            "{} dot: {got} vs scalar {want} (n={n})",
            k.level()
        );
    }
    Ok(())
}

fn pair(
    len: impl Strategy<Value = usize>,
    value: impl Strategy<Value = f32> + Clone,
) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    len.prop_flat_map(move |n| (prop::collection::vec(value.clone(), n), prop::collection::vec(value.clone(), n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_small_values((a, b) in pair(1usize..300, -10.0f32..10.0)) {
        check_all(&a, &b)?;
    }

    #[test]
    fn odd_lengths_around_lane_widths((a, b) in pair(prop::sample::select(vec![1usize, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 127, 129]), -1.0f32..1.0)) {
        check_all(&a, &b)?;
    }

    #[test]
    fn wide_dynamic_range((a, b) in pair(1usize..200, prop::num::f32::NORMAL | prop::num::f32::ZERO | prop::num::f32::SUBNORMAL)) {
        // Any finite values from subnormal up to 1e17 (squared sums stay below f32::MAX,
        // so no summation order can overflow where another does not).
        let a: Vec<f32> = a.into_iter().map(|x| x.clamp(-1e17, 1e17)).collect();
        let b: Vec<f32> = b.into_iter().map(|x| x.clamp(-1e17, 1e17)).collect();
        check_all(&a, &b)?;
    }
}

#[test]
fn dimension_4096_random() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let a: Vec<f32> = (0..4096).map(|_| next()).collect();
    let b: Vec<f32> = (0..4096).map(|_| next()).collect();
    check_all(&a, &b).expect("4096-d agreement");
}

#[test]
fn denormals_only() {
    let tiny = f32::from_bits(1); // smallest positive subnormal
    let a: Vec<f32> = (0..37).map(|i| tiny * (i as f32)).collect();
    let b: Vec<f32> = (0..37).map(|i| -tiny * (i as f32 % 5.0)).collect();
    check_all(&a, &b).expect("denormal agreement");
}

#[test]
fn large_values_overflow_consistently() {
    let a = vec![3e19f32; 33];
    let b = vec![-3e19f32; 33];
    for k in Kernels::available() {
        assert_eq!(k.l2sq(&a, &b), f32::INFINITY, "{}", k.level());
        assert_eq!(k.dot(&a, &b), f32::NEG_INFINITY, "{}", k.level());
    }
}

#[test]
fn dimension_one_exact() {
    for k in Kernels::available() {
        assert_eq!(k.l2sq(&[3.0], &[-1.0]), 16.0);
        assert_eq!(k.dot(&[3.0], &[-1.0]), -3.0);
    }
}

#[test]
fn cpu_detection_picks_best_available() {
    let best = kyrodb_core::simd::kernels().level();
    let available: Vec<SimdLevel> = Kernels::available().iter().map(|k| k.level()).collect();
    assert!(available.contains(&best));
    if std::env::var("KYRODB_SIMD").is_err() && available.contains(&SimdLevel::Avx512) {
        assert_eq!(best, SimdLevel::Avx512);
    }
    println!("kernel levels on this CPU: {available:?}; selected {best}");
}

#[test]
#[should_panic(expected = "equal lengths")]
fn mismatched_lengths_panic_instead_of_reading_out_of_bounds() {
    kyrodb_core::simd::kernels().l2sq(&[1.0, 2.0], &[1.0]);
}

proptest! {
    /// The 8-bit code kernels (`f32` weights against `u8` codes, padded to 16 lanes) agree
    /// with the scalar reference within the same reordered-summation bound.
    #[test]
    fn sq8_kernels_agree_with_scalar(
        (a, w, codes) in (1usize..20).prop_flat_map(|blocks| {
            let n = blocks * 16;
            (
                prop::collection::vec(-300.0f32..300.0, n),
                prop::collection::vec(0.0f32..4.0, n),
                prop::collection::vec(any::<u8>(), n..n + 64),
            )
        })
    ) {
        let scalar = Kernels::scalar();
        let n = a.len();
        for k in Kernels::available() {
            let dot_terms: f64 = a.iter().zip(&codes).map(|(x, &c)| (*x as f64 * c as f64).abs()).sum();
            let (got, want) = (k.sq8_dot(&a, &codes), scalar.sq8_dot(&a, &codes));
            prop_assert!(close(got, want, bound(n, dot_terms)), "{} sq8_dot: {got} vs {want}", k.level());
            let l2_terms: f64 = a.iter().zip(&w).zip(&codes)
                .map(|((x, wi), &c)| *wi as f64 * (*x as f64 - c as f64).powi(2)).sum();
            let (got, want) = (k.sq8_l2(&a, &w, &codes), scalar.sq8_l2(&a, &w, &codes));
            prop_assert!(close(got, want, 2.0 * bound(n, l2_terms)), "{} sq8_l2: {got} vs {want}", k.level());
        }
    }
}

#[test]
fn sq8_kernels_run_at_every_level() {
    let levels: Vec<SimdLevel> = Kernels::available().iter().map(|k| k.level()).collect();
    assert!(levels.contains(&SimdLevel::Scalar));
    let a = vec![1.0f32; 32];
    for k in Kernels::available() {
        assert_eq!(k.sq8_dot(&a, &[2u8; 40]), 64.0, "{}", k.level());
        assert_eq!(k.sq8_l2(&a, &a, &[3u8; 32]), 128.0, "{}", k.level());
    }
}
