//! Key-value run files (`seg/<n>.krun`): one immutable sorted run of the key-value store —
//! keys, what each key holds, values, and the learned index over the keys — in the
//! [`super::sectioned`] container, so that opening is a `mmap` plus checks and lookups
//! read the mapped arrays in place.
//!
//! ```text
//! header fields (bytes 12..44 of the sectioned header)
//!  12  entries u64               n
//!  20  flags u32                 bit 0: section 4 holds a learned index
//! sections:
//!   0 keys      n × u64, strictly ascending
//!   1 kinds     n × u8: 0 deleted (a tombstone hiding older runs), 1 bytes, 2 string
//!   2 offsets   (n + 1) × u64 into section 3; value i is bytes offsets[i]..offsets[i + 1]
//!   3 values    the values, concatenated
//!   4 index     the serialised RMI over section 0 (`kyrodb-rmi` format), or empty
//! ```
//!
//! Opening checks the container (checksums, bounds) and the sizes of sections 0–2; value
//! offsets are checked when a value is read, so a damaged file yields `CORRUPTION`, never
//! an out-of-bounds read.

use super::codec::{as_bytes, le_u32, le_u64};
use super::sectioned;
use super::slab::Slab;
use crate::error::{Error, Result};
use std::path::Path;

const MAGIC: &[u8; 8] = b"KYRORUN1";
const VERSION: u32 = 1;
const SECTIONS: usize = 5;

/// Name of run file number `file`.
pub fn file_name(file: u64) -> String {
    format!("{file:016}.krun")
}

/// What a run file stores.
pub struct RunParts<'a> {
    /// Keys, strictly ascending.
    pub keys: &'a [u64],
    /// Kind per key.
    pub kinds: &'a [u8],
    /// `keys.len() + 1` offsets into `values`.
    pub offsets: &'a [u64],
    /// Values, concatenated.
    pub values: &'a [u8],
    /// Serialised learned index, empty for none.
    pub index: &'a [u8],
}

/// A run file opened and checked.
pub struct RunFile {
    /// Keys.
    pub keys: Slab<u64>,
    /// Kinds.
    pub kinds: Slab<u8>,
    /// Value offsets.
    pub offsets: Slab<u64>,
    /// Values.
    pub values: Slab<u8>,
    /// Serialised learned index (empty for none).
    pub index: Slab<u8>,
    /// Byte offset in the file of each section (keys, kinds, offsets, values, index), for
    /// error messages that name where the damage is.
    pub section_offsets: [u64; SECTIONS],
}

/// Write a run as `dir/<file>.krun` (temporary name, fsync, rename, directory fsync).
pub fn write(dir: &Path, file: u64, parts: &RunParts<'_>) -> Result<()> {
    let n = parts.keys.len();
    debug_assert!(parts.kinds.len() == n && parts.offsets.len() == n + 1);
    let mut fields = [0u8; 12];
    fields[0..8].copy_from_slice(&(n as u64).to_le_bytes());
    fields[8..12].copy_from_slice(&(!parts.index.is_empty() as u32).to_le_bytes());
    let sections: [&[u8]; SECTIONS] =
        [as_bytes(parts.keys), parts.kinds, as_bytes(parts.offsets), parts.values, parts.index];
    sectioned::write(dir, &file_name(file), MAGIC, VERSION, &fields, &sections)
        .map_err(|e| Error::Io(format!("cannot write run {}: {e}", file_name(file))))
}

/// Open and check `path`.
pub fn open(path: &Path) -> Result<RunFile> {
    let bad = |offset: u64, what: &str| Error::Corruption(format!("{}: {what} at offset {offset}", path.display()));
    let file = sectioned::open(path, MAGIC, "run", &|v| (v == VERSION).then_some(SECTIONS))?;
    let b = file.bytes();
    let n = le_u64(b, 12);
    let has_index = le_u32(b, 20) & 1 == 1;
    if n > u32::MAX as u64 {
        return Err(bad(12, "impossible entry count"));
    }
    let n = n as usize;
    let sec = &file.sections;
    for (i, want) in [(0, n * 8), (1, n), (2, (n + 1) * 8)] {
        if sec[i].1 != want {
            return Err(bad(48 + i as u64 * 24, &format!("section {i} is {} bytes, expected {want}", sec[i].1)));
        }
    }
    if has_index == (sec[4].1 == 0) {
        return Err(bad(20, "index flag does not match the index section"));
    }
    let map = &file.map;
    let slab_err = |i: usize| bad(sec[i].0 as u64, &format!("section {i} misaligned"));
    Ok(RunFile {
        keys: Slab::mapped(map, sec[0].0, n).ok_or_else(|| slab_err(0))?,
        kinds: Slab::mapped(map, sec[1].0, n).ok_or_else(|| slab_err(1))?,
        offsets: Slab::mapped(map, sec[2].0, n + 1).ok_or_else(|| slab_err(2))?,
        values: Slab::mapped(map, sec[3].0, sec[3].1).ok_or_else(|| slab_err(3))?,
        index: Slab::mapped(map, sec[4].0, sec[4].1).ok_or_else(|| slab_err(4))?,
        section_offsets: std::array::from_fn(|i| sec[i].0 as u64),
    })
}
