//! The recovery examples' fresh-process reopen: the writing process runs this example
//! again with `--reopen DIR`, so the timed open does not inherit the writer's allocator
//! state (memory it freed would be handed back without page faults).

/// Bytes of WAL in database directory `dir`.
pub fn wal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("wal")).expect("wal dir").map(|e| e.expect("entry").metadata().expect("len").len()).sum()
}

/// Run this example again as `--reopen DIR` and wait for it.
pub fn in_child(dir: &std::path::Path) {
    let exe = std::env::current_exe().expect("current exe");
    let status = std::process::Command::new(exe).arg("--reopen").arg(dir).status().expect("spawn the reopen");
    assert!(status.success(), "the reopen failed: {status}");
}
