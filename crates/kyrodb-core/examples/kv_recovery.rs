//! Recovery of a key-value write-ahead log, phase by phase:
//!
//! ```text
//! cargo run --release -p kyrodb-core --example kv_recovery -- [MIB=1024] [VALUE_BYTES=100]
//! ```
//!
//! Writes MIB MiB of key-value WAL (batches of 1,000 puts of random keys, durability `none`,
//! a memtable large enough that nothing is flushed), closes, reopens (the log is warm in
//! the page cache, as after a process crash and restart on the same machine) and prints
//! the phases of `open` from the engine's log line, and the replay rate. The reopen runs
//! in a fresh process (this example again, with `--reopen DIR`): in the writing process
//! the allocator would first have to consolidate the millions of values the first memtable
//! freed, inside the timed open. `--reopen DIR` alone reopens an existing directory (to run
//! it under `perf`); `--keep DIR` writes there instead of a temporary directory.

use kyrodb_core::kv::{KvConfig, ValueKind, Write};
use kyrodb_core::{Database, Durability, OpenOptions};
use std::time::Instant;

#[path = "common/fresh_process.rs"]
mod fresh_process;
#[path = "common/open_log.rs"]
mod open_log;

fn options() -> OpenOptions {
    OpenOptions {
        durability: Durability::None,
        salvage: false,
        kv: KvConfig { memtable_bytes: usize::MAX / 4, rmi_rebuild_appends: u64::MAX },
        ..OpenOptions::default()
    }
}

fn reopen(dir: &std::path::Path, wal: u64) {
    let t = Instant::now();
    let db = Database::open_with(Some(dir), options()).expect("reopen");
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "reopened in {s:.3} s: {:.0} MiB/s, {} keys",
        wal as f64 / 1048576.0 / s,
        db.kv().count().expect("count")
    );
}

fn main() {
    let all: Vec<String> = std::env::args().collect();
    let flag = |name: &str| all.iter().position(|a| a == name).and_then(|i| all.get(i + 1)).cloned();
    open_log::install();
    if let Some(dir) = flag("--reopen") {
        let dir = std::path::PathBuf::from(dir);
        let wal: u64 = fresh_process::wal_bytes(&dir);
        return reopen(&dir, wal);
    }
    let args: Vec<u64> = all.iter().skip(1).filter_map(|a| a.replace('_', "").parse().ok()).collect();
    let mib = args.first().copied().unwrap_or(1024);
    let value_bytes = args.get(1).copied().unwrap_or(100) as usize;
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = flag("--keep").map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    let db = Database::open_with(Some(&dir), options()).expect("open");
    let value = vec![7u8; value_bytes];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let t0 = Instant::now();
    let mut puts = 0u64;
    while db.stats().wal.disk_bytes < mib << 20 {
        let batch: Vec<Write<'_>> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Write::Put(x, ValueKind::Bytes, &value)
            })
            .collect();
        db.kv().write(&batch).expect("write");
        puts += 1000;
    }
    let wal = db.stats().wal.disk_bytes;
    eprintln!("wrote {puts} puts, {:.0} MiB of WAL in {:.1} s", wal as f64 / 1048576.0, t0.elapsed().as_secs_f64());
    db.close().expect("close");
    drop(db);
    fresh_process::in_child(&dir);
}
