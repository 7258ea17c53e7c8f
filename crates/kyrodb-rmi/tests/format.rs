//! Serialisation: round trips, and decoding truncated, bit-flipped, random or hostile
//! bytes returns an error or a model whose windows stay inside `0..=n` — never a panic.

mod common;

use common::keysets::KeySet;
use kyrodb_rmi::{Rmi, RmiConfig, RmiError, RootKind, HEADER_BYTES, LEAF_RECORD_BYTES};
use proptest::prelude::*;

fn sample_model(n: usize, root: Option<RootKind>) -> (Vec<u64>, Rmi) {
    let keys = KeySet::Lognormal.generate(n, 17);
    let rmi = Rmi::build_with(&keys, &RmiConfig { leaves: None, root }).expect("valid keys");
    (keys, rmi)
}

/// A decoded model must be harmless: windows within `0..=n` and lookups that return.
fn assert_harmless(rmi: &Rmi, keys: &[u64], probes: &[u64]) {
    let n = keys.len();
    for &x in probes.iter().chain(keys.iter().step_by(7)).chain(&[0, 1, u64::MAX]) {
        let w = rmi.window(x);
        assert!(w.start <= w.end && w.end <= n, "window {w:?} outside 0..={n}");
        assert!(rmi.lower_bound(keys, x) <= n);
        let _ = rmi.find(keys, x);
        let _ = rmi.lower_bound_and_window(keys, x);
    }
}

#[test]
fn round_trip_every_root_kind() {
    for root in RootKind::ALL {
        let (keys, rmi) = sample_model(5000, Some(root));
        let bytes = rmi.to_bytes();
        assert_eq!(bytes.len(), rmi.index_bytes());
        assert_eq!(bytes.len(), HEADER_BYTES + LEAF_RECORD_BYTES * rmi.leaf_count());
        let back = Rmi::from_bytes(&bytes, keys.len()).expect("own output decodes");
        assert_eq!(back, rmi);
        assert_eq!(back.to_bytes(), bytes);
        common::check_all(&back, &keys, &[]);
    }
    let empty = Rmi::build(&[]).expect("empty");
    assert_eq!(Rmi::from_bytes(&empty.to_bytes(), 0).expect("empty decodes"), empty);
}

