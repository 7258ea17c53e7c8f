//! Replay rate of a vector write-ahead log:
//!
//! ```text
//! cargo run --release -p kyrodb-core --example vector_recovery -- [ROWS=1000000] [DIM=128] [--keep DIR]
//! cargo run --release -p kyrodb-core --example vector_recovery -- --reopen DIR
//! ```
//!
//! Upserts ROWS vectors (batches of 1,000, durability `none`, a collection whose hot tier
//! never builds or flushes, so everything stays in the WAL), closes, reopens (the log warm
//! in the page cache, as after a crash and restart on the same machine) and prints the
//! phases of `open` from the engine's log line and the replay rate in MiB/s of WAL.

use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{CollectionConfig, Database, Durability, IndexConfig, Metric, OpenOptions};
use std::time::Instant;

#[path = "common/fresh_process.rs"]
mod fresh_process;
#[path = "common/open_log.rs"]
mod open_log;

fn options() -> OpenOptions {
    OpenOptions { durability: Durability::None, ..OpenOptions::default() }
}

fn reopen(dir: &std::path::Path) {
    let wal: u64 = fresh_process::wal_bytes(dir);
    let t = Instant::now();
    let db = Database::open_with(Some(dir), options()).expect("reopen");
    let s = t.elapsed().as_secs_f64();
    let c = db.collection("v").expect("collection");
    eprintln!("reopened in {s:.3} s: {:.0} MiB/s, {} vectors", wal as f64 / 1048576.0 / s, c.count().expect("count"));
}

fn main() {
    let all: Vec<String> = std::env::args().collect();
    let flag = |name: &str| all.iter().position(|a| a == name).and_then(|i| all.get(i + 1)).cloned();
    open_log::install();
    if let Some(dir) = flag("--reopen") {
        return reopen(std::path::Path::new(&dir));
    }
    let args: Vec<usize> = all.iter().skip(1).filter_map(|a| a.replace('_', "").parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let dim = args.get(1).copied().unwrap_or(128);
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = flag("--keep").map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    let db = Database::open_with(Some(&dir), options()).expect("open");
    let config = CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: dim,
        metric: Metric::L2,
        index: Some(IndexConfig { params: BuildParams::default(), auto_build_rows: usize::MAX }),
    };
    let c = db.create_collection("v", config).expect("create");
    let mut x: u32 = 0x9E37_79B9;
    let t0 = Instant::now();
    for start in (0..rows).step_by(1000) {
        let n = 1000.min(rows - start);
        let ids: Vec<u64> = (start as u64..(start + n) as u64).collect();
        let vectors: Vec<f32> = (0..n * dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 8) as f32 / (1u32 << 24) as f32
            })
            .collect();
        c.upsert(&ids, vectors, None).expect("upsert");
    }
    let wal = db.stats().wal.disk_bytes;
    eprintln!("wrote {rows} vectors, {:.0} MiB of WAL in {:.1} s", wal as f64 / 1048576.0, t0.elapsed().as_secs_f64());
    db.close().expect("close");
    drop((c, db));
    // Reopened in a fresh process, as after a crash: in this one the allocator would hand
    // the first hot tier's freed memory back to the second without page faults.
    fresh_process::in_child(&dir);
}
