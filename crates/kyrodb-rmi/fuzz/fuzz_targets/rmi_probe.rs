//! Fuzz target: arbitrary bytes as keys and queries, and as a serialised model.
//!
//! Input layout: byte 0 selects the configuration (leaf count hint and root kind); the
//! rest is split in half: the first half is read as little-endian `u64` keys (sorted and
//! deduplicated), the second half as queries. Every query is checked against
//! `partition_point`, and the window must contain the true lower bound. The whole input
//! is also decoded with `Rmi::from_bytes` (for several `n`), and any model that decodes
//! is probed: it must never panic and its windows must stay within `0..=n`.
//!
//! Run with `cargo +nightly fuzz run rmi_probe` inside `crates/kyrodb-rmi/fuzz`.

#![no_main]

use kyrodb_rmi::{Probe, Rmi, RmiConfig, RootKind};
use libfuzzer_sys::fuzz_target;

fn words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

fn config(selector: u8, n: usize) -> RmiConfig {
    let root = match selector & 7 {
        0..=2 => None,
        k => Some(RootKind::ALL[usize::from(k - 3) % RootKind::ALL.len()]),
    };
    let leaves = match selector >> 3 {
        0 => None,
        1 => Some(1),
        s => Some((n / usize::from(s)).max(1)),
    };
    RmiConfig { leaves, root }
}

fn check_build(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (key_bytes, query_bytes) = rest.split_at(rest.len() / 2);
    let mut keys = words(key_bytes);
    keys.sort_unstable();
    keys.dedup();
    let rmi = Rmi::build_with(&keys, &config(selector, keys.len())).expect("sorted unique keys build");
    let mut queries = words(query_bytes);
    queries.extend([0, u64::MAX]);
    queries.extend(keys.iter().flat_map(|&k| [k, k.wrapping_sub(1), k.wrapping_add(1)]));
    for x in queries {
        let want = keys.partition_point(|&k| k < x);
        let w = rmi.window(x);
        assert!(w.start <= want && want <= w.end && w.end <= keys.len(), "x {x}: {want} not in {w:?}");
        assert_eq!(rmi.lower_bound(&keys, x), want);
        for probe in Probe::available() {
            assert_eq!(rmi.lower_bound_with_probe(probe, &keys, x), want);
        }
    }
    let back = Rmi::from_bytes(&rmi.to_bytes(), keys.len()).expect("own encoding decodes");
    assert_eq!(back, rmi);
}

fn check_decode(data: &[u8]) {
    let n_hint = data.get(8..16).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    for n in [0usize, 1, 7, 100, (n_hint % 4096) as usize] {
        if let Ok(rmi) = Rmi::from_bytes(data, n) {
            let keys: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
            for x in words(data).into_iter().chain([0, u64::MAX]) {
                let w = rmi.window(x);
                assert!(w.start <= w.end && w.end <= n);
                assert!(rmi.lower_bound(&keys, x) <= n);
                let _ = rmi.find(&keys, x);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_build(data);
    check_decode(data);
});
