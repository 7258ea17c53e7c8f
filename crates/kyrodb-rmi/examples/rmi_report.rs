//! RMI vs binary search vs `BTreeMap` on the benchmark key sets, as a markdown table.
//!
//! ```text
//! cargo run --release -p kyrodb-rmi --example rmi_report -- [SIZE ...] [--probe-sweep]
//! ```
//!
//! `SIZE`s default to 10,000,000 (`_` separators allowed). `SKIP_BTREE=1` skips the
//! `BTreeMap` (about 40 bytes per key). `QUERIES` sets the number of lookups (default
//! 1,000,000: random present keys from a fixed seed, the same for every structure).
//! `SETS=lognormal,normal` restricts (and orders) the key sets.
//!
//! Per set and size it prints build time, index size, leaf count, root kind and fit,
//! window length mean / p99 / max over every key, and lookup latency for `Rmi::find`,
//! `partition_point` + equality check, and `BTreeMap::get`:
//!
//! - **mean ns**: one timed loop over all queries, divided by the query count;
//! - **p99 ns**: the queries are timed in batches of 16 (`Instant::now()` around each
//!   batch); a batch's time minus the median cost of an empty `Instant` pair, divided by
//!   16, is one sample; p99 is the nearest-rank 99th percentile of those samples. Batching
//!   keeps timer overhead small (~2–5% of a batch) at the price of averaging within a
//!   batch, so it understates single-lookup outliers somewhat.
//!
//! `--probe-sweep` additionally times every available probe on in-cache windows of
//! various lengths (the data behind `probe::AVX512_COUNT_LIMIT`).

#[path = "../tests/common/keysets.rs"]
mod keysets;

use keysets::{queries, KeySet};
use kyrodb_rmi::{probe, Probe, Rmi, RmiConfig};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

const SEED: u64 = 0x5EED;
const BATCH: usize = 16;

