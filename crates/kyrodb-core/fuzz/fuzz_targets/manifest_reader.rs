//! `cargo fuzz run manifest_reader`: arbitrary bytes as a database's `MANIFEST` — header
//! checked, JSON body decoded, live files listed. The first byte chooses whether the body
//! length and checksum are recomputed first (so the JSON decoding is reached). Must never
//! panic.
#![no_main]

use kyrodb_core::storage::fuzzing::{read_manifest, reseal_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_manifest(&mut bytes);
    }
    let dir = std::env::temp_dir().join(format!("kyrodb-fuzz-manifest-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = read_manifest(&bytes, &dir);
});
