//! Every probe available on this CPU agrees with the scalar probe and with
//! `partition_point` on sorted windows of length 0..200, at every alignment.

use kyrodb_rmi::probe::{self, lower_bound_in, lower_bound_with, Probe, ProbeKind};
use proptest::prelude::*;

/// A sorted window (duplicates allowed: the probes count keys `< x`, which is the lower
/// bound for any sorted input) drawn from one of several value ranges, including keys
/// around `2^63`, where a missing sign-bias in the AVX2 compare would show.
fn windows() -> impl Strategy<Value = Vec<u64>> {
    let values = prop_oneof![any::<u64>(), 0u64..64, (1u64 << 63) - 32..(1u64 << 63) + 32, u64::MAX - 64..=u64::MAX,];
    prop::collection::vec(values, 0..200).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn check(window: &[u64], x: u64) {
    let want = window.partition_point(|&k| k < x);
    assert_eq!(Probe::scalar().lower_bound(window, x), want, "scalar, len {}, x {x}", window.len());
    for p in Probe::available() {
        assert_eq!(p.lower_bound(window, x), want, "{:?}, len {}, x {x}", p.kind(), window.len());
        assert_eq!(lower_bound_with(p.kind(), window, x), Some(want));
    }
    assert_eq!(lower_bound_in(window, x), want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn probes_agree_with_partition_point(
        window in windows(),
        offset in 0usize..8,
        pick in any::<prop::sample::Index>(),
        x in any::<u64>(),
    ) {
        // Copy behind `offset` padding keys so the window starts at every alignment
        // within a cache line.
        let mut backing = vec![0u64; offset];
        backing.extend_from_slice(&window);
        let w = &backing[offset..];
        check(w, x);
        if !w.is_empty() {
            let k = w[pick.index(w.len())];
            for q in [k, k.wrapping_sub(1), k.wrapping_add(1), 0, u64::MAX] {
                check(w, q);
            }
        }
    }
}

/// Every length 0..=200 with keys `0, 2, 4, ...`: every target position and the gaps.
#[test]
fn every_length_and_position() {
    let keys: Vec<u64> = (0..200u64).map(|i| 2 * i + (1 << 63) - 200).collect();
    for len in 0..=keys.len() {
        let w = &keys[keys.len() - len..];
        check(w, 0);
        check(w, u64::MAX);
        for &k in w {
            check(w, k);
            check(w, k + 1);
        }
    }
}

#[test]
fn kinds_report_availability() {
    assert!(ProbeKind::Scalar.is_available());
    assert!(Probe::available().iter().any(|p| p.kind() == probe::selected().kind()));
    for kind in ProbeKind::ALL {
        assert_eq!(lower_bound_with(kind, &[1, 2, 3], 3).is_some(), kind.is_available());
    }
    #[cfg(all(target_arch = "x86_64", feature = "simd-avx2"))]
    if std::is_x86_feature_detected!("avx2") {
        assert!(ProbeKind::Avx2.is_available());
    }
    #[cfg(all(target_arch = "x86_64", feature = "simd-avx512"))]
    if std::is_x86_feature_detected!("avx512f") {
        assert!(ProbeKind::Avx512.is_available());
    }
}
