//! `cargo fuzz run run_reader`: arbitrary bytes as a key-value run file — opened, every
//! entry read, every key looked up. The first byte chooses whether the checksums are
//! recomputed first (so the structural checks behind them are reached). Must never panic.
#![no_main]

use kyrodb_core::storage::fuzzing::{read_run, reseal_sectioned};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_sectioned(&mut bytes);
    }
    let dir = std::env::temp_dir().join(format!("kyrodb-fuzz-run-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = read_run(&bytes, &dir);
});
