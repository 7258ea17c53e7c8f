//! What a background build costs the searches running beside it:
//!
//! ```text
//! cargo run --release -p kyrodb-core --example background_build -- [ROWS=100000] [DIM=128]
//! KYRODB_BACKGROUND_THREADS=2 cargo run ...   # the build on every core of a 2-core machine
//! ```
//!
//! Two collections in one durable database (durability `none`): `search`, ROWS random
//! vectors indexed up front, and `ingest`, whose automatic build threshold is ROWS. One
//! thread searches `search` without pause (k = 10, default ef) and records each query's
//! latency; the main thread first lets it run alone, then writes ROWS vectors into `ingest`,
//! which starts a background graph build, and waits for the build's segment to appear.
//! Printed: search rate and p50/p99 while idle and while the build ran, and the build's
//! wall time — the figures behind "background builds run on a bounded pool"
//! (`docs/decisions/0011-background-build-pool.md`).

use kyrodb_core::vector::collection::background_threads;
use kyrodb_core::{CollectionConfig, Database, Durability, IndexConfig, Metric, OpenOptions, SearchParams};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn random_rows(rng: &mut impl Rng, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn summary(label: &str, lat: &mut [u64], secs: f64) {
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1e3;
    println!(
        "{label}: {:.0} searches/s, p50 {:.1} µs, p99 {:.1} µs ({} searches in {secs:.2} s)",
        lat.len() as f64 / secs,
        pct(0.5),
        pct(0.99),
        lat.len()
    );
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.replace('_', "").parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(100_000);
    let dim = args.get(1).copied().unwrap_or(128);
    let dir = tempfile::tempdir().expect("tempdir");
    let options = OpenOptions { durability: Durability::None, ..OpenOptions::default() };
    let db = Database::open_with(Some(dir.path()), options).expect("open");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let index = IndexConfig { auto_build_rows: rows, ..IndexConfig::default() };
    let config =
        CollectionConfig { id_type: kyrodb_core::IdType::U64, dimension: dim, metric: Metric::L2, index: Some(index) };
    let search = db.create_collection("search", config).expect("create");
    let ids: Vec<u64> = (0..rows as u64).collect();
    // Below the threshold by one row, so that no background build starts here.
    search.upsert(&ids[..rows - 1], random_rows(&mut rng, rows - 1, dim), None).expect("upsert");
    search.build_index(&mut |_, _| {}).expect("build");
    let ingest = db.create_collection("ingest", config).expect("create");
    let ingest_rows = random_rows(&mut rng, rows, dim);
    let queries = random_rows(&mut rng, 1000, dim);

    let stop = Arc::new(AtomicBool::new(false));
    let lat = Arc::new(Mutex::new(Vec::<u64>::new()));
    let searcher = {
        let (stop, lat, search) = (Arc::clone(&stop), Arc::clone(&lat), Arc::clone(&search));
        std::thread::spawn(move || {
            let params = SearchParams::top(10);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let q = &queries[(i % 1000) * dim..(i % 1000 + 1) * dim];
                let t = Instant::now();
                search.search(q, &params).expect("search");
                let ns = t.elapsed().as_nanos() as u64;
                lat.lock().expect("lat").push(ns);
                i += 1;
            }
        })
    };
    println!("{rows} rows × {dim}, background pool: {} thread(s)", background_threads());
    std::thread::sleep(Duration::from_millis(500));
    lat.lock().expect("lat").clear();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let mut idle = std::mem::take(&mut *lat.lock().expect("lat"));
    summary("idle", &mut idle, t.elapsed().as_secs_f64());

    let t = Instant::now();
    for (b, chunk) in ingest_rows.chunks(10_000 * dim).enumerate() {
        let first = (b * 10_000) as u64;
        let ids: Vec<u64> = (first..first + (chunk.len() / dim) as u64).collect();
        ingest.upsert(&ids, chunk.to_vec(), None).expect("upsert");
    }
    let written = t.elapsed().as_secs_f64();
    while !ingest.stats().expect("stats").segments.iter().any(|s| s.2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let secs = t.elapsed().as_secs_f64();
    let mut during = std::mem::take(&mut *lat.lock().expect("lat"));
    stop.store(true, Ordering::Relaxed);
    searcher.join().expect("searcher");
    summary("during the build", &mut during, secs);
    println!("writes {written:.2} s, build done {secs:.2} s after the first write");
}
