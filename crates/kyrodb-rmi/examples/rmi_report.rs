//! The key-value store's RMI lookup against the strongest classic and learned baselines
//! on the benchmark key sets, as a markdown table.
//!
//! ```text
//! cargo run --release -p kyrodb-rmi --example rmi_report -- [SIZE ...] [--probe-sweep]
//! ```
//!
//! `SIZE`s default to 10,000,000 (`_` separators allowed). `SKIP_BTREE=1` skips the
//! `BTreeMap` (about 40 bytes per key). `QUERIES` sets the number of lookups (default
//! 1,000,000: random present keys from a fixed seed, the same for every structure).
//! `SETS=lognormal,normal` restricts (and orders) the key sets. `PGM_EPS=64,4` sets the
//! PGM's ε on the keys and on the upper levels (default 32,4; the `pgm_index` crate gets
//! the first).
//!
//! Structures, all over the same sorted `u64` keys (see `benches/common/baselines.rs`):
//! - **RMI**: the store's path (`Rmi::window`, `probe::lower_bound_in`, the bracketing
//!   check and the equality check, as `kv/run.rs` runs them), not `Rmi::find`;
//! - **binary**: `partition_point` + equality check;
//! - **Eytzinger**: BFS layout, branch-free descent, prefetch four levels down (returns
//!   the slot: a store on this layout keeps its values in the same order);
//! - **PGM**: ε-bounded piecewise-linear levels (own implementation, exact windows);
//! - **pgm_index**: the crates.io crate (not ε-bounded: its wrong answers are counted);
//! - **BTreeMap**: `BTreeMap<u64, u32>::get`.
//!
//! Before timing, every structure's answers on all queries are checked against binary
//! search; a structure that differs is reported with its count of wrong answers.
//!
//! Latency per lookup (`ROUNDS`, default 3: every structure is timed once per round, in
//! turn, and the best round's mean and the best round's p99 are kept, so a burst of load
//! from other processes has to last through all rounds to show):
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

#[path = "../benches/common/baselines.rs"]
mod baselines;

use baselines::{binary_find, store_find, Eytzinger, Pgm, ProbeCounters};
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
    let rounds = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3usize).max(1);
    let eps: Vec<usize> = std::env::var("PGM_EPS")
        .ok()
        .map(|v| v.split(',').filter_map(|e| e.trim().parse().ok()).collect())
        .unwrap_or_default();
    let (eps, eps_rec) = (eps.first().copied().unwrap_or(32).max(1), eps.get(1).copied().unwrap_or(4).max(1));
    println!(
        "probe: {}, queries per set: {query_count}, seed: {SEED:#x}, PGM ε = {eps} (upper levels {eps_rec}), \
         best of {rounds} rounds\n",
        probe::selected().kind()
    );
    println!(
        "| set | n | RMI B/key | window mean / max | RMI (store path) ns mean / p99 | binary | Eytzinger | PGM | \
         pgm_index crate | BTreeMap | RMI/binary | RMI/Eytzinger | RMI/PGM | RMI/BTreeMap | PGM B/key (levels) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let sets: Vec<KeySet> = match std::env::var("SETS") {
        Ok(list) => {
            list.split(',').filter_map(|name| KeySet::ALL.into_iter().find(|s| s.name() == name.trim())).collect()
        }
        Err(_) => KeySet::ALL.to_vec(),
    };
    for &n in &sizes {
        for &set in &sets {
            report_row(set, n, query_count, skip_btree, (eps, eps_rec), rounds);
        }
    }
    if sweep {
        probe_sweep();
    }
}

/// Wrong answers of `lookup` against binary search over `qs`.
fn wrong(qs: &[u64], keys: &[u64], lookup: impl Fn(u64) -> Option<usize>) -> usize {
    qs.iter().filter(|&&x| lookup(x) != binary_find(keys, x)).count()
}