/// Mean and p99 nanoseconds per lookup.
#[derive(Copy, Clone, Default)]
struct Timing {
    mean: f64,
    p99: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sweep = args.iter().any(|a| a == "--probe-sweep");
    let mut sizes: Vec<usize> =
        args.iter().filter(|a| !a.starts_with("--")).filter_map(|a| a.replace('_', "").parse().ok()).collect();
    if sizes.is_empty() {
        sizes.push(10_000_000);
    }
    let skip_btree = std::env::var("SKIP_BTREE").is_ok_and(|v| v == "1");
    let query_count = std::env::var("QUERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000usize);
    println!("probe: {}, queries per set: {query_count}, seed: {SEED:#x}\n", probe::selected().kind());
    println!(
        "| set | n | build ms | index bytes | B/key | leaves | root | fit | window mean | p99 | max | \
         RMI ns mean | p99 | binary ns mean | p99 | BTreeMap ns mean | p99 | RMI/binary | RMI/BTreeMap |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let sets: Vec<KeySet> = match std::env::var("SETS") {
        Ok(list) => {
            list.split(',').filter_map(|name| KeySet::ALL.into_iter().find(|s| s.name() == name.trim())).collect()
        }
        Err(_) => KeySet::ALL.to_vec(),
    };
    for &n in &sizes {
        for &set in &sets {
            report_row(set, n, query_count, skip_btree);
        }
    }
    if sweep {
        probe_sweep();
    }
}

fn report_row(set: KeySet, n: usize, query_count: usize, skip_btree: bool) {
    let keys = set.generate(n, SEED);
    let started = Instant::now();
    let (rmi, report) = match Rmi::build_with_report(&keys, &RmiConfig::default()) {
        Ok(built) => built,
        Err(e) => {
            println!("| {} | {n} | build failed: {e} |", set.name());
            return;
        }
    };
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let qs = queries(&keys, query_count, SEED ^ 1);
    let w = report.windows;
    let rmi_t = time(&qs, |x| rmi.find(&keys, x).map_or(0, |p| p + 1));
    let bin_t = time(&qs, |x| {
        let p = keys.partition_point(|&k| k < x);
        if keys.get(p) == Some(&x) {
            p + 1
        } else {
            0
        }
    });
    let btree_t = if skip_btree {
        None
    } else {
        let map: BTreeMap<u64, u32> = keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
        let t = time(&qs, |x| map.get(&x).map_or(0, |&p| p as usize + 1));
        drop(map);
        Some(t)
    };
    let fmt_t = |t: Option<Timing>| t.map_or("– | –".to_string(), |t| format!("{:.1} | {:.1}", t.mean, t.p99));
    let ratio = |t: Option<Timing>| t.map_or("–".to_string(), |t| format!("{:.2}", rmi_t.mean / t.mean));
    println!(
        "| {} | {} | {:.0} | {} | {:.2} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
        set.name(),
        keys.len(),
        build_ms,
        rmi.index_bytes(),
        rmi.index_bytes() as f64 / keys.len() as f64,
        rmi.leaf_count(),
        rmi.root_kind(),
        report.fit,
        w.mean,
        w.p99,
        w.max,
        fmt_t(Some(rmi_t)),
        fmt_t(Some(bin_t)),
        fmt_t(btree_t),
        ratio(Some(bin_t)),
        ratio(btree_t),
    );
}

/// Mean and batched p99 ns per lookup of `lookup` over `qs` (see the module docs).
fn time(qs: &[u64], lookup: impl Fn(u64) -> usize) -> Timing {
    // Warm-up pass (page faults, branch predictors), also the checksum's first half.
    let mut sink = 0usize;
    for &x in qs.iter().take(qs.len() / 4) {
        sink = sink.wrapping_add(lookup(black_box(x)));
    }
    let started = Instant::now();
    for &x in qs {
        sink = sink.wrapping_add(lookup(black_box(x)));
    }
    let mean = started.elapsed().as_nanos() as f64 / qs.len().max(1) as f64;
    let overhead = timer_overhead_ns();
    let mut samples: Vec<f64> = qs
        .chunks_exact(BATCH)
        .map(|batch| {
            let t = Instant::now();
            for &x in batch {
                sink = sink.wrapping_add(lookup(black_box(x)));
            }
            ((t.elapsed().as_nanos() as f64 - overhead) / BATCH as f64).max(0.0)
        })
        .collect();
    black_box(sink);
    samples.sort_by(f64::total_cmp);
    let p99 = samples.get((samples.len() * 99).div_ceil(100).saturating_sub(1)).copied().unwrap_or(0.0);
    Timing { mean, p99 }
}

/// Median cost of an empty `Instant::now()` / `elapsed()` pair, in ns.
fn timer_overhead_ns() -> f64 {
    let mut v: Vec<u128> = (0..10_001).map(|_| Instant::now().elapsed().as_nanos()).collect();
    v.sort_unstable();
    v[v.len() / 2] as f64
}

/// ns per `lower_bound` for every probe on in-cache windows of several lengths.
fn probe_sweep() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut keys: Vec<u64> = (0..8192).map(|_| rng.gen()).collect();
    keys.sort_unstable();
    keys.dedup();
    let probes = Probe::available();
    println!("\nprobe sweep (ns per lower_bound, in-cache windows, random offsets and targets)\n");
    let header: Vec<&str> = probes.iter().map(|p| p.kind().name()).collect();
    println!("| window | {} |", header.join(" | "));
    println!("|---:|{}", "---:|".repeat(probes.len()));
    for len in [4usize, 8, 12, 16, 24, 32, 48, 64, 65, 96, 128, 256, 1024] {
        let cases: Vec<(usize, u64)> = (0..4096)
            .map(|_| {
                let start = rng.gen_range(0..keys.len() - len);
                (start, rng.gen_range(keys[start]..=keys[start + len - 1]))
            })
            .collect();
        let cells: Vec<String> = probes
            .iter()
            .map(|p| {
                let mut sink = 0usize;
                let rounds = 200;
                let t = Instant::now();
                for _ in 0..rounds {
                    for &(s, x) in &cases {
                        sink = sink.wrapping_add(p.lower_bound(black_box(&keys[s..s + len]), black_box(x)));
                    }
                }
                black_box(sink);
                format!("{:.2}", t.elapsed().as_nanos() as f64 / (rounds * cases.len()) as f64)
            })
            .collect();
        println!("| {len} | {} |", cells.join(" | "));
    }
}
