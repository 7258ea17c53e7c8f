//! `cargo fuzz run deletes_reader`: arbitrary bytes as a deletion bitmap file, read for the
//! segment and row count its header names (so that a sealed header passes) or, when the
//! first byte's bit 1 is set, for segment 1 of 1,000 rows. The first byte's bit 0 chooses
//! whether the checksum is recomputed first. Must never panic.
#![no_main]

use kyrodb_core::storage::fuzzing::{read_deletes, reseal_deletes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_deletes(&mut bytes);
    }
    let u64_at = |at: usize| bytes.get(at..at + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
    // Rows as a segment could have them (at most u32::MAX).
    let (segment, rows) = if mode & 2 == 0 { (u64_at(16), u64_at(24).min(u32::MAX as u64)) } else { (1, 1000) };
    let dir = std::env::temp_dir().join(format!("kyrodb-fuzz-deletes-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = read_deletes(&bytes, &dir, segment, rows as usize);
});
