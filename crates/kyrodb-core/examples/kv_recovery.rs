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
//! in the same process, whose allocator reuses the memory the first memtable freed, so it
//! understates a fresh process (page faults for ~2 GiB of entries); the reference figure
//! is `benches/kv.mjs --only recovery`, which reopens in a new process.

use kyrodb_core::kv::{KvConfig, ValueKind, Write};
use kyrodb_core::{Database, Durability, OpenOptions};
use std::time::Instant;

#[path = "common/open_log.rs"]
mod open_log;

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.replace('_', "").parse().ok()).collect();
    let mib = args.first().copied().unwrap_or(1024);
    let value_bytes = args.get(1).copied().unwrap_or(100) as usize;
    open_log::install();
    let dir = tempfile::tempdir().expect("tempdir");
    let options = || OpenOptions {
        durability: Durability::None,
        salvage: false,
        kv: KvConfig { memtable_bytes: usize::MAX / 4, rmi_rebuild_appends: u64::MAX },
    };
    let db = Database::open_with(Some(dir.path()), options()).expect("open");
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
    let t = Instant::now();
    let db = Database::open_with(Some(dir.path()), options()).expect("reopen");
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "reopened in {s:.3} s: {:.0} MiB/s, {} keys",
        wal as f64 / 1048576.0 / s,
        db.kv().count().expect("count")
    );
}
