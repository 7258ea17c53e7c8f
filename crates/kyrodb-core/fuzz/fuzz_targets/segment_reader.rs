//! `cargo fuzz run segment_reader`: arbitrary bytes as a segment file (any format version)
//! of a collection with the dimension and metric its header names — opened with every
//! check, then every row and every graph list read as the search kernel would. The first
//! byte chooses whether the checksums are recomputed first (so the structural checks
//! behind them are reached). Must never panic.
#![no_main]

use kyrodb_core::storage::fuzzing::{read_segment, reseal_sectioned, segment_shape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_sectioned(&mut bytes);
    }
    let dir = std::env::temp_dir().join(format!("kyrodb-fuzz-segment-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (dim, metric) = segment_shape(&bytes);
    let _ = read_segment(&bytes, &dir, dim, metric);
});
