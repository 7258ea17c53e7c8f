//! Lookup correctness: `lower_bound` / `find` / `window` against `partition_point` on many
//! key-set shapes and build configurations, for present keys, gap keys, keys below the
//! minimum and above the maximum, `0` and `u64::MAX`.

mod common;

use common::keysets::KeySet;
use common::{check_all, check_query, reference};
use kyrodb_rmi::{Rmi, RmiConfig, RmiError, RootKind};
use proptest::prelude::*;

fn sorted_unique(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Key sets of up to ~2000 keys in every shape the crate must handle.
fn key_sets() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        // sequential
        (0u64..1000, 1usize..2000).prop_map(|(s, n)| (s..s + n as u64).collect()),
        // equal spacing (stride k), anywhere in the range (saturating at the top)
        (any::<u64>(), 1u64..1_000_000_000, 1usize..2000).prop_map(|(s, k, n)| sorted_unique(
            (0..n as u64).map(|i| s.saturating_add(i.saturating_mul(k))).collect()
        )),
        // two dense clusters, one at 0 and one ending at u64::MAX
        (1u64..1000, 1u64..1000).prop_map(|(a, b)| (0..a).chain(u64::MAX - b + 1..=u64::MAX).collect()),
        Just(vec![0, u64::MAX]),
        any::<u64>().prop_map(|k| vec![k]),
        // lognormal, uniform dense, normal, clustered from the shared generators
        (any::<u64>(), 1usize..2000).prop_map(|(seed, n)| KeySet::Lognormal.generate(n, seed)),
        (any::<u64>(), 1usize..2000).prop_map(|(seed, n)| KeySet::UniformDense.generate(n, seed)),
        (any::<u64>(), 1usize..2000).prop_map(|(seed, n)| KeySet::Normal.generate(n, seed)),
        (any::<u64>(), 100usize..2000).prop_map(|(seed, n)| KeySet::Clustered.generate(n, seed)),
        // uniform random sparse, duplicates removed
        prop::collection::vec(any::<u64>(), 0..2000).prop_map(sorted_unique),
        // small universe with many duplicates removed
        prop::collection::vec(0u64..3000, 0..2000).prop_map(sorted_unique),
    ]
}

fn configs() -> impl Strategy<Value = RmiConfig> {
    let leaves = prop_oneof![Just(None), Just(Some(1usize)), (1usize..3000).prop_map(Some)];
    let root = prop_oneof![Just(None), Just(Some(RootKind::Linear)), Just(Some(RootKind::Cubic))];
    (leaves, root).prop_map(|(leaves, root)| RmiConfig { leaves, root })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn lower_bound_matches_partition_point(
        keys in key_sets(),
        config in configs(),
        extra in prop::collection::vec(any::<u64>(), 0..64),
    ) {
        let (rmi, report) = Rmi::build_with_report(&keys, &config).expect("valid keys");
        prop_assert_eq!(report.widened, 0, "verification had to widen a bound");
        prop_assert_eq!(rmi.len(), keys.len());
        check_all(&rmi, &keys, &extra);
    }
}

/// Every `x` of a small universe, for random subsets of it of several densities.
#[test]
fn exhaustive_small_universes() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for round in 0..24 {
        let density = [0.02, 0.2, 0.5, 0.9][round % 4];
        let keys: Vec<u64> = (0..3000u64).filter(|_| rng.gen_bool(density)).collect();
        let configs = [
            RmiConfig::default(),
            RmiConfig { leaves: Some(1), root: None },
            RmiConfig { leaves: Some(keys.len().max(1)), root: Some(RootKind::Linear) },
            RmiConfig { leaves: Some(keys.len() / 3 + 1), root: Some(RootKind::Cubic) },
        ];
        for config in &configs {
            let (rmi, report) = Rmi::build_with_report(&keys, config).expect("valid keys");
            assert_eq!(report.widened, 0);
            for x in (0..=3001u64).chain([u64::MAX - 1, u64::MAX]) {
                check_query(&rmi, &keys, x);
            }
        }
    }
}

/// Larger sets of every benchmark shape, default and forced-cubic configurations.
#[test]
fn benchmark_shapes_100k() {
    for set in KeySet::ALL {
        let keys = set.generate(100_000, 3);
        let extra = common::keysets::queries(&keys, 1000, 5);
        for config in [
            RmiConfig::default(),
            RmiConfig { leaves: None, root: Some(RootKind::Cubic) },
            RmiConfig { leaves: Some(keys.len() / 2), root: Some(RootKind::Cubic) },
        ] {
            let (rmi, report) = Rmi::build_with_report(&keys, &config).expect("valid keys");
            assert_eq!(report.widened, 0, "{}: widened", set.name());
            check_all(&rmi, &keys, &extra);
        }
    }
}

#[test]
fn empty_and_tiny() {
    let rmi = Rmi::build(&[]).expect("empty is fine");
    assert!(rmi.is_empty());
    for x in [0, 5, u64::MAX] {
        assert_eq!(rmi.window(x), 0..0);
        assert_eq!(rmi.lower_bound(&[], x), 0);
        assert_eq!(rmi.find(&[], x), None);
    }
    for keys in [vec![0u64], vec![u64::MAX], vec![7], vec![0, u64::MAX], vec![u64::MAX - 1, u64::MAX]] {
        let rmi = Rmi::build(&keys).expect("valid");
        check_all(&rmi, &keys, &[2, 6, 8, u64::MAX - 2]);
    }
}

#[test]
fn rejects_unsorted_and_duplicate_keys() {
    assert_eq!(Rmi::build(&[1, 3, 2]).unwrap_err(), RmiError::NotStrictlyAscending { position: 2 });
    assert_eq!(Rmi::build(&[1, 1]).unwrap_err(), RmiError::NotStrictlyAscending { position: 1 });
}

#[test]
fn mismatched_key_slice_never_panics() {
    let keys: Vec<u64> = (0..10_000u64).map(|i| i * 3).collect();
    let rmi = Rmi::build(&keys).expect("valid");
    let short = &keys[..100];
    for x in [0, 299, 300, 15_000, 29_997, u64::MAX] {
        let p = rmi.lower_bound(short, x);
        assert!(p <= short.len());
        let _ = rmi.find(short, x);
        let _ = rmi.lower_bound_and_window(&[], x);
    }
    assert_eq!(rmi.lower_bound(&keys, 15_000), reference(&keys, 15_000));
}

#[test]
fn explicit_config_is_respected() {
    let keys = KeySet::UniformSparse.generate(50_000, 9);
    let rmi = Rmi::build_with(&keys, &RmiConfig { leaves: Some(777), root: Some(RootKind::Linear) }).expect("valid");
    assert_eq!(rmi.leaf_count(), 777);
    assert_eq!(rmi.root_kind(), RootKind::Linear);
    assert_eq!(rmi.index_bytes(), 72 + 40 * 777);
    let rmi = Rmi::build_with(&keys, &RmiConfig { leaves: Some(10 * keys.len()), root: None }).expect("valid");
    assert_eq!(rmi.leaf_count(), keys.len(), "leaf count is clamped to n");
}
