//! Latency of single key-value lookups in an existing database, inside the engine (no
//! JavaScript in the loop):
//!
//! ```text
//! cargo run --release -p kyrodb-core --example kv_latency -- --db DIR [--queries 1000000] [--no-copy]
//! ```
//!
//! Opens DIR, reads every key with range pages, draws random present keys (fixed seed),
//! warms with a third of them, then times each `get_with` (value copied into a scratch
//! buffer, as `getSync` does) and prints p50/p90/p99/p99.9 and the rate. The figure to set
//! beside `benches/kv.mjs`'s `getSync` latency: the difference is the binding's cost.
//! `--no-copy` leaves the value's bytes unread (what reading them costs).

use kyrodb_core::{Database, OpenOptions};
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let all: Vec<String> = std::env::args().collect();
    let flag = |name: &str| all.iter().position(|a| a == name).and_then(|i| all.get(i + 1)).cloned();
    let dir = flag("--db").expect("--db DIR");
    let queries: usize = flag("--queries").map_or(1_000_000, |q| q.replace('_', "").parse().expect("--queries N"));
    let db = Database::open_with(Some(std::path::Path::new(&dir)), OpenOptions::default()).expect("open");
    let kv = db.kv();
    let mut keys = Vec::new();
    let mut next = Some((0, u64::MAX));
    while let Some((lo, hi)) = next {
        let page = kv.range_page(lo, hi, false, 65_536).expect("range");
        keys.extend(page.entries.iter().map(|e| e.0));
        next = page.next;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let q: Vec<u64> = (0..queries).map(|_| keys[rng.gen_range(0..keys.len())]).collect();
    let mut scratch = vec![0u8; 1 << 16];
    let no_copy = all.iter().any(|a| a == "--no-copy");
    let mut read = |k: u64| {
        kv.get_with(k, |_, v| {
            if no_copy {
                return v.len(); // the lookup without reading the value's bytes
            }
            scratch[..v.len()].copy_from_slice(v);
            v.len()
        })
        .expect("get")
        .expect("present")
    };
    for &k in &q[..queries / 3] {
        read(k);
    }
    let mut lat: Vec<u64> = Vec::with_capacity(queries);
    let t0 = Instant::now();
    for &k in &q {
        let t = Instant::now();
        read(k);
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let secs = t0.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0;
    println!(
        "{} keys, {} lookups: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} µs; {:.0} lookups/s (timer included)",
        keys.len(),
        queries,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        queries as f64 / secs
    );
}
