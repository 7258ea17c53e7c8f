//! Shared helpers for the integration tests.

#![allow(dead_code)]

pub mod keysets;

use kyrodb_rmi::{Probe, Rmi};

/// The reference lower bound.
pub fn reference(keys: &[u64], x: u64) -> usize {
    keys.partition_point(|&k| k < x)
}

/// Checks one query: the window contains the true lower bound, and `lower_bound` (with
/// every available probe) and `find` agree with the reference.
pub fn check_query(rmi: &Rmi, keys: &[u64], x: u64) {
    let want = reference(keys, x);
    let w = rmi.window(x);
    assert!(w.end <= keys.len(), "window {w:?} past n = {} for x = {x}", keys.len());
    assert!(w.start <= want && want <= w.end, "x = {x}: lower bound {want} outside window {w:?}");
    assert_eq!(rmi.lower_bound(keys, x), want, "lower_bound({x})");
    for probe in Probe::available() {
        assert_eq!(rmi.lower_bound_with_probe(probe, keys, x), want, "lower_bound({x}) with {:?}", probe.kind());
    }
    let (p, len) = rmi.lower_bound_and_window(keys, x);
    assert_eq!((p, len), (want, w.len()));
    let found = keys.get(want) == Some(&x);
    assert_eq!(rmi.find(keys, x), found.then_some(want), "find({x})");
}

/// The queries every key set is checked with: every key, both neighbours of every key,
/// the midpoint of every gap, `0`, `u64::MAX`, and `extra`.
pub fn interesting_queries(keys: &[u64], extra: &[u64]) -> Vec<u64> {
    let mut qs = vec![0, 1, u64::MAX, u64::MAX - 1];
    for (i, &k) in keys.iter().enumerate() {
        qs.extend([k, k.wrapping_sub(1), k.wrapping_add(1)]);
        if let Some(&next) = keys.get(i + 1) {
            qs.push(k + (next - k) / 2);
        }
    }
    qs.extend_from_slice(extra);
    qs
}

/// Runs [`check_query`] over [`interesting_queries`].
pub fn check_all(rmi: &Rmi, keys: &[u64], extra: &[u64]) {
    for x in interesting_queries(keys, extra) {
        check_query(rmi, keys, x);
    }
}
