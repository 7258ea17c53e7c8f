//! `cargo fuzz run wal_reader`: arbitrary bytes as the newest WAL file — header checked,
//! every frame scanned and its payload decoded by kind. The first byte chooses whether the
//! checksums are recomputed first. Must never panic.
#![no_main]

use kyrodb_core::storage::fuzzing::{read_wal, reseal_wal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_wal(&mut bytes);
    }
    let dir = std::env::temp_dir().join(format!("kyrodb-fuzz-wal-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = read_wal(&bytes, &dir);
});
