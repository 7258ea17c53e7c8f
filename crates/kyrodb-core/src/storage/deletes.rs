//! Deletion bitmap files (`seg/<n>.kdel`): which rows of one segment are deleted. Segments
//! are never rewritten; each checkpoint that changes a segment's deletions writes a new
//! bitmap file and the manifest switches to it atomically.
//!
//! ```text
//!  0  magic "KYRODEL1"  8
//!  8  format version u32 (1)
//! 12  crc32c u32 of bytes 16..end
//! 16  segment file number u64
//! 24  rows u64
//! 32  deleted rows u64 (popcount of the words)
//! 40  ⌈rows / 64⌉ × u64 words, bit r of word r / 64 set = row r deleted
//! ```

use super::codec::{le_u32, le_u64};
use super::fs;
use crate::error::{Error, Result};
use std::path::Path;

const MAGIC: &[u8; 8] = b"KYRODEL1";
const VERSION: u32 = 1;

/// Name of deletion file number `file`.
pub fn file_name(file: u64) -> String {
    format!("{file:016}.kdel")
}

/// Write the deletion bitmap `words` of segment `segment` (with `rows` rows) as file `file`.
pub fn write(dir: &Path, file: u64, segment: u64, rows: usize, words: &[u64]) -> Result<()> {
    let mut b = Vec::with_capacity(40 + words.len() * 8);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&segment.to_le_bytes());
    b.extend_from_slice(&(rows as u64).to_le_bytes());
    let count: u64 = words.iter().map(|w| w.count_ones() as u64).sum();
    b.extend_from_slice(&count.to_le_bytes());
    for w in words {
        b.extend_from_slice(&w.to_le_bytes());
    }
    let crc = crc32c::crc32c(&b[16..]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    fs::write_file_atomic(dir, &file_name(file), &b)
        .map_err(|e| Error::Io(format!("cannot write deletion bitmap {}: {e}", file_name(file))))
}

/// Read and check deletion file `path` for segment `segment` of `rows` rows.
pub fn read(path: &Path, segment: u64, rows: usize) -> Result<Vec<u64>> {
    let b = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    let bad = |offset: usize, what: &str| Error::Corruption(format!("{}: {what} at offset {offset}", path.display()));
    let words = rows.div_ceil(64);
    if b.len() < 8 || &b[0..8] != MAGIC {
        return Err(bad(0, "not a deletion bitmap (bad magic)"));
    }
    let want = 40 + words * 8;
    if b.len() != want {
        // Where the file stops being what it should be: its end, or the first extra byte.
        return Err(bad(b.len().min(want), &format!("deletion bitmap is {} bytes, expected {want}", b.len())));
    }
    let u64_at = |at: usize| le_u64(&b, at);
    if crc32c::crc32c(&b[16..]) != le_u32(&b, 12) {
        return Err(bad(12, "checksum mismatch"));
    }
    if le_u32(&b, 8) != VERSION {
        return Err(bad(8, "unsupported version"));
    }
    if u64_at(16) != segment {
        return Err(bad(16, &format!("bitmap belongs to segment {}, not {segment}", u64_at(16))));
    }
    if u64_at(24) != rows as u64 {
        return Err(bad(24, &format!("bitmap covers {} rows, the segment has {rows}", u64_at(24))));
    }
    let out: Vec<u64> = (0..words).map(|w| u64_at(40 + w * 8)).collect();
    if !rows.is_multiple_of(64) && words > 0 && out[words - 1] >> (rows % 64) != 0 {
        return Err(bad(40 + (words - 1) * 8, "bits set past the last row"));
    }
    if out.iter().map(|w| w.count_ones() as u64).sum::<u64>() != u64_at(32) {
        return Err(bad(32, "deleted count does not match the bitmap"));
    }
    Ok(out)
}
