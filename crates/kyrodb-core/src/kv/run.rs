//! A sorted run: an immutable, sorted array of keys with what each holds, searched through
//! its learned index (an RMI, `kyrodb-rmi`) or, without the `learned-index` feature, by
//! binary search. Runs are mapped from their files (`storage::run_file`); a database
//! opened in memory keeps them as owned arrays.

use super::stats::KvCounters;
use super::value::ValueKind;
use crate::error::{Error, Result};
use crate::storage::run_file::{RunFile, RunParts};
use crate::storage::slab::Slab;
#[cfg(feature = "learned-index")]
use std::sync::atomic::Ordering::Relaxed;

/// A run's columns, built in memory (from a memtable or a merge) before they are written.
pub struct RunColumns {
    /// Keys, strictly ascending.
    pub keys: Vec<u64>,
    /// Kind per key.
    pub kinds: Vec<u8>,
    /// `keys.len() + 1` offsets into `values`.
    pub offsets: Vec<u64>,
    /// Values, concatenated.
    pub values: Vec<u8>,
}

impl RunColumns {
    /// Empty columns with room for `n` entries.
    pub fn with_capacity(n: usize, value_bytes: usize) -> RunColumns {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        RunColumns {
            keys: Vec::with_capacity(n),
            kinds: Vec::with_capacity(n),
            offsets,
            values: Vec::with_capacity(value_bytes),
        }
    }

    /// Append an entry (keys must arrive in ascending order).
    pub fn push(&mut self, key: u64, kind: ValueKind, value: &[u8]) {
        debug_assert!(self.keys.last().is_none_or(|&k| k < key));
        self.keys.push(key);
        self.kinds.push(kind as u8);
        self.values.extend_from_slice(value);
        self.offsets.push(self.values.len() as u64);
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The parts as written to a file, with the serialised `index`.
    pub fn parts<'a>(&'a self, index: &'a [u8]) -> RunParts<'a> {
        RunParts { keys: &self.keys, kinds: &self.kinds, offsets: &self.offsets, values: &self.values, index }
    }
}

/// The learned index of a run, when the feature is on.
#[cfg(feature = "learned-index")]
type Index = kyrodb_rmi::Rmi;
#[cfg(not(feature = "learned-index"))]
type Index = ();

/// Build the serialised learned index over `keys` (empty without the feature).
pub fn build_index(keys: &[u64], counters: &KvCounters) -> Vec<u8> {
    #[cfg(feature = "learned-index")]
    {
        if keys.is_empty() {
            return Vec::new();
        }
        let t = std::time::Instant::now();
        // Runs hold strictly ascending keys, the one thing the builder requires; if that
        // were ever violated the run is still correct, searched by binary search.
        let Ok(rmi) = kyrodb_rmi::Rmi::build(keys) else { return Vec::new() };
        counters.index_built(t.elapsed().as_nanos() as u64);
        rmi.to_bytes()
    }
    #[cfg(not(feature = "learned-index"))]
    {
        let _ = (keys, counters);
        Vec::new()
    }
}

/// What a run holds for a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// A tombstone: the key was deleted (hides older runs).
    Deleted,
    /// A value.
    Value(ValueKind, &'a [u8]),
}

/// One immutable sorted run.
pub struct Run {
    /// File number (`seg/<file>.krun`), 0 for a run kept in memory.
    pub file: u64,
    keys: Slab<u64>,
    kinds: Slab<u8>,
    offsets: Slab<u64>,
    values: Slab<u8>,
    index: Option<Index>,
    index_bytes: usize,
    /// Byte offset in the file of each section (keys, kinds, offsets, values, index); all
    /// zero for a run kept in memory.
    section_offsets: [u64; 5],
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("file", &self.file).field("entries", &self.keys.len()).finish()
    }
}

impl Run {
    /// A run over an opened file. `index` bytes that do not decode are `CORRUPTION`.
    pub fn from_file(file: u64, f: RunFile) -> Result<Run> {
        let index = decode_index(&f.index, f.keys.len()).map_err(|why| {
            Error::Corruption(format!("run {file}: learned index: {why} at offset {}", f.section_offsets[4]))
        })?;
        Ok(Run {
            file,
            section_offsets: f.section_offsets,
            index_bytes: f.index.len(),
            keys: f.keys,
            kinds: f.kinds,
            offsets: f.offsets,
            values: f.values,
            index,
        })
    }

