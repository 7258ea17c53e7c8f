//! Lookup latency of the key-value store's RMI path (`Rmi::window`, then
//! `probe::lower_bound_in` and the bracketing check, as `kyrodb-core/src/kv/run.rs` runs
//! it) vs binary search
//! (`partition_point`), an Eytzinger layout with prefetch, a PGM-index, the `pgm_index`
//! crate and `BTreeMap<u64, u32>::get`, on random present keys of every benchmark key set
//! (the baselines: `benches/common/baselines.rs`; `examples/rmi_report.rs` prints the same
//! comparison as a table and checks every answer).
//!
//! ```text
//! KEYS=10000000 cargo bench -p kyrodb-rmi --bench rmi_lookup
//! KEYS=1000000,100000000 SKIP_BTREE=1 cargo bench -p kyrodb-rmi --bench rmi_lookup -- lognormal
//! ```
//!
//! `KEYS`: comma-separated sizes (default 10,000,000; `_` separators allowed).
//! `SKIP_BTREE=1` skips the `BTreeMap`, which needs about 40 bytes per key.
//! The PGM uses ε = 32 on the keys and 4 on the upper levels; the crate gets ε = 32.
//! Queries: 2²⁰ present keys drawn with a fixed seed, cycled through, so every iteration
//! is one lookup of a (most likely) uncached key for large sets.

#[path = "../tests/common/keysets.rs"]
mod keysets;

#[path = "common/baselines.rs"]
mod baselines;

use baselines::{binary_find, store_find, Eytzinger, Pgm, ProbeCounters};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use keysets::{queries, KeySet};
use kyrodb_rmi::Rmi;
use std::collections::BTreeMap;
use std::hint::black_box;

const SEED: u64 = 0x5EED;
const QUERIES: usize = 1 << 20;

fn sizes() -> Vec<usize> {
    let raw = std::env::var("KEYS").unwrap_or_else(|_| "10000000".to_string());
    let sizes: Vec<usize> = raw.split(',').filter_map(|s| s.trim().replace('_', "").parse().ok()).collect();
    if sizes.is_empty() {
        vec![10_000_000]
    } else {
        sizes
    }
}

/// Runs `lookup` over the query array, one query per iteration.
fn bench_lookups(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    n: usize,
    qs: &[u64],
    lookup: impl Fn(u64) -> Option<usize>,
) {
    group.bench_function(BenchmarkId::new(name, n), |b| {
        let mut i = 0usize;
        b.iter(|| {
            let x = qs[i & (QUERIES - 1)];
            i = i.wrapping_add(1);
            black_box(lookup(black_box(x)))
        })
    });
}

fn lookups(c: &mut Criterion) {
    let skip_btree = std::env::var("SKIP_BTREE").is_ok_and(|v| v == "1");
    for n in sizes() {
        for set in KeySet::ALL {
            let keys = set.generate(n, SEED);
            let rmi = Rmi::build(&keys).expect("generated keys are sorted and unique");
            let qs = queries(&keys, QUERIES, SEED ^ 1);
            let mut group = c.benchmark_group(format!("lookup/{}", set.name()));
            group.throughput(Throughput::Elements(1));
            let counters = ProbeCounters::default();
            bench_lookups(&mut group, "rmi_store_path", n, &qs, |x| store_find(&rmi, &keys, x, &counters));
            bench_lookups(&mut group, "binary_search", n, &qs, |x| binary_find(&keys, x));
            let eytz = Eytzinger::new(&keys);
            bench_lookups(&mut group, "eytzinger_prefetch", n, &qs, |x| eytz.find_slot(x));
            drop(eytz);
            let pgm = Pgm::new(&keys, 32, 4);
            bench_lookups(&mut group, "pgm", n, &qs, |x| pgm.find(&keys, x));
            drop(pgm);
            let crate_pgm = pgm_index::PGMIndex::new(keys.clone(), 32);
            bench_lookups(&mut group, "pgm_index_crate", n, &qs, |x| crate_pgm.get(x));
            drop(crate_pgm);
            if !skip_btree {
                let map: BTreeMap<u64, u32> = keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
                bench_lookups(&mut group, "btreemap_get", n, &qs, |x| map.get(&x).map(|&p| p as usize));
            }
            group.finish();
        }
    }
}

criterion_group!(benches, lookups);
criterion_main!(benches);