#[test]
fn header_checks() {
    let (keys, rmi) = sample_model(1000, None);
    let bytes = rmi.to_bytes();
    let n = keys.len();
    assert!(matches!(Rmi::from_bytes(&bytes, n + 1), Err(RmiError::KeyCountMismatch { .. })));
    let mut v = bytes.clone();
    v[4] = 2;
    assert_eq!(Rmi::from_bytes(&v, n), Err(RmiError::UnsupportedVersion { version: 2 }));
    let mut v = bytes.clone();
    v[0] = b'X';
    assert!(matches!(Rmi::from_bytes(&v, n), Err(RmiError::Corrupt { .. })));
    let mut v = bytes.clone();
    v[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // absurd leaf count
    assert!(matches!(Rmi::from_bytes(&v, n), Err(RmiError::Corrupt { .. })));
    for len in [0, 3, HEADER_BYTES - 1, HEADER_BYTES, bytes.len() - 1] {
        assert!(Rmi::from_bytes(&bytes[..len], n).is_err(), "truncated to {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Rmi::from_bytes(&longer, n).is_err());
}

/// A model that passes validation but whose numbers are nonsense still only produces
/// windows inside `0..=n`.
#[test]
fn valid_but_wrong_model_is_harmless() {
    let (keys, rmi) = sample_model(2000, Some(RootKind::Linear));
    let n = keys.len();
    let mut bytes = rmi.to_bytes();
    // Huge root slope, and every leaf's slope and intercept extreme but finite.
    bytes[48..56].copy_from_slice(&1e300f64.to_le_bytes());
    for j in 0..rmi.leaf_count() {
        let at = HEADER_BYTES + LEAF_RECORD_BYTES * j;
        bytes[at + 8..at + 16].copy_from_slice(&f64::MAX.to_le_bytes());
        bytes[at + 16..at + 24].copy_from_slice(&(-f64::MAX).to_le_bytes());
        bytes[at + 32..at + 36].copy_from_slice(&(n as u32).to_le_bytes());
    }
    let wrong = Rmi::from_bytes(&bytes, n).expect("structurally valid");
    assert_harmless(&wrong, &keys, &[5, 1 << 40, u64::MAX - 1]);
}

/// Bytes of a structurally valid model with arbitrary numbers: `n` keys, leaves with
/// non-decreasing, gap-free ranges over `0..n` and any finite slopes, intercepts and
/// error bounds within the checks.
fn arbitrary_valid_model() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (1usize..300, 1usize..40, any::<u8>()).prop_flat_map(|(n, leaves, kind)| {
        let leaves = leaves.min(n);
        let leaf =
            (any::<u64>(), 0.0f64..1e20, -1e20f64..1e20, 0..=n as u32, 0..=n as u32, any::<prop::sample::Index>());
        (Just(n), Just(kind % 4), prop::collection::vec(leaf, leaves), prop::collection::vec(-1e9f64..1e9, 4)).prop_map(
            |(n, kind, leaves, coef)| {
                let mut cuts: Vec<u32> = leaves.iter().map(|l| l.5.index(n + 1) as u32).collect();
                cuts.sort_unstable();
                cuts[0] = 0;
                let mut v = b"KRMI".to_vec();
                v.extend_from_slice(&[1, kind, 0, 0]);
                v.extend_from_slice(&(n as u64).to_le_bytes());
                v.extend_from_slice(&(leaves.len() as u64).to_le_bytes());
                v.extend_from_slice(&coef[0].to_bits().to_le_bytes()[..8]); // min_key: any
                v.extend_from_slice(&coef[1].abs().to_le_bytes()); // inv_range >= 0
                                                                   // Linear root (valid for every kind tag only if c2 = c3 = 0 and c1 >= 0;
                                                                   // cubic tags with these coefficients fail the margin check, also fine).
                for c in [coef[2], coef[3].abs(), 0.0, 0.0] {
                    v.extend_from_slice(&c.to_le_bytes());
                }
                for (j, &(base, slope, intercept, e_lo, e_hi, _)) in leaves.iter().enumerate() {
                    let first = cuts[j];
                    let end = cuts.get(j + 1).copied().unwrap_or(n as u32);
                    v.extend_from_slice(&base.to_le_bytes());
                    v.extend_from_slice(&slope.to_le_bytes());
                    v.extend_from_slice(&intercept.to_le_bytes());
                    for x in [first, end, e_lo, e_hi] {
                        v.extend_from_slice(&x.to_le_bytes());
                    }
                }
                (n, v)
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn valid_random_models_are_harmless(
        (n, bytes) in arbitrary_valid_model(),
        probes in prop::collection::vec(any::<u64>(), 0..32),
    ) {
        let keys: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1).collect();
        let mut keys = keys;
        keys.sort_unstable();
        keys.dedup();
        prop_assume!(keys.len() == n);
        let decoded = Rmi::from_bytes(&bytes, n);
        if let Ok(rmi) = &decoded {
            assert_harmless(rmi, &keys, &probes);
        }
        // Linear-kind headers built this way must validate: proves the generator reaches
        // the lookup path, not just the decoder's error returns.
        if bytes[5] % 2 == 0 {
            prop_assert!(decoded.is_ok(), "{:?}", decoded.err());
        }
    }

    #[test]
    fn bit_flips_are_rejected_or_harmless(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..8),
        probes in prop::collection::vec(any::<u64>(), 0..16),
    ) {
        let (keys, rmi) = sample_model(3000, None);
        let mut bytes = rmi.to_bytes();
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        if let Ok(decoded) = Rmi::from_bytes(&bytes, keys.len()) {
            assert_harmless(&decoded, &keys, &probes);
        }
    }

    #[test]
    fn truncation_is_rejected(cut in 0usize..10_000) {
        let (keys, rmi) = sample_model(3000, None);
        let bytes = rmi.to_bytes();
        let cut = cut % bytes.len();
        prop_assert!(Rmi::from_bytes(&bytes[..cut], keys.len()).is_err());
    }

    #[test]
    fn random_bytes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..600),
        keep_header in any::<bool>(),
        n in 0usize..64,
        probes in prop::collection::vec(any::<u64>(), 0..16),
    ) {
        // Either raw random bytes, or a plausible header (magic, version, n, leaf count
        // matching the length) followed by random leaf records, which reaches the
        // per-leaf checks.
        let bytes = if keep_header {
            let leaves = body.len() / LEAF_RECORD_BYTES;
            let mut v = b"KRMI".to_vec();
            v.extend_from_slice(&[1, (n % 4) as u8, 0, 0]);
            v.extend_from_slice(&(n as u64).to_le_bytes());
            v.extend_from_slice(&(leaves as u64).to_le_bytes());
            v.extend_from_slice(&[0u8; 8]);
            v.extend_from_slice(&1e-3f64.to_le_bytes());
            for c in [0.0f64, 1.0, 0.0, 0.0] {
                v.extend_from_slice(&c.to_le_bytes());
            }
            v.extend_from_slice(&body[..leaves * LEAF_RECORD_BYTES]);
            v
        } else {
            body
        };
        let keys: Vec<u64> = (0..n as u64).map(|i| i * 1000).collect();
        if let Ok(decoded) = Rmi::from_bytes(&bytes, n) {
            assert_harmless(&decoded, &keys, &probes);
        }
    }
}