    /// A run kept in memory (databases without a directory).
    pub fn in_memory(c: RunColumns, index: Vec<u8>) -> Result<Run> {
        let decoded = decode_index(&index, c.keys.len()).map_err(Error::Internal)?;
        Ok(Run {
            file: 0,
            section_offsets: [0; 5],
            index_bytes: index.len(),
            keys: c.keys.into(),
            kinds: c.kinds.into(),
            offsets: c.offsets.into(),
            values: c.values.into(),
            index: decoded,
        })
    }

    /// Entries (tombstones included).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the run is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes of the learned index as stored.
    pub fn index_bytes(&self) -> usize {
        self.index_bytes
    }

    /// The keys.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// First position whose key is ≥ `x` (`len()` if none).
    #[inline]
    pub fn lower_bound(&self, x: u64, counters: &KvCounters) -> usize {
        let keys: &[u64] = &self.keys;
        #[cfg(feature = "learned-index")]
        if let Some(rmi) = &self.index {
            let w = rmi.window(x);
            let (lo, hi) = (w.start.min(keys.len()), w.end.min(keys.len()).max(w.start.min(keys.len())));
            counters.probe(hi - lo);
            // The caller reads the entry's offsets and kind next, and the window is a few
            // keys wide: start those loads now, beside the probe's, instead of after it.
            crate::simd::prefetch(&self.offsets[lo..], 16);
            crate::simd::prefetch(&self.kinds[lo..], 1);
            let p = lo + kyrodb_rmi::probe::lower_bound_in(&keys[lo..hi], x);
            // The window is exact by construction; a damaged (or wrong) model is caught by
            // checking that the answer is bracketed, and answered by a binary search.
            let bracketed = (p == 0 || keys[p - 1] < x) && (p == keys.len() || keys[p] >= x);
            if bracketed {
                return p;
            }
            counters.mispredictions.fetch_add(1, Relaxed);
            return keys.partition_point(|&k| k < x);
        }
        counters.probe(keys.len());
        keys.partition_point(|&k| k < x)
    }

    /// What the run holds for `key`, if anything.
    #[inline]
    pub fn get(&self, key: u64, counters: &KvCounters) -> Result<Option<Found<'_>>> {
        let keys: &[u64] = &self.keys;
        match (keys.first(), keys.last()) {
            (Some(&lo), Some(&hi)) if (lo..=hi).contains(&key) => {}
            _ => return Ok(None),
        }
        let p = self.lower_bound(key, counters);
        if p < keys.len() && keys[p] == key {
            self.entry(p).map(|(_, f)| Some(f))
        } else {
            Ok(None)
        }
    }

    /// Entry at position `i`.
    #[inline]
    pub fn entry(&self, i: usize) -> Result<(u64, Found<'_>)> {
        // `section`, `at`: where in the file the damaged field lies.
        let bad = |what: &str, section: usize, at: u64| {
            Error::Corruption(format!(
                "run {}: {what} of entry {i} at offset {}",
                self.file,
                self.section_offsets[section] + at
            ))
        };
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        if s > e || e > self.values.len() {
            // The end offset is the one out of range unless the start already is.
            let field = if s > self.values.len() { i } else { i + 1 };
            return Err(bad("value offsets out of range", 2, field as u64 * 8));
        }
        let found = match ValueKind::from_code(self.kinds[i]) {
            Some(ValueKind::Deleted) => Found::Deleted,
            Some(kind) => Found::Value(kind, &self.values[s..e]),
            None => return Err(bad("unknown kind", 1, i as u64)),
        };
        Ok((self.keys[i], found))
    }

    /// Touch every page of the keys, the index and (if `values`) the values, so that the
    /// first lookups do not wait for the disk. Returns the bytes touched.
    pub fn warm(&self, values: bool) -> usize {
        fn touch(b: &[u8]) -> u64 {
            b.iter().step_by(4096).fold(0u64, |a, &x| a.wrapping_add(x as u64))
        }
        let mut sum = touch(crate::storage::codec::as_bytes(&self.keys));
        sum = sum.wrapping_add(touch(crate::storage::codec::as_bytes(&self.offsets)));
        sum = sum.wrapping_add(touch(&self.kinds));
        let mut bytes = self.keys.len() * 17 + 8;
        if values {
            sum = sum.wrapping_add(touch(&self.values));
            bytes += self.values.len();
        }
        std::hint::black_box(sum);
        bytes
    }
}

fn decode_index(bytes: &[u8], n: usize) -> std::result::Result<Option<Index>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    #[cfg(feature = "learned-index")]
    {
        kyrodb_rmi::Rmi::from_bytes(bytes, n).map(Some).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "learned-index"))]
    {
        // Built with the learned index; this build searches by binary search instead.
        let _ = n;
        Ok(None)
    }
}