fn report_row(
    set: KeySet,
    n: usize,
    query_count: usize,
    skip_btree: bool,
    (eps, eps_rec): (usize, usize),
    rounds: usize,
) {
    let keys = set.generate(n, SEED);
    let (rmi, report) = match Rmi::build_with_report(&keys, &RmiConfig::default()) {
        Ok(built) => built,
        Err(e) => {
            println!("| {} | {n} | build failed: {e} |", set.name());
            return;
        }
    };
    let qs = queries(&keys, query_count, SEED ^ 1);
    let w = report.windows;
    let fmt_t = |t: Timing| format!("{:.1} / {:.1}", t.mean, t.p99);
    let counters = ProbeCounters::default();

    let store = |x| store_find(&rmi, &keys, x, &counters);
    let checked = |name: &str, bad: usize, t: Timing| {
        if bad == 0 {
            fmt_t(t)
        } else {
            eprintln!("{} n={n}: {name} gave {bad} wrong answers of {}", set.name(), qs.len());
            format!("{} ({bad} wrong)", fmt_t(t))
        }
    };
    // Every structure first, then `rounds` rounds that time each in turn: the best round
    // of each is kept, so a burst of load from other processes hits all of them alike and
    // is filtered out unless it lasts through every round.
    let eytz = Eytzinger::new(&keys);
    let pgm = Pgm::new(&keys, eps, eps_rec);
    let crate_pgm = pgm_index::PGMIndex::new(keys.clone(), eps);
    let map: Option<BTreeMap<u64, u32>> =
        (!skip_btree).then(|| keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect());
    let mut t = [Timing { mean: f64::INFINITY, p99: f64::INFINITY }; 6];
    for _ in 0..rounds {
        let round = [
            time(&qs, |x| store(x).map_or(0, |p| p + 1)),
            time(&qs, |x| binary_find(&keys, x).map_or(0, |p| p + 1)),
            time(&qs, |x| eytz.find_slot(x).map_or(0, |p| p + 1)),
            time(&qs, |x| pgm.find(&keys, x).map_or(0, |p| p + 1)),
            time(&qs, |x| crate_pgm.get(x).map_or(0, |p| p + 1)),
            map.as_ref().map_or_else(Timing::default, |m| time(&qs, |x| m.get(&x).map_or(0, |&p| p as usize + 1))),
        ];
        for (best, r) in t.iter_mut().zip(round) {
            best.mean = best.mean.min(r.mean);
            best.p99 = best.p99.min(r.p99);
        }
    }
    let [rmi_t, bin_t, eytz_t, pgm_t, crate_t, btree_t] = t;
    let btree_t = map.is_some().then_some(btree_t);
    let rmi_cell = checked("RMI", wrong(&qs, &keys, store), rmi_t);
    let eytz_cell = checked("Eytzinger", wrong(&qs, &keys, |x| eytz.find_slot(x).map(|s| eytz.rank(s))), eytz_t);
    let pgm_cell = checked("PGM", wrong(&qs, &keys, |x| pgm.find(&keys, x)), pgm_t);
    let crate_cell = checked("pgm_index", wrong(&qs, &keys, |x| crate_pgm.get(x)), crate_t);
    let pgm_shape = format!(
        "{:.2} ({}, {} leaf segments)",
        pgm.index_bytes() as f64 / keys.len() as f64,
        pgm.shape().0,
        pgm.shape().1
    );
    drop((eytz, pgm, crate_pgm, map));
    let ratio = |t: Timing| format!("**{:.2}**", rmi_t.mean / t.mean);
    println!(
        "| {} | {} | {:.2} | {:.2} / {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        set.name(),
        keys.len(),
        rmi.index_bytes() as f64 / keys.len() as f64,
        w.mean,
        w.max,
        rmi_cell,
        fmt_t(bin_t),
        eytz_cell,
        pgm_cell,
        crate_cell,
        btree_t.map_or("–".to_string(), fmt_t),
        ratio(bin_t),
        ratio(eytz_t),
        ratio(pgm_t),
        btree_t.map_or("–".to_string(), ratio),
        pgm_shape,
    );
    assert_eq!(counters.mispredictions(), 0, "the RMI's windows are exact by construction");
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
